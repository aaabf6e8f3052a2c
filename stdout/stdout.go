// Package stdout is the dry-run sink: it writes each record as one JSON line
// ({"partition_key":…,"explicit_hash_key":…,"data":<record>}) to a writer instead of
// Kinesis, so rules and enrichment can be tried without AWS.
package stdout

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
)

// Sink writes records to W, one line each, serialised by a mutex.
type Sink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

var _ relay.Sink = (*Sink)(nil)

// New returns a Sink writing to w.
func New(w io.Writer) *Sink { return &Sink{w: w} }

// Put writes rec; a write error is retryable (relay.ErrUnavailable).
func (s *Sink) Put(ctx context.Context, rec relay.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append(s.buf[:0], `{"partition_key":`...)
	b = jsonx.AppendString(b, rec.PartitionKey)
	if rec.ExplicitHashKey != "" {
		b = append(b, `,"explicit_hash_key":`...)
		b = jsonx.AppendString(b, rec.ExplicitHashKey)
	}
	b = append(b, `,"data":`...)
	b = append(b, rec.Data...)
	b = append(b, "}\n"...)
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return errors.Join(relay.ErrUnavailable, err)
	}
	return nil
}

// Close implements relay.Sink; there is nothing to flush.
func (s *Sink) Close(context.Context) error { return nil }
