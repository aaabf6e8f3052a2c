package kinesistest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// start returns a server and an SDK client for it that does not retry, so
// that every fault reaches the test.
func start(t *testing.T, opts Options) (*Server, *kinesis.Client) {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	return s, s.NewClient(func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
}

// entries builds n records with distinct data "<prefix>-<i>".
func entries(prefix string, n int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{
			Data:         []byte(fmt.Sprintf("%s-%d", prefix, i)),
			PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
		}
	}
	return out
}

func putRecords(c *kinesis.Client, recs []types.PutRecordsRequestEntry) (*kinesis.PutRecordsOutput, error) {
	return c.PutRecords(context.Background(), &kinesis.PutRecordsInput{
		StreamName: aws.String(DefaultStream),
		Records:    recs,
	})
}

// apiError asserts err is an API error with code and HTTP status.
func apiError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a smithy.APIError", err, err)
	}
	if ae.ErrorCode() != code {
		t.Errorf("ErrorCode() = %q, want %q (%v)", ae.ErrorCode(), code, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an awshttp.ResponseError", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", re.HTTPStatusCode(), status)
	}
}

func TestPutRecordsStoresRecordsInOrder(t *testing.T) {
	s, c := start(t, Options{})
	recs := entries("a", 3)
	recs[1].ExplicitHashKey = aws.String("12345")
	out, err := putRecords(c, recs)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 3 {
		t.Fatalf("FailedRecordCount %d, %d results", aws.ToInt32(out.FailedRecordCount), len(out.Records))
	}
	if out.EncryptionType != types.EncryptionTypeNone {
		t.Errorf("EncryptionType = %q", out.EncryptionType)
	}
	got := s.Records()
	if len(got) != 3 || s.Stored() != 3 || s.RecordsReceived() != 3 || s.Calls() != 1 {
		t.Fatalf("log %d, Stored %d, Received %d, Calls %d",
			len(got), s.Stored(), s.RecordsReceived(), s.Calls())
	}
	prev := ""
	for i, r := range out.Records {
		g := got[i]
		if r.ErrorCode != nil || aws.ToString(r.SequenceNumber) != g.SequenceNumber || aws.ToString(r.ShardId) != "shardId-000000000000" {
			t.Errorf("result %d = %+v, stored %+v", i, r, g)
		}
		if len(g.SequenceNumber) != 56 || g.SequenceNumber <= prev {
			t.Errorf("sequence number %q after %q", g.SequenceNumber, prev)
		}
		prev = g.SequenceNumber
		if !bytes.Equal(g.Data, recs[i].Data) || g.PartitionKey != *recs[i].PartitionKey || g.Stream != DefaultStream || g.Arrival.IsZero() {
			t.Errorf("stored %d = %+v", i, g)
		}
	}
	if got[1].ExplicitHashKey != "12345" || got[0].ExplicitHashKey != "" {
		t.Errorf("explicit hash keys %q, %q", got[0].ExplicitHashKey, got[1].ExplicitHashKey)
	}
}

func TestPutRecord(t *testing.T) {
	s, c := start(t, Options{})
	out, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{
		StreamName: aws.String(DefaultStream), Data: []byte("one"), PartitionKey: aws.String("k"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Records()
	if len(got) != 1 || string(got[0].Data) != "one" || aws.ToString(out.SequenceNumber) != got[0].SequenceNumber ||
		aws.ToString(out.ShardId) != got[0].ShardID {
		t.Fatalf("out %+v, stored %+v", out, got)
	}
	if s.Calls() != 0 || s.CallsTo("PutRecord") != 1 || s.RecordsReceived() != 1 {
		t.Errorf("Calls %d, PutRecord calls %d, received %d", s.Calls(), s.CallsTo("PutRecord"), s.RecordsReceived())
	}
}

func TestStreamByARN(t *testing.T) {
	s, c := start(t, Options{Streams: []string{"a", "b"}})
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/b"
	if _, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: entries("x", 2)}); err != nil {
		t.Fatal(err)
	}
	if got := s.Records(); len(got) != 2 || got[0].Stream != "b" {
		t.Fatalf("stored %+v", got)
	}
	out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(arn)})
	if err != nil || aws.ToString(out.StreamDescriptionSummary.StreamName) != "b" {
		t.Fatalf("DescribeStreamSummary by ARN: %v, %+v", err, out)
	}
}

