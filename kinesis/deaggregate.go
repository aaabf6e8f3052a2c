package kinesis

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// UserRecord is one record as its producer wrote it: a Kinesis record as it is,
// or one of the records packed into a KPL aggregated record.
type UserRecord struct {
	PartitionKey    string
	ExplicitHashKey string // "" when the producer set none
	Data            []byte
}

// Deaggregate unpacks a Kinesis record's data in the KPL aggregated format (see
// aggregate.go for the layout) into its user records, with their own partition and
// explicit hash keys; ok is false when data is not an aggregated record (no magic
// number, a digest that does not match, or a protobuf that does not parse), which
// like the KCL is then read as one plain record. The returned Data slices point
// into data.
//
// The protobuf is read with the reference wire decoder (protowire); fields the
// schema does not name, such as a record's tags (field 4), are skipped as protobuf
// requires.
func Deaggregate(data []byte) (recs []UserRecord, ok bool) {
	if len(data) < len(kplMagic)+md5.Size || !bytes.HasPrefix(data, kplMagic) {
		return nil, false
	}
	proto, digest := data[len(kplMagic):len(data)-md5.Size], data[len(data)-md5.Size:]
	if sum := md5.Sum(proto); !bytes.Equal(sum[:], digest) {
		return nil, false
	}
	recs, err := parseAggregated(proto)
	if err != nil {
		return nil, false
	}
	return recs, true
}

// rawUserRecord is a Record message before its table indexes are resolved.
type rawUserRecord struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
}

// parseAggregated parses an AggregatedRecord message.
func parseAggregated(b []byte) ([]UserRecord, error) {
	var pks, ehks []string
	var raws []rawUserRecord
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType || num < aggPartitionKeyTable || num > aggRecords {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case aggPartitionKeyTable:
			pks = append(pks, string(v))
		case aggExplicitHashKeyTable:
			ehks = append(ehks, string(v))
		case aggRecords:
			r, err := parseUserRecord(v)
			if err != nil {
				return nil, err
			}
			raws = append(raws, r)
		}
	}
	if len(raws) == 0 {
		return nil, errors.New("aggregated record holds no records")
	}
	out := make([]UserRecord, len(raws))
	for i, r := range raws {
		if r.pk >= uint64(len(pks)) {
			return nil, fmt.Errorf("record %d: partition key index %d out of range", i, r.pk)
		}
		out[i] = UserRecord{PartitionKey: pks[r.pk], Data: r.data}
		if r.hasEHK {
			if r.ehk >= uint64(len(ehks)) {
				return nil, fmt.Errorf("record %d: explicit hash key index %d out of range", i, r.ehk)
			}
			out[i].ExplicitHashKey = ehks[r.ehk]
		}
	}
	return out, nil
}

// parseUserRecord parses a Record message: partition_key_index (1, required),
// explicit_hash_key_index (2), data (3, required); tags (4) and unknown fields are
// skipped.
func parseUserRecord(b []byte) (rawUserRecord, error) {
	var r rawUserRecord
	var hasPK, hasData bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == recPartitionKeyIndex && typ == protowire.VarintType:
			r.pk, n = protowire.ConsumeVarint(b)
			hasPK = true
		case num == recExplicitHashKeyIndex && typ == protowire.VarintType:
			r.ehk, n = protowire.ConsumeVarint(b)
			r.hasEHK = true
		case num == recData && typ == protowire.BytesType:
			r.data, n = protowire.ConsumeBytes(b)
			hasData = true
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
	}
	if !hasPK || !hasData {
		return r, errors.New("record without partition_key_index or data")
	}
	return r, nil
}
