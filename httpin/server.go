package httpin

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Path is where the ingest Handler answers (exact match); every other path
	// goes to Other.
	Path string
	// Other serves every other path (e.g. /healthz, /metrics); nil answers 404.
	Other http.Handler
	// IdleTimeout closes keep-alive connections idle this long (default 120 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header block; larger gets 431 (default
	// 8 KiB, as nginx and Apache). It is also each connection's read buffer.
	MaxHeaderBytes int
	// TLS, if set, makes the server speak HTTPS on every listener it serves
	// (see Certificates for a configuration that follows its files).
	TLS    *tls.Config
	Logger *slog.Logger
}

// Server is the HTTP/1.1 server of the ingest path. It is built on fasthttp
// rather than net/http because HTTP is most of what the relay does per event: on
// the benchmark machine a net/http server that only reads a body and answers
// costs about 20 µs of CPU per request, fasthttp about 10 µs (bench/README.md,
// `go -C bench run ./cmd/relay-bench -mode floor`), and the relay's whole
// pipeline with its Kinesis writer costs less than that difference. The contract is the
// Handler's and is the same either way; ops endpoints keep their net/http
// handlers through fasthttpadaptor.
//
// Request bodies are streamed: at most 8 KiB of a body is read before the
// Handler decides, so thousands of connections refused with 429 or 413 hold
// little memory. A request's clock starts at its first byte (see connState), which
// the connection's read deadline also counts from.
type Server struct {
	srv    *fasthttp.Server
	ingest *Handler
	path   string
	other  fasthttp.RequestHandler
	tls    *tls.Config

	mu     sync.Mutex
	lns    []net.Listener
	conns  map[*conn]struct{}
	closed bool
}

// NewServer returns a server for ingest on opts.Path.
func NewServer(ingest *Handler, opts ServerOptions) *Server {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 120 * time.Second
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 8 << 10
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ingest: ingest, path: opts.Path, conns: map[*conn]struct{}{}, tls: opts.TLS}
	s.other = notFound
	if opts.Other != nil {
		s.other = fasthttpadaptor.NewFastHTTPHandler(ingest.recovering(opts.Other))
	}
	rt := ingest.opts.RequestTimeout
	s.srv = &fasthttp.Server{
		Handler:        s.handle,
		ErrorHandler:   s.fail,
		ExpectHandler:  s.expect,
		HeaderReceived: s.headerReceived,
		ConnState:      connState,
		// Header and body must arrive within the request timeout of the first
		// byte: a client that never finishes holds a connection, not the relay.
		ReadTimeout:  rt,
		WriteTimeout: rt + 2*time.Second,
		IdleTimeout:  opts.IdleTimeout,
		// A header block must fit the read buffer.
		ReadBufferSize:     opts.MaxHeaderBytes,
		MaxRequestBodySize: int(min(ingest.opts.MaxBodyBytes, int64(^uint(0)>>1))),
		StreamRequestBody:  true,
		// A body is an event, never a form to parse.
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		// Not enough on its own (see malformedAnswer), but fasthttp's errors
		// then quote less of the request.
		SecureErrorLogMessage: true,
		Logger:                logger{log},
	}
	return s
}

// Serve accepts connections on ln until Shutdown or Close; it returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed { // shut down before it started serving
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	err := s.srv.Serve(listener{ln, s})
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets requests in progress finish (their answers
// carry Connection: close) and closes idle connections. If ctx ends first it
// closes every connection and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	s.mu.Unlock()
	err := s.srv.ShutdownWithContext(ctx)
	// fasthttp stops only the listeners Serve already handed to it: one whose Serve
	// had not got that far (a shutdown right after start-up) would accept forever.
	for _, ln := range lns {
		_ = ln.Close()
	}
	if err != nil {
		s.Close()
		return err
	}
	return nil
}

// Close closes the listener and every connection at once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	lns := s.lns
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
	for _, c := range conns {
		_ = c.raw.Close() // not a TLS close_notify, which may wait for a peer that does not read
	}
}

func (s *Server) handle(c *fasthttp.RequestCtx) {
	defer s.recoverPanic(c)
	var start time.Time
	tc := connOf(c.Conn())
	if tc != nil {
		start = tc.start
	}
	if start.IsZero() { // a connection not from Serve's listener
		start = time.Now()
	}
	ingest := string(c.Path()) == s.path
	if ingest {
		s.ingest.Serve(c, start)
	} else {
		s.serveOther(c)
	}
	if tc != nil {
		// The ingest path answers 200 only once it read the whole body.
		tc.clean = c.Response.StatusCode() == fasthttp.StatusOK && (ingest || c.Request.Header.ContentLength() == 0)
	}
}

