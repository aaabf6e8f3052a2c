// Package httpin is the EventBridge API-destination input: one event per POST,
// answered with the status EventBridge needs to do the right thing. EventBridge
// retries 401, 407, 409, 429 and 5xx and sends other 4xx to the rule's dead-letter
// queue, and gives up on a request after 5 s; so an event is answered 200 only after
// Kinesis accepted its record (or a rule dropped it), input that can never succeed
// gets 4xx, and everything worth retrying gets 429 or 503 before 5 s.
package httpin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/iox"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
)

// Options configures the handler.
type Options struct {
	// MaxBodyBytes is the largest accepted body; larger gets 413.
	MaxBodyBytes int64
	// RequestTimeout bounds the time from the request's headers to its answer
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
	sem  chan struct{}
	bufs sync.Pool
	auth atomic.Pointer[Auth]
	log  *slog.Logger
	reqs *prometheus.CounterVec
}

var _ http.Handler = (*Handler)(nil)

// New returns the ingest handler in front of h.
func New(h relay.Handler, opts Options) *Handler {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1
	}
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	hd := &Handler{h: h, opts: opts, sem: make(chan struct{}, opts.MaxInFlight), log: l,
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "genesys_relay", Subsystem: "http",
			Name: "requests_total", Help: "Ingest requests answered, by status code."}, []string{"code"}),
	}
	// Events are a few KB: a small buffer per request in flight keeps memory
	// low with thousands of connections; larger bodies grow it (see ServeHTTP).
	hd.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	hd.auth.Store(opts.Auth)
	for _, c := range []int{200, 400, 401, 404, 405, 408, 413, 429, 503} {
		hd.reqs.WithLabelValues(strconv.Itoa(c))
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(hd.reqs)
	}
	return hd
}

// SetAuth replaces the accepted credentials, for a config reload: a key removed
// from the file stops working at once. nil accepts every request.
func (hd *Handler) SetAuth(a *Auth) { hd.auth.Store(a) }

// ServeHTTP implements http.Handler.
func (hd *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The sender's clock started before its body arrived: reading the body
	// counts against RequestTimeout, so that the answer still comes before
	// EventBridge gives up (and before the server's write deadline).
	deadline := time.Now().Add(hd.opts.RequestTimeout)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		hd.fail(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; POST one EventBridge event")
		return
	}
	if a := hd.auth.Load(); a != nil && !a.Check(r) {
		if a.Basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="genesys-relay"`)
		}
		hd.fail(w, http.StatusUnauthorized, "missing or wrong credentials")
		return
	}
	if r.ContentLength > hd.opts.MaxBodyBytes {
		hd.fail(w, http.StatusRequestEntityTooLarge, "body of "+strconv.FormatInt(r.ContentLength, 10)+
			" bytes exceeds http.max_body_bytes ("+strconv.FormatInt(hd.opts.MaxBodyBytes, 10)+")")
		return
	}
	select {
	case hd.sem <- struct{}{}:
		defer func() { <-hd.sem }()
	default:
		// Take in what the sender is sending before refusing it: closing a
		// connection with unread data resets it, and the sender would see a
		// broken connection instead of 429. io.Discard reads through a small
		// pooled buffer, and the body is bounded by MaxBodyBytes.
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, hd.opts.MaxBodyBytes))
		w.Header().Set("Retry-After", "1")
		hd.fail(w, http.StatusTooManyRequests, "too many requests in flight; retry later")
		return
	}

	bp := hd.bufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 {
			hd.bufs.Put(bp)
		}
	}()
	if n := r.ContentLength + 1; n > int64(cap(*bp)) {
		// Room for the announced body in one allocation, up to a bound: the
		// announcement is only a claim until the bytes arrive.
		*bp = make([]byte, 0, min(n, maxPresize))
	}
	body, err := iox.AppendAll((*bp)[:0], http.MaxBytesReader(w, r.Body, hd.opts.MaxBodyBytes))
	*bp = body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			hd.fail(w, http.StatusRequestEntityTooLarge, "body exceeds http.max_body_bytes ("+strconv.FormatInt(hd.opts.MaxBodyBytes, 10)+")")
			return
		}
		// The body did not arrive in time or the connection broke: the event may
		// well be valid, so the sender should retry it, not dead-letter it (as
		// EventBridge does with 408).
		w.Header().Set("Retry-After", "1")
		hd.fail(w, http.StatusServiceUnavailable, "could not read the request body: "+err.Error()+"; retry later")
		return
	}

	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	res, err := hd.h.Handle(ctx, body)
	if err != nil {
		hd.failEvent(w, err)
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
	hd.write(w, http.StatusOK, b)
}

// failEvent maps a Handle error to its status: the one place the HTTP contract is
// decided for events.
func (hd *Handler) failEvent(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, relay.ErrInvalid), errors.Is(err, relay.ErrPermanent):
		hd.fail(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, relay.ErrOverloaded):
		w.Header().Set("Retry-After", "1")
		hd.fail(w, http.StatusTooManyRequests, "relay overloaded; retry later")
	default:
		// Debug only: in an outage every event ends here; the Kinesis writer logs the
		// cause once a second and the metrics count each answer.
		hd.log.Debug("event not accepted by the sink in time", "err", err)
		w.Header().Set("Retry-After", "1")
		hd.fail(w, http.StatusServiceUnavailable, "not written to Kinesis in time; retry later")
	}
}

func (hd *Handler) fail(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	hd.write(w, code, append(b, '\n'))
}

func (hd *Handler) write(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(code)
	_, _ = w.Write(b)
	hd.reqs.WithLabelValues(strconv.Itoa(code)).Inc()
}

var jsonContentType = []string{"application/json"}

// maxPresize bounds the buffer allocated for a body from its Content-Length.
const maxPresize = 64 << 10
