package httpin

import (
	"errors"
	"io"

	"github.com/valyala/fasthttp"
)

// Bodies in flight are bounded in bytes as well as in number (see
// Options.MaxInFlightBytes): memory grows with the bytes being handled, and
// MaxInFlight bodies of MaxBodyBytes each would be far more than a relay has.

// reserve takes n bytes of the in-flight bound; false (nothing taken) when
// they do not fit.
func (hd *Handler) reserve(n int64) bool {
	if hd.opts.MaxInFlightBytes <= 0 || n <= 0 {
		return true
	}
	if hd.inFlightBytes.Add(n) > hd.opts.MaxInFlightBytes {
		hd.inFlightBytes.Add(-n)
		return false
	}
	return true
}

// unreserve gives back n bytes taken with reserve.
func (hd *Handler) unreserve(n int64) {
	if hd.opts.MaxInFlightBytes > 0 && n > 0 {
		hd.inFlightBytes.Add(-n)
	}
}

// errInFlightBytes is a chunked body's read error once its bytes no longer fit
// the in-flight bound.
var errInFlightBytes = errors.New("request body bytes in flight exceed http.max_in_flight_bytes")

// tooManyBytes answers a request whose body does not fit the in-flight bound.
// As for MaxInFlight, the server reads what is left of the body after the
// answer so that the sender sees it (see closeIfChunked).
func (hd *Handler) tooManyBytes(c *fasthttp.RequestCtx) {
	closeIfChunked(c)
	c.Response.Header.Set("Retry-After", "1")
	hd.fail(c, fasthttp.StatusTooManyRequests, "too many request body bytes in flight (http.max_in_flight_bytes); retry later")
}

// countingBody reserves a chunked body's bytes as they are read; held is what
// it reserved.
type countingBody struct {
	r    io.Reader
	hd   *Handler
	held int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if !b.hd.reserve(int64(n)) {
		return n, errInFlightBytes
	}
	b.held += int64(n)
	return n, err
}
