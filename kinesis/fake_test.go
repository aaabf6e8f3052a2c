package kinesis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// fakeCall is what one PutRecords call carried.
type fakeCall struct {
	data        []string // record data, in request order
	keys        []string
	deadline    time.Time
	hasDeadline bool
	accepted    []bool // filled from the response: which entries Kinesis accepted
}

// fakeAPI is an in-process PutRecordsAPI. respond decides each call's outcome
// (nil: everything accepted); it sees the 0-based call number.
type fakeAPI struct {
	respond func(ctx context.Context, n int, c *fakeCall) (*kinesis.PutRecordsOutput, error)

	mu    sync.Mutex
	calls []*fakeCall
}

func (f *fakeAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c := &fakeCall{}
	for _, e := range in.Records {
		c.data = append(c.data, string(e.Data))
		c.keys = append(c.keys, aws.ToString(e.PartitionKey))
	}
	c.deadline, c.hasDeadline = ctx.Deadline()
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, c)
	f.mu.Unlock()

	var out *kinesis.PutRecordsOutput
	var err error
	if f.respond != nil {
		out, err = f.respond(ctx, n, c)
	}
	if err == nil && out == nil {
		out = okOutput(len(c.data))
	}
	if err == nil {
		f.mu.Lock()
		c.accepted = make([]bool, len(out.Records))
		for i, r := range out.Records {
			c.accepted[i] = r.ErrorCode == nil && aws.ToString(r.SequenceNumber) != ""
		}
		f.mu.Unlock()
	}
	return out, err
}

func (f *fakeAPI) snapshot() []*fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeCall(nil), f.calls...)
}

func (f *fakeAPI) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// sent counts how often each data value was sent, and how often accepted.
func (f *fakeAPI) sent() (sent, accepted map[string]int) {
	sent, accepted = map[string]int{}, map[string]int{}
	for _, c := range f.snapshot() {
		for i, d := range c.data {
			sent[d]++
			if i < len(c.accepted) && c.accepted[i] {
				accepted[d]++
			}
		}
	}
	return sent, accepted
}

// okOutput accepts n records.
func okOutput(n int) *kinesis.PutRecordsOutput {
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for i := range n {
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			SequenceNumber: aws.String(strconv.Itoa(i)),
			ShardId:        aws.String("shardId-000000000000"),
		})
	}
	return out
}

// partialOutput accepts n records except those for which fail returns a code.
// Failed entries have no SequenceNumber or ShardId, as in Kinesis.
func partialOutput(n int, fail func(i int) string) *kinesis.PutRecordsOutput {
	out := okOutput(n)
	failed := int32(0)
	for i := range out.Records {
		if code := fail(i); code != "" {
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("refused " + code)}
			failed++
		}
	}
	out.FailedRecordCount = aws.Int32(failed)
	return out
}

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "simulated " + code}
}

// newTestWriter starts a writer with test-friendly defaults and closes it at
// the end of the test.
func newTestWriter(t *testing.T, api PutRecordsAPI, opts Options) *Writer {
	t.Helper()
	if opts.Stream == "" {
		opts.Stream = "test-stream"
	}
	if opts.Linger == 0 {
		opts.Linger = 2 * time.Millisecond
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 5 * time.Millisecond
	}
	w, err := NewWriter(api, opts)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

func rec(data string) relay.Record {
	return relay.Record{PartitionKey: "pk-" + data, Data: []byte(data)}
}

// putConcurrently runs callers goroutines that each Put the records mk(g, 0)
// to mk(g, each-1) one after the other, each waiting for its answer, and
// returns when all are answered; a failed Put fails the test.
func putConcurrently(t *testing.T, w *Writer, callers, each int, mk func(g, i int) relay.Record) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for i := range each {
				if err := w.Put(context.Background(), mk(g, i)); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

// seqRec is rec of "g-i": a record per caller and sequence number.
func seqRec(g, i int) relay.Record { return rec(fmt.Sprintf("%d-%d", g, i)) }

// putAsync calls Put in a goroutine and returns the channel of its result.
func putAsync(ctx context.Context, w *Writer, r relay.Record) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- w.Put(ctx, r) }()
	return ch
}

// checkNoLeak fails the test if goroutines started after before are still
// running shortly after.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	if !testx.Eventually(30*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

func mustIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("error %v: want errors.Is %v", err, target)
		}
	}
}

// queued is the number of records waiting in the writer's queue (not retries).
func queued(w *Writer) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queue.len()
}

// idle reports whether no call is in flight and nothing waits.
func idle(w *Writer) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inFlight == 0 && w.queue.len()+w.ready.len()+w.retries.len() == 0
}

type kinesisOutput = kinesis.PutRecordsOutput

func numGoroutine() int { return runtime.NumGoroutine() }