// expect answers "Expect: 100-continue": a request the headers already rule
// out (method, credentials, announced length) gets its answer instead of
// "100 Continue". fasthttp then closes the connection without calling handle.
// On other paths only the announced length is checked; see headerReceived for
// requests that expect nothing.
func (s *Server) expect(c *fasthttp.RequestCtx) (code int) {
	defer s.recoverExpect(c, &code)
	if string(c.Path()) == s.path {
		if s.ingest.admit(c) {
			return fasthttp.StatusContinue
		}
		return c.Response.StatusCode()
	}
	if int64(c.Request.Header.ContentLength()) > s.ingest.opts.MaxBodyBytes {
		s.ingest.fail(c, fasthttp.StatusRequestEntityTooLarge, "body exceeds http.max_body_bytes")
		return fasthttp.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusContinue
}

// headerReceived runs when a request's header block has been read, before any
// of its body. fasthttp reads the first bytes of a body (up to 8 KiB, or the
// body limit) before the handler runs, and would wait for them even when the
// Content-Length already rules the request out; a request announcing more than
// http.max_body_bytes is answered 413 without that wait:
//   - One that announces more than the server reads after an answer
//     (maxUnreadBody; the connection closes after it anyway) is handled as if
//     it said "Expect: 100-continue", so expect answers it before any of its
//     body is read.
//   - One that announces less is handled once its first byte is there, so the
//     server can read the rest after the answer and keep the connection. (A
//     sender that announces such a body and then sends none gets the 503 of a
//     body that did not arrive.) So is an HTTP/1.0 request, which cannot
//     expect.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	n := int64(h.ContentLength())
	if n <= s.ingest.opts.MaxBodyBytes {
		return fasthttp.RequestConfig{}
	}
	if n > maxUnreadBody {
		h.Set(fasthttp.HeaderExpect, "100-continue")
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: 1}
}

// maxUnreadBody is how much of a body fasthttp reads after the answer, to keep
// the connection, when the handler did not read it.
const maxUnreadBody = 256 << 10

// fail answers a request the server could not read. fasthttp reports a failure
// while reading the header block wrapped ("error when reading request headers:
// ...", ErrNothingRead, *ErrSmallBuffer) and one while reading the first bytes
// of a body as the reader's own error. As net/http does, a connection whose
// header block did not arrive (in time) is closed without an answer: nobody may
// be waiting for one, and a keep-alive client would read it as the answer to
// its next request. A body that did not arrive gets 503, by the same contract
// as the Handler: the event may well be valid, so EventBridge should retry it.
// Bytes that are not HTTP get 400, in words that never quote them (see
// malformedAnswer).
func (s *Server) fail(c *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var nothing fasthttp.ErrNothingRead
	var ne net.Error
	switch {
	case errors.As(err, &small):
		s.ingest.fail(c, fasthttp.StatusRequestHeaderFieldsTooLarge, "request header exceeds "+strconv.Itoa(s.srv.ReadBufferSize)+" bytes")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.ingest.fail(c, fasthttp.StatusRequestEntityTooLarge, "body exceeds http.max_body_bytes")
	case errors.Is(err, errBareLF):
		s.ingest.fail(c, fasthttp.StatusBadRequest, malformedAnswer(err))
	case s.nothingRead(c):
		_ = c.Conn().Close() // a new connection that never sent a byte
	case err == io.ErrUnexpectedEOF, errors.As(err, &ne) && ne.Timeout() && err == error(ne):
		// Unwrapped: the body's first bytes (headers complete).
		c.Response.Header.Set("Retry-After", "1")
		s.ingest.fail(c, fasthttp.StatusServiceUnavailable, "request body not received in time or cut short; retry later")
	case errors.As(err, &nothing), errors.As(err, &ne) && ne.Timeout(), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		_ = c.Conn().Close() // the answer fasthttp writes next goes nowhere
	default:
		s.ingest.fail(c, fasthttp.StatusBadRequest, malformedAnswer(err))
	}
}

// nothingRead reports whether c's connection has not sent a byte since its
// last answer (or since it opened). fasthttp reports a new connection that
// stays silent with the bare read error, as it does a body that stops coming.
func (s *Server) nothingRead(c *fasthttp.RequestCtx) bool {
	tc := connOf(c.Conn())
	return tc != nil && !tc.active
}

// listener hands out conns and keeps track of them so Close can close them.
type listener struct {
	net.Listener
	s *Server
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &conn{Conn: c, raw: c, s: l.s}
	l.s.mu.Lock()
	l.s.conns[tc] = struct{}{}
	l.s.mu.Unlock()
	if l.s.tls != nil {
		// The handshake happens on the connection's own goroutine (see
		// tlsConn), never here: Accept serves every new connection.
		t := tls.Server(c, l.s.tls)
		tc.Conn = t
		return &tlsConn{conn: tc, tc: t}, nil
	}
	return tc, nil
}

