package kinesistest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestValidationErrors(t *testing.T) {
	big := entries("v", 3)
	big[1].Data = make([]byte, DefaultMaxRecordBytes+1)
	long := entries("k", 1)
	long[0].PartitionKey = aws.String(strings.Repeat("k", 257))
	badHash := entries("h", 1)
	badHash[0].ExplicitHashKey = aws.String("01")
	for _, tc := range []struct {
		name    string
		opts    Options
		records []types.PutRecordsRequestEntry
		code    string
		message string
	}{
		{"record over 1 MiB", Options{}, big, "ValidationException", "records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576"},
		{"record over a lowered limit", Options{MaxRecordBytes: 4}, entries("abcde", 1), "ValidationException", "less than or equal to 4"},
		{"501 records", Options{}, entries("n", 501), "ValidationException", "'records' failed to satisfy constraint: Member must have length less than or equal to 500"},
		{"no records", Options{}, []types.PutRecordsRequestEntry{}, "ValidationException", "greater than or equal to 1"},
		{"partition key over 256", Options{}, long, "ValidationException", "partitionKey' failed to satisfy constraint"},
		{"bad explicit hash key", Options{}, badHash, "ValidationException", "explicitHashKey"},
		{"request over 5 MiB", Options{}, sized(6, 1<<20-100), "InvalidArgumentException", "Records size exceeds 5 MB limit"},
	} {
		for _, discard := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/discard=%v", tc.name, discard), func(t *testing.T) {
				tc.opts.Discard = discard
				s, c := start(t, tc.opts)
				_, err := putRecords(c, tc.records)
				apiError(t, err, tc.code, 400)
				if !strings.Contains(err.Error(), tc.message) {
					t.Errorf("message of %v lacks %q", err, tc.message)
				}
				if tc.code == "ValidationException" {
					var ve *types.ValidationException
					if !errors.As(err, &ve) {
						t.Errorf("err %T is not *types.ValidationException", err)
					}
				}
				if s.Stored() != 0 || s.FailedCalls() != 1 || s.RecordsReceived() != int64(len(tc.records)) {
					t.Errorf("Stored %d, FailedCalls %d, Received %d", s.Stored(), s.FailedCalls(), s.RecordsReceived())
				}
			})
		}
	}
}

// sized builds n records of size bytes each.
func sized(n, size int) []types.PutRecordsRequestEntry {
	out := entries("z", n)
	for i := range out {
		out[i].Data = bytes.Repeat([]byte{byte(i)}, size)
	}
	return out
}

func TestLimitsAreInclusive(t *testing.T) {
	s, c := start(t, Options{})
	recs := sized(5, 1<<20-8) // 5 MiB with the partition keys, records of almost 1 MiB
	recs[0].Data = make([]byte, 1<<20-8)
	if _, err := putRecords(c, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := putRecords(c, entries("f", 500)); err != nil {
		t.Fatal(err)
	}
	if s.Stored() != 505 {
		t.Errorf("stored %d", s.Stored())
	}
}

func TestDiscardCountsOnly(t *testing.T) {
	s, c := start(t, Options{Discard: true, Seed: 3, Faults: Faults{RecordThrottleRate: 0.2}})
	var acked int
	for range 4 {
		out, err := putRecords(c, entries("same", 500))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			if r.SequenceNumber != nil {
				acked++
			}
		}
	}
	if s.Stored() != int64(acked) || s.RecordsReceived() != 2000 ||
		s.Stored()+s.FailedRecords() != 2000 || s.Calls() != 4 {
		t.Errorf("acked %d, stats %+v", acked, s.Stats())
	}
	if len(s.Records()) != 0 || s.Duplicates() != 0 {
		t.Errorf("Discard kept %d records, %d duplicates", len(s.Records()), s.Duplicates())
	}
}

