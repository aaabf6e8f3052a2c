package kinesis

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/genesys-relay/genesys-relay"
)

// userRecord is one record unpacked from an aggregated Kinesis record.
type userRecord struct {
	PartitionKey, ExplicitHashKey, Data string
}

// deaggregate unpacks a KPL aggregated record with the reference protobuf wire
// decoder, checking the magic number and the MD5 digest, as the KCL does.
func deaggregate(b []byte) ([]userRecord, error) {
	if len(b) < len(kplMagic)+md5.Size || !bytes.Equal(b[:4], kplMagic) {
		return nil, errors.New("no KPL magic number")
	}
	proto, digest := b[4:len(b)-md5.Size], b[len(b)-md5.Size:]
	if sum := md5.Sum(proto); !bytes.Equal(sum[:], digest) {
		return nil, errors.New("MD5 digest mismatch")
	}
	var pks, ehks []string
	type raw struct {
		pk, ehk uint64
		hasEHK  bool
		data    []byte
	}
	var raws []raw
	for len(proto) > 0 {
		num, typ, n := protowire.ConsumeTag(proto)
		if n < 0 || typ != protowire.BytesType {
			return nil, fmt.Errorf("field %d: unexpected wire type %d", num, typ)
		}
		proto = proto[n:]
		v, n := protowire.ConsumeBytes(proto)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		proto = proto[n:]
		switch num {
		case 1:
			pks = append(pks, string(v))
		case 2:
			ehks = append(ehks, string(v))
		case 3:
			var r raw
			for len(v) > 0 {
				f, ft, n := protowire.ConsumeTag(v)
				if n < 0 {
					return nil, protowire.ParseError(n)
				}
				v = v[n:]
				switch {
				case f == 1 && ft == protowire.VarintType:
					r.pk, n = protowire.ConsumeVarint(v)
				case f == 2 && ft == protowire.VarintType:
					r.ehk, n = protowire.ConsumeVarint(v)
					r.hasEHK = true
				case f == 3 && ft == protowire.BytesType:
					r.data, n = protowire.ConsumeBytes(v)
				default:
					return nil, fmt.Errorf("record field %d type %d", f, ft)
				}
				if n < 0 {
					return nil, protowire.ParseError(n)
				}
				v = v[n:]
			}
			raws = append(raws, r)
		default:
			return nil, fmt.Errorf("unknown field %d", num)
		}
	}
	var out []userRecord
	for _, r := range raws {
		if r.pk >= uint64(len(pks)) || (r.hasEHK && r.ehk >= uint64(len(ehks))) {
			return nil, errors.New("table index out of range")
		}
		u := userRecord{PartitionKey: pks[r.pk], Data: string(r.data)}
		if r.hasEHK {
			u.ExplicitHashKey = ehks[r.ehk]
		}
		out = append(out, u)
	}
	return out, nil
}

// unpack returns the user records of one request entry, aggregated or not.
func unpack(t *testing.T, data []byte, pk, ehk string) []userRecord {
	t.Helper()
	if !bytes.HasPrefix(data, kplMagic) {
		return []userRecord{{pk, ehk, string(data)}}
	}
	recs, err := deaggregate(data)
	if err != nil {
		t.Fatalf("deaggregate: %v", err)
	}
	for _, r := range recs {
		if r.PartitionKey != pk || r.ExplicitHashKey != ehk {
			t.Errorf("user record keys %q/%q inside an aggregated record with keys %q/%q", r.PartitionKey, r.ExplicitHashKey, pk, ehk)
		}
	}
	return recs
}

func TestAggregateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		maxRecord := 200 + rng.IntN(5000)
		var recs []relay.Record
		for i := range 1 + rng.IntN(60) {
			// Half the rounds use tiny records, where the protobuf overhead
			// weighs most against the batch's byte budget.
			data := []byte(fmt.Sprintf("%d-%d-%s", round, i, strings.Repeat("x", rng.IntN(maxRecord/3))))
			if round%2 == 1 {
				data = data[:rng.IntN(3)]
			}
			r := relay.Record{
				PartitionKey: strings.Repeat(string(rune('a'+rng.IntN(4))), 1+rng.IntN(3)*rng.IntN(40)),
				Data:         data,
			}
			if rng.IntN(3) == 0 {
				r.ExplicitHashKey = fmt.Sprint(rng.Uint64())
			}
			if r.Size() > maxRecord {
				continue
			}
			recs = append(recs, r)
		}
		b := &batch{}
		cost := 0
		for _, r := range recs {
			b.items = append(b.items, &item{rec: r})
			cost += aggregateCost(r)
		}
		b.agg.build(b, maxRecord)

		if len(b.entries) != len(b.spans) {
			t.Fatalf("%d entries, %d spans", len(b.entries), len(b.spans))
		}
		var got []userRecord
		total := 0
		for i, e := range b.entries {
			pk, ehk := *e.PartitionKey, ""
			if e.ExplicitHashKey != nil {
				ehk = *e.ExplicitHashKey
			}
			size := len(e.Data) + len(pk)
			if size > maxRecord {
				t.Fatalf("round %d: entry of %d bytes exceeds the record limit %d", round, size, maxRecord)
			}
			total += size
			unpacked := unpack(t, e.Data, pk, ehk)
			sp := b.spans[i]
			if len(unpacked) != sp.hi-sp.lo {
				t.Fatalf("entry %d holds %d records, its span %d", i, len(unpacked), sp.hi-sp.lo)
			}
			for j, u := range unpacked {
				if it := b.items[sp.lo+j]; string(it.rec.Data) != u.Data {
					t.Fatalf("entry %d record %d is %q, span says %q", i, j, u.Data, it.rec.Data)
				}
			}
			got = append(got, unpacked...)
		}
		if total > cost {
			t.Fatalf("round %d: %d bytes sent, more than the %d bytes the batch was formed with", round, total, cost)
		}
		want := map[userRecord]int{}
		for _, r := range recs {
			want[userRecord{r.PartitionKey, r.ExplicitHashKey, string(r.Data)}]++
		}
		for _, u := range got {
			want[u]--
		}
		for u, n := range want {
			if n != 0 {
				t.Fatalf("round %d: record %.20q off by %d", round, u.Data, n)
			}
		}
		b.agg.reset()
	}
}

