package kinesis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay"
)

// nopAPI accepts everything at once, reusing one response per batch size, so a
// benchmark measures the writer alone.
type nopAPI struct {
	mu   sync.Mutex
	outs map[int]*kinesis.PutRecordsOutput
}

func (a *nopAPI) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(in.Records)
	out, ok := a.outs[n]
	if !ok {
		out = &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, n)}
		a.outs[n] = out
	}
	return out, nil
}

// BenchmarkPut measures Put from many goroutines (one op is one record,
// accepted end to end). With the linger alone a batch goes out every
// millisecond; with EagerFlush as soon as every caller is in it, so that the
// writer's own cost per record shows.
func BenchmarkPut(b *testing.B) {
	for _, bc := range []struct {
		name       string
		agg, eager bool
	}{{"plain", false, false}, {"aggregate", true, false}, {"plain-eager", false, true}, {"aggregate-eager", true, true}} {
		agg := bc.agg
		b.Run(bc.name, func(b *testing.B) {
			w, err := NewWriter(&nopAPI{outs: map[int]*kinesis.PutRecordsOutput{}}, Options{Stream: "s", Linger: time.Millisecond, Aggregate: agg, EagerFlush: bc.eager})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close(context.Background())
			data := make([]byte, 600)
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := relay.Record{PartitionKey: "9f1c2b3a4d5e6f70", Data: data}
				for pb.Next() {
					if err := w.Put(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
