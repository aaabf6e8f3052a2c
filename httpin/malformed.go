package httpin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
)

// Requests the server cannot read are answered and logged in words of the
// relay's own, never with fasthttp's error text: that text quotes the request
// line and the header block it failed on (credentials included), in places
// fasthttp's SecureErrorLogMessage does not cover.

// malformedRequest names what is wrong with a request line or header block
// fasthttp refused, for a 400 answer; "" when err is no parse error it knows.
func malformedRequest(err error) string {
	switch {
	case errors.Is(err, errBareLF):
		return errBareLF.Error()
	case errors.Is(err, fasthttp.ErrDuplicateContentLength):
		return "Content-Length given more than once"
	case errors.Is(err, fasthttp.ErrNonNumericChars):
		return "Content-Length is not a number"
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		return "unsupported Transfer-Encoding (send Content-Length, or chunked)"
	case errors.Is(err, fasthttp.ErrBadTrailer):
		return "forbidden field in the chunked body's trailer"
	case errors.Is(err, fasthttp.ErrMissingRequestMethod), errors.Is(err, fasthttp.ErrUnsupportedRequestMethod),
		errors.Is(err, fasthttp.ErrExtraWhitespaceInRequestLine), errors.Is(err, fasthttp.ErrEmptyRequestURI),
		errors.Is(err, fasthttp.ErrorInvalidURI):
		return "malformed request line"
	}
	return ""
}

// malformedAnswer is the 400 answer's text for a request fasthttp refused.
func malformedAnswer(err error) string {
	if m := malformedRequest(err); m != "" {
		return "malformed HTTP request: " + m
	}
	return "malformed HTTP request: the request line or a header field is not valid HTTP/1.1"
}

// describe is err in words that hold no request data, for logs.
func describe(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the client"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	if m := malformedRequest(err); m != "" {
		return "malformed request: " + m
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		// A socket error (reset, broken pipe): its text is the system's.
		return "connection error: " + op.Err.Error()
	}
	return "malformed request or connection error"
}

// transportFailed reports whether reading c's request failed because the
// connection did (closed, reset, timed out) rather than because the bytes that
// arrived do not frame an HTTP message: the first is worth a retry (503), the
// second never is (400).
func transportFailed(c *fasthttp.RequestCtx, err error) bool {
	if tc := connOf(c.Conn()); tc != nil {
		return tc.readErr != nil && !errors.Is(tc.readErr, errBareLF)
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// logger sends fasthttp's own messages to slog at debug level, with every
// argument that could carry request data (an error's text, a string) replaced:
// an error by describe's words, anything else but addresses and numbers by a
// placeholder.
type logger struct{ l *slog.Logger }

func (l logger) Printf(format string, args ...any) {
	if !l.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case net.Addr, int, int64, uint64, float64:
			safe[i] = v
		case error:
			safe[i] = describe(v)
		default:
			safe[i] = "[redacted]"
		}
	}
	msg := fmt.Sprintf(format, safe...)
	l.l.Debug("http server", "msg", strings.ReplaceAll(msg, `"[redacted]"`, "[redacted]"))
}