func TestDescribeStreamSummary(t *testing.T) {
	_, c := start(t, Options{ShardsPerStream: 2})
	out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(DefaultStream)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.StreamDescriptionSummary
	if d == nil || aws.ToString(d.StreamName) != DefaultStream || d.StreamStatus != types.StreamStatusActive ||
		aws.ToString(d.StreamARN) != "arn:aws:kinesis:us-east-1:000000000000:stream/test-stream" ||
		aws.ToInt32(d.OpenShardCount) != 2 || aws.ToInt32(d.RetentionPeriodHours) != 24 ||
		d.StreamCreationTimestamp == nil || d.StreamCreationTimestamp.IsZero() ||
		d.StreamModeDetails == nil || d.StreamModeDetails.StreamMode != types.StreamModeProvisioned ||
		aws.ToInt32(d.MaxRecordSizeInKiB) != 1024 {
		t.Fatalf("summary %+v", d)
	}

	_, err = c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown stream: %v (%T), want *types.ResourceNotFoundException", err, err)
	}
	apiError(t, err, "ResourceNotFoundException", 400)
	if !strings.Contains(nf.ErrorMessage(), "missing") {
		t.Errorf("message %q does not name the stream", nf.ErrorMessage())
	}
}

func TestPutRecordsUnknownStream(t *testing.T) {
	s, c := start(t, Options{})
	_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("nope"), Records: entries("x", 1)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want ResourceNotFoundException", err)
	}
	if s.Stored() != 0 || s.FailedCalls() != 1 {
		t.Errorf("Stored %d, FailedCalls %d", s.Stored(), s.FailedCalls())
	}
}

func TestListShardsAndShardMapping(t *testing.T) {
	s, c := start(t, Options{ShardsPerStream: 4})
	out, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(DefaultStream)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Shards) != 4 {
		t.Fatalf("%d shards", len(out.Shards))
	}
	next := big.NewInt(0)
	for i, sh := range out.Shards {
		start, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
		end, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
		if start.Cmp(next) != 0 || end.Cmp(start) < 0 || sh.SequenceNumberRange.StartingSequenceNumber == nil {
			t.Fatalf("shard %d = %s..%s, expected start %s", i, start, end, next)
		}
		next = end.Add(end, big.NewInt(1))
	}
	if next.Cmp(new(big.Int).Lsh(big.NewInt(1), 128)) != 0 {
		t.Fatalf("shards end at %s, want 2^128", next)
	}

	// Explicit hash keys pick the shard; otherwise the MD5 of the key does.
	recs := entries("m", 50)
	recs[0].ExplicitHashKey = aws.String("0")
	recs[1].ExplicitHashKey = aws.String(maxHashKey.String())
	res, err := putRecords(c, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Records {
		want := ""
		switch i {
		case 0:
			want = "shardId-000000000000"
		case 1:
			want = "shardId-000000000003"
		default:
			sum := md5.Sum([]byte(*recs[i].PartitionKey))
			h := new(big.Int).SetBytes(sum[:])
			for j, sh := range out.Shards {
				end, _ := new(big.Int).SetString(*sh.HashKeyRange.EndingHashKey, 10)
				if h.Cmp(end) <= 0 {
					want = fmt.Sprintf("shardId-%012d", j)
					break
				}
			}
		}
		if got := aws.ToString(r.ShardId); got != want {
			t.Errorf("record %d on %s, want %s", i, got, want)
		}
	}
	if s.CallsTo("ListShards") != 1 {
		t.Errorf("ListShards calls = %d", s.CallsTo("ListShards"))
	}
}

func TestUnsupportedOperation(t *testing.T) {
	s, c := start(t, Options{})
	_, err := c.ListStreams(context.Background(), &kinesis.ListStreamsInput{})
	apiError(t, err, "UnknownOperationException", 400)
	if s.CallsTo("ListStreams") != 1 {
		t.Errorf("unsupported calls = %d", s.CallsTo("ListStreams"))
	}
}

// TestClockOffset: a server whose clock is 10 minutes ahead refuses the first
// call of a client with the host's clock as Kinesis does, and the SDK, having
// read the server's time from the answer's Date, signs the next call right.
func TestClockOffset(t *testing.T) {
	for _, offset := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			s, c := start(t, Options{ClockOffset: offset})
			_, err := putRecords(c, entries("c", 1))
			apiError(t, err, "InvalidSignatureException", 400)
			want := "Signature expired: "
			if offset < 0 {
				want = "Signature not yet current: "
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
			if _, err := putRecords(c, entries("c", 1)); err != nil {
				t.Fatalf("second call, signed at the server's time: %v", err)
			}
			if s.Stored() != 1 || s.FailedCalls() != 1 {
				t.Errorf("stored %d, failed calls %d", s.Stored(), s.FailedCalls())
			}
		})
	}
}
