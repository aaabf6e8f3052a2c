package kinesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// referenceDecode decodes a PutRecords answer with encoding/json under the
// rules decodePutRecordsOutput follows: exact member names, the last of
// repeated members wins, every occurrence of a known member must have its
// type, null is absent.
func referenceDecode(payload []byte) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{}
	if len(payload) == 0 {
		return out, nil
	}
	if !json.Valid(payload) {
		return nil, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return out, nil
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	str := func(d *json.Decoder) (*string, error) {
		var s *string
		err := d.Decode(&s)
		return s, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "EncryptionType":
			s, err := str(dec)
			if err != nil {
				return nil, err
			}
			out.EncryptionType = types.EncryptionType(aws.ToString(s))
		case "FailedRecordCount":
			var n *int32
			if err := dec.Decode(&n); err != nil {
				return nil, err
			}
			out.FailedRecordCount = n
		case "Records":
			var raw []json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, err
			}
			if raw == nil {
				out.Records = nil
				continue
			}
			out.Records = []types.PutRecordsResultEntry{}
			for _, r := range raw {
				var e types.PutRecordsResultEntry
				if string(r) != "null" {
					ed := json.NewDecoder(bytes.NewReader(r))
					if t, err := ed.Token(); err != nil || t != json.Delim('{') {
						return nil, errors.New("record is not an object")
					}
					for ed.More() {
						k, err := ed.Token()
						if err != nil {
							return nil, err
						}
						var dst **string
						switch k {
						case "SequenceNumber":
							dst = &e.SequenceNumber
						case "ShardId":
							dst = &e.ShardId
						case "ErrorCode":
							dst = &e.ErrorCode
						case "ErrorMessage":
							dst = &e.ErrorMessage
						default:
							var skip json.RawMessage
							if err := ed.Decode(&skip); err != nil {
								return nil, err
							}
							continue
						}
						if *dst, err = str(ed); err != nil {
							return nil, err
						}
					}
				}
				out.Records = append(out.Records, e)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func describeOutput(o *kinesis.PutRecordsOutput) string {
	if o == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "enc=%q failed=", o.EncryptionType)
	if o.FailedRecordCount == nil {
		b.WriteString("nil")
	} else {
		fmt.Fprint(&b, *o.FailedRecordCount)
	}
	fmt.Fprintf(&b, " records(nil=%v)=[", o.Records == nil)
	for _, r := range o.Records {
		for _, p := range []*string{r.SequenceNumber, r.ShardId, r.ErrorCode, r.ErrorMessage} {
			if p == nil {
				b.WriteString("nil ")
			} else {
				fmt.Fprintf(&b, "%q ", *p)
			}
		}
		b.WriteString("; ")
	}
	return b.String() + "]"
}

var decodeSeeds = []string{
	``,
	`null`,
	`{}`,
	` {"EncryptionType":"NONE","FailedRecordCount":0,"Records":[{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"}]} `,
	`{"FailedRecordCount":1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard shardId-000000000001 in stream events under account 123456789012."},{"SequenceNumber":"2","ShardId":"shardId-000000000001"}],"EncryptionType":"KMS"}`,
	`{"Records":[null,{},{"ErrorCode":null,"SequenceNumber":"1","Extra":{"a":[1,2.5e-3,true,false,null,"x"]}}],"FailedRecordCount":null}`,
	`{"Records":[{"ErrorMessage":"quote \" backslash \\ unicode \u00e9 \ud834\udd1e tab\t"}]}`,
	`{"Records":[{"ErrorMessage":"raw é ✓"}],"\u0052ecords":[]}`,
	`{"records":[{"ShardId":"lower-case member is not Records"}],"Records":null}`,
	`{"FailedRecordCount":2147483647}`,
	`{"FailedRecordCount":2147483648}`,
	`{"FailedRecordCount":1.0}`,
	`{"FailedRecordCount":-0}`,
	`{"FailedRecordCount":01}`,
	`{"FailedRecordCount":"1"}`,
	`{"Records":{}}`,
	`{"Records":[1]}`,
	`{"Records":[{"ShardId":1}]}`,
	`{"Records":[{"ShardId":"a"}],}`,
	`{"Records":[{"ShardId":"a"}]} x`,
	`{"Records":[{"ShardId":"a\u0000b"}]}`,
	"{\"Records\":[{\"ShardId\":\"a\x01b\"}]}",
	"{\"Records\":[{\"ShardId\":\"a\xffb\"}]}",
	`{"a":[[[[[[[]]]]]]],"b":{"c":{"d":"e"}}}`,
	`{"EncryptionType":"A","EncryptionType":"B"}`,
	`[]`,
	`"str"`,
	`nul`,
	`{"a" 1}`,
}

func TestDecodePutRecordsOutput(t *testing.T) {
	for _, s := range decodeSeeds {
		got, gotErr := decodePutRecordsOutput([]byte(s), 1)
		want, wantErr := referenceDecode([]byte(s))
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: error %v, encoding/json %v", s, gotErr, wantErr)
			continue
		}
		if gotErr == nil && describeOutput(got) != describeOutput(want) {
			t.Errorf("%s:\n got %s\nwant %s", s, describeOutput(got), describeOutput(want))
		}
	}
	// The common answer in detail.
	out, err := decodePutRecordsOutput([]byte(decodeSeeds[4]), 2)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 1 || out.EncryptionType != types.EncryptionTypeKms || len(out.Records) != 2 ||
		aws.ToString(out.Records[0].ErrorCode) != "ProvisionedThroughputExceededException" || out.Records[0].SequenceNumber != nil ||
		aws.ToString(out.Records[1].ShardId) != "shardId-000000000001" || out.Records[1].ErrorCode != nil {
		t.Errorf("decoded %s", describeOutput(out))
	}
}

func FuzzDecodePutRecordsOutput(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, gotErr := decodePutRecordsOutput(payload, 4)
		want, wantErr := referenceDecode(payload)
		for _, err := range []error{gotErr, wantErr} {
			if err != nil && strings.Contains(err.Error(), "depth") || err != nil && strings.Contains(err.Error(), "nested too deeply") {
				return // both limit nesting, not necessarily at the same level
			}
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json %v", payload, gotErr, wantErr)
		}
		if gotErr == nil && describeOutput(got) != describeOutput(want) {
			t.Fatalf("%q:\n got %s\nwant %s", payload, describeOutput(got), describeOutput(want))
		}
	})
}

func BenchmarkDecodePutRecordsOutput(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"EncryptionType":"NONE","FailedRecordCount":0,"Records":[`)
	for i := range 64 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"SequenceNumber":"4959033827149025660855969253836157109592157598913658%04d","ShardId":"shardId-00000000000%d"}`, i, i%4)
	}
	body.WriteString(`]}`)
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		if _, err := decodePutRecordsOutput(body.Bytes(), 64); err != nil {
			b.Fatal(err)
		}
	}
}
