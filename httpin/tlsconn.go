package httpin

import (
	"context"
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

// Listen listens on the TCP address addr for a Server. Accepted connections
// get no TCP keep-alive probes: the server closes a connection idle for
// IdleTimeout and bounds every read and write with a deadline, so the probes
// would find nothing those do not, and setting them up costs four setsockopt
// calls per connection, a tenth of the CPU of a request that opens its own
// connection (bench/README.md, relay-bench -new-conn).
func Listen(addr string) (net.Listener, error) {
	return (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", addr)
}
