package kinesistest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodePutRecords(t *testing.T) {
	body := `{ "StreamName" : "s\u0031", "Unknown": {"a":[1,-2.5e3,true,false,null,"x\"y"]},
		"Records": [ {"Data":"eA==","PartitionKey":"k\/1","Extra":[]},
		             {"Data":"","PartitionKey":"é","ExplicitHashKey":"42"} ],
		"StreamARN": null, "DryRun": false }`
	var r PutRequest
	if err := decodePut([]byte(body), false, &r); err != nil {
		t.Fatal(err)
	}
	if string(r.StreamName) != "s1" || r.StreamARN != nil || r.DryRun || !r.HasRecords || len(r.Records) != 2 {
		t.Fatalf("decoded %+v", r)
	}
	e0, e1 := r.Records[0], r.Records[1]
	if string(e0.Data) != "x" || e0.Size != 1 || !e0.HasData || string(e0.PartitionKey) != "k/1" || e0.HasHash ||
		!e1.HasData || len(e1.Data) != 0 || e1.Size != 0 || string(e1.PartitionKey) != "é" || string(e1.ExplicitHashKey) != "42" {
		t.Errorf("records %+v", r.Records)
	}
	for _, bad := range []string{
		``, `{`, `[]`, `null`, `{"Records":[{"Data":1}]}`, `{"Records":{}}`, `{"Records":[null]}`, `{"Records":[]} x`,
		`{"StreamName":"a" "b":1}`, `{"a":-}`, `{"a":tru}`, `{"a":"unterminated}`, `{"DryRun":"yes"}`,
		`{"Records":[{"Data":"eA=","PartitionKey":"k"}]}`,
		// Nesting beyond encoding/json's limit (10,000) in a member nobody reads.
		`{"a":` + strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001) + `}`,
	} {
		r = PutRequest{}
		if err := decodePut([]byte(bad), false, &r); err == nil {
			t.Errorf("accepted %.80q", bad)
		}
	}
}

// TestDecodeExactNames: members are matched by their exact names, as Kinesis
// matches them; a member spelt otherwise is unknown, and skipped.
func TestDecodeExactNames(t *testing.T) {
	var r PutRequest
	body := `{"streamName":"s","Records":[{"data":"eA==","partitionKey":"k","PartitionKey":"p"}],"dryRun":true}`
	if err := decodePut([]byte(body), false, &r); err != nil {
		t.Fatal(err)
	}
	if r.StreamName != nil || r.DryRun || len(r.Records) != 1 || r.Records[0].HasData || string(r.Records[0].PartitionKey) != "p" {
		t.Errorf("decoded %+v", r)
	}
	r = PutRequest{}
	if err := decodePut([]byte(`{"records":[{"Data":"eA==","PartitionKey":"k"}],"StreamName":"s"}`), false, &r); err != nil || r.HasRecords {
		t.Errorf("records read from member records: %+v, %v", r, err)
	}
}

func TestDecodePutRecord(t *testing.T) {
	var r PutRequest
	body := `{"StreamARN":"arn:aws:kinesis:us-east-1:0:stream/s","Data":"eHk=","PartitionKey":"k","ExplicitHashKey":null,"Records":7}`
	if err := decodePut([]byte(body), true, &r); err != nil {
		t.Fatal(err)
	}
	if string(r.StreamARN) != "arn:aws:kinesis:us-east-1:0:stream/s" || !r.HasRecords || len(r.Records) != 1 {
		t.Fatalf("decoded %+v", r)
	}
	if e := r.Records[0]; string(e.Data) != "xy" || e.Size != 2 || string(e.PartitionKey) != "k" || e.HasHash {
		t.Errorf("record %+v", e)
	}
	r = PutRequest{}
	if err := decodePut([]byte(`{"Data":"!!","PartitionKey":"k"}`), true, &r); !errors.Is(err, errBadBase64) {
		t.Errorf("bad base64: %v", err)
	}
}

