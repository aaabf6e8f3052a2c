package kinesistest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

func TestPartialFailureLooksLikeKinesis(t *testing.T) {
	s, c := start(t, Options{Seed: 7, Faults: Faults{RecordThrottleRate: 0.3, RecordInternalFailureRate: 0.2}})
	recs := entries("p", 500)
	out, err := putRecords(c, recs)
	if err != nil {
		t.Fatal(err)
	}
	var failed, throttled, internal int
	var kept [][]byte
	for i, r := range out.Records {
		if r.ErrorCode == nil {
			if r.SequenceNumber == nil || r.ShardId == nil || r.ErrorMessage != nil {
				t.Fatalf("result %d = %+v", i, r)
			}
			kept = append(kept, recs[i].Data)
			continue
		}
		failed++
		if r.SequenceNumber != nil || r.ShardId != nil || r.ErrorMessage == nil {
			t.Fatalf("failed result %d has SequenceNumber/ShardId or no message: %+v", i, r)
		}
		switch *r.ErrorCode {
		case "ProvisionedThroughputExceededException":
			throttled++
			if !strings.HasPrefix(*r.ErrorMessage, "Rate exceeded for shard shardId-000000000000 in stream test-stream") {
				t.Errorf("message %q", *r.ErrorMessage)
			}
		case "InternalFailure":
			internal++
		default:
			t.Fatalf("ErrorCode %q", *r.ErrorCode)
		}
	}
	if int(aws.ToInt32(out.FailedRecordCount)) != failed || throttled == 0 || internal == 0 {
		t.Fatalf("FailedRecordCount %d, failed %d (throttled %d, internal %d)",
			aws.ToInt32(out.FailedRecordCount), failed, throttled, internal)
	}
	if s.Stored() != int64(500-failed) || s.FailedRecords() != int64(failed) || s.RecordsReceived() != 500 {
		t.Errorf("Stored %d, FailedRecords %d, Received %d", s.Stored(), s.FailedRecords(), s.RecordsReceived())
	}
	for i, r := range s.Records() {
		if !bytes.Equal(r.Data, kept[i]) {
			t.Fatalf("stored %d = %q, want %q", i, r.Data, kept[i])
		}
	}
}

func TestRequestLevelFaults(t *testing.T) {
	standard := retry.NewStandard()
	for _, tc := range []struct {
		faults   Faults
		code     string
		status   int
		throttle bool
	}{
		{Faults{InternalFailureRate: 1}, "InternalFailure", 500, false},
		{Faults{ServiceUnavailableRate: 1}, "ServiceUnavailable", 503, false},
		{Faults{ThrottleRate: 1}, "ProvisionedThroughputExceededException", 400, true},
	} {
		t.Run(tc.code, func(t *testing.T) {
			s, c := start(t, Options{Faults: tc.faults})
			_, err := putRecords(c, entries("r", 10))
			apiError(t, err, tc.code, tc.status)
			if tc.throttle {
				var pe *types.ProvisionedThroughputExceededException
				if !errors.As(err, &pe) {
					t.Errorf("err %T is not *types.ProvisionedThroughputExceededException", err)
				}
			}
			// The SDK's own retryer must see these as it sees real ones.
			if !standard.IsErrorRetryable(err) {
				t.Errorf("standard retryer does not retry %v", err)
			}
			isThrottle := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
			if isThrottle != tc.throttle {
				t.Errorf("throttle classification = %v, want %v", isThrottle, tc.throttle)
			}
			if s.Stored() != 0 || s.FailedCalls() != 1 || s.Calls() != 1 || s.RecordsReceived() != 10 {
				t.Errorf("Stored %d, FailedCalls %d, Calls %d, Received %d", s.Stored(), s.FailedCalls(), s.Calls(), s.RecordsReceived())
			}
		})
	}
}

func TestPutRecordFaults(t *testing.T) {
	for _, tc := range []struct {
		faults Faults
		code   string
		status int
	}{
		{Faults{RecordThrottleRate: 1}, "ProvisionedThroughputExceededException", 400},
		{Faults{RecordInternalFailureRate: 1}, "InternalFailure", 500},
	} {
		s, c := start(t, Options{Faults: tc.faults})
		_, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{
			StreamName: aws.String(DefaultStream), Data: []byte("x"), PartitionKey: aws.String("k"),
		})
		apiError(t, err, tc.code, tc.status)
		if s.Stored() != 0 {
			t.Errorf("%s: stored %d", tc.code, s.Stored())
		}
	}
}

