package lambdain

import (
	"context"
	"errors"
	"strings"
	"testing"

	relay "github.com/genesys-relay/genesys-relay"
)

func TestDetect(t *testing.T) {
	sqsRecord := `{"messageId":"m1","receiptHandle":"rh","body":"{}","attributes":{},"messageAttributes":{},` +
		`"md5OfBody":"99914b932bd37a50b983c5e7c90ae93b","eventSource":"aws:sqs",` +
		`"eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:q","awsRegion":"us-east-1"}`
	for _, tt := range []struct {
		name, payload string
		want          shape
	}{
		{"envelope", envelope("e1"), shapeEnvelope},
		{"envelope with surrounding space", "\n " + envelope("e1") + "\n", shapeEnvelope},
		{"sqs batch", `{"Records":[` + sqsRecord + `,` + sqsRecord + `]}`, shapeSQSBatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := detect([]byte(tt.payload))
			if err != nil || got != tt.want {
				t.Errorf("detect = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMalformedPayloads(t *testing.T) {
	for _, tt := range []struct {
		name, payload, want string
	}{
		{"empty", "", "empty"},
		{"blank", " \n\t", "empty"},
		{"null", "null", "not a JSON object"},
		{"array", `[{"id":"1"}]`, "not a JSON object"},
		{"string", `"hello"`, "not a JSON object"},
		{"truncated", `{"Records":[`, "not valid JSON"},
		{"trailing garbage", `{"source":"x"} {`, "not valid JSON"},
		{"unrelated object", `{"foo":1}`, "neither an EventBridge event"},
		{"lower-case records", `{"records":[]}`, "neither an EventBridge event"},
		{"partial envelope", `{"source":"genesys.cloud","detail":{}}`, `no detail-type`},
		{"Records not an array", `{"Records":{"eventSource":"aws:sqs"}}`, "not an array"},
		{"Records null", `{"Records":null}`, "not an array"},
		{"empty Records", `{"Records":[]}`, "empty Records"},
		{"kinesis records", `{"Records":[{"eventSource":"aws:kinesis","kinesis":{}}]}`, `eventSource "aws:kinesis"`},
		{"sns records", `{"Records":[{"EventSource":"aws:sns","Sns":{}}]}`, `eventSource "aws:sns"`},
		{"mixed sources", `{"Records":[{"eventSource":"aws:sqs","body":"{}"},{"eventSource":"aws:s3"}]}`, `record 1 has eventSource "aws:s3"`},
		{"body not a string", `{"Records":[{"eventSource":"aws:sqs","body":{"id":"1"}}]}`, "not SQS messages"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &pipeline{}
			l := NewHandler(p, Options{Logger: quiet})
			out, err := l.Invoke(context.Background(), []byte(tt.payload))
			if !errors.Is(err, relay.ErrInvalid) || relay.Retryable(err) {
				t.Fatalf("Invoke = %s, %v; want a permanent invalid-event error", out, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if p.calls.Load() != 0 {
				t.Error("the pipeline was called for a payload of unknown shape")
			}
		})
	}
}

func TestSQSBodyIsHandedVerbatim(t *testing.T) {
	body := envelope("forward-1")
	var got string
	h := handlerFunc(func(_ context.Context, raw []byte) (relay.Result, error) {
		got = string(raw)
		return relay.Result{Decision: relay.Forward}, nil
	})
	l := NewHandler(h, Options{Logger: quiet})
	if _, err := l.Invoke(context.Background(), sqsBatch("forward-1")); err != nil {
		t.Fatal(err)
	}
	if got != body {
		t.Errorf("handler got %s, want the message body %s", got, body)
	}
}
