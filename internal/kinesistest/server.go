package kinesistest

import (
	"bytes"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by [New] to zero-valued [Options] fields.
const (
	DefaultStream          = "test-stream"
	DefaultRegion          = "us-east-1"
	DefaultAccountID       = "000000000000"
	DefaultMaxRecordBytes  = 1 << 20 // 1 MiB of data per record
	DefaultMaxRequestBytes = 5 << 20 // 5 MiB of data and partition keys per PutRecords
	DefaultMaxHang         = 30 * time.Second

	// MaxRecordsPerRequest is the most records one PutRecords call may carry.
	MaxRecordsPerRequest = 500
)

// Options configures a [Server].
type Options struct {
	// Addr is the address to listen on; default "127.0.0.1:0" (a free port).
	Addr string
	// Streams are the streams that exist; default one stream, DefaultStream.
	Streams []string
	// ShardsPerStream is the number of open shards of each stream; default 1.
	// Records are mapped to shards by the MD5 of their partition key, or by
	// their explicit hash key, as Kinesis does.
	ShardsPerStream int
	// Region and AccountID appear in stream ARNs and error messages.
	Region    string
	AccountID string
	// MaxRecordBytes is the largest data blob accepted; larger ones fail the
	// whole request with a ValidationException. Default 1 MiB.
	MaxRecordBytes int
	// MaxRequestBytes limits the data and partition keys of one PutRecords
	// call; more fails with an InvalidArgumentException. Default 5 MiB.
	MaxRequestBytes int
	// Discard keeps no records: counters only, no duplicate tracking. For
	// benchmarks.
	Discard bool
	// DecodePut, when set, reads the bodies of PutRecords calls, and of
	// PutRecord calls (single), into req in place of encoding/json; req comes
	// empty, with Records of length 0. An error is answered 400
	// SerializationException. It is for a benchmark's endpoint, where
	// encoding/json would spend more CPU on 500 records of base64 than the
	// client under test spends on sending them (the bench module's
	// kinesisfast reads them in place and counts their bytes). It needs
	// Discard, as it may give a record's Size without its Data: New panics
	// without it.
	DecodePut func(body []byte, single bool, req *PutRequest) error
	// Seed seeds the fault draws; the same seed and the same sequence of
	// calls give the same faults.
	Seed uint64
	// Faults are the faults injected from the start; see [Server.SetFaults].
	Faults Faults
	// ClockOffset sets the server's clock this far ahead of the host's
	// (behind when negative), as a host whose clock is off sees Kinesis: every
	// answer's Date header shows the server's time, and a signed request whose
	// X-Amz-Date is more than 5 minutes from it is refused as Kinesis refuses
	// it (400 InvalidSignatureException "Signature expired: …" or "Signature
	// not yet current: …"). The check applies whatever the offset.
	ClockOffset time.Duration
}

// Record is one record the server stored.
type Record struct {
	Stream          string
	ShardID         string
	PartitionKey    string
	ExplicitHashKey string // empty when the request had none
	Data            []byte
	SequenceNumber  string
	Arrival         time.Time
}

// Server is a Kinesis-compatible HTTP server. Its methods are safe for
// concurrent use.
type Server struct {
	opts    Options
	url     string
	srv     *http.Server
	streams map[string]*stream
	faults  atomic.Pointer[Faults]

	closeMu  sync.RWMutex
	closed   bool
	done     chan struct{}
	inflight sync.WaitGroup

	rngMu sync.Mutex
	rng   *rand.Rand

	mu   sync.Mutex // guards log and seen
	log  []Record
	seen map[[32]byte]struct{}

	seq           atomic.Uint64
	received      atomic.Int64
	stored        atomic.Int64
	duplicates    atomic.Int64
	failedRecords atomic.Int64
	failedCalls   atomic.Int64
	opCalls       [len(operations)]atomic.Int64

	bufs sync.Pool // *bytes.Buffer
	reqs sync.Pool // *PutRequest
}

// operations are the operations counted by [Server.CallsTo], PutRecords
// first for [Server.Calls]; the last slot counts everything else.
var operations = [...]string{"PutRecords", "PutRecord", "DescribeStreamSummary", "ListShards", ""}

// New starts a server. It panics if it cannot listen, as httptest does.
func New(opts Options) *Server {
	if opts.DecodePut != nil && !opts.Discard {
		panic("kinesistest: Options.DecodePut needs Options.Discard")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.Streams) == 0 {
		opts.Streams = []string{DefaultStream}
	}
	if opts.ShardsPerStream <= 0 {
		opts.ShardsPerStream = 1
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	s := &Server{
		opts:    opts,
		streams: make(map[string]*stream, len(opts.Streams)),
		done:    make(chan struct{}),
		seen:    make(map[[32]byte]struct{}),
	}
	now := time.Now().Truncate(time.Second)
	for _, name := range opts.Streams {
		s.streams[name] = newStream(name, opts, now)
	}
	s.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	f := opts.Faults
	s.faults.Store(&f)
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.reqs.New = func() any { return new(PutRequest) }

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		panic("kinesistest: listen on " + opts.Addr + ": " + err.Error())
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// URL returns the base URL of the server, e.g. "http://127.0.0.1:41234",
// for the SDK's BaseEndpoint.
func (s *Server) URL() string { return s.url }

// Close stops the server. Requests held by latency or hang faults are
// released; Close returns once every handler has returned.
func (s *Server) Close() {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.done)
	_ = s.srv.Close()
	s.inflight.Wait()
}

// enter registers a running handler; it reports false once Close started.
func (s *Server) enter() bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// ServeHTTP implements the Kinesis JSON 1.1 protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Server is shutting down.")
		return
	}
	defer s.inflight.Done()

	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_20131202.")
	s.countOp(op)
	now := time.Now().Add(s.opts.ClockOffset)
	w.Header()["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	if msg := signingTimeError(r.Header.Get("X-Amz-Date"), now); msg != "" {
		if op == "PutRecords" || op == "PutRecord" {
			s.failedCalls.Add(1)
		}
		writeError(w, http.StatusBadRequest, "InvalidSignatureException", msg)
		return
	}
	if r.Method != http.MethodPost || !ok || op == "" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "Missing or unknown X-Amz-Target.")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.") {
		writeError(w, http.StatusBadRequest, "SerializationException", "Content-Type must be application/x-amz-json-1.1.")
		return
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	limit := int64(2*s.opts.MaxRequestBytes + 1<<20)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "", "Request entity too large.")
			return
		}
		abandon() // the client is gone
	}
	body := buf.Bytes()

	switch op {
	case "PutRecords":
		s.putRecords(w, r, body, false)
	case "PutRecord":
		s.putRecords(w, r, body, true)
	case "DescribeStreamSummary":
		s.describeStreamSummary(w, r, body)
	case "ListShards":
		s.listShards(w, r, body)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "Operation "+op+" is not supported by this server.")
	}
}

