package kinesis

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/genesys-relay/genesys-relay"
)

// TestDeaggregateWriterRecords: every aggregated record the writer builds unpacks
// with Deaggregate to the records it packed, in order, with their keys, the same
// as the independent reference decoder of the tests says.
func TestDeaggregateWriterRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for round := range 100 {
		b := &batch{}
		for i := range 2 + rng.IntN(40) {
			r := relay.Record{PartitionKey: fmt.Sprint("k", rng.IntN(3)), Data: []byte(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", rng.IntN(300))))}
			if round%3 == 0 {
				r.ExplicitHashKey = fmt.Sprint(rng.Uint64())
			}
			b.items = append(b.items, &item{rec: r})
		}
		b.agg.build(b, 1<<20)
		for i, e := range b.entries {
			sp := b.spans[i]
			got, ok := Deaggregate(e.Data)
			if sp.hi-sp.lo == 1 {
				if ok {
					t.Fatalf("a single record sent as it is was read as aggregated")
				}
				continue
			}
			if !ok {
				t.Fatalf("round %d entry %d: not read as aggregated", round, i)
			}
			ref, err := deaggregate(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(ref) || len(got) != sp.hi-sp.lo {
				t.Fatalf("%d records, reference %d, span %d", len(got), len(ref), sp.hi-sp.lo)
			}
			for j, u := range got {
				want := b.items[sp.lo+j].rec
				if string(u.Data) != string(want.Data) || u.PartitionKey != want.PartitionKey || u.ExplicitHashKey != want.ExplicitHashKey {
					t.Fatalf("record %d = %+v, want %+v", j, u, want)
				}
				if ref[j].Data != string(u.Data) || ref[j].PartitionKey != u.PartitionKey {
					t.Fatalf("record %d differs from the reference decoder", j)
				}
			}
		}
		b.agg.reset()
	}
}

// kpl wraps a protobuf AggregatedRecord in the magic number and its digest.
func kpl(proto []byte) []byte {
	sum := md5.Sum(proto)
	return append(append(append([]byte{}, kplMagic...), proto...), sum[:]...)
}

// TestDeaggregateKPLFields: a record as the Kinesis Producer Library writes it, with
// several keys in its tables, tags on a record and a field this schema does not
// know, unpacks with each record's own keys.
func TestDeaggregateKPLFields(t *testing.T) {
	var p []byte
	for _, pk := range []string{"alpha", "beta"} {
		p = protowire.AppendTag(p, 1, protowire.BytesType)
		p = protowire.AppendString(p, pk)
	}
	p = protowire.AppendTag(p, 2, protowire.BytesType)
	p = protowire.AppendString(p, "340282366920938463463374607431768211455")
	record := func(pk uint64, ehk int, data string, tags bool) []byte {
		var r []byte
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, pk)
		if ehk >= 0 {
			r = protowire.AppendTag(r, 2, protowire.VarintType)
			r = protowire.AppendVarint(r, uint64(ehk))
		}
		r = protowire.AppendTag(r, 3, protowire.BytesType)
		r = protowire.AppendString(r, data)
		if tags {
			var tag []byte
			tag = protowire.AppendTag(tag, 1, protowire.BytesType)
			tag = protowire.AppendString(tag, "source")
			tag = protowire.AppendTag(tag, 2, protowire.BytesType)
			tag = protowire.AppendString(tag, "test")
			r = protowire.AppendTag(r, 4, protowire.BytesType)
			r = protowire.AppendBytes(r, tag)
		}
		return r
	}
	for _, r := range [][]byte{record(1, -1, `{"a":1}`, true), record(0, 0, "plain text", false), record(1, -1, "", false)} {
		p = protowire.AppendTag(p, 3, protowire.BytesType)
		p = protowire.AppendBytes(p, r)
	}
	p = protowire.AppendTag(p, 9, protowire.VarintType) // unknown to this schema
	p = protowire.AppendVarint(p, 42)

	got, ok := Deaggregate(kpl(p))
	if !ok {
		t.Fatal("not read as aggregated")
	}
	want := []UserRecord{
		{PartitionKey: "beta", Data: []byte(`{"a":1}`)},
		{PartitionKey: "alpha", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("plain text")},
		{PartitionKey: "beta", Data: []byte("")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records: %+v", len(got), got)
	}
	for i := range want {
		if got[i].PartitionKey != want[i].PartitionKey || got[i].ExplicitHashKey != want[i].ExplicitHashKey || string(got[i].Data) != string(want[i].Data) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDeaggregatePlainRecords: data that is not a valid aggregated record is read as
// one plain record, as the KCL does: no magic number, a wrong digest, a protobuf
// that does not parse, an index outside its table.
func TestDeaggregatePlainRecords(t *testing.T) {
	var valid []byte
	valid = protowire.AppendTag(valid, 1, protowire.BytesType)
	valid = protowire.AppendString(valid, "k")
	rec := protowire.AppendTag(nil, 1, protowire.VarintType)
	rec = protowire.AppendVarint(rec, 0)
	rec = protowire.AppendTag(rec, 3, protowire.BytesType)
	rec = protowire.AppendString(rec, "d")
	valid = protowire.AppendTag(valid, 3, protowire.BytesType)
	valid = protowire.AppendBytes(valid, rec)
	if _, ok := Deaggregate(kpl(valid)); !ok {
		t.Fatal("the valid record is not read as aggregated")
	}

	badDigest := kpl(valid)
	badDigest[len(badDigest)-1] ^= 1
	outOfRange := append([]byte{}, valid[:len(valid)-len(rec)-2]...)
	bad := protowire.AppendTag(nil, 1, protowire.VarintType)
	bad = protowire.AppendVarint(bad, 5)
	bad = protowire.AppendTag(bad, 3, protowire.BytesType)
	bad = protowire.AppendString(bad, "d")
	outOfRange = protowire.AppendTag(outOfRange, 3, protowire.BytesType)
	outOfRange = protowire.AppendBytes(outOfRange, bad)

	for name, data := range map[string][]byte{
		"JSON":                []byte(`{"original_event":{}}`),
		"empty":               nil,
		"magic only":          kplMagic,
		"wrong digest":        badDigest,
		"truncated protobuf":  kpl(valid[:len(valid)-2]),
		"index out of range":  kpl(outOfRange),
		"no records":          kpl(valid[:len(valid)-len(rec)-2]),
		"garbage after magic": append(append([]byte{}, kplMagic...), []byte(strings.Repeat("\xff", 40))...),
	} {
		if recs, ok := Deaggregate(data); ok {
			t.Errorf("%s: read as aggregated: %+v", name, recs)
		}
	}
}
