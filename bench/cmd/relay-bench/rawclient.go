package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is a minimal HTTP/1.1 client on one keep-alive connection: each
// request is one prepared write, each answer is read with bufio. It costs the
// machine a fraction of what net/http's client does, leaving the CPU to the
// server under test (-client raw).
type rawConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	reqs [][]byte    // one prepared request per event
	tls  *tls.Config // nil: plain HTTP
}

// newRawConn prepares the requests; with tlsCfg it speaks HTTPS, and with
// newConn every request asks for Connection: close, so the next one opens a
// new connection.
func newRawConn(target string, events [][]byte, tlsCfg *tls.Config, newConn bool) (*rawConn, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	c := &rawConn{addr: u.Host, tls: tlsCfg}
	extra := ""
	if newConn {
		extra = "Connection: close\r\n"
	}
	for _, ev := range events {
		req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n", u.RequestURI(), u.Host, extra, len(ev))
		c.reqs = append(c.reqs, append(req, ev...))
	}
	return c, nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends request i and reads the answer into body (reset first).
func (c *rawConn) do(ctx context.Context, i int, body *bytes.Buffer) (status int, err error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		if c.tls != nil {
			tc := tls.Client(conn, c.tls)
			_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return 0, err
			}
			conn = tc
		}
		c.conn = conn
		if c.r == nil {
			c.r = bufio.NewReaderSize(conn, 4<<10)
		} else {
			c.r.Reset(conn)
		}
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(c.reqs[i]); err != nil {
		c.close()
		return 0, err
	}
	status, err = c.readAnswer(body)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawConn) readAnswer(body *bytes.Buffer) (int, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, closing := -1, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("bad header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case asciiEqualFold(name, "Connection"):
			closing = asciiEqualFold(value, "close")
		case asciiEqualFold(name, "Transfer-Encoding"):
			return 0, errors.New("chunked answers are not supported by -client raw")
		}
	}
	body.Reset()
	if length < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	if _, err := io.CopyN(body, c.r, int64(length)); err != nil {
		return 0, err
	}
	if closing {
		c.close()
	}
	return status, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	lower := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}
