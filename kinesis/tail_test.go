package kinesis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// putUserRecords writes recs to stream: those of each key in groups packed by the
// writer's own KPL aggregation when aggregate is set, else one Kinesis record each.
func putUserRecords(t *testing.T, c *kinesis.Client, stream string, recs []relay.Record, aggregate bool) {
	t.Helper()
	b := &batch{}
	for _, r := range recs {
		b.items = append(b.items, &item{rec: r})
	}
	if aggregate {
		b.agg.build(b, 1<<20)
	} else {
		for _, it := range b.items {
			b.entries = append(b.entries, entry(it))
		}
	}
	out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: b.entries})
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
		t.Fatalf("%d records failed", n)
	}
}

func records(prefix string, n, keys int) []relay.Record {
	var out []relay.Record
	for i := range n {
		out = append(out, relay.Record{PartitionKey: fmt.Sprintf("queue-%d", i%keys), Data: []byte(fmt.Sprintf(`{"id":"%s-%d"}`, prefix, i))})
	}
	return out
}

// recordID splits the id of a record made by records into its prefix and number.
func recordID(data string) (string, int) {
	id := strings.TrimSuffix(strings.TrimPrefix(data, `{"id":"`), `"}`)
	i := strings.LastIndexByte(id, '-')
	var n int
	fmt.Sscan(id[i+1:], &n)
	return id[:i], n
}

func tailAll(t *testing.T, c *kinesis.Client, o TailOptions) []TailRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []TailRecord
	if err := Tail(ctx, c, o, func(r TailRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatalf("Tail: %v", err)
	}
	return got
}

// TestTailKinesisLocal reads back, from kinesis-local through the SDK, records
// written plain and KPL-aggregated: every user record once, with its shard,
// sequence number, key and arrival time; each key's records in the order written;
// -n, --from <time> and --follow from latest.
func TestTailKinesisLocal(t *testing.T) {
	endpoint := testx.KinesisEndpoint(t)
	c, err := NewClient(context.Background(), "us-east-1", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	stream := testx.NewStream(t, testx.KinesisClient(endpoint), 2)

	aggregated, plain := records("agg", 30, 3), records("plain", 10, 5)
	putUserRecords(t, c, stream, aggregated, true)
	putUserRecords(t, c, stream, plain, false)

	got := tailAll(t, c, TailOptions{Stream: stream, From: Position{Type: types.ShardIteratorTypeTrimHorizon}, Poll: 100 * time.Millisecond})
	want := map[string]relay.Record{}
	for _, r := range append(append([]relay.Record{}, aggregated...), plain...) {
		want[string(r.Data)] = r
	}
	seen := map[string]int{}
	lastOfKey := map[string]int{}
	for _, r := range got {
		w, ok := want[string(r.Data)]
		if !ok {
			t.Fatalf("unexpected record %q", r.Data)
		}
		seen[string(r.Data)]++
		if r.PartitionKey != w.PartitionKey || !strings.HasPrefix(r.Shard, "shardId-") || r.Sequence == "" || r.Arrival.IsZero() {
			t.Errorf("record %+v: want key %s, a shard, a sequence number and an arrival time", r, w.PartitionKey)
		}
		if aggregatedRecord := strings.Contains(string(r.Data), "agg-"); aggregatedRecord != (r.SubSequence >= 0) {
			t.Errorf("record %s: sub-sequence %d", r.Data, r.SubSequence)
		}
		// Within one PutRecords call, a key's records were written in the order of
		// their numbers.
		prefix, num := recordID(string(r.Data))
		k := prefix + "/" + r.PartitionKey
		if prev, ok := lastOfKey[k]; ok && prev > num {
			t.Errorf("key %s: %s read after number %d", r.PartitionKey, r.Data, prev)
		}
		lastOfKey[k] = num
	}
	for d := range want {
		if seen[d] != 1 {
			t.Errorf("record %s read %d times", d, seen[d])
		}
	}

	if n := len(tailAll(t, c, TailOptions{Stream: stream, From: Position{Type: types.ShardIteratorTypeTrimHorizon}, Limit: 7})); n != 7 {
		t.Errorf("-n 7 gave %d records", n)
	}

	// --from a time: only what arrived after it.
	time.Sleep(100 * time.Millisecond)
	from := time.Now()
	time.Sleep(100 * time.Millisecond)
	later := records("later", 6, 2)
	putUserRecords(t, c, stream, later, true)
	got = tailAll(t, c, TailOptions{Stream: stream, From: Position{Type: types.ShardIteratorTypeAtTimestamp, At: from}})
	if len(got) != len(later) {
		t.Errorf("from %s: %d records, want the %d written after", from.Format(time.RFC3339Nano), len(got), len(later))
	}
	for _, r := range got {
		if !strings.Contains(string(r.Data), "later-") {
			t.Errorf("from %s: record %s was written before", from.Format(time.RFC3339Nano), r.Data)
		}
	}

	// --follow from latest: records written while it runs, and none of before.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	followed := map[string]bool{}
	done := make(chan error, 1)
	go func() {
		done <- Tail(ctx, c, TailOptions{Stream: stream, From: Position{Type: types.ShardIteratorTypeLatest}, Follow: true, Poll: 50 * time.Millisecond},
			func(r TailRecord) error {
				mu.Lock()
				followed[string(r.Data)] = true
				mu.Unlock()
				return nil
			})
	}()
	// LATEST starts when Tail gets its iterators: write markers until one is seen.
	seenAny := func() bool { mu.Lock(); defer mu.Unlock(); return len(followed) > 0 }
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; !seenAny(); i++ {
		if time.Now().After(deadline) {
			t.Fatal("follow saw no record in 30s")
		}
		putUserRecords(t, c, stream, records(fmt.Sprint("marker", i), 2, 2), false)
		time.Sleep(200 * time.Millisecond)
	}
	fresh := records("fresh", 12, 3)
	putUserRecords(t, c, stream, fresh, true)
	for {
		mu.Lock()
		n := 0
		for _, r := range fresh {
			if followed[string(r.Data)] {
				n++
			}
		}
		old := followed[string(plain[0].Data)]
		mu.Unlock()
		if old {
			t.Fatal("follow from latest read a record written before it started")
		}
		if n == len(fresh) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follow read %d of %d new records in 30s", n, len(fresh))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Tail with Follow ended with %v; want nil when its context ends", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Tail did not return after its context ended")
	}
}

func TestParsePosition(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for in, want := range map[string]Position{
		"latest":                    {Type: types.ShardIteratorTypeLatest},
		"trim-horizon":              {Type: types.ShardIteratorTypeTrimHorizon},
		"TRIM_HORIZON":              {Type: types.ShardIteratorTypeTrimHorizon},
		"2026-01-02T14:00:00Z":      {Type: types.ShardIteratorTypeAtTimestamp, At: time.Date(2026, 1, 2, 14, 0, 0, 0, time.UTC)},
		"2026-01-02T16:00:00+02:00": {Type: types.ShardIteratorTypeAtTimestamp, At: time.Date(2026, 1, 2, 14, 0, 0, 0, time.UTC)},
		"15m":                       {Type: types.ShardIteratorTypeAtTimestamp, At: now.Add(-15 * time.Minute)},
	} {
		got, err := ParsePosition(in, now)
		if err != nil || got.Type != want.Type || !got.At.Equal(want.At) {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-01-02", "-5m"} {
		if _, err := ParsePosition(bad, now); err == nil {
			t.Errorf("ParsePosition(%q) accepted", bad)
		}
	}
}
