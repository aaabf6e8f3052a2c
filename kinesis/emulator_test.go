package kinesis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestWriterAgainstFaultyKinesis runs the writer with the real SDK client built
// by NewClient, and with the direct client built from it, against a
// Kinesis-compatible server that throttles records, fails and throttles whole
// calls, and checks that every event is stored once.
func TestWriterAgainstFaultyKinesis(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server")
	}
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{
		Streams:         []string{"events"},
		ShardsPerStream: 4,
		Seed:            42,
		Faults: kinesistest.Faults{
			RecordThrottleRate:        0.2,
			RecordInternalFailureRate: 0.05,
			InternalFailureRate:       0.05,
			ServiceUnavailableRate:    0.05,
			ThrottleRate:              0.05,
		},
	})
	defer srv.Close()
	client, direct := bothClients(t, srv.URL())
	if err := CheckStream(context.Background(), client, "events"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		api   PutRecordsAPI
		eager bool // the relay's setting; the SDK runs without it, to cover the linger
	}{{"sdk", client, false}, {"direct", direct, true}} {
		for _, agg := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/aggregate=%v", c.name, agg), func(t *testing.T) {
				srv.Reset()
				w := newTestWriter(t, c.api, Options{Stream: "events", Aggregate: agg, MaxInFlight: 8, EagerFlush: c.eager,
					RetryBase: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond})
				const callers, each = 32, 40
				var wg sync.WaitGroup
				for g := range callers {
					wg.Go(func() {
						for i := range each {
							ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a loaded machine is slow
							r := relay.Record{PartitionKey: fmt.Sprintf("queue-%d", g%6), Data: []byte(fmt.Sprintf(`{"event":"%d-%d"}`, g, i))}
							if err := w.Put(ctx, r); err != nil {
								t.Errorf("Put: %v", err)
							}
							cancel()
						}
					})
				}
				wg.Wait()

				stored := map[string]int{}
				for _, r := range srv.Records() {
					for _, u := range unpack(t, r.Data, r.PartitionKey, r.ExplicitHashKey) {
						stored[u.Data]++
					}
				}
				if len(stored) != callers*each {
					t.Errorf("%d distinct events stored, want %d", len(stored), callers*each)
				}
				for d, n := range stored {
					if n != 1 {
						t.Errorf("event %s stored %d times", d, n)
					}
				}
				st := srv.Stats()
				if st.FailedRecords == 0 || st.FailedCalls == 0 {
					t.Errorf("no faults were injected (%+v); the test proves nothing", st)
				}
				t.Logf("%d events, server stats %+v", callers*each, st)
			})
		}
	}
}

// TestWriterRetriesRecordsWithoutResult: a 200 answer whose entry for a record
// has neither a sequence number nor an error code (FailedRecordCount counting
// it) has not stored that record. Neither client may answer it as written; it
// is sent again until a sequence number says it is in the stream.
func TestWriterRetriesRecordsWithoutResult(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"events"}, ShardsPerStream: 2, Seed: 11,
		Faults: kinesistest.Faults{RecordNoResultRate: 0.3}})
	defer srv.Close()
	client, direct := bothClients(t, srv.URL())
	for _, c := range []struct {
		name string
		api  PutRecordsAPI
	}{{"sdk", client}, {"direct", direct}} {
		t.Run(c.name, func(t *testing.T) {
			srv.Reset()
			w := newTestWriter(t, c.api, Options{Stream: "events", RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond})
			const n = 200
			answered := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					answered[i] = w.Put(ctx, relay.Record{PartitionKey: fmt.Sprint("k", i%7), Data: []byte(fmt.Sprint("event-", i))})
				})
			}
			wg.Wait()
			stored := map[string]bool{}
			for _, r := range srv.Records() {
				stored[string(r.Data)] = true
			}
			for i, err := range answered {
				d := fmt.Sprint("event-", i)
				switch {
				case err == nil && !stored[d]:
					t.Errorf("%s answered as written but not stored", d)
				case err != nil:
					t.Errorf("%s answered %v (stored: %v)", d, err, stored[d])
				}
			}
			if srv.FailedRecords() == 0 {
				t.Error("no record went without a result; the test proves nothing")
			}
		})
	}
}