func TestFaultsChangeAtRunTime(t *testing.T) {
	s, c := start(t, Options{})
	if _, err := putRecords(c, entries("a", 1)); err != nil {
		t.Fatal(err)
	}
	s.SetFaults(Faults{ThrottleRate: 1})
	if got := s.Faults(); got.ThrottleRate != 1 {
		t.Fatalf("Faults() = %+v", got)
	}
	if _, err := putRecords(c, entries("b", 1)); err == nil {
		t.Fatal("throttling on: call succeeded")
	}
	s.SetFaults(Faults{})
	if _, err := putRecords(c, entries("c", 1)); err != nil {
		t.Fatal(err)
	}
	if s.Stored() != 2 || s.Calls() != 3 {
		t.Errorf("Stored %d, Calls %d", s.Stored(), s.Calls())
	}
}

func TestHangUntilClientGivesUp(t *testing.T) {
	s, c := start(t, Options{Faults: Faults{HangRate: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(DefaultStream), Records: entries("h", 3)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("call returned after %v", d)
	}
	if s.Stored() != 0 {
		t.Errorf("hung call stored %d records", s.Stored())
	}
}

func TestHangEndsAtMaxHang(t *testing.T) {
	s, c := start(t, Options{Faults: Faults{HangRate: 1, MaxHang: 50 * time.Millisecond}})
	_, err := putRecords(c, entries("h", 1))
	apiError(t, err, "ServiceUnavailable", 503)
	if s.Stored() != 0 {
		t.Errorf("stored %d", s.Stored())
	}
}

func TestCloseReleasesHungCalls(t *testing.T) {
	s := New(Options{Faults: Faults{HangRate: 1}})
	c := s.NewClient(func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	errc := make(chan error, 1)
	go func() {
		_, err := putRecords(c, entries("h", 1))
		errc <- err
	}()
	for s.Calls() == 0 {
		time.Sleep(time.Millisecond)
	}
	begin := time.Now()
	s.Close()
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := <-errc; err == nil {
		t.Error("hung call succeeded after Close")
	}
}

func TestLatency(t *testing.T) {
	_, c := start(t, Options{Faults: Faults{Latency: 80 * time.Millisecond, Jitter: 20 * time.Millisecond}})
	begin := time.Now()
	if _, err := putRecords(c, entries("l", 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 80*time.Millisecond {
		t.Errorf("call took %v, want at least 80ms", d)
	}
}

func TestDroppedResponseStoresButFailsTheCall(t *testing.T) {
	s, c := start(t, Options{Faults: Faults{DropResponseRate: 1}})
	_, err := putRecords(c, entries("d", 4))
	if err == nil {
		t.Fatal("call succeeded")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		t.Fatalf("got API error %v, want a transport error", err)
	}
	if !retry.NewStandard().IsErrorRetryable(err) {
		t.Errorf("transport error %v not retryable by the SDK", err)
	}
	if s.Stored() != 4 {
		t.Fatalf("stored %d, want 4", s.Stored())
	}
	// A retry writes the same data again: the duplicate counter sees it.
	s.SetFaults(Faults{})
	if _, err := putRecords(c, entries("d", 4)); err != nil {
		t.Fatal(err)
	}
	if s.Duplicates() != 4 || s.Stored() != 8 {
		t.Errorf("Duplicates %d, Stored %d", s.Duplicates(), s.Stored())
	}
}

func TestDuplicates(t *testing.T) {
	s, c := start(t, Options{})
	recs := entries("u", 3)
	recs = append(recs, recs[0]) // same data twice in one call
	if _, err := putRecords(c, recs); err != nil {
		t.Fatal(err)
	}
	if s.Duplicates() != 1 {
		t.Errorf("Duplicates = %d, want 1", s.Duplicates())
	}
	if _, err := putRecords(c, entries("u", 2)); err != nil {
		t.Fatal(err)
	}
	if s.Duplicates() != 3 || s.Stored() != 6 {
		t.Errorf("Duplicates = %d, Stored = %d", s.Duplicates(), s.Stored())
	}
	s.Reset()
	if s.Duplicates() != 0 || s.Stored() != 0 || len(s.Records()) != 0 || s.Calls() != 0 {
		t.Errorf("after Reset: %+v", s.Stats())
	}
}

// failures returns the error code of each record of a run of calls.
func failures(t *testing.T, c *kinesis.Client, calls int) []string {
	t.Helper()
	var codes []string
	for range calls {
		out, err := putRecords(c, entries("s", 500))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			codes = append(codes, aws.ToString(r.ErrorCode))
		}
	}
	return codes
}

func TestSeededRates(t *testing.T) {
	opts := Options{Seed: 42, Faults: Faults{RecordThrottleRate: 0.1, RecordInternalFailureRate: 0.05}}
	s, c := start(t, opts)
	codes := failures(t, c, 20) // 10,000 records
	var throttled, internal float64
	for _, code := range codes {
		switch code {
		case "ProvisionedThroughputExceededException":
			throttled++
		case "InternalFailure":
			internal++
		}
	}
	n := float64(len(codes))
	if math.Abs(throttled/n-0.1) > 0.015 || math.Abs(internal/n-0.05) > 0.01 {
		t.Errorf("throttled %.4f, internal %.4f of %v records", throttled/n, internal/n, n)
	}
	if s.Stored()+s.FailedRecords() != 10000 || s.FailedRecords() != int64(throttled+internal) {
		t.Errorf("Stored %d + FailedRecords %d", s.Stored(), s.FailedRecords())
	}

	// The same seed gives the same faults, on a new server or after Reset.
	_, c2 := start(t, opts)
	again := failures(t, c2, 20)
	s.Reset()
	replay := failures(t, c, 20)
	for i := range codes {
		if codes[i] != again[i] || codes[i] != replay[i] {
			t.Fatalf("record %d: %q, new server %q, after Reset %q", i, codes[i], again[i], replay[i])
		}
	}
}

func TestSeededRequestRate(t *testing.T) {
	s, c := start(t, Options{Seed: 1, Faults: Faults{ThrottleRate: 0.2}})
	var failed int
	for range 1000 {
		if _, err := putRecords(c, entries("q", 1)); err != nil {
			failed++
		}
	}
	if failed < 170 || failed > 230 || s.FailedCalls() != int64(failed) {
		t.Errorf("%d of 1000 calls throttled (FailedCalls %d), want about 200", failed, s.FailedCalls())
	}
}

// TestRecordsWithoutResult: records drawn for RecordNoResultRate are not
// stored, and their entries carry neither a sequence number nor an error code
// although FailedRecordCount counts them.
func TestRecordsWithoutResult(t *testing.T) {
	s, c := start(t, Options{Seed: 3, Faults: Faults{RecordNoResultRate: 0.4}})
	recs := entries("n", 200)
	out, err := putRecords(c, recs)
	if err != nil {
		t.Fatal(err)
	}
	var empty int
	var kept [][]byte
	for i, r := range out.Records {
		switch {
		case r.SequenceNumber != nil && r.ShardId != nil && r.ErrorCode == nil:
			kept = append(kept, recs[i].Data)
		case r == (types.PutRecordsResultEntry{}):
			empty++
		default:
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	if empty == 0 || int(aws.ToInt32(out.FailedRecordCount)) != empty || s.Stored() != int64(len(kept)) || s.FailedRecords() != int64(empty) {
		t.Fatalf("FailedRecordCount %d, %d empty entries, %d stored, %d failed", aws.ToInt32(out.FailedRecordCount), empty, s.Stored(), s.FailedRecords())
	}
	for i, r := range s.Records() {
		if !bytes.Equal(r.Data, kept[i]) {
			t.Fatalf("stored %d = %q, want %q", i, r.Data, kept[i])
		}
	}

	s.SetFaults(Faults{RecordNoResultRate: 1})
	single, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(DefaultStream), Data: []byte("one"), PartitionKey: aws.String("k")})
	if err != nil || single.SequenceNumber != nil {
		t.Fatalf("PutRecord: %+v, %v", single, err)
	}
	if s.Stored() != int64(len(kept)) {
		t.Errorf("PutRecord without a result stored its record")
	}
}

// TestRefuse: Faults.Refuse refuses every write with the code and Kinesis's
// message for it, and stores nothing; reads still work.
func TestRefuse(t *testing.T) {
	for _, code := range []string{"AccessDeniedException", "ExpiredTokenException", "KMSAccessDeniedException"} {
		t.Run(code, func(t *testing.T) {
			s, c := start(t, Options{Faults: Faults{Refuse: code}})
			_, err := putRecords(c, entries("r", 3))
			apiError(t, err, code, 400)
			if s.Stored() != 0 || s.FailedCalls() != 1 {
				t.Errorf("stored %d, failed calls %d", s.Stored(), s.FailedCalls())
			}
			if _, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(DefaultStream)}); err != nil {
				t.Errorf("DescribeStreamSummary: %v", err)
			}
		})
	}
}
