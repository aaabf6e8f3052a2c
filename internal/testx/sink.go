package testx

import (
	"context"
	"sync"

	relay "github.com/genesys-relay/genesys-relay"
)

// Sink is a relay.Sink that keeps every record put to it, with the context of
// the call, and answers each Put with Err. Err is read under the sink's lock:
// set it in the literal, or with Reset while Puts may be running.
type Sink struct {
	Err error

	mu   sync.Mutex
	recs []relay.Record
	ctxs []context.Context
}

var _ relay.Sink = (*Sink)(nil)

// Put keeps rec and ctx and returns s.Err.
func (s *Sink) Put(ctx context.Context, rec relay.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, rec)
	s.ctxs = append(s.ctxs, ctx)
	return s.Err
}

// Close does nothing.
func (s *Sink) Close(context.Context) error { return nil }

// Records returns the records put so far, in order.
func (s *Sink) Records() []relay.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]relay.Record(nil), s.recs...)
}

// Contexts returns the contexts of the Puts so far, in order.
func (s *Sink) Contexts() []context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]context.Context(nil), s.ctxs...)
}

// Reset forgets the records and contexts put so far, and makes later Puts
// answer err.
func (s *Sink) Reset(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs, s.ctxs, s.Err = nil, nil, err
}
