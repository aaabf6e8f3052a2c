package kinesis

import (
	"fmt"
	"net/http"

	"github.com/genesys-relay/genesys-relay/internal/iox"
)

// Bounds of a PutRecords answer, so that an answer cannot make the direct
// client reserve more memory than a real one needs, whatever its
// Content-Length claims.
//
// An answer holds one entry per record sent (at most 500) in an envelope of
// three members. A written record's entry is
// {"SequenceNumber":"…","ShardId":"…"} with a sequence number of at most 129
// digits and a shard ID of at most 128 characters (the API's constraints):
// 291 bytes. A failed record's entry is {"ErrorCode":"…","ErrorMessage":"…"}:
// the API gives no limit, but Kinesis's messages name at most a shard, a
// stream (128 characters), an account and, for KMS failures, KMS's own error
// line: under 600 bytes. maxAnswerEntryBytes allows 2 KiB, three times that,
// and maxAnswerBytes 500 of them plus 1 KiB for the envelope: 1,025,024 bytes.
// Error answers (one code and one message) are far smaller.
const (
	maxAnswerEntryBytes = 2 << 10
	maxAnswerBytes      = DefaultMaxBatchRecords*maxAnswerEntryBytes + 1<<10

	// maxPooledAnswerBytes is the largest answer buffer kept for reuse: a
	// buffer that grew beyond the usual (500 written records take about 50 KB)
	// goes to the garbage collector rather than stay reserved in the pool.
	maxPooledAnswerBytes = 128 << 10
)

// errAnswerTooLarge is readAnswer's error for an answer longer than any
// PutRecords answer.
var errAnswerTooLarge = fmt.Errorf("answer larger than %d bytes, more than any PutRecords answer", maxAnswerBytes)

// readAnswer reads the answer's body into buf, sized from Content-Length up
// to maxAnswerBytes. A longer answer, announced or not, is an error after at
// most maxAnswerBytes+1 bytes were read.
func readAnswer(resp *http.Response, buf []byte) ([]byte, error) {
	n := resp.ContentLength
	if n > maxAnswerBytes {
		return buf, fmt.Errorf("%w (Content-Length %d)", errAnswerTooLarge, n)
	}
	if n > 0 && int64(cap(buf)) < n+1 {
		buf = make([]byte, 0, n+1) // +1: the read that sees io.EOF needs room
	}
	buf, err := iox.AppendAtMost(buf, resp.Body, maxAnswerBytes)
	if err == iox.ErrTooLong {
		err = errAnswerTooLarge
	}
	return buf, err
}

// putAnswerBuf returns an answer buffer to the pool unless it is larger than
// maxPooledAnswerBytes.
func (d *Direct) putAnswerBuf(b *[]byte) {
	if cap(*b) > maxPooledAnswerBytes {
		return
	}
	d.respBufs.Put(b)
}
