package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/kinesis"
	"github.com/genesys-relay/genesys-relay/sqsin"
	"github.com/genesys-relay/genesys-relay/stdout"
)

// NewSink builds the configured sink. For Kinesis it checks at start-up that the
// stream exists (DescribeStreamSummary), so a wrong name or region fails fast,
// and writes through the direct PutRecords client unless kinesis.client is sdk.
func NewSink(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, w io.Writer) (relay.Sink, error) {
	s, _, err := newSink(ctx, cfg, reg, log, w)
	return s, err
}

// newSink is NewSink, and says where the records go.
func newSink(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, w io.Writer) (relay.Sink, output, error) {
	if cfg.Sink == "stdout" {
		if w == nil {
			w = os.Stdout
		}
		return stdout.New(w), describeSink(cfg, ""), nil
	}
	k := cfg.Kinesis
	client, err := kinesis.NewClient(ctx, k.Region, k.Endpoint, awsLogger(log))
	if err != nil {
		return nil, output{}, err
	}
	out := describeSink(cfg, client.Options().Region)
	if !k.SkipStreamCheck {
		if err := kinesis.CheckStream(ctx, client, k.Stream); err != nil {
			return nil, out, err
		}
	}
	var api kinesis.PutRecordsAPI = client
	if k.Client != "sdk" {
		if api, err = kinesis.NewDirect(client); err != nil {
			return nil, out, err
		}
	}
	wr, err := kinesis.NewWriter(api, kinesis.Options{
		Stream:          k.Stream,
		MaxBatchRecords: k.MaxBatchRecords,
		MaxBatchBytes:   k.MaxBatchBytes,
		MaxRecordBytes:  k.MaxRecordBytes,
		Linger:          k.Linger,
		MaxInFlight:     k.MaxInFlight,
		QueueSize:       k.QueueSize,
		RetryBase:       k.RetryBase,
		RetryMax:        k.RetryMax,
		CallTimeout:     k.CallTimeout,
		Aggregate:       k.Aggregate,
		Registerer:      reg,
		Logger:          log,
		// Senders wait for their answers (HTTP, as EventBridge sends; SQS
		// workers): once all of them are in a batch it goes out at once.
		EagerFlush: true,
	})
	if err != nil {
		return nil, out, err
	}
	return wr, out, nil
}

// awsLogger sends the AWS SDK's own warnings through log (JSON) instead of the SDK's
// plain text on stderr.
func awsLogger(log *slog.Logger) func(*awsconfig.LoadOptions) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return awsconfig.WithLogger(logx.AWS(log))
}

// newSQS builds the queue consumer; the returned function runs it until its
// context ends.
func newSQS(ctx context.Context, cfg *config.Config, h relay.Handler, reg prometheus.Registerer, log *slog.Logger) (func(context.Context) error, error) {
	s := cfg.SQS
	region := s.Region
	if region == "" {
		region = cfg.Kinesis.Region
	}
	client, err := sqsin.NewClient(ctx, region, s.Endpoint, awsLogger(log))
	if err != nil {
		return nil, fmt.Errorf("sqs: %w", err)
	}
	c, err := sqsin.New(client, h, sqsin.Options{
		QueueURL:          s.QueueURL,
		Workers:           s.Workers,
		WaitTime:          s.WaitTime,
		VisibilityTimeout: s.VisibilityTimeout,
		HandleTimeout:     s.HandleTimeout,
		RetryDelay:        s.RetryDelay,
		DeleteInvalid:     s.DeleteInvalid,
		Registerer:        reg,
		Logger:            log,
	})
	if err != nil {
		return nil, fmt.Errorf("sqs: %w", err)
	}
	return c.Run, nil
}
