package sqsin

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	relay "github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// fakeSQS serves queued receives in order, then long-polls until the caller's
// context ends. It records deletes and visibility changes.
type fakeSQS struct {
	mu          sync.Mutex
	receives    [][]types.Message
	receiveErrs []error // returned, in order, before any receive
	alwaysErr   error   // returned by every receive when set
	// deleteFailed returns, per receipt handle, a failure for the first N calls.
	deleteFailed map[string]failure
	deleteErr    error

	receiveCalls int
	deleteCalls  int
	deleted      []string // receipt handles, in order
	changed      map[string]int32
	lastReceive  *sqs.ReceiveMessageInput
}

type failure struct {
	senderFault bool
	times       int
}

var _ ReceiveDeleteAPI = (*fakeSQS)(nil)

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.receiveCalls++
	f.lastReceive = in
	if f.alwaysErr != nil {
		f.mu.Unlock()
		return nil, f.alwaysErr
	}
	if len(f.receiveErrs) > 0 {
		err := f.receiveErrs[0]
		f.receiveErrs = f.receiveErrs[1:]
		f.mu.Unlock()
		return nil, err
	}
	if len(f.receives) > 0 {
		msgs := f.receives[0]
		f.receives = f.receives[1:]
		f.mu.Unlock()
		return &sqs.ReceiveMessageOutput{Messages: msgs}, nil
	}
	f.mu.Unlock()
	<-ctx.Done()
	return nil, fmt.Errorf("receive: %w", ctx.Err())
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteCalls++
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		rh := aws.ToString(e.ReceiptHandle)
		if fl, ok := f.deleteFailed[rh]; ok && fl.times > 0 {
			fl.times--
			f.deleteFailed[rh] = fl
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{
				Id: e.Id, Code: aws.String("InternalError"), SenderFault: fl.senderFault, Message: aws.String("injected"),
			})
			continue
		}
		f.deleted = append(f.deleted, rh)
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = map[string]int32{}
	}
	for _, e := range in.Entries {
		f.changed[aws.ToString(e.ReceiptHandle)] = e.VisibilityTimeout
	}
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func (f *fakeSQS) snapshot() (deleted []string, changed map[string]int32, receiveCalls, deleteCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed = make(map[string]int32, len(f.changed))
	for k, v := range f.changed {
		changed[k] = v
	}
	return append([]string(nil), f.deleted...), changed, f.receiveCalls, f.deleteCalls
}

// message returns a message whose body, id and receipt handle are all body.
func message(body string) types.Message {
	return types.Message{MessageId: aws.String("id-" + body), ReceiptHandle: aws.String(body), Body: aws.String(body)}
}

func messages(bodies ...string) []types.Message {
	out := make([]types.Message, len(bodies))
	for i, b := range bodies {
		out[i] = message(b)
	}
	return out
}

// handlerFunc adapts a function to relay.Handler.
type handlerFunc func(ctx context.Context, raw []byte) (relay.Result, error)

func (f handlerFunc) Handle(ctx context.Context, raw []byte) (relay.Result, error) {
	return f(ctx, raw)
}

// runUntil runs c until cond holds (polled) or the deadline passes, then stops it
// and returns Run's error.
func runUntil(t *testing.T, c *Consumer, cond func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	if !testx.Eventually(30*time.Second, cond) {
		cancel()
		<-done
		t.Fatal("condition not reached within 30s")
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancellation")
		return nil
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
