// Package awshttpx holds what the relay's AWS SDK clients need from their HTTP
// client beyond the SDK's defaults.
package awshttpx

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Wrap returns c (nil means the SDK's default HTTP client) made to pass request
// bodies to net/http without their WriteTo method.
//
// This works around a client-side race in smithy-go (seen with v1.28.9): the
// SDK closes the request body as soon as the response arrives, and a closed
// body's WriteTo returns io.EOF as an error. net/http, which reads the body once
// more after sending Content-Length bytes, then closes the connection under the
// response being read, and the call fails with "use of closed network
// connection" although the server has processed it. For PutRecords that means
// records written twice when the call is retried, and a new connection per
// failure. It needs a server that answers within microseconds of the request
// (a Kinesis endpoint on loopback or in the same host), and happens more the
// more calls are made. Read on a closed body returns io.EOF, which net/http
// takes as the end of the body, so without WriteTo the race is harmless.
func Wrap(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	if w, ok := c.(Client); ok {
		return w
	}
	return Client{c}
}

// Client is an HTTP client wrapped by Wrap; HTTPClient is the one it wraps.
type Client struct{ aws.HTTPClient }

// Do hides the body's WriteTo.
func (c Client) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return c.HTTPClient.Do(r)
}

// readCloser has only the methods of io.ReadCloser, whatever its value has.
type readCloser struct{ io.ReadCloser }
