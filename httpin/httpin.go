// Package httpin is the EventBridge API-destination input: one event per POST,
// answered with the status EventBridge needs to do the right thing. EventBridge
// retries 401, 407, 409, 429 and 5xx and sends other 4xx to the rule's dead-letter
// queue, and gives up on a request after 5 s; so an event is answered 200 only after
// Kinesis accepted its record (or a rule dropped it), input that can never succeed
// gets 4xx, and everything worth retrying gets 429 or 503 before 5 s.
//
// The HTTP/1.1 server is fasthttp (see Server for why); a Handler is the ingest
// path's logic and a Server puts it, and any other net/http handler, on a listener.
package httpin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/iox"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
)

// Options configures the handler.
type Options struct {
	// MaxBodyBytes is the largest accepted body; larger gets 413.
	MaxBodyBytes int64
	// RequestTimeout bounds the time from the request's first byte to its answer
	// (reading the body and waiting for Kinesis); keep it below EventBridge's
	// 5 s so the caller hears 503 instead of timing out.
	RequestTimeout time.Duration
	// MaxInFlight bounds concurrent requests; beyond it the answer is 429.
	MaxInFlight int
	// Auth checks credentials; nil accepts every request. SetAuth replaces it.
	Auth *Auth
	// Registerer receives the handler's metrics; may be nil.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Handler serves the ingest path.
type Handler struct {
	h    relay.Handler
	opts Options
	// inFlight counts requests past admission; MaxInFlight bounds it.
	inFlight atomic.Int64
	bufs     sync.Pool
	auth     atomic.Pointer[Auth]
	log      *slog.Logger
	reqs     *prometheus.CounterVec
	codes    map[int]prometheus.Counter // reqs by code, resolved once
	dl       deadlines
}

// New returns the ingest handler in front of h.
func New(h relay.Handler, opts Options) *Handler {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1
	}
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	hd := &Handler{h: h, opts: opts, log: l,
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "genesys_relay", Subsystem: "http",
			Name: "requests_total", Help: "Ingest requests answered, by status code."}, []string{"code"}),
		codes: map[int]prometheus.Counter{},
		dl:    deadlines{timeout: opts.RequestTimeout},
	}
	// Events are a few KB: a small buffer per request in flight keeps memory
	// low with thousands of connections; larger bodies grow it (see Serve).
	hd.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	hd.auth.Store(opts.Auth)
	for _, c := range []int{200, 400, 401, 404, 405, 408, 413, 429, 431, 503} {
		hd.codes[c] = hd.reqs.WithLabelValues(strconv.Itoa(c))
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(hd.reqs)
	}
	return hd
}

// SetAuth replaces the accepted credentials, for a config reload: a key removed
// from the file stops working at once. nil accepts every request.
func (hd *Handler) SetAuth(a *Auth) { hd.auth.Store(a) }

// Serve answers one request on the ingest path. start is when its first byte
// arrived: the sender's clock started then, so reading the body counts against
// RequestTimeout and the answer still comes before EventBridge gives up. The
// wait for Kinesis ends RequestTimeout after start, rounded down to 10 ms (see
// deadlines).
func (hd *Handler) Serve(c *fasthttp.RequestCtx, start time.Time) {
	if !hd.admit(c) {
		return
	}
	contentLength := int64(c.Request.Header.ContentLength()) // -1: chunked, -2: none
	if hd.inFlight.Add(1) > int64(hd.opts.MaxInFlight) {
		hd.inFlight.Add(-1)
		// The server reads what is left of the body after this answer (up to
		// 256 KiB, more closes the connection), so the sender sees 429 and not a
		// reset connection.
		closeIfChunked(c)
		c.Response.Header.Set("Retry-After", "1")
		hd.fail(c, fasthttp.StatusTooManyRequests, "too many requests in flight; retry later")
		return
	}
	defer hd.inFlight.Add(-1)

	bp := hd.bufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 {
			hd.bufs.Put(bp)
		}
	}()
	if n := contentLength + 1; n > int64(cap(*bp)) {
		// Room for the announced body in one allocation, up to a bound: the
		// announcement is only a claim until the bytes arrive.
		*bp = make([]byte, 0, min(n, maxPresize))
	}
	body, err := readBody((*bp)[:0], c, hd.opts.MaxBodyBytes)
	*bp = body
	if err != nil {
		if errors.Is(err, errTooLarge) {
			closeIfChunked(c)
			hd.fail(c, fasthttp.StatusRequestEntityTooLarge, "body exceeds http.max_body_bytes ("+strconv.FormatInt(hd.opts.MaxBodyBytes, 10)+")")
			return
		}
		// The body did not arrive in time or the connection broke: the event may
		// well be valid, so the sender should retry it, not dead-letter it (as
		// EventBridge does with 408).
		c.SetConnectionClose()
		c.Response.Header.Set("Retry-After", "1")
		hd.fail(c, fasthttp.StatusServiceUnavailable, "could not read the request body: "+err.Error()+"; retry later")
		return
	}

	res, err := hd.h.Handle(hd.dl.context(start), body)
	if err != nil {
		hd.failEvent(c, err)
		return
	}
	b := (*bp)[:0] // the body is no longer needed: reuse its buffer for the answer
	if res.Decision == relay.Forward {
		b = append(b, `{"status":"forwarded","partition_key":`...)
		b = jsonx.AppendString(b, res.Record.PartitionKey)
	} else {
		b = append(b, `{"status":"dropped","reason":`...)
		b = jsonx.AppendString(b, res.Reason)
	}
	b = append(b, "}\n"...)
	*bp = b
	hd.write(c, fasthttp.StatusOK, b)
}

