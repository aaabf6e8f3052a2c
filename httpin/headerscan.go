package httpin

import (
	"bytes"
	"errors"
	"strings"
)

// errBareLF is a connection's read error once a request's header block ended
// in a bare LF. fasthttp takes a header block as ended only at a CRLF CRLF (a
// peer that frames messages that way cannot then disagree on where the body
// starts), so without this it would wait for one until the request timeout and
// close the connection without an answer. Returned from Read, the error ends
// the header read at once and Server.fail answers 400.
var errBareLF = errors.New("header block ends in a bare LF; HTTP/1.1 lines end in CRLF")

// headerScan finds where a request's header block ends in the bytes a
// connection reads, as fasthttp does: at the first empty line after the request
// line (empty lines before it are skipped). It follows one request from its
// first byte, so it only starts on a read that begins a request (see conn.Read);
// a pipelined request that fasthttp already holds in its buffer is not scanned,
// and one whose header block ends in a bare LF waits for the request timeout as
// before.
type headerScan struct {
	on      bool // scanning the current request's header block
	started bool // past the empty lines allowed before the request line
	lineLen int  // bytes of the current line read so far (capped)
	lastCR  bool // the last byte read was CR
	prevCR  bool // the previous line ended in CRLF
}

// start begins scanning a new request.
func (h *headerScan) start() { *h = headerScan{on: true} }

// feed scans p, the next bytes of the request, and reports whether the header
// block ended in a bare LF. Scanning stops at the end of the header block.
func (h *headerScan) feed(p []byte) (bareLF bool) {
	for h.on && len(p) > 0 {
		if !h.started {
			i := 0
			for i < len(p) && (p[i] == '\r' || p[i] == '\n') {
				i++
			}
			if p = p[i:]; len(p) == 0 {
				return false
			}
			h.started = true
			if !tokenByte(p[0]) {
				// Not an HTTP request line (a TLS record, say): not ours to judge.
				h.on = false
				return false
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.lineLen = min(h.lineLen+len(p), 2)
			h.lastCR = p[len(p)-1] == '\r'
			return false
		}
		cr := i > 0 && p[i-1] == '\r' || i == 0 && h.lastCR
		if n := h.lineLen + i; n == 0 || n == 1 && cr {
			// An empty line: the end of the header block.
			h.on = false
			return !cr || !h.prevCR
		}
		h.prevCR, h.lineLen, h.lastCR = cr, 0, false
		p = p[i+1:]
	}
	return false
}

// tokenByte reports whether b may begin a request method (an RFC 9110 token).
func tokenByte(b byte) bool {
	switch {
	case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}
