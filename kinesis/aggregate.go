package kinesis

import (
	"crypto/md5"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/genesys-relay/genesys-relay"
)

// KPL aggregation packs several records into one Kinesis record in the format of
// the Kinesis Producer Library, which the KCL and the awslabs/kinesis-aggregation
// deaggregators unpack:
//
//	magic 0xF3 0x89 0x9A 0xC2 | protobuf AggregatedRecord | MD5 of the protobuf bytes
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	}
//
// Only records with the same partition key and explicit hash key are packed
// together: the aggregated record lands on the shard of that key, so every event
// stays on the shard its key chose and per-key ordering downstream is unchanged.
//
// The protobuf is written with protowire, the wire-format primitives of the
// protobuf module: the schema has five scalar fields, and appending them
// straight into one reused buffer per batch costs no allocation per record and
// needs no generated code or reflection.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// Field numbers of the KPL schema above.
const (
	aggPartitionKeyTable    protowire.Number = 1 // AggregatedRecord.partition_key_table
	aggExplicitHashKeyTable protowire.Number = 2 // AggregatedRecord.explicit_hash_key_table
	aggRecords              protowire.Number = 3 // AggregatedRecord.records
	recPartitionKeyIndex    protowire.Number = 1 // Record.partition_key_index
	recExplicitHashKeyIndex protowire.Number = 2 // Record.explicit_hash_key_index
	recData                 protowire.Number = 3 // Record.data
)

const (
	kplHeader = 4  // magic
	kplDigest = 16 // MD5
	// aggOverhead bounds the bytes one record adds to an aggregated record beyond
	// its data, partition key and hash key, including its share of the fixed
	// overhead when at least two are packed (see aggregateCost).
	aggOverhead = 32
)

// aggregateCost is what a record counts against MaxBatchBytes when aggregation
// is on. An aggregated record of k >= 2 records costs at most
// 2*len(pk) + len(ehk) + 25 + sum(len(data) + 14) bytes, never more than the sum of
// these costs, so a batch formed by costs stays within MaxBatchBytes.
func aggregateCost(rec relay.Record) int {
	return len(rec.Data) + len(rec.PartitionKey) + len(rec.ExplicitHashKey) + aggOverhead
}

type groupKey struct{ pk, ehk string }

// aggregator holds the reusable buffers of one batch's aggregation.
type aggregator struct {
	groups map[groupKey]int
	gidx   []int   // group of each item
	starts []int   // first slot of each group in sorted
	sorted []*item // items ordered by group, arrival order kept within a group
	parts  []part
	buf    []byte
}

// part is one request entry: items [lo, hi) of the batch and its protobuf size
// (0 for a single record sent as it is).
type part struct{ lo, hi, proto int }

func (a *aggregator) reset() {
	clear(a.groups)
	clear(a.sorted)
	a.gidx, a.starts, a.sorted, a.parts = a.gidx[:0], a.starts[:0], a.sorted[:0], a.parts[:0]
	a.buf = a.buf[:0]
}

// build orders b.items by group and fills b.entries and b.spans, packing each
// group into as few records of at most maxRecord bytes as possible.
func (a *aggregator) build(b *batch, maxRecord int) {
	if a.groups == nil {
		a.groups = make(map[groupKey]int)
	}
	for _, it := range b.items {
		k := groupKey{it.rec.PartitionKey, it.rec.ExplicitHashKey}
		g, ok := a.groups[k]
		if !ok {
			g = len(a.starts)
			a.groups[k] = g
			a.starts = append(a.starts, 0)
		}
		a.gidx = append(a.gidx, g)
		a.starts[g]++
	}
	sum := 0
	for g, n := range a.starts {
		a.starts[g] = sum
		sum += n
	}
	a.sorted = slices.Grow(a.sorted[:0], len(b.items))[:len(b.items)]
	for i, it := range b.items {
		g := a.gidx[i]
		a.sorted[a.starts[g]] = it
		a.starts[g]++
	}
	copy(b.items, a.sorted)

	// Split each group into parts that fit maxRecord, then encode them into one
	// buffer grown once.
	total := 0
	for lo := 0; lo < len(b.items); {
		pk, ehk := b.items[lo].rec.PartitionKey, b.items[lo].rec.ExplicitHashKey
		head := fieldSize(aggPartitionKeyTable, len(pk))
		if ehk != "" {
			head += fieldSize(aggExplicitHashKeyTable, len(ehk))
		}
		hi, proto := lo, head
		for hi < len(b.items) && b.items[hi].rec.PartitionKey == pk && b.items[hi].rec.ExplicitHashKey == ehk {
			n := fieldSize(aggRecords, innerSize(len(b.items[hi].rec.Data), ehk != ""))
			if hi > lo && kplHeader+proto+n+kplDigest+len(pk) > maxRecord {
				break
			}
			proto += n
			hi++
		}
		if hi-lo == 1 {
			proto = 0
		} else {
			total += kplHeader + proto + kplDigest
		}
		a.parts = append(a.parts, part{lo, hi, proto})
		lo = hi
	}
	a.buf = slices.Grow(a.buf[:0], total)
	for _, p := range a.parts {
		first := b.items[p.lo]
		if p.proto == 0 {
			b.entries = append(b.entries, entry(first))
		} else {
			e := entry(first)
			e.Data = a.encode(b.items[p.lo:p.hi])
			b.entries = append(b.entries, e)
		}
		b.spans = append(b.spans, span{p.lo, p.hi})
	}
}

// encode appends one aggregated record of items (sharing keys) to a.buf and
// returns it.
func (a *aggregator) encode(items []*item) []byte {
	pk, ehk := items[0].rec.PartitionKey, items[0].rec.ExplicitHashKey
	start := len(a.buf)
	buf := append(a.buf, kplMagic...)
	proto := len(buf)
	buf = protowire.AppendTag(buf, aggPartitionKeyTable, protowire.BytesType)
	buf = protowire.AppendString(buf, pk)
	if ehk != "" {
		buf = protowire.AppendTag(buf, aggExplicitHashKeyTable, protowire.BytesType)
		buf = protowire.AppendString(buf, ehk)
	}
	for _, it := range items {
		buf = protowire.AppendTag(buf, aggRecords, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(innerSize(len(it.rec.Data), ehk != "")))
		buf = protowire.AppendTag(buf, recPartitionKeyIndex, protowire.VarintType)
		buf = protowire.AppendVarint(buf, 0) // the one key of the table
		if ehk != "" {
			buf = protowire.AppendTag(buf, recExplicitHashKeyIndex, protowire.VarintType)
			buf = protowire.AppendVarint(buf, 0)
		}
		buf = protowire.AppendTag(buf, recData, protowire.BytesType)
		buf = protowire.AppendBytes(buf, it.rec.Data)
	}
	digest := md5.Sum(buf[proto:])
	buf = append(buf, digest[:]...)
	a.buf = buf
	return buf[start:len(buf):len(buf)]
}

// innerSize is the size of one Record message with data of n bytes.
func innerSize(n int, ehk bool) int {
	s := protowire.SizeTag(recPartitionKeyIndex) + protowire.SizeVarint(0) +
		protowire.SizeTag(recData) + protowire.SizeBytes(n)
	if ehk {
		s += protowire.SizeTag(recExplicitHashKeyIndex) + protowire.SizeVarint(0)
	}
	return s
}

// fieldSize is the size of length-delimited field num holding n bytes.
func fieldSize(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}
