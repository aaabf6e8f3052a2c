// Command kinesisctl is the demo's and developers' small Kinesis client for a local
// emulator: create a stream and wait until it is active, or print every record of
// a stream. It exists because the AWS CLI is not a dependency of this project.
//
//	go run ./internal/tools/kinesisctl -endpoint http://127.0.0.1:4568 create demo
//	go run ./internal/tools/kinesisctl -endpoint http://127.0.0.1:4568 read demo
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func main() {
	endpoint := flag.String("endpoint", os.Getenv("KINESIS_ENDPOINT"), "Kinesis endpoint URL (env KINESIS_ENDPOINT)")
	shards := flag.Int("shards", 2, "shard count for create")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: kinesisctl [-endpoint URL] create|read STREAM")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail(err)
	}
	c := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = endpoint
		}
	})
	stream := flag.Arg(1)
	switch flag.Arg(0) {
	case "create":
		err = create(ctx, c, stream, int32(*shards))
	case "read":
		err = read(ctx, c, stream)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kinesisctl:", err)
	os.Exit(1)
}

func create(ctx context.Context, c *kinesis.Client, stream string, shards int32) error {
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: &shards})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return err
	}
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			fmt.Printf("stream %s is active (%d shards)\n", stream, aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s not active: %w", stream, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func read(ctx context.Context, c *kinesis.Client, stream string) error {
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return err
	}
	n := 0
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return err
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return err
			}
			for _, r := range res.Records {
				n++
				fmt.Printf("%s key=%s %s\n", aws.ToString(sh.ShardId), aws.ToString(r.PartitionKey), r.Data)
			}
			if len(res.Records) == 0 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	fmt.Printf("%d records in stream %s\n", n, stream)
	return nil
}
