package kinesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

// diffFailure is one modelled answer of the failure matrix; want is the class
// the writer must give the call's error, unless ok (the call succeeds).
type diffFailure struct {
	name   string
	answer diffAnswer
	want   class
	ok     bool
}

// partialAnswer answers a call of three records: the first written, the
// second throttled, the third failed inside Kinesis.
const partialAnswer = `{"FailedRecordCount":2,"Records":[` +
	`{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000001"},` +
	`{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard shardId-000000000001 in stream events under account 123456789012."},` +
	`{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service failure."}]}`

// diffFailures are the answers Kinesis (or what stands between the relay and
// it) can give a PutRecords call: throttling, 5xx, 4xx codes in their several
// shapes, partial failures, malformed answers and oversized ones.
var diffFailures = []diffFailure{
	// Throttling.
	{"throttled call", diffAnswer{status: 400, body: `{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for stream events"}`}, classThrottle, false},
	{"throttled, namespace and URI", diffAnswer{status: 400, body: `{"__type":"com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException:http://internal.amazon.com/coral/","message":"Rate exceeded"}`}, classThrottle, false},
	{"KMS throttling, code member", diffAnswer{status: 400, body: `{"code":"KMSThrottlingException","Message":"slow down"}`}, classThrottle, false},
	{"LimitExceededException", diffAnswer{status: 400, body: `{"__type":"LimitExceededException","message":"Rate exceeded"}`}, classThrottle, false},
	{"429 unknown code", diffAnswer{status: 429, body: `{"__type":"Whatever","message":"slow"}`}, classThrottle, false},
	// 5xx.
	{"500 InternalFailure", diffAnswer{status: 500, body: `{"__type":"InternalFailure","message":"Internal service failure."}`}, classRetry, false},
	{"503 ServiceUnavailable", diffAnswer{status: 503, body: `{"__type":"ServiceUnavailable","message":"Service unavailable"}`}, classRetry, false},
	{"empty 500", diffAnswer{status: 500}, classRetry, false},
	{"not JSON 502", diffAnswer{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: `<html>Bad Gateway</html>`}, classRetry, false},
	{"504 from a proxy", diffAnswer{status: 504, header: map[string]string{"Content-Type": "text/plain"}, body: "upstream request timeout"}, classRetry, false},
	// 4xx codes, as a body or a header.
	{"modelled", diffAnswer{status: 400, body: `{"__type":"ResourceNotFoundException","message":"Stream events not found."}`}, classUnavailable, false},
	{"modelled, capital Message", diffAnswer{status: 400, body: `{"__type":"ResourceNotFoundException","Message":"Stream events not found."}`}, classUnavailable, false},
	{"header wins", diffAnswer{status: 400, header: map[string]string{"X-Amzn-ErrorType": "AccessDeniedException:http://x/"}, body: `{"__type":"Other","message":"denied"}`}, classUnavailable, false},
	{"header only", diffAnswer{status: 403, header: map[string]string{"X-Amzn-ErrorType": "UnrecognizedClientException"}}, classUnavailable, false},
	{"unmodelled", diffAnswer{status: 400, body: `{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}`}, classUnavailable, false},
	{"InvalidSignatureException", diffAnswer{status: 400, body: `{"__type":"InvalidSignatureException","message":"Signature expired"}`}, classUnavailable, false},
	{"KMSAccessDeniedException", diffAnswer{status: 400, body: `{"__type":"KMSAccessDeniedException","message":"denied"}`}, classUnavailable, false},
	{"ValidationException", diffAnswer{status: 400, body: `{"__type":"ValidationException","message":"1 validation error detected"}`}, classInvalid, false},
	{"InvalidArgumentException", diffAnswer{status: 400, body: `{"__type":"InvalidArgumentException","message":"Records size exceeds 5 MB limit"}`}, classInvalid, false},
	{"404 no body", diffAnswer{status: 404}, classUnavailable, false},
	// Without a code a proxy's 413 is an undecodable answer: retried.
	{"413 from a proxy", diffAnswer{status: 413, header: map[string]string{"Content-Type": "text/html"}, body: "<html>Request Entity Too Large</html>"}, classRetry, false},
	// Partial failures: the call succeeds, its records' results differ.
	{"partial failure", diffAnswer{status: 200, body: partialAnswer}, 0, true},
	{"every record written", diffAnswer{status: 200}, 0, true},
	// Malformed answers.
	{"200 not JSON", diffAnswer{status: 200, body: `{"Records":[}`}, classRetry, false},
	{"200 wrong type", diffAnswer{status: 200, body: `{"FailedRecordCount":"1","Records":[]}`}, classRetry, false},
	{"200 truncated", diffAnswer{status: 200, body: `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1",`}, classRetry, false},
	{"200 HTML", diffAnswer{status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html>captive portal</html>"}, classRetry, false},
	// Oversized answers: see the deliberate difference in TestDirectFailuresMatchSDK.
	{"512 KiB announced, less sent", diffAnswer{status: 200, body: `{"FailedRecordCount":0,"Records":[]}`, contentLength: 512 << 10}, classRetry, false},
	{"512 KiB announced by an error answer, less sent", diffAnswer{status: 500, body: `{}`, contentLength: 512 << 10}, classRetry, false},
}

// TestDirectFailuresMatchSDK runs every answer of diffFailures past both
// clients, in a configuration that sends over plain HTTP to a configured
// endpoint and in one that sends over TLS to an AWS host with a session
// token: the calls must fail (or succeed) alike, with the same error types
// at every level of wrapping, the same code, status, message and class, and
// the same per-record results.
func TestDirectFailuresMatchSDK(t *testing.T) {
	srv := newRecordingServer(t)
	for _, c := range []diffConfig{
		{name: "configured endpoint", region: "us-east-1", endpoint: "http://127.0.0.1:4568"},
		{name: "AWS host with a session token", region: "eu-west-1", env: map[string]string{"AWS_SESSION_TOKEN": "token"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.setUp(t)
			sdk, d, err := diffClients(t, srv, c.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			in := &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: trickyEntries()[:3]}
			for _, f := range diffFailures {
				t.Run(f.name, func(t *testing.T) {
					srv.setAnswer(f.answer)
					sdkOut, sdkErr := sdk.PutRecords(context.Background(), in)
					sdkReq := srv.take(t)
					directOut, directErr := d.PutRecords(context.Background(), in)
					if sdkReq == nil || srv.take(t) == nil {
						t.Fatal("no request")
					}
					sameFailure(t, sdkErr, directErr)
					sameOutput(t, sdkOut, directOut)
					if f.ok {
						if directErr != nil {
							t.Fatalf("call failed: %v", directErr)
						}
						return
					}
					if directErr == nil {
						t.Fatal("no error")
					}
					if classify(directErr) != f.want {
						t.Errorf("class %v, want %v (%v)", classify(directErr), f.want, directErr)
					}
				})
			}

			// The one deliberate difference: the direct client reads at most
			// maxAnswerBytes of an answer, the SDK client all of it. An answer
			// longer than any PutRecords answer fails as undecodable, as a
			// malformed one does (the same types and class), instead of taking
			// the memory it claims: at once when its Content-Length says so
			// (where the SDK client fails only when the connection ends short
			// of it: a network error to it), after maxAnswerBytes otherwise
			// (here a valid answer behind 2 MiB of blanks, which the SDK client
			// takes).
			for _, a := range []diffAnswer{
				{status: 200, body: `{"FailedRecordCount":0,"Records":[]}`, contentLength: 900 << 20},
				{status: 500, body: `{}`, contentLength: 900 << 20},
				{status: 200, chunkedPad: 2 << 20},
			} {
				t.Run(fmt.Sprintf("longer than any answer, status %d, %d bytes announced", a.status, a.contentLength), func(t *testing.T) {
					srv.setAnswer(a)
					sdkOut, sdkErr := sdk.PutRecords(context.Background(), in)
					srv.take(t)
					_, directErr := d.PutRecords(context.Background(), in)
					srv.take(t)
					var de *smithy.DeserializationError
					if !errors.As(directErr, &de) || !errors.Is(directErr, errAnswerTooLarge) || classify(directErr) != classRetry {
						t.Errorf("direct client: %v, want a DeserializationError of class %v wrapping errAnswerTooLarge", directErr, classRetry)
					}
					if a.chunkedPad > 0 {
						if sdkErr != nil || len(sdkOut.Records) != len(in.Records) {
							t.Errorf("SDK client: %v", sdkErr)
						}
						wantChain := []string{"*smithy.OperationError", "*http.ResponseError", "*smithy.DeserializationError"}
						if got := errorChain(directErr); !slices.Equal(got, wantChain) {
							t.Errorf("wrapped types %v, want %v (the SDK's for an undecodable answer)", got, wantChain)
						}
						return
					}
					if !isNetwork(sdkErr) || isNetwork(directErr) {
						t.Errorf("network error: SDK %v (%v), direct %v (%v)", isNetwork(sdkErr), sdkErr, isNetwork(directErr), directErr)
					}
					if a, b := errorChain(sdkErr), errorChain(directErr); !slices.Equal(a, b) {
						t.Errorf("wrapped types:\n   SDK %v\ndirect %v", a, b)
					}
					if a, b := classify(sdkErr), classify(directErr); a != b {
						t.Errorf("class: SDK %v, direct %v", a, b)
					}
				})
			}
		})
	}
}
