package awsconf

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

type recordingClient struct{ got *http.Request }

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	c.got = r
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

func TestWrapHTTPClientHidesWriteTo(t *testing.T) {
	inner := &recordingClient{}
	c := WrapHTTPClient(inner)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader([]byte("payload")))
	if _, ok := req.Body.(io.WriterTo); !ok {
		t.Fatal("test body has no WriteTo to hide")
	}
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := inner.got.Body.(io.WriterTo); ok {
		t.Error("the body reached the wrapped client with its WriteTo")
	}
	if b, _ := io.ReadAll(inner.got.Body); string(b) != "payload" {
		t.Errorf("body %q", b)
	}
	get, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	if _, err := c.Do(get); err != nil || inner.got.Body != nil {
		t.Errorf("a request without a body: %v, body %v", err, inner.got.Body)
	}
}

func TestWrapHTTPClient(t *testing.T) {
	if w, ok := WrapHTTPClient(nil).(HTTPClient); !ok {
		t.Fatalf("WrapHTTPClient(nil) is %T", WrapHTTPClient(nil))
	} else if _, ok := w.HTTPClient.(*awshttp.BuildableClient); !ok {
		t.Errorf("WrapHTTPClient(nil) wraps %T, want the SDK's default client", w.HTTPClient)
	}
	once := WrapHTTPClient(&recordingClient{})
	if twice := WrapHTTPClient(once); twice.(HTTPClient).HTTPClient != once.(HTTPClient).HTTPClient {
		t.Error("wrapping twice nests the wrappers")
	}
}
