package lambdain

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	relay "github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
)

// shape is what kind of payload an invocation carries.
type shape int

const (
	shapeEnvelope shape = iota + 1 // EventBridge invoking the function directly
	shapeSQSBatch                  // an SQS event source mapping
)

const sqsEventSource = "aws:sqs"

// envelopeKeys are the EventBridge envelope fields that identify a direct invocation.
var envelopeKeys = []string{"detail-type", "source", "detail"}

// detect tells an EventBridge envelope from an SQS batch by the payload's top-level
// keys (matched exactly, unlike encoding/json's case-insensitive field matching). For
// a batch it returns the decoded records. Anything else is an invalid-event error that
// names the problem.
func detect(payload []byte) (shape, []events.SQSMessage, error) {
	trimmed := jsonx.TrimSpace(payload)
	if len(trimmed) == 0 {
		return 0, nil, relay.Invalid("empty_payload", "lambda payload is empty")
	}
	if trimmed[0] != '{' {
		return 0, nil, relay.Invalid("not_object", "lambda payload is not a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return 0, nil, relay.Invalid("malformed_json", fmt.Sprintf("lambda payload is not valid JSON: %v", err))
	}
	if raw, ok := top["Records"]; ok {
		recs, err := sqsRecords(raw)
		if err != nil {
			return 0, nil, err
		}
		return shapeSQSBatch, recs, nil
	}
	var missing []string
	for _, k := range envelopeKeys {
		if _, ok := top[k]; !ok {
			missing = append(missing, k)
		}
	}
	switch {
	case len(missing) == 0:
		return shapeEnvelope, nil, nil
	case len(missing) < len(envelopeKeys):
		return 0, nil, relay.Invalid("not_envelope", "lambda payload looks like an EventBridge event but has no "+strings.Join(missing, ", "))
	default:
		return 0, nil, relay.Invalid("unknown_payload",
			`lambda payload is neither an EventBridge event ("detail-type", "source", "detail") nor an SQS batch ("Records" from aws:sqs)`)
	}
}

// sqsRecords decodes the Records array of an SQS event and checks that every record
// comes from SQS: other event sources (Kinesis, SNS, S3...) use the same key.
func sqsRecords(raw json.RawMessage) ([]events.SQSMessage, error) {
	if t := jsonx.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
		return nil, relay.Invalid("not_sqs_batch", `lambda payload has "Records" but it is not an array`)
	}
	var recs []events.SQSMessage
	if err := json.Unmarshal(raw, &recs); err != nil {
		return nil, relay.Invalid("not_sqs_batch", fmt.Sprintf("lambda payload Records are not SQS messages: %v", err))
	}
	if len(recs) == 0 {
		return nil, relay.Invalid("not_sqs_batch", "lambda payload has an empty Records array")
	}
	for i, r := range recs {
		if r.EventSource != sqsEventSource {
			return nil, relay.Invalid("not_sqs_batch",
				fmt.Sprintf("lambda payload record %d has eventSource %q; only %q batches are handled", i, r.EventSource, sqsEventSource))
		}
	}
	return recs, nil
}
