package kinesis

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/genesys-relay/genesys-relay/internal/awsconf"
	"github.com/genesys-relay/genesys-relay/internal/testtls"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// kinesisServer answers Kinesis JSON 1.1 calls with status and body, and
// counts the requests; it fails the test on a request that is not one.
func kinesisServer(t *testing.T, wantTarget string, status int, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if got := r.Header.Get("X-Amz-Target"); got != wantTarget {
			t.Errorf("X-Amz-Target %q, want %q", got, wantTarget)
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type %q", got)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=test/") {
			t.Errorf("request not signed with the static test credentials: %q", r.Header.Get("Authorization"))
		}
		b, _ := io.ReadAll(r.Body)
		var in map[string]any
		if err := json.Unmarshal(b, &in); err != nil {
			t.Errorf("request body %q: %v", b, err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const describeTarget = "Kinesis_20131202.DescribeStreamSummary"

func summary(status string) string {
	return `{"StreamDescriptionSummary":{"StreamName":"events","StreamARN":"arn:aws:kinesis:eu-west-1:123456789012:stream/events",` +
		`"StreamStatus":"` + status + `","RetentionPeriodHours":24,"StreamCreationTimestamp":1.7e9,"EnhancedMonitoring":[],"OpenShardCount":1}}`
}

func TestCheckStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr string // "" for no error
	}{
		{"active", 200, summary("ACTIVE"), ""},
		{"updating", 200, summary("UPDATING"), ""},
		{"creating", 200, summary("CREATING"), `kinesis stream "events" in region eu-west-1 is CREATING`},
		{"not found", 400, `{"__type":"ResourceNotFoundException","message":"Stream events under account 123456789012 not found."}`,
			`kinesis stream "events" not found in region eu-west-1`},
		{"access denied", 400, `{"__type":"AccessDeniedException","message":"User is not authorized to perform: kinesis:DescribeStreamSummary"}`,
			`access denied to kinesis stream "events"`},
		{"unknown key", 400, `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`,
			"no valid AWS credentials"},
		{"server error", 500, `{"__type":"InternalFailure","message":"boom"}`, `describe stream "events"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testx.AWSEnv(t, "us-east-1")
			srv, n := kinesisServer(t, describeTarget, tc.status, tc.body)
			client, err := NewClient(context.Background(), "eu-west-1", srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckStream(context.Background(), client, "events")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckStream: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckStream: %v; want an error containing %q", err, tc.wantErr)
			}
			if got := n.Load(); got != 1 {
				t.Errorf("%d requests; want 1 (the SDK must not retry)", got)
			}
		})
	}
}

func TestCheckStreamUnreachable(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	client, err := NewClient(context.Background(), "", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = CheckStream(ctx, client, "events")
	if err == nil || !strings.Contains(err.Error(), "kinesis endpoint "+endpoint+" unreachable") {
		t.Errorf("CheckStream: %v; want it to name the unreachable endpoint", err)
	}
}

func TestNewClientEndpoints(t *testing.T) {
	t.Run("explicit endpoint wins over AWS_ENDPOINT_URL_KINESIS", func(t *testing.T) {
		testx.AWSEnv(t, "us-east-1")
		srv, n := kinesisServer(t, describeTarget, 200, summary("ACTIVE"))
		other, m := kinesisServer(t, describeTarget, 200, summary("ACTIVE"))
		t.Setenv("AWS_ENDPOINT_URL_KINESIS", other.URL)
		t.Setenv("AWS_ENDPOINT_URL", other.URL)
		client, err := NewClient(context.Background(), "", srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckStream(context.Background(), client, "events"); err != nil {
			t.Fatal(err)
		}
		if n.Load() != 1 || m.Load() != 0 {
			t.Errorf("explicit endpoint got %d requests, env endpoint %d", n.Load(), m.Load())
		}
	})
	for _, env := range []string{"AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL"} {
		t.Run(env+" without explicit endpoint", func(t *testing.T) {
			testx.AWSEnv(t, "us-east-1")
			srv, n := kinesisServer(t, describeTarget, 200, summary("ACTIVE"))
			t.Setenv(env, srv.URL)
			client, err := NewClient(context.Background(), "", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckStream(context.Background(), client, "events"); err != nil {
				t.Fatal(err)
			}
			if n.Load() != 1 {
				t.Errorf("%s endpoint got %d requests", env, n.Load())
			}
		})
	}
	t.Run("region from the environment", func(t *testing.T) {
		testx.AWSEnv(t, "ap-southeast-2")
		client, err := NewClient(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got := client.Options().Region; got != "ap-southeast-2" {
			t.Errorf("region %q", got)
		}
	})
}

func TestNewClientTransport(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	t.Setenv("AWS_CA_BUNDLE", testtls.WriteFile(t, t.TempDir(), "ca.pem", testtls.NewCA(t, "bundle CA").PEM))
	client, err := NewClient(context.Background(), "", "")
	if err != nil {
		t.Fatalf("NewClient with AWS_CA_BUNDLE: %v", err)
	}
	wrapped, ok := client.Options().HTTPClient.(awsconf.HTTPClient)
	if !ok {
		t.Fatalf("HTTP client %T is not wrapped by awsconf", client.Options().HTTPClient)
	}
	bc, ok := wrapped.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client %T", wrapped.HTTPClient)
	}
	tr := bc.GetTransport()
	if tr.MaxIdleConnsPerHost < DefaultMaxInFlight {
		t.Errorf("MaxIdleConnsPerHost %d is below the default calls in flight", tr.MaxIdleConnsPerHost)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.RootCAs == nil {
		t.Error("the CA bundle of AWS_CA_BUNDLE was lost")
	}
}

func TestNewClientErrors(t *testing.T) {
	testx.AWSEnv(t, "")
	if _, err := NewClient(context.Background(), "", ""); err == nil || !strings.Contains(err.Error(), "kinesis.region") {
		t.Errorf("NewClient without a region: %v", err)
	}
	for _, endpoint := range []string{"localhost:4568", "ftp://x", "http://"} {
		if _, err := NewClient(context.Background(), "us-east-1", endpoint); err == nil || !strings.Contains(err.Error(), "kinesis.endpoint") {
			t.Errorf("NewClient(endpoint %q): %v", endpoint, err)
		}
	}
}

// TestWriterWithSDKClient runs the writer through the real SDK client against
// a server speaking the PutRecords wire format, failing one record of the
// first call: that record alone is sent again. (How the three records share
// calls depends on when they arrive, which a loaded machine decides.)
func TestWriterWithSDKClient(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	var calls, records atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if got := r.Header.Get("X-Amz-Target"); got != "Kinesis_20131202.PutRecords" {
			t.Errorf("X-Amz-Target %q", got)
		}
		var in struct {
			StreamName string
			Records    []struct {
				Data         []byte
				PartitionKey string
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.StreamName != "events" {
			t.Errorf("request: %v, stream %q", err, in.StreamName)
		}
		records.Add(int64(len(in.Records)))
		type result struct {
			SequenceNumber, ShardId, ErrorCode, ErrorMessage string `json:",omitempty"`
		}
		out := struct {
			FailedRecordCount int
			Records           []result
		}{}
		for i := range in.Records {
			if n == 1 && i == 0 {
				out.FailedRecordCount++
				out.Records = append(out.Records, result{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded"})
				continue
			}
			out.Records = append(out.Records, result{SequenceNumber: "4962", ShardId: "shardId-000000000000"})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	client, err := NewClient(context.Background(), "", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, client, Options{Stream: "events", Linger: 20 * time.Millisecond})
	var results []<-chan error
	for _, d := range []string{"a", "b", "c"} {
		results = append(results, putAsync(context.Background(), w, rec(d)))
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Errorf("Put: %v", err)
		}
	}
	if got := records.Load(); got != 4 {
		t.Errorf("%d records sent in %d calls, want 4: the three, then the throttled one again", got, calls.Load())
	}
}
