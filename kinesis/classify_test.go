package kinesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// httpError is an SDK response error with the given status and no error code
// the classifier knows.
func httpError(status int) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: "PutRecords", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      fmt.Errorf("http %d", status),
		},
	}}
}

// sdkAPIError wraps an API error as the SDK returns it.
func sdkAPIError(code string, status int) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: "PutRecords", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "simulated"},
		},
	}}
}

func netError() error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: "PutRecords", Err: &smithyhttp.RequestSendError{
		Err: &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}},
	}}
}

// retryableErrors are call errors the writer must retry.
func retryableErrors() map[string]error {
	return map[string]error{
		"throttling":             sdkAPIError("ProvisionedThroughputExceededException", 400),
		"limit exceeded":         sdkAPIError("LimitExceededException", 400),
		"internal failure 500":   sdkAPIError("InternalFailure", 500),
		"service unavailable":    sdkAPIError("ServiceUnavailable", 503),
		"bare 502":               httpError(502),
		"bare 429":               httpError(429),
		"timeout":                fmt.Errorf("operation error Kinesis: PutRecords, %w", context.DeadlineExceeded),
		"connection refused":     netError(),
		"connection reset":       fmt.Errorf("read: %w", syscall.ECONNRESET),
		"unexpected EOF":         fmt.Errorf("decode: %w", io.ErrUnexpectedEOF),
		"unknown error":          errors.New("something odd"),
		"unknown code":           sdkAPIError("BrandNewException", 400),
		"stream being updated":   sdkAPIError("ResourceInUseException", 400),
		"clock skew":             sdkAPIError("RequestExpired", 400),
		"KMS throttling":         sdkAPIError("KMSThrottlingException", 400),
		"generic throttling":     sdkAPIError("ThrottlingException", 400),
		"internal failure plain": apiError("InternalFailure"),
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want class
	}{
		{"throttling", sdkAPIError("ProvisionedThroughputExceededException", 400), classThrottle},
		{"limit exceeded", sdkAPIError("LimitExceededException", 400), classThrottle},
		{"KMS throttling", sdkAPIError("KMSThrottlingException", 400), classThrottle},
		{"429 without code", httpError(429), classThrottle},
		{"500 internal failure", sdkAPIError("InternalFailure", 500), classRetry},
		{"503 without code", httpError(503), classRetry},
		{"502 without code", httpError(502), classRetry},
		{"500 without code", httpError(500), classRetry},
		{"504 without code", httpError(504), classRetry},
		{"call deadline reported as canceled request", fmt.Errorf("operation error Kinesis: PutRecords, %w", &aws.RequestCanceledError{Err: context.DeadlineExceeded}), classRetry},
		{"401 without code", httpError(401), classUnavailable},
		{"call timeout", fmt.Errorf("operation error Kinesis: PutRecords, %w", context.DeadlineExceeded), classRetry},
		{"net timeout", &url.Error{Op: "Post", Err: timeoutErr{}}, classRetry},
		{"connection refused", netError(), classRetry},
		{"unknown code", sdkAPIError("BrandNewException", 400), classRetry},
		{"unknown error", errors.New("something odd"), classRetry},
		{"stream not found", sdkAPIError("ResourceNotFoundException", 400), classUnavailable},
		{"access denied", sdkAPIError("AccessDeniedException", 400), classUnavailable},
		{"unknown access key", sdkAPIError("UnrecognizedClientException", 400), classUnavailable},
		{"bad signature", sdkAPIError("InvalidSignatureException", 400), classUnavailable},
		{"expired token", sdkAPIError("ExpiredTokenException", 400), classUnavailable},
		{"403 without code", httpError(403), classUnavailable},
		{"404 (not a Kinesis endpoint)", httpError(404), classUnavailable},
		{"no credentials", errors.New("operation error Kinesis: PutRecords, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, dial tcp 169.254.169.254:80: connect: connection refused"), classUnavailable},
		{"KMS key disabled", sdkAPIError("KMSDisabledException", 400), classUnavailable},
		{"KMS access denied", sdkAPIError("KMSAccessDeniedException", 400), classUnavailable},
		{"validation error", sdkAPIError("ValidationException", 400), classInvalid},
		{"record too large", sdkAPIError("ValidationException", 400), classInvalid},
		{"invalid argument", sdkAPIError("InvalidArgumentException", 400), classInvalid},
		{"context canceled", fmt.Errorf("operation error Kinesis: PutRecords, %w", &aws.RequestCanceledError{Err: context.Canceled}), classCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	for name, err := range retryableErrors() {
		if c := classify(err); c != classRetry && c != classThrottle {
			t.Errorf("%s: classify(%v) = %v, want retry or throttle", name, err, c)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyCode(t *testing.T) {
	for code, want := range map[string]class{
		"ProvisionedThroughputExceededException": classThrottle,
		"KMSThrottlingException":                 classThrottle,
		"InternalFailure":                        classRetry,
		"SomethingNew":                           classRetry,
		"":                                       classRetry,
		"ValidationException":                    classRetry, // not a per-record code; never fail a record on a guess
		"KMSAccessDeniedException":               classUnavailable,
		"KMSDisabledException":                   classUnavailable,
		"KMSNotFoundException":                   classUnavailable,
		"KMSInvalidStateException":               classUnavailable,
		"KMSOptInRequired":                       classUnavailable,
	} {
		if got := classifyCode(code); got != want {
			t.Errorf("classifyCode(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestInvalidEntries(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		n    int
		want []int
	}{
		{"1 validation error detected: Value at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576", 3, []int{1}},
		{"2 validation errors detected: Value at 'records.1.member.data' ...; Value at 'records.3.member.partitionKey' ...", 3, []int{0, 2}},
		{"Value at 'records.9.member.data' failed", 3, nil}, // out of range: not this call
		{"Records size exceeds 5 MB limit", 3, nil},
	} {
		got := invalidEntries(&smithy.GenericAPIError{Code: "ValidationException", Message: tc.msg}, tc.n)
		if len(got) != len(tc.want) {
			t.Errorf("invalidEntries(%q) = %v, want %v", tc.msg, got, tc.want)
			continue
		}
		for _, i := range tc.want {
			if !got[i] {
				t.Errorf("invalidEntries(%q) = %v, want %v", tc.msg, got, tc.want)
			}
		}
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{sdkAPIError("ResourceNotFoundException", 400), `kinesis stream "s" not found`},
		{sdkAPIError("AccessDeniedException", 400), "access denied"},
		{sdkAPIError("KMSDisabledException", 400), "KMS key is disabled"},
		{sdkAPIError("UnrecognizedClientException", 400), "credentials"},
		{errors.New("get identity: get credentials: boom"), "credentials"},
	} {
		if got := explain(tc.err, "s"); !strings.Contains(got, tc.want) {
			t.Errorf("explain(%v) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}
