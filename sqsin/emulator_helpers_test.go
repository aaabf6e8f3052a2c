package sqsin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// emulator returns an SQS client for the emulator scripts/test starts (fauxqs) when
// RELAY_TEST_SQS_ENDPOINT is set; otherwise it skips the test, or fails it when
// RELAY_TEST_REQUIRE_EMULATORS=1 so that CI cannot pass by skipping.
func emulator(t *testing.T) *sqs.Client {
	t.Helper()
	endpoint := testx.SQSEndpoint(t)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	c, err := NewClient(context.Background(), "us-east-1", endpoint)
	if err != nil {
		t.Fatalf("sqs client for %s: %v", endpoint, err)
	}
	return c
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// createQueue creates a queue with a name unique to this test run and deletes it when
// the test ends. It returns the queue URL and ARN.
func createQueue(t *testing.T, c *sqs.Client, attrs map[string]string) (url, arn string) {
	t.Helper()
	ctx := context.Background()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := unsafeName.ReplaceAllString(t.Name(), "-")
	if len(name) > 60 {
		name = name[:60]
	}
	name = name + "-" + hex.EncodeToString(suffix)
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		if _, err := c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Errorf("delete queue %s: %v", name, err)
		}
	})
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue arn of %s: %v", name, err)
	}
	return url, a.Attributes[string(types.QueueAttributeNameQueueArn)]
}

// send sends bodies with SendMessageBatch, several batches at a time.
func send(t *testing.T, c *sqs.Client, url string, bodies []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(bodies)/10+1)
	sem := make(chan struct{}, 8)
	for start := 0; start < len(bodies); start += 10 {
		chunk := bodies[start:min(start+10, len(bodies))]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			entries := make([]types.SendMessageBatchRequestEntry, len(chunk))
			for i, b := range chunk {
				entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)}
			}
			out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
			if err == nil && len(out.Failed) > 0 {
				err = fmt.Errorf("%d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}
}

// queueCounts returns the visible and in-flight message counts of a queue.
func queueCounts(t *testing.T, c *sqs.Client, url string) (visible, inFlight int) {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight
}

// receiveAll receives directly (not through a Consumer) for up to wait and returns
// the bodies; it deletes nothing.
func receiveAll(t *testing.T, c *sqs.Client, url string, wait time.Duration) []string {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: seconds(wait),
	})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies
}

// envelope returns a small EventBridge envelope whose id is id.
func envelope(id string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"Genesys Interaction","source":"genesys.cloud",` +
		`"account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],` +
		`"detail":{"eventCode":"interaction.routing.assign","interaction":{"id":"` + id + `"}}}`
}

// envelopeID extracts the id envelope put there.
func envelopeID(body string) string {
	_, rest, _ := strings.Cut(body, `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// startConsumer runs c in the background; the returned stop ends it and returns Run's
// error.
func startConsumer(t *testing.T, c *Consumer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("consumer did not stop within 30s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}