// conn is an accepted connection: when its current request's first byte
// arrived (see connState) and how it closes (see Close).
type conn struct {
	// Conn is what fasthttp reads and writes: raw, or TLS over raw.
	net.Conn
	raw net.Conn // the accepted connection
	s   *Server
	// start is when the current request's first byte arrived; active is true
	// from then until its answer is written. Both are set by fasthttp's
	// ConnState hook on the goroutine that serves the connection and runs the
	// handler, so they need no lock.
	start  time.Time
	active bool
	// served counts the requests answered on the connection.
	served int
	// readErr is the socket's read error, if any, since the last answer (see
	// transportFailed); scan checks how a request's header block ends.
	readErr error
	scan    headerScan
	// clean is true when the last request was read in full and answered
	// 200: nothing of it is left unread, so Close needs no delay.
	clean bool
	// The read and write deadlines fasthttp asked for (want) and the ones set
	// on the socket (armed); see SetReadDeadline. Only the goroutine serving
	// the connection touches them.
	rdWant, rdArmed time.Time
	rdSlack         bool
	wdWant, wdArmed time.Time
	once            sync.Once
}

// idleDeadlineSlack is how much later than asked an idle keep-alive
// connection's read deadline and every write deadline may be set, so that they
// are set on the socket about once a second rather than for every request.
// Those deadlines are bounds on misbehaving peers (the idle timeout, a client
// that stops reading its answers), where a second more does no harm; the
// deadlines of reading a request are kept exactly.
const idleDeadlineSlack = time.Second

// SetReadDeadline notes the deadline fasthttp asks for before every request
// (the idle timeout) and after its first byte (the request timeout); Read sets
// it on the socket, only if it differs from the one set. Most requests arrive
// in the read that ends the idle wait, so the request timeout is seldom set
// at all, and the idle one, with its slack, once a second: setting a deadline
// re-arms a runtime timer, which per request cost about 2% of an event's CPU.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.rdWant = t
	c.rdSlack = !c.active && c.served > 0
	return nil
}

// SetWriteDeadline notes the deadline fasthttp asks for before every answer;
// Write sets it on the socket, with slack (see idleDeadlineSlack).
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wdWant = t
	return nil
}

// SetDeadline is SetReadDeadline and SetWriteDeadline.
func (c *conn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *conn) Read(p []byte) (int, error) {
	if err := c.armRead(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if err != nil {
		c.readErr = err
	}
	if n > 0 && (c.scan.on || !c.active) {
		if !c.active {
			// Between requests fasthttp reads only when its buffer is empty:
			// these bytes begin a request.
			c.scan.start()
		}
		if c.scan.feed(p[:n]) {
			c.readErr = errBareLF
			return n, errBareLF
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if err := c.armWrite(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// armRead sets the read deadline asked for on the socket if it differs from
// the one set.
func (c *conn) armRead() error {
	if a, ok := armAt(c.rdWant, c.rdArmed, c.rdSlack); ok {
		if err := c.raw.SetReadDeadline(a); err != nil {
			return err
		}
		c.rdArmed = a
	}
	return nil
}

// armWrite is armRead for the write deadline.
func (c *conn) armWrite() error {
	if a, ok := armAt(c.wdWant, c.wdArmed, true); ok {
		if err := c.raw.SetWriteDeadline(a); err != nil {
			return err
		}
		c.wdArmed = a
	}
	return nil
}

// armAt returns the deadline to set on the socket for want, and whether it
// must be set: armed is what is set now. A zero want means none.
func armAt(want, armed time.Time, slack bool) (time.Time, bool) {
	switch {
	case want.IsZero():
		return want, !armed.IsZero()
	case !slack:
		return want, !armed.Equal(want)
	case armed.Before(want) || armed.After(want.Add(idleDeadlineSlack)):
		return want.Add(idleDeadlineSlack), true
	}
	return armed, false
}

// connState notes when a request's first byte arrives: fasthttp reports a
// connection active once a byte of a new request is there (for a pipelined
// request already buffered, when the server turns to it).
func connState(nc net.Conn, st fasthttp.ConnState) {
	c := connOf(nc)
	if c == nil {
		return
	}
	switch st {
	case fasthttp.StateActive:
		c.start, c.active, c.clean = time.Now(), true, false
	case fasthttp.StateIdle:
		c.active = false
		c.served++
		c.scan.on, c.readErr = false, nil
	}
}

// Close closes the connection the way net/http does when it closes one whose
// request it did not read in full (a 413, a 429 for a large body): it stops
// sending, then closes only after rstAvoidanceDelay. Closing at once with unread
// data makes the kernel answer with a reset, which can destroy the answer before
// the client has read it; the client would see a broken connection instead of
// 413 or 429. A connection whose last request was read in full and answered 200
// (the common case of a sender that asks for Connection: close) closes at once:
// the delay costs a shutdown call, a timer and a goroutine per connection, a
// tenth of what a request on a new connection costs.
func (c *conn) Close() error {
	first := false
	c.once.Do(func() {
		first = true
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	if t, ok := c.Conn.(*tls.Conn); ok && first {
		// close_notify first, as the TLS close does (it fails, harmlessly,
		// before a completed handshake).
		_ = t.CloseWrite()
	}
	tc, ok := c.raw.(*net.TCPConn)
	if !first || !ok || c.clean || tc.CloseWrite() != nil {
		return c.raw.Close()
	}
	time.AfterFunc(rstAvoidanceDelay, func() { _ = tc.Close() })
	return nil
}

// rstAvoidanceDelay is net/http's.
const rstAvoidanceDelay = 500 * time.Millisecond
