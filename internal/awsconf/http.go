package awsconf

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// WrapHTTPClient returns c (nil means the SDK's default HTTP client) made to
// pass request bodies to net/http without their WriteTo method. Load puts it
// under every client of the relay; test clients of a fast local server need
// it too.
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
//
// Upstream, the symptom is https://github.com/aws/aws-sdk-go-v2/issues/2737
// ("use of closed network connection", also #1825). It was closed by making
// the SDK's standard retryer retry net.ErrClosed
// (https://github.com/aws/aws-sdk-go-v2/pull/2949), the maintainers holding
// that the early close of the request body has no effect on buffered
// operations. That fix does not help here: the relay's Kinesis client makes
// no SDK retries (its writer retries record by record), and a retried
// PutRecords that had been processed writes its records twice. No upstream
// issue describes the WriteTo path above, in aws/smithy-go or
// aws/aws-sdk-go-v2.
func WrapHTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	if w, ok := c.(HTTPClient); ok {
		return w
	}
	return HTTPClient{c}
}

// HTTPClient is an HTTP client wrapped by WrapHTTPClient; HTTPClient is the
// one it wraps.
type HTTPClient struct{ aws.HTTPClient }

// Do hides the body's WriteTo.
func (c HTTPClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return c.HTTPClient.Do(r)
}

// readCloser has only the methods of io.ReadCloser, whatever its value has.
type readCloser struct{ io.ReadCloser }
