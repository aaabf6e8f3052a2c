package reliability

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/kinesis"
)

// The ordering guarantee, as these tests pin it down:
//
//   - The relay keeps no order of its own. A record Kinesis refused is retried
//     after a backoff, and a later record with the same partition key may be
//     accepted first (TestRetriedRecordCanBeOvertaken). PutRecords itself
//     gives no order within a call when some records fail; Benthos and Fluent
//     Bit behave the same way.
//   - A sender that waits for each answer before sending its next event with
//     the same key gets that key's events in order, whatever the faults: 200
//     means stored, so the next one can only land after it
//     (TestOrderPerKeyForAWaitingSender). EventBridge API destinations do not
//     wait like this, so events of one key sent concurrently may land in any
//     order; consumers that need order must sort, e.g. by the event time.

// TestOrderPerKeyForAWaitingSender: four senders each send 150 events with their
// own partition key, one at a time, retrying each until it is answered 200,
// while 16 other senders add load with other keys and Kinesis throttles 30% of
// records. Each key's events must land in the order they were sent, once each.
func TestOrderPerKeyForAWaitingSender(t *testing.T) {
	awsEnv(t)
	tp := newTap(t, 9, kinesistest.Faults{})
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL()})
	d := daemontest.Start(t, daemon.Options{Config: cfg})
	tp.SetFaults(kinesistest.Faults{RecordThrottleRate: 0.3, Latency: time.Millisecond, Jitter: 3 * time.Millisecond})

	const ordered, noise = 4, 16
	perKey := size(150, 60)
	client := newClient(ordered + noise)
	var wg sync.WaitGroup
	var stopNoise atomic.Bool
	var resent atomic.Int64
	for s := range noise {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stopNoise.Load(); i++ {
				send(client, d.URL, event(fmt.Sprintf("noise-%02d-%05d", s, i), fmt.Sprintf("q-noise-%d", i%7)))
			}
		}()
	}
	var orderedWG sync.WaitGroup
	for k := range ordered {
		orderedWG.Add(1)
		go func() {
			defer orderedWG.Done()
			q := fmt.Sprintf("q-ordered-%d", k)
			var answered history
			for i := range perKey {
				id := fmt.Sprintf("ord-%d-%05d", k, i)
				retryUntil := time.Now().Add(3 * time.Minute)
				for {
					r := send(client, d.URL, event(id, q))
					answered.add(id, r.code)
					if forwardedOK(r, q) {
						break
					}
					if time.Now().After(retryUntil) {
						t.Errorf("event %s not accepted within 3 minutes: %s, last %q", id, answered.says(id), r.raw)
						return
					}
					resent.Add(1)
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	orderedWG.Wait()
	stopNoise.Store(true)
	wg.Wait()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}

	got := map[string][]int{}
	for _, r := range tp.Records() {
		var k, i int
		if _, err := fmt.Sscanf(traceID(r.Data), "ord-%d-%d", &k, &i); err == nil {
			if r.PartitionKey != keyOf(fmt.Sprintf("q-ordered-%d", k)) {
				t.Errorf("record ord-%d-%05d has partition key %s", k, i, r.PartitionKey)
			}
			q := strconv.Itoa(k)
			got[q] = append(got[q], i)
		}
	}
	for k := range ordered {
		seq := got[strconv.Itoa(k)]
		want := make([]int, perKey)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(seq, want) {
			t.Errorf("key %d: %d records in stream order %v, want 0..%d in order, once each", k, len(seq), seq, perKey-1)
		}
	}
	st := tp.Stats()
	t.Logf("%d keys × %d events in order under %.0f%% throttling with %d noise senders (%d records in all, %d resends by the senders)",
		ordered, perKey, 100*float64(st.FailedRecords)/float64(max(st.RecordsReceived, 1)), noise, st.Stored, resent.Load())
}

// TestRetriedRecordCanBeOvertaken shows what the writer promises about order:
// nothing beyond a record's own acknowledgement. Record A is throttled until
// record B, with the same partition key and put after A, has been accepted;
// both callers succeed, and B lands first.
func TestRetriedRecordCanBeOvertaken(t *testing.T) {
	api := &overtakeAPI{throttled: make(chan struct{})}
	w, err := kinesis.NewWriter(api, kinesis.Options{Stream: "s", Linger: time.Millisecond,
		RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errA := make(chan error, 1)
	go func() { errA <- w.Put(ctx, relay.Record{PartitionKey: "k", Data: []byte("A")}) }()
	select {
	case <-api.throttled:
	case <-ctx.Done():
		t.Fatal("A never reached Kinesis")
	}
	if err := w.Put(ctx, relay.Record{PartitionKey: "k", Data: []byte("B")}); err != nil {
		t.Fatalf("put B: %v", err)
	}
	if err := <-errA; err != nil {
		t.Fatalf("put A: %v", err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if !slices.Equal(api.stored, []string{"B", "A"}) {
		t.Errorf("stream order %v, want [B A]: the retried A is overtaken by B", api.stored)
	}
	t.Logf("A put first, throttled %d times; stream order %v", api.throttles, api.stored)
}

// overtakeAPI throttles record A until record B is stored.
type overtakeAPI struct {
	mu        sync.Mutex
	stored    []string
	throttles int
	throttled chan struct{} // closed at A's first throttle
}

func (f *overtakeAPI) PutRecords(_ context.Context, in *awskinesis.PutRecordsInput, _ ...func(*awskinesis.Options)) (*awskinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awskinesis.PutRecordsOutput{}
	var failed int32
	for _, e := range in.Records {
		if string(e.Data) == "A" && !slices.Contains(f.stored, "B") {
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard")})
			failed++
			if f.throttles == 0 {
				close(f.throttled)
			}
			f.throttles++
			continue
		}
		f.stored = append(f.stored, string(e.Data))
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			SequenceNumber: aws.String(strconv.Itoa(len(f.stored))), ShardId: aws.String("shardId-000000000000")})
	}
	out.FailedRecordCount = &failed
	return out, nil
}
