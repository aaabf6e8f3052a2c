package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/kinesis"
	"github.com/genesys-relay/genesys-relay/sqsin"
	"github.com/genesys-relay/genesys-relay/stdout"
)

// NewSink builds the configured sink. For Kinesis it checks at start-up that the
// stream exists (DescribeStreamSummary), so a wrong name or region fails fast,
// and writes through the direct PutRecords client unless kinesis.client is sdk.
func NewSink(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, w io.Writer) (relay.Sink, error) {
	if cfg.Sink == "stdout" {
		if w == nil {
			w = os.Stdout
		}
		return stdout.New(w), nil
	}
	k := cfg.Kinesis
	client, err := kinesis.NewClient(ctx, k.Region, k.Endpoint)
	if err != nil {
		return nil, err
	}
	if !k.SkipStreamCheck {
		if err := kinesis.CheckStream(ctx, client, k.Stream); err != nil {
			return nil, err
		}
	}
	var api kinesis.PutRecordsAPI = client
	if k.Client != "sdk" {
		d, err := kinesis.NewDirect(client)
		switch {
		case err == nil:
			api = d
		case errors.Is(err, kinesis.ErrDirectUnsupported):
			log.Warn("kinesis: writing with the SDK client", "reason", err)
		default:
			return nil, err
		}
	}
	return kinesis.NewWriter(api, kinesis.Options{
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
}

func newSink(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, w io.Writer) (relay.Sink, error) {
	return NewSink(ctx, cfg, reg, log, w)
}

// newSQS builds the queue consumer; the returned function runs it until its
// context ends.
func newSQS(ctx context.Context, cfg *config.Config, h relay.Handler, reg prometheus.Registerer, log *slog.Logger) (func(context.Context) error, error) {
	s := cfg.SQS
	client, err := sqsin.NewClient(ctx, sqsin.Region(s.Region, s.QueueURL, cfg.Kinesis.Region), s.Endpoint)
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
