package kinesisfast

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

func TestDecode(t *testing.T) {
	var r kinesistest.PutRequest
	body := `{"StreamName":"s","Records":[{"Data":"eA==","PartitionKey":"k"},{"Data":"eHl6","PartitionKey":"l","ExplicitHashKey":"7"},{"PartitionKey":"m"}]}`
	if err := Decode([]byte(body), false, &r); err != nil {
		t.Fatal(err)
	}
	if string(r.StreamName) != "s" || !r.HasRecords || len(r.Records) != 3 {
		t.Fatalf("decoded %+v", r)
	}
	e0, e1, e2 := r.Records[0], r.Records[1], r.Records[2]
	if e0.Size != 1 || !e0.HasData || e0.Data != nil || string(e0.PartitionKey) != "k" || e0.HasHash ||
		e1.Size != 3 || string(e1.ExplicitHashKey) != "7" || !e1.HasHash || e2.HasData || e2.Size != 0 {
		t.Errorf("records %+v", r.Records)
	}
	r = kinesistest.PutRequest{}
	if err := Decode([]byte(`{"Data":"eHk=","PartitionKey":"k","StreamARN":"arn"}`), true, &r); err != nil ||
		!r.HasRecords || len(r.Records) != 1 || r.Records[0].Size != 2 || string(r.StreamARN) != "arn" {
		t.Errorf("PutRecord: %+v, %v", r, err)
	}
	r = kinesistest.PutRequest{}
	if err := Decode([]byte(`{"Records":[{"Data":"eA=","PartitionKey":"k"}]}`), false, &r); err == nil {
		t.Error("accepted base64 of a wrong length")
	}
}

// TestDecodeServesTheSDK: kinesistest with Decode stores what the SDK's
// client sends and refuses what Kinesis refuses.
func TestDecodeServesTheSDK(t *testing.T) {
	s := kinesistest.New(kinesistest.Options{Discard: true, DecodePut: Decode, ShardsPerStream: 4})
	defer s.Close()
	c := s.NewClient(func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()
	recs := []types.PutRecordsRequestEntry{
		{Data: []byte("x"), PartitionKey: aws.String("a")},
		{Data: []byte{}, PartitionKey: aws.String("b")},
		{Data: make([]byte, kinesistest.DefaultMaxRecordBytes), PartitionKey: aws.String("c"), ExplicitHashKey: aws.String("0")},
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(kinesistest.DefaultStream), Records: recs})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 3 || aws.ToString(out.Records[2].ShardId) != "shardId-000000000000" {
		t.Fatalf("PutRecords: %+v, %v", out, err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(kinesistest.DefaultStream), Data: []byte("y"), PartitionKey: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	recs[0].Data = make([]byte, kinesistest.DefaultMaxRecordBytes+1)
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(kinesistest.DefaultStream), Records: recs})
	var ve *types.ValidationException
	if err == nil || !strings.Contains(err.Error(), "records.1.member.data") || !errors.As(err, &ve) {
		t.Errorf("a record over 1 MiB: %v", err)
	}
	if st := s.Stats(); st.Stored != 4 || st.Calls != 2 || st.FailedCalls != 1 || len(s.Records()) != 0 {
		t.Errorf("stats %+v, %d records kept", st, len(s.Records()))
	}
}

// TestDecodeAgreesWithEncodingJSON sends the same calls to kinesistest with
// Decode and with its own encoding/json decoder, both in Discard mode, and
// compares the answers: status, body (sequence numbers, shards, error codes
// and messages), save the text of a SerializationException.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	opts := kinesistest.Options{Discard: true, ShardsPerStream: 4, Streams: []string{"a", "b"}, MaxRecordBytes: 64}
	fast := opts
	fast.DecodePut = Decode
	servers := [2]*kinesistest.Server{kinesistest.New(opts), kinesistest.New(fast)}
	defer servers[0].Close()
	defer servers[1].Close()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, c := range []struct{ op, body string }{
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":"eA==","PartitionKey":"k1"},{"Data":"","PartitionKey":"k2"}]}`},
		{"PutRecords", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/b","Records":[{"Data":"` + b64(64) + `","PartitionKey":"p","ExplicitHashKey":"340282366920938463463374607431768211455"}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":"` + b64(65) + `","PartitionKey":"p"}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":"eA==","PartitionKey":""},{"PartitionKey":"k"},{"Data":"eA=="}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":"eA==","PartitionKey":"k","ExplicitHashKey":"01"}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":"eA==","PartitionKey":"k","ExplicitHashKey":"340282366920938463463374607431768211456"}]}`},
		{"PutRecords", `{"StreamName":"nope","Records":[{"Data":"eA==","PartitionKey":"k"}]}`},
		{"PutRecords", `{"Records":[{"Data":"eA==","PartitionKey":"k"}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[]}`},
		{"PutRecords", `{"StreamName":"a","Records":null}`},
		{"PutRecords", `{"StreamName":"a"}`},
		{"PutRecords", `{"StreamName":"a","DryRun":true,"Records":[{"Data":"eA==","PartitionKey":"k"}]}`},
		{"PutRecords", `{"StreamName":"a","Unknown":{"x":[1,2,{"y":null}]},"Records":[{"data":"eA==","Data":"eHk=","PartitionKey":"k\u00e9","Extra":true}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":1,"PartitionKey":"k"}]}`},
		{"PutRecords", `{"StreamName":"a","Records":[`},
		{"PutRecords", `{"StreamName":"a","Records":[{"Data":"eA==","PartitionKey":"k"}]} x`},
		{"PutRecord", `{"StreamName":"a","Data":"eHk=","PartitionKey":"k"}`},
		{"PutRecord", `{"StreamName":"b","Data":"eHk=","PartitionKey":"k","ExplicitHashKey":"170141183460469231731687303715884105728"}`},
		{"PutRecord", `{"StreamName":"a","PartitionKey":"k"}`},
		{"PutRecord", `{"StreamName":"a","Data":"` + b64(65) + `","PartitionKey":"k"}`},
		{"PutRecord", `[]`},
	} {
		var got [2]struct {
			status int
			body   string
		}
		for i, s := range servers {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			req.Header.Set("X-Amz-Target", "Kinesis_20131202."+c.op)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			got[i].status, got[i].body = w.Code, w.Body.String()
			var e struct {
				Type string `json:"__type"`
			}
			if json.Unmarshal(w.Body.Bytes(), &e) == nil && e.Type == "SerializationException" {
				got[i].body = e.Type
			}
		}
		if got[0] != got[1] {
			t.Errorf("%s %s:\nencoding/json %d %s\nkinesisfast   %d %s", c.op, c.body, got[0].status, got[0].body, got[1].status, got[1].body)
		}
	}
	if a, b := servers[0].Stats(), servers[1].Stats(); a != b || a.Stored == 0 {
		t.Errorf("stats: encoding/json %+v, kinesisfast %+v", a, b)
	}
}
