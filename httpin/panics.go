package httpin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// fasthttp does not recover panics: one in a handler would end the process,
// and with it every request in flight. A panic is a bug, and the request that
// hit it may well succeed after a fix (or on a replica without it), so it is
// answered 500, which EventBridge retries, and the server keeps serving.

// recoverPanic is deferred around request handling on the server's goroutines.
func (s *Server) recoverPanic(c *fasthttp.RequestCtx) {
	if v := recover(); v != nil {
		s.ingest.panicked(c, v)
	}
}

// recoverExpect is recoverPanic for the Expect handler: code becomes the
// answer's status.
func (s *Server) recoverExpect(c *fasthttp.RequestCtx, code *int) {
	if v := recover(); v != nil {
		s.ingest.panicked(c, v)
		*code = fasthttp.StatusInternalServerError
	}
}

// panicked answers a request whose handling panicked with value v.
func (hd *Handler) panicked(c *fasthttp.RequestCtx, v any) {
	hd.notePanic(v)
	c.Response.Reset()
	c.SetConnectionClose() // the request's body may be half read
	hd.fail(c, fasthttp.StatusInternalServerError, "internal error; retry later")
}

// recovering wraps an ops handler so that a panic in it is answered, counted
// and logged as one on the ingest path is, with its own stack: fasthttpadaptor
// runs the handler on a goroutine of its own, and would panic again on the
// server's with a message of its own.
func (hd *Handler) recovering(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // net/http's way to abort a handler quietly
					panic(v)
				}
				hd.notePanic(v)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"error":"internal error"}`+"\n")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// notePanic counts a recovered panic with value v and logs its stack the first
// time a panic comes from its site. Called by the deferred function that
// recovered it.
func (hd *Handler) notePanic(v any) {
	hd.panics.Inc()
	site := panicSite()
	if hd.sites.first(site) {
		hd.log.Error("panic while handling an HTTP request: answered 500 and kept serving; "+
			"the stack is logged once per site, genesys_relay_panics_total counts them all",
			"site", site, "panic", panicValue(v), "stack", string(debug.Stack()))
	}
}

// panicValue describes a panic's value for the log. A runtime error's text is
// the runtime's own; any other value may have been built from the request, so
// only its type is given.
func panicValue(v any) string {
	if re, ok := v.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("a %T (not shown: it may hold request data)", v)
}

// panicSite names the function and line that panicked: the first frame below
// runtime.gopanic outside the runtime (a nil dereference panics from
// runtime.sigpanic, called as if by the faulting function). Called from the
// deferred function that recovered.
func panicSite() string {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs[:])])
	below := false
	for {
		f, more := frames.Next()
		if below && !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/runtime/") {
			return fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)
		}
		below = below || f.Function == "runtime.gopanic"
		if !more {
			return "unknown"
		}
	}
}

// panicSites remembers the sites whose stack was logged, up to maxPanicSites
// (sites are places in the code, so there are few; beyond that, none is
// logged).
type panicSites struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

const maxPanicSites = 64

// first reports whether site is new, and remembers it.
func (p *panicSites) first(site string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seen[site]; ok || len(p.seen) >= maxPanicSites {
		return false
	}
	if p.seen == nil {
		p.seen = map[string]struct{}{}
	}
	p.seen[site] = struct{}{}
	return true
}

// panicCounter returns the counter of recovered panics of input, registered
// with reg; another input's handler on the same registry shares the metric.
func panicCounter(reg prometheus.Registerer, input string) prometheus.Counter {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "genesys_relay", Name: "panics_total",
		Help: "Panics recovered while handling a request or event, by input: each one is a bug (its stack is logged once per code site)."},
		[]string{"input"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
			vec = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return vec.WithLabelValues(input)
}