func (s *Server) countOp(op string) {
	for i, name := range operations[:len(operations)-1] {
		if name == op {
			s.opCalls[i].Add(1)
			return
		}
	}
	s.opCalls[len(operations)-1].Add(1)
}

// Calls returns the number of PutRecords calls received, whatever their
// outcome.
func (s *Server) Calls() int64 { return s.opCalls[0].Load() }

// CallsTo returns the number of calls of the named operation received
// (PutRecords, PutRecord, DescribeStreamSummary, ListShards; any other name
// counts calls of unsupported operations).
func (s *Server) CallsTo(op string) int64 {
	for i, name := range operations[:len(operations)-1] {
		if name == op {
			return s.opCalls[i].Load()
		}
	}
	return s.opCalls[len(operations)-1].Load()
}

// RecordsReceived returns the number of records in all well-formed
// PutRecords and PutRecord requests, including records that were rejected
// or failed.
func (s *Server) RecordsReceived() int64 { return s.received.Load() }

// Stored returns the number of records stored (acknowledged with a sequence
// number), in Discard mode too.
func (s *Server) Stored() int64 { return s.stored.Load() }

// Duplicates returns the number of stored records whose data was identical
// to the data of a record stored before. It is always 0 in Discard mode.
func (s *Server) Duplicates() int64 { return s.duplicates.Load() }

// FailedRecords returns the number of records that failed individually in
// a PutRecords response (throttled or internal failure).
func (s *Server) FailedRecords() int64 { return s.failedRecords.Load() }

// FailedCalls returns the number of write calls (PutRecords and PutRecord)
// that failed as a whole, by an injected fault or a validation error.
func (s *Server) FailedCalls() int64 { return s.failedCalls.Load() }

// Records returns a copy of the log of stored records, in the order they
// were stored (which is sequence-number order). It is empty in Discard mode.
// The Data slices are shared; do not modify them.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.log...)
}

// Reset forgets all records and zeroes all counters. It also restarts the
// fault draws from the seed, so a test can replay the same fault sequence.
// Faults themselves are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	s.log = nil
	s.seen = make(map[[32]byte]struct{})
	for _, c := range []*atomic.Int64{&s.received, &s.stored, &s.duplicates, &s.failedRecords, &s.failedCalls} {
		c.Store(0)
	}
	for i := range s.opCalls {
		s.opCalls[i].Store(0)
	}
	s.mu.Unlock()
	s.rngMu.Lock()
	s.rng = rand.New(rand.NewPCG(s.opts.Seed, s.opts.Seed^0x9e3779b97f4a7c15))
	s.rngMu.Unlock()
}

// maxSigningSkew is how far the signing time of a request may be from the
// server's clock, as AWS allows.
const maxSigningSkew = 5 * time.Minute

// signingTimeError returns the message Kinesis sends for a request signed at
// amzDate (X-Amz-Date) that is outside its window around now, or "".
func signingTimeError(amzDate string, now time.Time) string {
	const layout = "20060102T150405Z"
	signed, err := time.Parse(layout, amzDate)
	if err != nil {
		return "" // unsigned, or not for this check
	}
	now = now.UTC()
	switch {
	case signed.Before(now.Add(-maxSigningSkew)):
		return "Signature expired: " + amzDate + " is now earlier than " + now.Add(-maxSigningSkew).Format(layout) +
			" (" + now.Format(layout) + " - 5 min.)"
	case signed.After(now.Add(maxSigningSkew)):
		return "Signature not yet current: " + amzDate + " is still later than " + now.Add(maxSigningSkew).Format(layout) +
			" (" + now.Format(layout) + " + 5 min.)"
	}
	return ""
}
