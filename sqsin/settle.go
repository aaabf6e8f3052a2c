package sqsin

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	relay "github.com/genesys-relay/genesys-relay"
)

// deleteAttempts bounds the retries of batch entries SQS failed on its side; the SDK
// already retries whole calls that fail.
const deleteAttempts = 3

// settle deletes the messages whose outcome says so in one DeleteMessageBatch and,
// with RetryDelay, shortens the visibility of the others.
func (c *Consumer) settle(ctx context.Context, msgs []types.Message, outcomes []outcome) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()

	var del []types.DeleteMessageBatchRequestEntry
	var again []types.ChangeMessageVisibilityBatchRequestEntry
	retryable, firstErr := 0, error(nil) // for one summary line per receive
	for i := range msgs {
		id := aws.String(strconv.Itoa(i))
		if outcomes[i].delete {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: id, ReceiptHandle: msgs[i].ReceiptHandle})
			continue
		}
		if c.opts.RetryDelay > 0 {
			again = append(again, types.ChangeMessageVisibilityBatchRequestEntry{
				Id: id, ReceiptHandle: msgs[i].ReceiptHandle, VisibilityTimeout: seconds(c.opts.RetryDelay),
			})
		}
		if err := outcomes[i].err; relay.Retryable(err) {
			if retryable == 0 {
				firstErr = err
			}
			retryable++
		}
	}
	if retryable > 0 {
		c.log.Warn("sqs messages failed and will be received again",
			"failed", retryable, "received", len(msgs), "error", firstErr)
	}
	if len(del) > 0 {
		c.delete(ctx, msgs, del)
	}
	if len(again) > 0 {
		c.retryLater(ctx, again)
	}
}

// delete deletes entries, retrying those SQS failed on its side. Entries that still
// fail are logged and counted: their messages will be delivered again, so their events
// may be forwarded twice.
func (c *Consumer) delete(ctx context.Context, msgs []types.Message, entries []types.DeleteMessageBatchRequestEntry) {
	bo := backoff{min: 50 * time.Millisecond, max: time.Second}
	for attempt := 1; ; attempt++ {
		out, err := c.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{
			QueueUrl: aws.String(c.opts.QueueURL),
			Entries:  entries,
		})
		if err != nil {
			c.m.deleteFailures.Add(float64(len(entries)))
			c.log.Warn("sqs delete failed; the messages will be delivered again and their events may be forwarded twice",
				"messages", len(entries), "error", err)
			return
		}
		c.m.deleted.Add(float64(len(entries) - len(out.Failed)))
		var retry []types.DeleteMessageBatchRequestEntry
		for _, f := range out.Failed {
			e, ok := entryByID(entries, aws.ToString(f.Id))
			if !ok {
				continue
			}
			if !f.SenderFault && attempt < deleteAttempts {
				retry = append(retry, e)
				continue
			}
			c.m.deleteFailures.Inc()
			c.log.Warn("sqs delete of a handled message failed; it will be delivered again and its event may be forwarded twice",
				"message_id", messageID(msgs, aws.ToString(f.Id)),
				"code", aws.ToString(f.Code),
				"reason", aws.ToString(f.Message))
		}
		if len(retry) == 0 {
			return
		}
		if !sleep(ctx, bo.next()) {
			c.m.deleteFailures.Add(float64(len(retry)))
			c.log.Warn("sqs delete retry interrupted; the messages will be delivered again", "messages", len(retry))
			return
		}
		entries = retry
	}
}

// retryLater shortens the visibility timeout of messages that were not deleted. A
// failure only delays their next delivery to the queue's visibility timeout.
func (c *Consumer) retryLater(ctx context.Context, entries []types.ChangeMessageVisibilityBatchRequestEntry) {
	out, err := c.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(c.opts.QueueURL),
		Entries:  entries,
	})
	if err != nil {
		c.log.Warn("sqs visibility change failed; failed messages return after the visibility timeout", "messages", len(entries), "error", err)
		return
	}
	if len(out.Failed) > 0 {
		c.log.Debug("sqs visibility change partly failed", "failed", len(out.Failed), "code", aws.ToString(out.Failed[0].Code))
	}
}

func entryByID(entries []types.DeleteMessageBatchRequestEntry, id string) (types.DeleteMessageBatchRequestEntry, bool) {
	for _, e := range entries {
		if aws.ToString(e.Id) == id {
			return e, true
		}
	}
	return types.DeleteMessageBatchRequestEntry{}, false
}

// messageID maps a batch entry id (the message's index in its receive) back to the
// SQS message id for logs.
func messageID(msgs []types.Message, entryID string) string {
	i, err := strconv.Atoi(entryID)
	if err != nil || i < 0 || i >= len(msgs) {
		return ""
	}
	return aws.ToString(msgs[i].MessageId)
}
