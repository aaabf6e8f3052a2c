package testx

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// endpoint returns the emulator endpoint in variable name. The local emulators
// are the ones scripts/test starts (kinesis-local for Kinesis, fauxqs for SQS).
// When name is unset the test is skipped, unless RELAY_TEST_REQUIRE_EMULATORS=1
// (as in CI), where it fails instead, so CI can never pass by skipping.
func endpoint(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("RELAY_TEST_REQUIRE_EMULATORS") == "1" {
			t.Fatalf("%s is not set but RELAY_TEST_REQUIRE_EMULATORS=1 (run scripts/test)", name)
		}
		t.Skipf("%s not set; run scripts/test to start the local emulators", name)
	}
	// The emulators accept any credentials; an access key that is not a 12-digit
	// number keeps kinesis-local on its default account.
	AWSEnv(t, "us-east-1")
	return v
}

// KinesisEndpoint returns RELAY_TEST_KINESIS_ENDPOINT (see endpoint), with AWSEnv set.
func KinesisEndpoint(t testing.TB) string { return endpoint(t, "RELAY_TEST_KINESIS_ENDPOINT") }

// SQSEndpoint returns RELAY_TEST_SQS_ENDPOINT (see endpoint), with AWSEnv set.
func SQSEndpoint(t testing.TB) string { return endpoint(t, "RELAY_TEST_SQS_ENDPOINT") }

// KinesisClient is an SDK client for endpoint with static test credentials.
func KinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// NewStream creates a uniquely named stream with shards shards, waits until it is
// ACTIVE and deletes it when the test ends.
func NewStream(t testing.TB, c *kinesis.Client, shards int32) string {
	t.Helper()
	name := fmt.Sprintf("relay-test-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s not active: %v", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &name, EnforceConsumerDeletion: aws.Bool(true)})
	})
	return name
}

// StreamRecord is a record read back from a stream.
type StreamRecord struct {
	Shard        string
	PartitionKey string
	Sequence     string
	Data         []byte
}

// ReadAll reads every record of every shard from the trim horizon until a shard
// returns no more records, within ctx.
func ReadAll(ctx context.Context, c *kinesis.Client, stream string) ([]StreamRecord, error) {
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	var out []StreamRecord
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream,
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, fmt.Errorf("shard iterator %s: %w", *sh.ShardId, err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				return nil, fmt.Errorf("get records %s: %w", *sh.ShardId, err)
			}
			for _, r := range res.Records {
				out = append(out, StreamRecord{Shard: *sh.ShardId, PartitionKey: aws.ToString(r.PartitionKey),
					Sequence: aws.ToString(r.SequenceNumber), Data: r.Data})
			}
			if len(res.Records) == 0 || aws.ToInt64(res.MillisBehindLatest) == 0 && len(res.Records) < 1000 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Sequence < out[j].Sequence })
	return out, nil
}
