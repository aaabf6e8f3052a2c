package kinesis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// skewedKinesis starts a Kinesis-compatible server whose clock is offset from
// the host's, refusing requests signed more than 5 minutes from it as Kinesis
// does.
func skewedKinesis(t *testing.T, offset time.Duration) *kinesistest.Server {
	t.Helper()
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"events"}, ClockOffset: offset})
	t.Cleanup(srv.Close)
	return srv
}

// TestCheckStreamClockSkew: with the host's clock 10 minutes off, the start-up
// check's first call is refused ("Signature expired"); the check tries once
// more at the clock the answer showed and passes. When the second call is
// refused too (here: skew correction off), the error says clock skew, not
// credentials.
func TestCheckStreamClockSkew(t *testing.T) {
	for _, offset := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			srv := skewedKinesis(t, offset)
			client, err := NewClient(context.Background(), "", srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckStream(context.Background(), client, "events"); err != nil {
				t.Fatalf("CheckStream: %v", err)
			}
			if n := srv.CallsTo("DescribeStreamSummary"); n != 2 {
				t.Errorf("%d calls, want 2 (refused, then signed at Kinesis's time)", n)
			}

			uncorrected := kinesis.New(client.Options(), func(o *kinesis.Options) { o.DisableClockSkewCorrection = true })
			err = CheckStream(context.Background(), uncorrected, "events")
			if err == nil || !strings.Contains(err.Error(), "clock skew") || strings.Contains(err.Error(), "credentials") {
				t.Errorf("CheckStream without skew correction: %v; want it to say clock skew", err)
			}
		})
	}
}

// TestWriterClockSkew: with the host's clock 10 minutes off, a call refused
// for its signing time is sent again (signed at the clock the answer showed),
// so no event fails for it, with either client.
func TestWriterClockSkew(t *testing.T) {
	srv := skewedKinesis(t, 10*time.Minute)
	for _, name := range []string{"sdk", "direct"} {
		t.Run(name, func(t *testing.T) {
			srv.Reset()
			client, direct := bothClients(t, srv.URL()) // new clients: nothing learned yet
			var api PutRecordsAPI = client
			if name == "direct" {
				api = direct
			}
			w := newTestWriter(t, api, Options{Stream: "events", RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond})
			const n = 20
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					if err := w.Put(ctx, relay.Record{PartitionKey: "k", Data: []byte(fmt.Sprint("event-", i))}); err != nil {
						t.Errorf("Put %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if srv.Stored() != n || srv.FailedCalls() == 0 {
				t.Errorf("stored %d of %d, %d calls refused", srv.Stored(), n, srv.FailedCalls())
			}
		})
	}
}