func TestAggregateKeepsOrderWithinKey(t *testing.T) {
	b := &batch{}
	for i := range 10 {
		b.items = append(b.items, &item{rec: relay.Record{PartitionKey: fmt.Sprint(i % 2), Data: []byte(fmt.Sprint(i))}})
	}
	b.agg.build(b, 1<<20)
	if len(b.entries) != 2 {
		t.Fatalf("%d entries, want one per key", len(b.entries))
	}
	var order []string
	for _, e := range b.entries {
		for _, u := range unpack(t, e.Data, *e.PartitionKey, "") {
			order = append(order, u.Data)
		}
	}
	if got := strings.Join(order, ","); got != "0,2,4,6,8,1,3,5,7,9" {
		t.Errorf("order %s", got)
	}
}

// TestWriterAggregates writes through an aggregating writer and checks that
// every record arrives once, in fewer Kinesis records, and that a refused
// aggregated record is sent again with all its records and nothing else.
func TestWriterAggregates(t *testing.T) { inBubble(t, testWriterAggregates) }

func testWriterAggregates(t *testing.T) {
	var mu sync.Mutex
	arrived := map[string]int{}
	kinesisRecords, failedOnce := 0, false
	api := &fakeAPI{}
	api.respond = func(_ context.Context, n int, c *fakeCall) (*kinesisOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		return partialOutput(len(c.data), func(i int) string {
			if !failedOnce && len(c.data) > 1 && i == 0 {
				failedOnce = true
				return "ProvisionedThroughputExceededException"
			}
			kinesisRecords++
			for _, u := range unpack(t, []byte(c.data[i]), c.keys[i], "") {
				arrived[u.Data]++
			}
			return ""
		}), nil
	}
	w := newTestWriter(t, api, Options{Aggregate: true, Linger: 5 * time.Millisecond, MaxInFlight: 2})
	const callers, each = 32, 20
	putConcurrently(t, w, callers, each, func(g, i int) relay.Record {
		return relay.Record{PartitionKey: fmt.Sprintf("queue-%d", g%4), Data: []byte(fmt.Sprintf("event %d-%d", g, i))}
	})
	mu.Lock()
	defer mu.Unlock()
	if len(arrived) != callers*each {
		t.Errorf("%d records arrived, want %d", len(arrived), callers*each)
	}
	for d, n := range arrived {
		if n != 1 {
			t.Errorf("record %q arrived %d times", d, n)
		}
	}
	if !failedOnce {
		t.Error("no aggregated record was refused; the retry path went untested")
	}
	if kinesisRecords*4 > callers*each {
		t.Errorf("%d Kinesis records for %d events: aggregation does not pack", kinesisRecords, callers*each)
	}
	t.Logf("%d events in %d Kinesis records, %d calls", callers*each, kinesisRecords, api.numCalls())
}

func TestAggregateLargeRecordGoesAlone(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, Options{Aggregate: true, MaxRecordBytes: 1000, MaxBatchBytes: 1000, Linger: 20 * time.Millisecond})
	big := relay.Record{PartitionKey: "k", Data: bytes.Repeat([]byte("b"), 990)}
	small := relay.Record{PartitionKey: "k", Data: []byte("s")}
	r1, r2 := putAsync(context.Background(), w, big), putAsync(context.Background(), w, small)
	if err := <-r1; err != nil {
		t.Fatal(err)
	}
	if err := <-r2; err != nil {
		t.Fatal(err)
	}
	for _, c := range api.snapshot() {
		bytes := 0
		for i := range c.data {
			bytes += len(c.data[i]) + len(c.keys[i])
		}
		if bytes > 1000 {
			t.Errorf("call of %d bytes exceeds MaxBatchBytes", bytes)
		}
	}
}

// TestAggregateEncodeAllocs holds the claim of the package comment on
// aggregation: packing records into a buffer that is already large enough
// allocates nothing, however many records there are.
func TestAggregateEncodeAllocs(t *testing.T) {
	items := make([]*item, 200)
	for i := range items {
		items[i] = &item{rec: relay.Record{Data: []byte(strings.Repeat("d", i)), PartitionKey: "pk", ExplicitHashKey: "12345"}}
	}
	a := &aggregator{buf: make([]byte, 0, 1<<20)}
	var out []byte
	allocs := testing.AllocsPerRun(50, func() {
		a.buf = a.buf[:0]
		out = a.encode(items)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per aggregated record of %d records", allocs, len(items))
	}
	recs, err := deaggregate(out)
	if err != nil || len(recs) != len(items) {
		t.Fatalf("deaggregate: %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		if r.Data != string(items[i].rec.Data) || r.PartitionKey != "pk" || r.ExplicitHashKey != "12345" {
			t.Errorf("record %d: %+v", i, r)
		}
	}
}
