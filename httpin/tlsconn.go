package httpin

import (
	"crypto/tls"
	"net"
)

// tlsConn is a conn that speaks TLS. fasthttp recognises a connection with
// Handshake and ConnectionState as TLS: it runs the handshake first, on the
// connection's own goroutine, under ReadTimeout and WriteTimeout (so a client
// that never finishes it holds a connection for the request timeout, not
// longer), and marks its requests https.
type tlsConn struct {
	*conn
	tc *tls.Conn
}

// Handshake runs the TLS handshake under the deadlines fasthttp asked for.
func (c *tlsConn) Handshake() error {
	if err := c.armRead(); err != nil {
		return err
	}
	if err := c.armWrite(); err != nil {
		return err
	}
	return c.tc.Handshake()
}

// ConnectionState is the TLS state (version, resumption, client certificate).
func (c *tlsConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// connOf returns the conn of a connection from the Server's listener, nil
// for any other.
func connOf(nc net.Conn) *conn {
	switch c := nc.(type) {
	case *conn:
		return c
	case *tlsConn:
		return c.conn
	}
	return nil
}
