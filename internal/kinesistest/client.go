package kinesistest

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// AWSConfig returns an SDK configuration that reaches this server: its
// region, static dummy credentials, BaseEndpoint set to URL, and an HTTP
// client wrapped by [SafeHTTPClient]. It reads nothing from the environment
// or shared files.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.url),
		HTTPClient:   SafeHTTPClient(nil),
	}
}

// NewClient returns an SDK kinesis client for this server, built from
// AWSConfig. The SDK's default retryer applies unless optFns change it
// (e.g. o.RetryMaxAttempts = 1 to see every fault).
func (s *Server) NewClient(optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.NewFromConfig(s.AWSConfig(), optFns...)
}

// SafeHTTPClient wraps c (nil means the SDK's default HTTP client) so that
// request bodies reach net/http without a WriteTo method.
//
// This works around a client-side race in smithy-go (seen with v1.28.9):
// the SDK closes the request body as soon as the response arrives, and a
// closed body's WriteTo returns io.EOF as an error. net/http, which reads
// the body once more after sending Content-Length bytes, then closes the
// connection under the response being read, and the call fails with "use
// of closed network connection" although the server stored the records.
// It needs a server that answers within microseconds, such as this one on
// loopback: about 1 call in 100 under the race detector, rarely otherwise.
// A retry after it writes the records twice.
func SafeHTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	return safeClient{c}
}

type safeClient struct{ aws.HTTPClient }

// Do hides the body's WriteTo; Read on a closed body returns io.EOF, which
// net/http takes as the end of the body.
func (c safeClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return c.HTTPClient.Do(r)
}