// TestConcurrentCalls runs many clients while faults change, and checks the
// counters and the log add up.
func TestConcurrentCalls(t *testing.T) {
	s, c := start(t, Options{Seed: 9, Faults: Faults{RecordThrottleRate: 0.1}})
	const workers, calls, per = 16, 30, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				recs := entries(fmt.Sprintf("w%d-c%d", w, i), per)
				out, err := putRecords(c, recs)
				if err != nil {
					continue // request-level throttling, switched on below
				}
				mu.Lock()
				for j, r := range out.Records {
					if r.SequenceNumber != nil {
						acked[string(recs[j].Data)] = true
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			s.SetFaults(Faults{RecordThrottleRate: 0.1, ThrottleRate: float64(i%2) * 0.5})
			_ = s.Stats()
			_ = s.Records()
		}
		s.SetFaults(Faults{})
	})
	wg.Wait()
	if s.Calls() != workers*calls || s.RecordsReceived() != workers*calls*per {
		t.Fatalf("Calls %d, Received %d", s.Calls(), s.RecordsReceived())
	}
	log := s.Records()
	if int64(len(log)) != s.Stored() || len(log) != len(acked) || s.Duplicates() != 0 {
		t.Fatalf("log %d, Stored %d, acked %d, duplicates %d", len(log), s.Stored(), len(acked), s.Duplicates())
	}
	for i, r := range log {
		if !acked[string(r.Data)] {
			t.Fatalf("stored record %q was not acknowledged", r.Data)
		}
		if i > 0 && r.SequenceNumber <= log[i-1].SequenceNumber {
			t.Fatalf("sequence numbers out of order at %d", i)
		}
	}
}

func TestMalformedRequests(t *testing.T) {
	s, _ := start(t, Options{})
	for _, tc := range []struct {
		target, contentType, body string
		status                    int
		code                      string
	}{
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[{"Data":"!!","PartitionKey":"k"}],"StreamName":"test-stream"}`, 400, "SerializationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[`, 400, "SerializationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-cbor-1.1", `{}`, 400, "SerializationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[{"PartitionKey":"k"}],"StreamName":"test-stream"}`, 400, "ValidationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[{"Data":"eA=="}],"StreamName":"test-stream"}`, 400, "ValidationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[{"Data":"eA==","PartitionKey":"k"}]}`, 400, "ValidationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[{"Data":"eA==","PartitionKey":"k"}],"StreamName":"test-stream","DryRun":true}`, 400, "DryRunOperationException"},
		{"Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", `{"Records":[{"Data":"eA==","PartitionKey":"k","ExplicitHashKey":"340282366920938463463374607431768211456"}],"StreamName":"test-stream"}`, 400, "InvalidArgumentException"},
		{"Kinesis_20131202.CreateStream", "application/x-amz-json-1.1", `{}`, 400, "UnknownOperationException"},
		{"", "application/x-amz-json-1.1", `{}`, 400, "UnknownOperationException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", tc.contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || e.Type != tc.code || e.Message == "" {
			t.Errorf("%s %s: status %d, %+v, %v; want %d %s", tc.target, tc.body, resp.StatusCode, e, err, tc.status, tc.code)
		}
	}
	if s.Stored() != 0 {
		t.Errorf("stored %d", s.Stored())
	}
}

func TestControlEndpoints(t *testing.T) {
	s, c := start(t, Options{})
	if _, err := putRecords(c, entries("a", 2)); err != nil {
		t.Fatal(err)
	}
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var st Stats
	get("/_kinesistest/stats", &st)
	if st != (Stats{Calls: 1, RecordsReceived: 2, Stored: 2}) {
		t.Errorf("stats %+v", st)
	}
	req, _ := http.NewRequest(http.MethodPut, s.URL()+"/_kinesistest/faults", strings.NewReader(`{"ThrottleRate":1}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if s.Faults().ThrottleRate != 1 {
		t.Fatalf("faults %+v", s.Faults())
	}
	var f Faults
	get("/_kinesistest/faults", &f)
	if f.ThrottleRate != 1 {
		t.Errorf("GET faults %+v", f)
	}
	if _, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{
		StreamName: aws.String(DefaultStream), Data: []byte("x"), PartitionKey: aws.String("k"),
	}); err == nil {
		t.Error("throttling set over HTTP did not apply")
	}
	resp, err = http.Post(s.URL()+"/_kinesistest/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.Stored() != 0 || s.Calls() != 0 {
		t.Errorf("after reset %+v", s.Stats())
	}
}
