package kinesisfast

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

func TestParsePutRecords(t *testing.T) {
	body := `{ "StreamName" : "s\u0031", "Unknown": {"a":[1,-2.5e3,true,false,null,"x\"y"]},
		"Records": [ {"Data":"eA==","PartitionKey":"k\/1","Extra":[]},
		             {"Data":"","PartitionKey":"é","ExplicitHashKey":"42"} ],
		"StreamARN": null, "DryRun": false }`
	var r putRequest
	if err := parsePutRecords([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if string(r.streamName) != "s1" || r.streamARN != nil || r.dryRun || !r.hasRecords || len(r.records) != 2 {
		t.Fatalf("parsed %+v", r)
	}
	e0, e1 := r.records[0], r.records[1]
	if string(e0.data) != "eA==" || string(e0.key) != "k/1" || e0.hasHash ||
		!e1.hasData || len(e1.data) != 0 || string(e1.key) != "é" || string(e1.hashKey) != "42" {
		t.Errorf("records %+v", r.records)
	}
	for _, bad := range []string{
		``, `{`, `[]`, `{"Records":[{"Data":1}]}`, `{"Records":{}}`, `{"Records":[]} x`,
		`{"StreamName":"a" "b":1}`, `{"a":-}`, `{"a":tru}`, `{"a":"unterminated}`,
		`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		if err := parsePutRecords([]byte(bad), &r); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestBase64Len(t *testing.T) {
	for n := range 20 {
		enc := base64.StdEncoding.EncodeToString(make([]byte, n))
		if got, ok := base64Len([]byte(enc)); !ok || got != n {
			t.Errorf("base64Len(%q) = %d, %v; want %d", enc, got, ok, n)
		}
	}
	if _, ok := base64Len([]byte("abc")); ok {
		t.Error("accepted a length that is not a multiple of 4")
	}
}

// FuzzParsePutRecords checks the scanner never panics and, on valid JSON it
// accepts, agrees with encoding/json.
func FuzzParsePutRecords(f *testing.F) {
	f.Add(`{"Records":[{"Data":"eA==","PartitionKey":"k","ExplicitHashKey":"1"}],"StreamName":"s"}`)
	f.Add(`{"Records":null,"StreamARN":"arn:aws:kinesis:us-east-1:0:stream/s","DryRun":true}`)
	f.Add(`{"x":[{"y":"\u00e9\n"}],"Records":[{"PartitionKey":"a\"b"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r putRequest
		if parsePutRecords([]byte(body), &r) != nil || !json.Valid([]byte(body)) || !utf8.ValidString(body) {
			return
		}
		var ref struct {
			Records []map[string]*string
		}
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &top) != nil {
			t.Fatalf("encoding/json rejects %q", body)
		}
		if raw, ok := top["Records"]; ok {
			if json.Unmarshal(raw, &ref.Records) != nil {
				return // e.g. a member of another type that the scanner skipped
			}
		}
		if len(ref.Records) != len(r.records) {
			t.Fatalf("%q: %d records, encoding/json %d", body, len(r.records), len(ref.Records))
		}
		for i, m := range ref.Records {
			e := r.records[i]
			check := func(name string, got []byte, has bool) {
				want, ok := m[name]
				if ok && want != nil {
					if !has || string(got) != *want {
						t.Fatalf("%q: record %d %s = %q, want %q", body, i, name, got, *want)
					}
				} else if has {
					t.Fatalf("%q: record %d %s = %q, want none", body, i, name, got)
				}
			}
			check("Data", e.data, e.hasData)
			check("PartitionKey", e.key, e.hasKey)
			check("ExplicitHashKey", e.hashKey, e.hasHash)
		}
	})
}

// BenchmarkPutRecordsDiscard measures kinesistest's own cost per PutRecords
// call of 500 records of 1 KiB in Discard mode, with Decode and with its
// encoding/json decoder.
func BenchmarkPutRecordsDiscard(b *testing.B) {
	b.Run("kinesisfast", func(b *testing.B) {
		benchmarkPut(b, kinesistest.Options{Discard: true, DecodePut: Decode})
	})
	b.Run("encoding-json", func(b *testing.B) {
		benchmarkPut(b, kinesistest.Options{Discard: true})
	})
}

func benchmarkPut(b *testing.B, opts kinesistest.Options) {
	s := kinesistest.New(opts)
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
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if s.Stored() != int64(b.N)*500 {
		b.Fatalf("stored %d of %d", s.Stored(), b.N*500)
	}
}
