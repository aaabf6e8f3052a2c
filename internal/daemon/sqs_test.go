package daemon_test

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
	"github.com/genesys-relay/genesys-relay/sqsin"
)

func sqsQueue(t *testing.T, c *sqs.Client, visibility int) string {
	t.Helper()
	name := fmt.Sprintf("relay-daemon-%d", time.Now().UnixNano())
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name,
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(visibility)}})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { _, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	return *out.QueueUrl
}

func sqsSend(t *testing.T, c *sqs.Client, url string, bodies [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for start := 0; start < len(bodies); start += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range bodies[start:min(start+10, len(bodies))] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(b))})
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
			if err != nil || len(out.Failed) > 0 {
				t.Errorf("send: %v %v", err, out)
			}
		}()
	}
	wg.Wait()
}

// queueDepth is visible + in-flight messages.
func queueDepth(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}

// storedIDs counts the stored records per trace id.
func storedIDs(srv *kinesistest.Server) map[string]int {
	ids := map[string]int{}
	for _, r := range srv.Records() {
		s := string(r.Data)
		i := strings.Index(s, `"trace_id":"`) + len(`"trace_id":"`)
		ids[s[i:i+strings.IndexByte(s[i:], '"')]]++
	}
	return ids
}

// TestSQSToKinesis runs serve with the SQS input (fauxqs) in front of a Kinesis that
// first fails every call: forwarded events stay on the queue (not deleted) while
// dropped ones are deleted; once Kinesis recovers the redelivered messages are
// written; then 5,000 messages go through with nothing lost or duplicated.
func TestSQSToKinesis(t *testing.T) {
	endpoint := testx.SQSEndpoint(t)
	qc, err := sqsin.NewClient(context.Background(), "us-east-1", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	url := sqsQueue(t, qc, 2)
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"sqs"}})
	defer srv.Close()
	srv.SetFaults(kinesistest.Faults{InternalFailureRate: 1})

	cfg := exampleConfig(t, "relay.yaml")
	cfg.Kinesis.Stream, cfg.Kinesis.Endpoint, cfg.Kinesis.Region = "sqs", srv.URL(), "us-east-1"
	cfg.Kinesis.SkipStreamCheck = true // the stream check would also meet the injected failures
	cfg.SQS.QueueURL, cfg.SQS.Endpoint, cfg.SQS.Region = url, endpoint, "us-east-1"
	cfg.SQS.Workers, cfg.SQS.WaitTime, cfg.SQS.HandleTimeout, cfg.SQS.RetryDelay = 4, time.Second, time.Second, time.Second
	d := daemontest.Start(t, daemon.Options{Config: cfg, Stdout: io.Discard})

	var first [][]byte
	for i := 0; i < 20; i++ {
		first = append(first, forwardEvent(fmt.Sprintf("sqs-a-%03d", i)))
	}
	for i := 0; i < 5; i++ {
		first = append(first, []byte(fmt.Sprintf(`{"id":"sqs-drop-%d","source":"genesys.cloud","detail-type":"x","detail":{"eventCode":"other"}}`, i)))
	}
	sqsSend(t, qc, url, first)

	// While Kinesis fails: the 5 dropped messages are deleted, the 20 stay.
	testx.WaitFor(t, time.Minute, "dropped messages deleted", func() bool { return queueDepth(t, qc, url) == 20 })
	time.Sleep(3 * time.Second) // several handle timeouts and redeliveries
	if n := queueDepth(t, qc, url); n != 20 || srv.Stored() != 0 {
		t.Fatalf("while Kinesis fails: %d messages on the queue (want 20), %d stored (want 0)", n, srv.Stored())
	}

	srv.SetFaults(kinesistest.Faults{})
	testx.WaitFor(t, 2*time.Minute, "redelivered messages written", func() bool { return len(storedIDs(srv)) == 20 && queueDepth(t, qc, url) == 0 })
	recovered := srv.Stored()

	const many = 5000
	bodies := make([][]byte, many)
	for i := range bodies {
		bodies[i] = forwardEvent(fmt.Sprintf("sqs-b-%04d", i))
	}
	receivedBefore := testx.Value(t, testx.Scrape(t, d.Metrics+"/metrics"), "genesys_relay_sqs_messages_received_total")
	began := time.Now()
	sqsSend(t, qc, url, bodies)
	testx.WaitFor(t, 5*time.Minute, "5,000 messages written", func() bool { return len(storedIDs(srv)) == 20+many && queueDepth(t, qc, url) == 0 })
	took := time.Since(began)
	// A message comes back when its handling outlasts sqs.handle_timeout or the
	// visibility timeout (2 s), which a loaded machine may make happen; its
	// event may then be written twice. Nothing else may write it twice.
	redelivered := int(testx.Value(t, testx.Scrape(t, d.Metrics+"/metrics"), "genesys_relay_sqs_messages_received_total")-receivedBefore) - many
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	ids := storedIDs(srv)
	dups := 0
	for id, n := range ids {
		if n > 1 && strings.HasPrefix(id, "sqs-b-") {
			dups += n - 1
		}
	}
	t.Logf("recovery: 20 events written after Kinesis recovered (%d records, %d duplicates); "+
		"run: %d messages written in %s with %d duplicates and %d redeliveries; %d PutRecords calls in all",
		recovered, recovered-20, many, took.Round(time.Millisecond), dups, redelivered, srv.Calls())
	if dups > redelivered {
		t.Errorf("%d duplicates in the fault-free run, but only %d messages were delivered again", dups, redelivered)
	}
	if len(ids) != 20+many {
		t.Errorf("%d distinct events stored, want %d", len(ids), 20+many)
	}
}
