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
	return s.put(ctx, rec, "")
}

// Stream returns a Sink for one output of a routed config: it writes to the
// same writer, its lines serialised with s's, and names the stream first in
// each line ({"stream":…,"partition_key":…}).
func (s *Sink) Stream(name string) relay.Sink { return streamSink{s, name} }

type streamSink struct {
	s      *Sink
	stream string
}

func (v streamSink) Put(ctx context.Context, rec relay.Record) error {
	return v.s.put(ctx, rec, v.stream)
}

func (v streamSink) Close(ctx context.Context) error { return v.s.Close(ctx) }

func (s *Sink) put(ctx context.Context, rec relay.Record, stream string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append(s.buf[:0], '{')
	if stream != "" {
		b = append(b, `"stream":`...)
		b = jsonx.AppendString(b, stream)
		b = append(b, ',')
	}
	b = append(b, `"partition_key":`...)
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
