// Package sqsin is the Amazon SQS input of genesys-relay: it long-polls a queue that an
// EventBridge rule targets (each message body is one EventBridge envelope), runs every
// message through a relay.Handler, and deletes a message only once its event was
// forwarded or deliberately dropped. Anything else stays on the queue: the visibility
// timeout brings it back, and the queue's redrive policy moves messages that keep
// failing to its dead-letter queue.
package sqsin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	relay "github.com/genesys-relay/genesys-relay"
)

// ReceiveDeleteAPI is the part of the SQS API a Consumer uses, so that tests can
// replace the queue; *sqs.Client satisfies it.
type ReceiveDeleteAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

var _ ReceiveDeleteAPI = (*sqs.Client)(nil)

// Receive errors are retried after a jittered delay between these bounds, so that a
// queue outage neither spins nor leaves workers asleep long after it ended.
const (
	receiveBackoffMin = 200 * time.Millisecond
	receiveBackoffMax = 20 * time.Second
)

// settleTimeout bounds the delete and visibility calls made after a receive was
// handled; they run even when Run's context has ended.
const settleTimeout = 10 * time.Second

// Consumer receives EventBridge events from one SQS queue and hands them to a
// relay.Handler.
type Consumer struct {
	api     ReceiveDeleteAPI
	h       relay.Handler
	opts    Options
	log     *slog.Logger
	m       *metrics
	running atomic.Bool
	warned  warnedSet
	// retry is the receive backoff each worker starts from.
	retry backoff
}

// New returns a Consumer for opts.QueueURL. It checks the options and registers the
// metrics; it does not contact SQS.
func New(api ReceiveDeleteAPI, h relay.Handler, opts Options) (*Consumer, error) {
	if api == nil {
		return nil, fmt.Errorf("%w: no SQS client", ErrOptions)
	}
	if h == nil {
		return nil, fmt.Errorf("%w: no handler", ErrOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Consumer{
		api:   api,
		h:     h,
		opts:  o,
		log:   o.Logger.With("queue_url", o.QueueURL),
		m:     m,
		retry: backoff{min: receiveBackoffMin, max: receiveBackoffMax},
	}, nil
}

// Run receives and handles messages with Options.Workers pollers until ctx ends. Then
// it stops receiving, lets the messages already received finish (each with its own
// HandleTimeout) and settles them, so a shutdown neither loses work nor leaves
// handled messages to be delivered twice. A long poll interrupted by the shutdown may
// still have been handed messages by SQS; they become visible again after the
// visibility timeout (delayed, not lost). Run returns nil after a shutdown, and an
// error when the queue does not exist.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("sqs consumer: already running")
	}
	defer c.running.Store(false)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.log.Info("sqs consumer started", "workers", c.opts.Workers, "max_messages", c.opts.MaxMessages)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		fatal error
	)
	for range c.opts.Workers {
		wg.Go(func() {
			if err := c.poll(ctx); err != nil {
				once.Do(func() { fatal = err })
				cancel()
			}
		})
	}
	wg.Wait()
	if fatal != nil {
		c.log.Error("sqs consumer stopped", "error", fatal)
		return fatal
	}
	c.log.Info("sqs consumer stopped")
	return nil
}

// poll is one worker: receive, handle, settle, until ctx ends. It returns an error
// only when receiving can never succeed.
func (c *Consumer) poll(ctx context.Context) error {
	bo := c.retry
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(c.opts.QueueURL),
		MaxNumberOfMessages:         c.opts.MaxMessages,
		WaitTimeSeconds:             seconds(c.opts.WaitTime),
		VisibilityTimeout:           seconds(c.opts.VisibilityTimeout),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	}
	for ctx.Err() == nil {
		out, err := c.api.ReceiveMessage(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var missing *types.QueueDoesNotExist
			if errors.As(err, &missing) {
				return fmt.Errorf("sqs queue %s: %w", c.opts.QueueURL, err)
			}
			c.m.receiveErrors.Inc()
			d := bo.next()
			c.log.Warn("sqs receive failed", "error", err, "retry_in", d)
			if !sleep(ctx, d) {
				return nil
			}
			continue
		}
		bo.reset()
		if len(out.Messages) > 0 {
			c.process(ctx, out.Messages)
		}
	}
	return nil
}

// outcome is what handling one message decided.
type outcome struct {
	err    error
	delete bool
}

// process handles the messages of one receive concurrently and settles them. It
// detaches from ctx: messages already received are finished even during shutdown.
func (c *Consumer) process(ctx context.Context, msgs []types.Message) {
	n := len(msgs)
	c.m.received.Add(float64(n))
	c.m.inFlight.Add(float64(n))
	defer c.m.inFlight.Sub(float64(n))

	base := context.WithoutCancel(ctx)
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range msgs {
		wg.Go(func() { outcomes[i] = c.handle(base, &msgs[i]) })
	}
	wg.Wait()
	c.settle(base, msgs, outcomes)
}

// handle runs one message body through the handler and classifies the result.
func (c *Consumer) handle(ctx context.Context, msg *types.Message) (o outcome) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.HandleTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			// A panicking handler is a bug; the message stays on the queue and the
			// redrive policy eventually dead-letters it.
			o = outcome{err: fmt.Errorf("handler panic: %v", r)}
			c.m.failed.WithLabelValues(whyRetryable).Inc()
			c.log.Error("sqs message handler panicked", "message_id", aws.ToString(msg.MessageId), "panic", r)
		}
	}()
	_, err := c.h.Handle(ctx, []byte(aws.ToString(msg.Body)))
	switch {
	case err == nil:
		return outcome{delete: true}
	case relay.Retryable(err):
		c.m.failed.WithLabelValues(whyRetryable).Inc()
		return outcome{err: err}
	default:
		c.m.failed.WithLabelValues(whyPermanent).Inc()
		id := aws.ToString(msg.MessageId)
		if c.warned.first(id) {
			action := "left for the queue's redrive policy"
			if c.opts.DeleteInvalid {
				action = "deleted"
			}
			c.log.Warn("sqs message can never succeed; "+action,
				"message_id", id,
				"receive_count", msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)],
				"reason", relay.RejectReason(err),
				"error", err)
		}
		return outcome{err: err, delete: c.opts.DeleteInvalid}
	}
}

// warnedSet remembers recently warned-about message ids so that a message which can
// never succeed is logged once, not at every redelivery. It forgets everything when
// full, which bounds its memory.
type warnedSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

const warnedSetMax = 4096

// first reports whether id was not seen before, and remembers it.
func (s *warnedSet) first(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if s.ids == nil || len(s.ids) >= warnedSetMax {
		s.ids = make(map[string]struct{})
	}
	s.ids[id] = struct{}{}
	return true
}