// FuzzDecodePut checks that, on valid JSON it accepts, decodePut agrees with
// encoding/json reading the members by name into a map.
func FuzzDecodePut(f *testing.F) {
	f.Add(`{"Records":[{"Data":"eA==","PartitionKey":"k","ExplicitHashKey":"1"}],"StreamName":"s"}`)
	f.Add(`{"Records":null,"StreamARN":"arn:aws:kinesis:us-east-1:0:stream/s","DryRun":true}`)
	f.Add(`{"x":[{"y":"\u00e9\n"}],"Records":[{"PartitionKey":"a\"b","data":"eA=="}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r PutRequest
		if decodePut([]byte(body), false, &r) != nil || !utf8.ValidString(body) {
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &top) != nil {
			t.Fatalf("encoding/json rejects %q", body)
		}
		var ref []map[string]*string
		if raw, ok := top["Records"]; ok {
			if json.Unmarshal(raw, &ref) != nil {
				return // e.g. a member of another type that decodePut skipped
			}
		}
		if len(ref) != len(r.Records) || r.HasRecords != (ref != nil) {
			t.Fatalf("%q: %d records (%v), encoding/json %d", body, len(r.Records), r.HasRecords, len(ref))
		}
		for i, m := range ref {
			e := r.Records[i]
			check := func(name string, got []byte, has bool) {
				want := m[name]
				if name == "Data" && want != nil {
					b, err := base64.StdEncoding.DecodeString(*want)
					if err != nil {
						t.Fatalf("%q: record %d: accepted Data %q", body, i, *want)
					}
					w := string(b)
					want = &w
				}
				if want != nil {
					if !has || string(got) != *want {
						t.Fatalf("%q: record %d %s = %q, want %q", body, i, name, got, *want)
					}
				} else if has {
					t.Fatalf("%q: record %d %s = %q, want none", body, i, name, got)
				}
			}
			check("Data", e.Data, e.HasData)
			check("PartitionKey", e.PartitionKey, e.HasKey)
			check("ExplicitHashKey", e.ExplicitHashKey, e.HasHash)
			if e.Size != len(e.Data) {
				t.Fatalf("%q: record %d: Size %d of %d bytes", body, i, e.Size, len(e.Data))
			}
		}
	})
}

// TestDecodePutOption: a server given Options.DecodePut reads write calls
// with it, validates the sizes it gives, and answers its errors 400
// SerializationException; it needs Discard.
func TestDecodePutOption(t *testing.T) {
	func() {
		defer func() {
			if recover() == nil {
				t.Error("New accepted DecodePut without Discard")
			}
		}()
		New(Options{DecodePut: decodePut}).Close()
	}()
	var size int
	var calls []bool
	s := New(Options{Discard: true, DecodePut: func(body []byte, single bool, req *PutRequest) error {
		calls = append(calls, single)
		if string(body) == "refuse" {
			return errors.New("refused by the decoder")
		}
		req.StreamName, req.HasRecords = []byte(DefaultStream), true
		req.Records = append(req.Records, PutEntry{Size: size, HasData: true, PartitionKey: []byte("k"), HasKey: true})
		return nil
	}})
	defer s.Close()
	post := func(op, body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	size = DefaultMaxRecordBytes
	if code, body := post("PutRecords", "{}"); code != 200 || !strings.Contains(body, `"FailedRecordCount":0`) {
		t.Errorf("PutRecords: %d %s", code, body)
	}
	if code, body := post("PutRecord", "{}"); code != 200 || !strings.Contains(body, `"SequenceNumber"`) {
		t.Errorf("PutRecord: %d %s", code, body)
	}
	size = DefaultMaxRecordBytes + 1
	if code, body := post("PutRecords", "{}"); code != 400 || !strings.Contains(body, "ValidationException") {
		t.Errorf("a record over 1 MiB by its Size: %d %s", code, body)
	}
	if code, body := post("PutRecords", "refuse"); code != 400 || !strings.Contains(body, `"SerializationException"`) ||
		!strings.Contains(body, "refused by the decoder") {
		t.Errorf("the decoder's error: %d %s", code, body)
	}
	if fmt.Sprint(calls) != "[false true false false]" || s.Stored() != 2 || s.RecordsReceived() != 3 || s.FailedCalls() != 2 {
		t.Errorf("calls %v, stats %+v", calls, s.Stats())
	}
}

// BenchmarkPutRecordsDiscard measures the server's own cost per PutRecords
// call of 500 records of 1 KiB in Discard mode, decoded with encoding/json.
// The benchmarks' endpoint decodes with the bench module's kinesisfast.
func BenchmarkPutRecordsDiscard(b *testing.B) {
	benchmarkPut(b, Options{Discard: true})
}

// BenchmarkPutRecordsStore is the same with records kept.
func BenchmarkPutRecordsStore(b *testing.B) {
	benchmarkPut(b, Options{})
}

func benchmarkPut(b *testing.B, opts Options) {
	s := New(opts)
	defer s.Close()
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("e"), 1024))
	for i := range 500 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"Data":"%s","PartitionKey":"queue-%d"}`, data, i%50)
	}
	buf.WriteString(`],"StreamName":"test-stream"}`)
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if !opts.Discard && s.Stored() > 100_000 {
			s.Reset()
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
