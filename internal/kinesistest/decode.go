package kinesistest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// PutRequest is a PutRecords request as read from its body, or a PutRecord
// request as a request of one record. The server fills it with encoding/json,
// or with [Options.DecodePut] when set.
type PutRequest struct {
	// StreamName and StreamARN are empty when absent or null.
	StreamName, StreamARN []byte
	DryRun                bool
	// HasRecords is false when a PutRecords body has no Records member, or
	// null; a PutRecord body always has its one record.
	HasRecords bool
	Records    []PutEntry
}

// PutEntry is one record of a write request.
type PutEntry struct {
	// Data is the record's data, decoded from base64, and Size its length.
	// A decoder for a server that discards records may set Size alone.
	Data    []byte
	Size    int
	HasData bool // the member Data was present and not null
	// PartitionKey and ExplicitHashKey are the members' text; HasKey and
	// HasHash tell an absent or null member from an empty one.
	PartitionKey    []byte
	HasKey          bool
	ExplicitHashKey []byte
	HasHash         bool

	fault uint8 // per-record fault drawn for this record
	shard int   // index of the shard the record maps to
}

// errSyntax reports a body that is not the JSON the operation expects. It is
// answered with a SerializationException, as real Kinesis does.
var errSyntax = errors.New("malformed JSON body")

// errBadBase64 reports a Data member that is not valid base64.
var errBadBase64 = errors.New("member Data is not valid base64")

// decodePut reads a PutRecords body (a PutRecord body when single) into req
// with encoding/json, which decodes the base64 of Data. Members are matched by
// their exact names, as Kinesis matches them: a struct would let encoding/json
// take "data" for Data, and a client writing its JSON by hand with a misspelt
// member would pass here and fail against Kinesis. Unknown members are
// skipped; JSON null counts as absent.
func decodePut(body []byte, single bool, req *PutRequest) error {
	top, err := object(body)
	if err != nil {
		return err
	}
	var name, arn *string
	if err := member(top, "StreamName", &name); err != nil {
		return err
	}
	if err := member(top, "StreamARN", &arn); err != nil {
		return err
	}
	if err := member(top, "DryRun", &req.DryRun); err != nil {
		return err
	}
	if name != nil {
		req.StreamName = []byte(*name)
	}
	if arn != nil {
		req.StreamARN = []byte(*arn)
	}
	if single {
		e, err := entryOf(top)
		if err != nil {
			return err
		}
		req.HasRecords = true
		req.Records = append(req.Records, e)
		return nil
	}
	var recs *[]map[string]json.RawMessage // nil for an absent or null member
	if err := member(top, "Records", &recs); err != nil {
		return err
	}
	if recs == nil {
		return nil
	}
	req.HasRecords = true
	for i, m := range *recs {
		if m == nil {
			return fmt.Errorf("%w: record %d is null", errSyntax, i)
		}
		e, err := entryOf(m)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		req.Records = append(req.Records, e)
	}
	return nil
}

// entryOf reads the record members of m.
func entryOf(m map[string]json.RawMessage) (PutEntry, error) {
	var (
		data      *[]byte
		key, hash *string
	)
	if err := member(m, "Data", &data); err != nil {
		return PutEntry{}, err
	}
	if err := member(m, "PartitionKey", &key); err != nil {
		return PutEntry{}, err
	}
	if err := member(m, "ExplicitHashKey", &hash); err != nil {
		return PutEntry{}, err
	}
	var e PutEntry
	if data != nil {
		e.Data, e.Size, e.HasData = *data, len(*data), true
	}
	if key != nil {
		e.PartitionKey, e.HasKey = []byte(*key), true
	}
	if hash != nil {
		e.ExplicitHashKey, e.HasHash = []byte(*hash), true
	}
	return e, nil
}

// object decodes a JSON object into its members by exact name.
func object(raw []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", errSyntax, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: null where an object was expected", errSyntax)
	}
	return m, nil
}

// member decodes the member name of m into v; v is left as it is when the
// member is absent, and a pointer is left nil when it is null.
func member(m map[string]json.RawMessage, name string, v any) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var b64 base64.CorruptInputError
		if errors.As(err, &b64) {
			return fmt.Errorf("%w: %v", errBadBase64, err)
		}
		return fmt.Errorf("%w: member %s: %v", errSyntax, name, err)
	}
	return nil
}
