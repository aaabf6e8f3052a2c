package kinesis

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestWriterRefusals: a write Kinesis refuses for a reason an operator must fix
// fails its records at once with an ErrUnavailable (kept upstream, sent again
// later) whose public reason names the failure, e.g. "Kinesis refused the
// write: AccessDeniedException (…)", not slowness, and holds no text of
// Kinesis's message (which names the role, the account and the key).
func TestWriterRefusals(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"events"}, AccountID: "123456789012"})
	defer srv.Close()
	client, direct := bothClients(t, srv.URL())
	for _, tc := range []struct {
		code, stream, hint string
	}{
		{"AccessDeniedException", "events", "may not write to the stream"},
		{"ExpiredTokenException", "events", "credentials expired"},
		{"UnrecognizedClientException", "events", "credentials are not valid"},
		{"KMSAccessDeniedException", "events", "KMS key denied"},
		{"KMSDisabledException", "events", "KMS key is disabled"},
		{"ResourceNotFoundException", "missing", "stream does not exist"},
	} {
		for _, c := range []struct {
			name string
			api  PutRecordsAPI
		}{{"sdk", client}, {"direct", direct}} {
			t.Run(tc.code+"/"+c.name, func(t *testing.T) {
				if tc.stream == "events" {
					srv.SetFaults(kinesistest.Faults{Refuse: tc.code})
				} else {
					srv.SetFaults(kinesistest.Faults{})
				}
				w := newTestWriter(t, c.api, Options{Stream: tc.stream})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := w.Put(ctx, relay.Record{PartitionKey: "k", Data: []byte("e")})
				if !errors.Is(err, relay.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Put: %v; want an ErrUnavailable at once", err)
				}
				reason := relay.RefusalReason(err)
				if want := "Kinesis refused the write: " + tc.code + " ("; !strings.HasPrefix(reason, want) || !strings.Contains(reason, tc.hint) {
					t.Errorf("reason %q, want %q…%q", reason, want, tc.hint)
				}
				for _, secret := range []string{"arn:", "123456789012", "assumed-role", "key/"} {
					if strings.Contains(reason, secret) {
						t.Errorf("reason %q shows %q", reason, secret)
					}
				}
				if !strings.Contains(err.Error(), tc.code) {
					t.Errorf("error %v lost the cause", err)
				}
			})
		}
	}
}

// countingCredentials is a credentials cache over a provider that counts its
// retrievals and gives credentials that do not expire.
func countingCredentials(n *atomic.Int64) *aws.CredentialsCache {
	return aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		n.Add(1)
		return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", SessionToken: "token"}, nil
	}))
}

// TestExpiredTokenRenewsCredentials: after Kinesis answers
// ExpiredTokenException, the next call retrieves new credentials instead of
// reusing the cached ones, with either client.
func TestExpiredTokenRenewsCredentials(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"events"}})
	defer srv.Close()
	for _, name := range []string{"sdk", "direct"} {
		t.Run(name, func(t *testing.T) {
			base, err := NewClient(context.Background(), "", srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			var retrieved atomic.Int64
			client := kinesis.New(base.Options(), func(o *kinesis.Options) { o.Credentials = countingCredentials(&retrieved) })
			var api PutRecordsAPI = client
			if name == "direct" {
				if api, err = NewDirect(client); err != nil {
					t.Fatal(err)
				}
			}
			w := newTestWriter(t, api, Options{Stream: "events"})
			put := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				return w.Put(ctx, relay.Record{PartitionKey: "k", Data: []byte("e")})
			}
			srv.SetFaults(kinesistest.Faults{Refuse: "ExpiredTokenException"})
			if err := put(); !errors.Is(err, relay.ErrUnavailable) {
				t.Fatalf("Put with an expired token: %v", err)
			}
			srv.SetFaults(kinesistest.Faults{})
			if err := put(); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if n := retrieved.Load(); n != 2 {
				t.Errorf("credentials retrieved %d times, want 2 (again after the expired token)", n)
			}
		})
	}
}

// TestCheckStreamUnreachableNamesHost: when Kinesis cannot be reached, the
// start-up error names the host that was tried, as the SDK resolved it (FIPS
// region names, stream ARNs), not one guessed from the region.
func TestCheckStreamUnreachableNamesHost(t *testing.T) {
	for _, tc := range []struct{ region, stream, want string }{
		{"eu-west-1", "events", "https://kinesis.eu-west-1.amazonaws.com"},
		{"fips-us-east-1", "events", "https://kinesis-fips.us-east-1.amazonaws.com"},
		{"cn-north-1", "events", "https://kinesis.cn-north-1.amazonaws.com.cn"},
		{"us-east-1", "arn:aws:kinesis:us-east-1:123456789012:stream/events", "https://123456789012.control-kinesis.us-east-1.amazonaws.com"},
	} {
		t.Run(tc.region+"/"+tc.stream, func(t *testing.T) {
			testx.AWSEnv(t, tc.region)
			client, err := NewClient(context.Background(), "", "")
			if err != nil {
				t.Fatal(err)
			}
			// Every connection is refused: nothing leaves the machine.
			client = kinesis.New(client.Options(), func(o *kinesis.Options) {
				o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
					tr.DialContext = func(context.Context, string, string) (net.Conn, error) {
						return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
					}
				})
			})
			err = CheckStream(context.Background(), client, tc.stream)
			if err == nil || !strings.Contains(err.Error(), "kinesis endpoint "+tc.want+" unreachable") {
				t.Errorf("CheckStream: %v; want it to name %s", err, tc.want)
			}
		})
	}
}
