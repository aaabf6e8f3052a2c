package kinesisfast

import (
	"errors"
	"fmt"
	"sync"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

// errBadBase64 reports a Data member whose length is not that of padded
// standard base64.
var errBadBase64 = errors.New("member Data is not valid base64")

// requests are the scanner's reusable results, one per concurrent call.
var requests = sync.Pool{New: func() any { return new(putRequest) }}

// Decode reads a PutRecords body, or a PutRecord body when single, into req:
// it is a kinesistest Options.DecodePut. Stream members and partition and
// hash keys alias body; each record's Size is the length its base64 Data
// decodes to, and its Data is left nil, so the server must discard records
// (Options.Discard). The base64 is checked by its length alone.
func Decode(body []byte, single bool, req *kinesistest.PutRequest) error {
	r := requests.Get().(*putRequest)
	defer requests.Put(r)
	r.streamName, r.streamARN, r.dryRun, r.hasRecords = nil, nil, false, false
	parse := parsePutRecords
	if single {
		parse = parsePutRecord
	}
	if err := parse(body, r); err != nil {
		return err
	}
	req.StreamName, req.StreamARN, req.DryRun, req.HasRecords = r.streamName, r.streamARN, r.dryRun, r.hasRecords
	for i := range r.records {
		e := &r.records[i]
		out := kinesistest.PutEntry{
			HasData:         e.hasData,
			PartitionKey:    e.key,
			HasKey:          e.hasKey,
			ExplicitHashKey: e.hashKey,
			HasHash:         e.hasHash,
		}
		if e.hasData {
			n, ok := base64Len(e.data)
			if !ok {
				return fmt.Errorf("%w (record %d)", errBadBase64, i)
			}
			out.Size = n
		}
		req.Records = append(req.Records, out)
	}
	return nil
}

// base64Len returns the decoded length of padded standard base64 text
// without decoding it; ok is false when the length cannot be valid.
func base64Len(b []byte) (n int, ok bool) {
	if len(b)%4 != 0 {
		return 0, false
	}
	n = len(b) / 4 * 3
	if len(b) > 0 && b[len(b)-1] == '=' {
		n--
		if b[len(b)-2] == '=' {
			n--
		}
	}
	return n, true
}