// admit checks what the headers alone decide (method, credentials, announced
// length) and answers the request if it fails. It runs before "100 Continue"
// too (see Server), so a sender that waits for it sends no body in vain.
func (hd *Handler) admit(c *fasthttp.RequestCtx) bool {
	if !c.IsPost() {
		c.Response.Header.Set("Allow", fasthttp.MethodPost)
		hd.fail(c, fasthttp.StatusMethodNotAllowed, "method "+string(c.Method())+" not allowed; POST one EventBridge event")
		return false
	}
	if a := hd.auth.Load(); a != nil && !a.Check(&c.Request.Header) {
		a.challenge(&c.Response.Header, &c.Request.Header)
		hd.fail(c, fasthttp.StatusUnauthorized, "missing or wrong credentials")
		return false
	}
	if n := int64(c.Request.Header.ContentLength()); n > hd.opts.MaxBodyBytes {
		hd.fail(c, fasthttp.StatusRequestEntityTooLarge, "body of "+strconv.FormatInt(n, 10)+
			" bytes exceeds http.max_body_bytes ("+strconv.FormatInt(hd.opts.MaxBodyBytes, 10)+")")
		return false
	}
	return true
}

var errTooLarge = errors.New("body exceeds the limit")

// closeIfChunked answers with Connection: close when the refused request's
// body is chunked. After the answer the server reads what is left of a body,
// up to 256 KiB, to keep the connection; a body of known length beyond that it
// does not read, and it says so in the answer itself. A chunked body's length
// is unknown until read, so the server finds out after the answer, and closes
// the connection without having said so: a keep-alive client would send its
// next request on it and see that request fail.
func closeIfChunked(c *fasthttp.RequestCtx) {
	if c.Request.Header.ContentLength() < 0 {
		c.SetConnectionClose()
	}
}

// readBody appends the request's body to dst, at most limit bytes. The server
// streams bodies (only the first 8 KiB are read before the handler runs), so a
// refused or oversized request never holds more than that; reads end at the
// connection's read deadline, RequestTimeout after the request's first byte.
func readBody(dst []byte, c *fasthttp.RequestCtx, limit int64) ([]byte, error) {
	r := c.RequestBodyStream()
	if r == nil { // a request built in memory, not read from a connection
		b := c.Request.Body()
		if int64(len(b)) > limit {
			return dst, errTooLarge
		}
		return append(dst, b...), nil
	}
	dst, err := iox.AppendAtMost(dst, r, limit)
	if err == iox.ErrTooLong {
		return dst, errTooLarge
	}
	return dst, err
}

// failEvent maps a Handle error to its status: the one place the HTTP contract is
// decided for events.
func (hd *Handler) failEvent(c *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, relay.ErrInvalid), errors.Is(err, relay.ErrPermanent):
		hd.fail(c, fasthttp.StatusBadRequest, err.Error())
	case errors.Is(err, relay.ErrOverloaded):
		c.Response.Header.Set("Retry-After", "1")
		hd.fail(c, fasthttp.StatusTooManyRequests, "relay overloaded; retry later")
	default:
		// Debug only: in an outage every event ends here; the Kinesis writer logs the
		// cause once a second and the metrics count each answer.
		hd.log.Debug("event not accepted by the sink in time", "err", err)
		c.Response.Header.Set("Retry-After", "1")
		hd.fail(c, fasthttp.StatusServiceUnavailable, "not written to Kinesis in time; retry later")
	}
}

func (hd *Handler) fail(c *fasthttp.RequestCtx, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	hd.write(c, code, append(b, '\n'))
}

func (hd *Handler) write(c *fasthttp.RequestCtx, code int, b []byte) {
	c.SetStatusCode(code)
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	c.Response.SetBody(b)
	hd.count(code)
}

func (hd *Handler) count(code int) {
	if m, ok := hd.codes[code]; ok {
		m.Inc()
		return
	}
	hd.reqs.WithLabelValues(strconv.Itoa(code)).Inc()
}

var jsonContentType = []byte("application/json")

// maxPresize bounds the buffer allocated for a body from its Content-Length.
const maxPresize = 64 << 10
