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
	// MaxInFlightBytes bounds the bytes of the bodies being handled, from
	// before a body is read (its Content-Length) or as it is read (chunked)
	// until its answer; beyond it the answer is 429. 0: no bound.
	MaxInFlightBytes int64
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
	// inFlightBytes counts the body bytes they hold; MaxInFlightBytes bounds it.
	inFlightBytes atomic.Int64
	bufs          sync.Pool
	auth          atomic.Pointer[Auth]
	log           *slog.Logger
	reqs          *prometheus.CounterVec
	codes         map[int]prometheus.Counter // reqs by code, resolved once
	panics        prometheus.Counter
	sites         panicSites
	dl            deadlines
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
		codes:  map[int]prometheus.Counter{},
		panics: panicCounter(opts.Registerer, "http"),
		dl:     deadlines{timeout: opts.RequestTimeout},
	}
	// Events are a few KB: a small buffer per request in flight keeps memory
	// low with thousands of connections; larger bodies grow it (see Serve).
	hd.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	hd.auth.Store(opts.Auth)
	for _, c := range []int{200, 400, 401, 404, 405, 408, 413, 429, 431, 503} {
		hd.codes[c] = hd.reqs.WithLabelValues(strconv.Itoa(c))
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(hd.reqs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "genesys_relay", Subsystem: "http",
			Name: "body_bytes_in_flight", Help: "Bytes of the ingest request bodies being handled (bounded by http.max_in_flight_bytes)."},
			func() float64 { return float64(hd.inFlightBytes.Load()) }))
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

	// The body's bytes count against MaxInFlightBytes until the answer: an
	// announced length before any of it is read, a chunked body as it arrives.
	var held int64
	defer func() { hd.unreserve(held) }()
	if !hd.reserve(contentLength) {
		hd.tooManyBytes(c)
		return
	}
	held = max(contentLength, 0)

	bp := hd.bufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 {
			hd.bufs.Put(bp)
		}
	}()
	if n := contentLength + 1; n > int64(cap(*bp)) {
		// Room for the announced body in one allocation. The announcement is
		// only a claim until the bytes arrive, but it is within MaxBodyBytes
		// (admit) and was reserved against MaxInFlightBytes above, so the
		// claim costs no more than the bytes would; without that bound the
		// buffer starts at maxPresize. Growing a 64 KiB buffer to a 1 MB body
		// took about a third of the relay's CPU for such a body.
		if hd.opts.MaxInFlightBytes <= 0 {
			n = min(n, maxPresize)
		}
		*bp = make([]byte, 0, n)
	}
	body, chunked, err := hd.readBody((*bp)[:0], c)
	*bp = body
	held += chunked
	if err != nil {
		hd.bodyFailed(c, err)
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

// bodyFailed answers a request whose body could not be read.
func (hd *Handler) bodyFailed(c *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, errInFlightBytes):
		hd.tooManyBytes(c)
	case errors.Is(err, errTooLarge):
		closeIfChunked(c)
		hd.fail(c, fasthttp.StatusRequestEntityTooLarge, "body exceeds http.max_body_bytes ("+strconv.FormatInt(hd.opts.MaxBodyBytes, 10)+")")
	case errors.Is(err, errBareLF), !transportFailed(c, err):
		// Bytes that do not frame a body (a chunk size that is not hex, a bare
		// LF): no retry can fix them. The rest of the stream cannot be framed
		// either, so the connection closes.
		c.SetConnectionClose()
		hd.fail(c, fasthttp.StatusBadRequest, "malformed chunked request body")
	default:
		// The body did not arrive in time or the connection broke: the event may
		// well be valid, so the sender should retry it, not dead-letter it (as
		// EventBridge does with 408).
		c.SetConnectionClose()
		c.Response.Header.Set("Retry-After", "1")
		hd.fail(c, fasthttp.StatusServiceUnavailable, "request body not received in time or cut short; retry later")
	}
}

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

// readBody appends the request's body to dst, at most MaxBodyBytes. The
// server streams bodies (only the first 8 KiB are read before the handler
// runs), so a refused or oversized request never holds more than that; reads
// end at the connection's read deadline, RequestTimeout after the request's
// first byte. A chunked body's bytes are reserved against MaxInFlightBytes as
// they are read; held is how many.
func (hd *Handler) readBody(dst []byte, c *fasthttp.RequestCtx) (_ []byte, held int64, err error) {
	limit := hd.opts.MaxBodyBytes
	r := c.RequestBodyStream()
	if r == nil { // a request built in memory, not read from a connection
		b := c.Request.Body()
		if int64(len(b)) > limit {
			return dst, 0, errTooLarge
		}
		return append(dst, b...), 0, nil
	}
	if c.Request.Header.ContentLength() < 0 && hd.opts.MaxInFlightBytes > 0 {
		cb := &countingBody{r: r, hd: hd}
		defer func() { held = cb.held }()
		r = cb
	}
	dst, err = iox.AppendAtMost(dst, r, limit)
	if err == iox.ErrTooLong {
		return dst, held, errTooLarge
	}
	return dst, held, err
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
		msg := "not written to Kinesis in time; retry later"
		if reason := relay.RefusalReason(err); reason != "" {
			msg = reason + "; retry later" // a refusal an operator must fix, not slowness
		}
		hd.fail(c, fasthttp.StatusServiceUnavailable, msg)
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

// Count counts an answer given outside the ingest path (404 for an unknown path),
// so that genesys_relay_http_requests_total holds every answer the contract lists.
func (hd *Handler) Count(code int) { hd.count(code) }

func (hd *Handler) count(code int) {
	if m, ok := hd.codes[code]; ok {
		m.Inc()
		return
	}
	hd.reqs.WithLabelValues(strconv.Itoa(code)).Inc()
}

var jsonContentType = []byte("application/json")

// maxPresize bounds the buffer allocated for a body from its Content-Length
// when no MaxInFlightBytes bounds what the claims may add up to.
const maxPresize = 64 << 10
