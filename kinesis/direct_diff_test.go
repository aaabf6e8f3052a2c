package kinesis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/logging"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// The differential test of Direct against the SDK's client: both, built the
// way serve builds them, send the same calls to one recording server under a
// matrix of configurations, and every request and every outcome must be the
// same. It is what lets the direct client stay: an SDK upgrade that changes
// what the SDK sends or returns fails it.

// recordedRequest is a request as it arrived on the wire.
type recordedRequest struct {
	method, host, sni, requestURI string
	tls                           bool
	header                        http.Header
	body                          []byte
}

// url is the scheme, host and path the request was sent to.
func (r *recordedRequest) url() string {
	scheme := "http"
	if r.tls {
		scheme = "https"
	}
	return scheme + "://" + r.host + r.requestURI
}

// diffAnswer is what the recording server answers: status, headers and body.
// A contentLength above len(body) announces more than is sent (the connection
// then ends early); chunkedPad sends that many spaces before the body, with no
// Content-Length.
type diffAnswer struct {
	status        int
	header        map[string]string
	body          string
	contentLength int
	chunkedPad    int
}

// recordingServer is one Kinesis endpoint for every host: diffHTTPClient
// dials it whatever the URL names, over TLS for port 443 (it presents a
// certificate the client does not check, and records the name the client
// asked for). It records each request and answers with the current answer.
type recordingServer struct {
	plain, tls *httptest.Server

	mu       sync.Mutex
	requests []*recordedRequest
	answer   diffAnswer
}

func newRecordingServer(t *testing.T) *recordingServer {
	t.Helper()
	s := &recordingServer{answer: diffAnswer{status: 200, body: `{"FailedRecordCount":0,"Records":[]}`}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rr := &recordedRequest{method: r.Method, host: r.Host, requestURI: r.RequestURI, tls: r.TLS != nil, header: r.Header.Clone(), body: body}
		if r.TLS != nil {
			rr.sni = r.TLS.ServerName
		}
		s.mu.Lock()
		s.requests = append(s.requests, rr)
		a := s.answer
		s.mu.Unlock()
		w.Header().Set("X-Amzn-Requestid", "req-1")
		w.Header().Set("Content-Type", jsonContentType)
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if a.body == "" && a.status == 200 {
			a.body = answerFor(body)
		}
		switch {
		case a.contentLength > 0:
			w.Header().Set("Content-Length", strconv.Itoa(a.contentLength))
		case a.chunkedPad == 0:
			w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
		}
		w.WriteHeader(a.status)
		if a.chunkedPad > 0 {
			pad := []byte(strings.Repeat(" ", 64<<10))
			for n := a.chunkedPad; n > 0; n -= len(pad) {
				w.Write(pad[:min(n, len(pad))])
				w.(http.Flusher).Flush()
			}
		}
		io.WriteString(w, a.body)
	})
	s.plain = httptest.NewServer(h)
	s.tls = httptest.NewTLSServer(h)
	t.Cleanup(s.plain.Close)
	t.Cleanup(s.tls.Close)
	return s
}

// answerFor is a successful answer to a PutRecords body: one result per
// record, every record written.
func answerFor(body []byte) string {
	var in struct{ Records []json.RawMessage }
	_ = json.Unmarshal(body, &in)
	var b strings.Builder
	b.WriteString(`{"EncryptionType":"NONE","FailedRecordCount":0,"Records":[`)
	for i := range in.Records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"SequenceNumber":"4959","ShardId":"shardId-000000000001"}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

func (s *recordingServer) setAnswer(a diffAnswer) {
	s.mu.Lock()
	s.answer = a
	s.mu.Unlock()
}

// take returns the request recorded since the last take, nil when none was,
// and fails the test when more than one was.
func (s *recordingServer) take(t *testing.T) *recordedRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	reqs := s.requests
	s.requests = nil
	switch len(reqs) {
	case 0:
		return nil
	case 1:
		return reqs[0]
	}
	t.Fatalf("%d requests for one call", len(reqs))
	return nil
}

// httpClient is an SDK HTTP client whose connections all go to s.
func (s *recordingServer) httpClient() *awshttp.BuildableClient {
	plain, secure := s.plain.Listener.Addr().String(), s.tls.Listener.Addr().String()
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			to := plain
			if _, port, _ := net.SplitHostPort(addr); port == "443" {
				to = secure
			}
			return (&net.Dialer{}).DialContext(ctx, "tcp", to)
		}
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	})
}

// diffConfig is one configuration of the matrix.
type diffConfig struct {
	name, region, endpoint string
	env                    map[string]string
	configFile             string // contents of AWS_CONFIG_FILE
	stream                 string // a stream ARN for the main call, or "" (a name)
	want                   string // URL of the main call; "": the SDK cannot resolve an endpoint
}

const diffARN = "arn:aws:kinesis:us-east-1:123456789012:stream/events"

// diffConfigs are the configurations the matrix covers: regions (FIPS
// pseudo-regions, China, GovCloud), the FIPS and dual-stack settings from
// the environment and the shared config file, stream ARNs, the account ID of
// the credentials, endpoints in the configuration or the environment,
// session tokens, application IDs, Lambda's trace header. Each names the URL
// the SDK sends the main call to.
var diffConfigs = []diffConfig{
	{name: "region", region: "eu-west-1", want: "https://kinesis.eu-west-1.amazonaws.com/"},
	{name: "configured endpoint", region: "eu-west-1", endpoint: "http://127.0.0.1:4568", want: "http://127.0.0.1:4568/"},
	{name: "endpoint with a path", region: "eu-west-1", endpoint: "https://proxy.example/kinesis", want: "https://proxy.example/kinesis"},
	{name: "AWS_ENDPOINT_URL_KINESIS", region: "eu-west-1", env: map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://10.0.0.1:1234"}, want: "http://10.0.0.1:1234/"},
	{name: "AWS_ENDPOINT_URL", region: "eu-west-1", env: map[string]string{"AWS_ENDPOINT_URL": "http://10.0.0.2:1234"}, want: "http://10.0.0.2:1234/"},
	{name: "configured endpoint wins over AWS_ENDPOINT_URL_KINESIS", region: "eu-west-1", endpoint: "http://127.0.0.1:4568", env: map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://10.0.0.1:1234"}, want: "http://127.0.0.1:4568/"},
	{name: "China", region: "cn-north-1", want: "https://kinesis.cn-north-1.amazonaws.com.cn/"},
	{name: "GovCloud", region: "us-gov-west-1", want: "https://kinesis.us-gov-west-1.amazonaws.com/"},
	{name: "FIPS", region: "us-east-1", env: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, want: "https://kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "FIPS region name fips-", region: "fips-us-east-1", want: "https://kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "FIPS region name -fips", region: "us-east-1-fips", want: "https://kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "FIPS region name in GovCloud", region: "fips-us-gov-west-1", want: "https://kinesis.us-gov-west-1.amazonaws.com/"}, // FIPS there
	{name: "FIPS region name in China", region: "fips-cn-north-1", want: "https://kinesis-fips.cn-north-1.amazonaws.com.cn/"},
	{name: "FIPS region name and stream ARN", region: "fips-us-east-1", stream: diffARN, want: "https://123456789012.data-kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "FIPS from the config file", region: "us-east-1", configFile: "[default]\nuse_fips_endpoint = true\n", want: "https://kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "dual-stack", region: "eu-west-1", env: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true"}, want: "https://kinesis.eu-west-1.api.aws/"},
	{name: "dual-stack from the config file", region: "eu-west-1", configFile: "[default]\nuse_dualstack_endpoint = true\n", want: "https://kinesis.eu-west-1.api.aws/"},
	{name: "FIPS and dual-stack", region: "us-east-1", env: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"}, want: "https://kinesis-fips.us-east-1.api.aws/"},
	{name: "FIPS region name and dual-stack", region: "us-east-1-fips", env: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true"}, want: "https://kinesis-fips.us-east-1.api.aws/"},
	{name: "stream ARN", region: "eu-west-1", stream: "arn:aws:kinesis:eu-west-1:123456789012:stream/events", want: "https://123456789012.data-kinesis.eu-west-1.amazonaws.com/"},
	{name: "stream ARN with FIPS", region: "us-east-1", stream: diffARN, env: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, want: "https://123456789012.data-kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "stream ARN with dual-stack", region: "us-east-1", stream: diffARN, env: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true"}, want: "https://123456789012.data-kinesis.us-east-1.api.aws/"},
	{name: "stream ARN and configured endpoint", region: "us-east-1", stream: diffARN, endpoint: "http://127.0.0.1:4568", want: "http://127.0.0.1:4568/"},
	{name: "account ID of the credentials", region: "eu-west-1", env: map[string]string{"AWS_ACCOUNT_ID": "210987654321"}, want: "https://210987654321.data-kinesis.eu-west-1.amazonaws.com/"},
	{name: "account ID with FIPS region name", region: "fips-us-east-1", env: map[string]string{"AWS_ACCOUNT_ID": "210987654321"}, want: "https://210987654321.data-kinesis-fips.us-east-1.amazonaws.com/"},
	{name: "account ID endpoints disabled", region: "eu-west-1", env: map[string]string{"AWS_ACCOUNT_ID": "210987654321", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}, want: "https://kinesis.eu-west-1.amazonaws.com/"},
	{name: "FIPS with a configured endpoint", region: "us-east-1", endpoint: "http://127.0.0.1:4568", env: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, want: ""},
	{name: "stream ARN of another region", region: "eu-west-1", stream: diffARN, want: "https://123456789012.data-kinesis.eu-west-1.amazonaws.com/"},
	{name: "stream ARN of another partition", region: "eu-west-1", stream: "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/events", want: ""},
	{name: "session token", region: "eu-west-1", env: map[string]string{"AWS_SESSION_TOKEN": "FwoGZXIvYXdzEJr//////////wEaDM+token=="}, want: "https://kinesis.eu-west-1.amazonaws.com/"},
	{name: "session token and configured endpoint", region: "us-east-1", endpoint: "http://127.0.0.1:4568", env: map[string]string{"AWS_SESSION_TOKEN": "token"}, want: "http://127.0.0.1:4568/"},
	{name: "AWS_SDK_UA_APP_ID", region: "eu-west-1", env: map[string]string{"AWS_SDK_UA_APP_ID": "genesys-prod"}, want: "https://kinesis.eu-west-1.amazonaws.com/"},
	{name: "application ID from the config file", region: "eu-west-1", configFile: "[default]\nsdk_ua_app_id = from-file\n", want: "https://kinesis.eu-west-1.amazonaws.com/"},
	{name: "in Lambda with a trace ID", region: "eu-west-1",
		env:  map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "relay", "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"},
		want: "https://kinesis.eu-west-1.amazonaws.com/"},
	{name: "everything at once", region: "us-east-1-fips", stream: diffARN,
		env:  map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true", "AWS_SESSION_TOKEN": "t", "AWS_SDK_UA_APP_ID": "app", "AWS_ACCOUNT_ID": "210987654321"},
		want: "https://123456789012.data-kinesis-fips.us-east-1.api.aws/"},
}

// setUp applies the configuration's environment on top of testx.AWSEnv.
func (c diffConfig) setUp(t *testing.T) {
	t.Helper()
	testx.AWSEnv(t, c.region)
	for _, k := range []string{"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_ACCOUNT_ID", "AWS_ACCOUNT_ID_ENDPOINT_MODE",
		"AWS_SDK_UA_APP_ID", "AWS_LAMBDA_FUNCTION_NAME", "_X_AMZN_TRACE_ID"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // set but empty is not always unset for the SDK; t.Setenv restores it
	}
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	if c.configFile != "" {
		f := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(f, []byte(c.configFile), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CONFIG_FILE", f)
	}
}

// diffInput is one PutRecords input of the matrix; exact asks for the same
// body byte for byte (where no string needs escaping: jsonx escapes U+2028 and
// invalid UTF-8 where the SDK writes them raw).
type diffInput struct {
	name  string
	in    *kinesis.PutRecordsInput
	exact bool
}

func diffInputs(stream string) []diffInput {
	simple := []types.PutRecordsRequestEntry{
		{Data: []byte("hello"), PartitionKey: aws.String("k1")},
		{Data: []byte{0, 1, 2, 0xff}, PartitionKey: aws.String("k2"), ExplicitHashKey: aws.String("170141183460469231731687303715884105728")},
		{Data: []byte{}, PartitionKey: aws.String("k3")},
	}
	main := &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: simple}
	if stream != "" {
		main = &kinesis.PutRecordsInput{StreamARN: aws.String(stream), Records: simple}
	}
	return []diffInput{
		{"main", main, true},
		{"every member", &kinesis.PutRecordsInput{DryRun: aws.Bool(true), StreamId: aws.String("id"), StreamName: aws.String("s"), StreamARN: main.StreamARN, Records: simple}, true},
		{"no partition key", &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: []types.PutRecordsRequestEntry{{Data: []byte("x")}}}, true},
		{"escaping and binary", &kinesis.PutRecordsInput{StreamName: aws.String(`we"ird`), Records: trickyEntries()}, false},
		{"invalid UTF-8", &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: []types.PutRecordsRequestEntry{{Data: []byte("\xff"), PartitionKey: aws.String("a\xffb\xc3")}}}, false},
	}
}

// diffClients builds the SDK client as serve does (NewClient), with its
// connections going to srv, and the direct client from it; d is nil when
// NewDirect refused, with the error.
func diffClients(t *testing.T, srv *recordingServer, endpoint string) (*kinesis.Client, *Direct, error) {
	t.Helper()
	sdk, err := NewClient(context.Background(), "", endpoint, config.WithHTTPClient(srv.httpClient()), config.WithLogger(logging.Nop{}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDirect(sdk)
	return sdk, d, err
}

// TestDirectMatchesSDK is the differential test: for every configuration of
// diffConfigs and every input of diffInputs, the SDK client and the direct
// client make the same call to the recording server, and the requests must
// have the same host and TLS server name, the same headers (values too, but
// for the date, the invocation ID and the User-Agent, compared by form), the
// same signed headers and credential scope, signatures that the SDK's own
// v4.Signer reproduces from the request and that an independent verifier
// accepts, bodies that decode to the same JSON (byte for byte where nothing
// needs escaping) with the input's data, and the same results. Where the SDK
// cannot resolve an endpoint, neither client sends anything and both say why.
func TestDirectMatchesSDK(t *testing.T) {
	srv := newRecordingServer(t)
	for _, c := range diffConfigs {
		t.Run(c.name, func(t *testing.T) {
			c.setUp(t)
			sdk, d, derr := diffClients(t, srv, c.endpoint)
			for _, in := range diffInputs(c.stream) {
				t.Run(in.name, func(t *testing.T) {
					sdkOut, sdkErr := sdk.PutRecords(context.Background(), in.in)
					sdkReq := srv.take(t)
					directErr := derr
					var directReq *recordedRequest
					var directOut *kinesis.PutRecordsOutput
					if d != nil {
						directOut, directErr = d.PutRecords(context.Background(), in.in)
						directReq = srv.take(t)
					}
					if sdkReq == nil {
						// Not sent: the SDK could not resolve an endpoint.
						if directReq != nil {
							t.Fatalf("direct client sent to %s; the SDK sent nothing (%v)", directReq.url(), sdkErr)
						}
						if sdkErr == nil || directErr == nil || !strings.Contains(sdkErr.Error(), "resolve") || !strings.Contains(directErr.Error(), "resolve") {
							t.Fatalf("want endpoint resolution errors: SDK %v, direct %v", sdkErr, directErr)
						}
						if in.name == "main" && c.want != "" {
							t.Errorf("the SDK sent nothing (%v), want a call to %s", sdkErr, c.want)
						}
						return
					}
					if in.name == "main" && sdkReq.url() != c.want {
						t.Errorf("SDK sent to %s, want %s", sdkReq.url(), c.want)
					}
					if directReq == nil {
						t.Fatalf("direct client sent nothing (%v); the SDK sent to %s", directErr, sdkReq.url())
					}
					if sdkErr != nil || directErr != nil {
						t.Fatalf("errors: SDK %v, direct %v", sdkErr, directErr)
					}
					sameRequest(t, sdkReq, directReq, in)
					sameOutput(t, sdkOut, directOut)
				})
			}
		})
	}
}

// uuidRE matches the version 4 UUIDs of amz-sdk-invocation-id.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// sameRequest asserts that the direct client's request is the SDK's.
func sameRequest(t *testing.T, sdkReq, directReq *recordedRequest, in diffInput) {
	t.Helper()
	if sdkReq.method != directReq.method || sdkReq.url() != directReq.url() || sdkReq.sni != directReq.sni {
		t.Errorf("sent to %s %s (TLS name %q), the SDK to %s %s (TLS name %q)",
			directReq.method, directReq.url(), directReq.sni, sdkReq.method, sdkReq.url(), sdkReq.sni)
	}
	if sdkReq.tls && sdkReq.sni != hostOnly(sdkReq.host) {
		t.Errorf("TLS server name %q for host %q", sdkReq.sni, sdkReq.host)
	}
	names := func(h http.Header) []string {
		var n []string
		for k := range h {
			n = append(n, k)
		}
		slices.Sort(n)
		return n
	}
	if a, b := names(sdkReq.header), names(directReq.header); !slices.Equal(a, b) {
		t.Errorf("headers\n   SDK %v\ndirect %v", a, b)
	}
	for k, sv := range sdkReq.header {
		dv := directReq.header.Values(k)
		switch k {
		case "Authorization", "X-Amz-Date": // below
		case "Amz-Sdk-Invocation-Id":
			if len(sv) != 1 || len(dv) != 1 || !uuidRE.MatchString(sv[0]) || !uuidRE.MatchString(dv[0]) {
				t.Errorf("%s: SDK %q, direct %q", k, sv, dv)
			}
		case "User-Agent":
			sameUserAgent(t, sv, dv)
		case "Content-Length": // of bodies that may differ in escaping; compared below
			if !slices.Equal(sv, []string{strconv.Itoa(len(sdkReq.body))}) || !slices.Equal(dv, []string{strconv.Itoa(len(directReq.body))}) {
				t.Errorf("%s: SDK %q for %d bytes, direct %q for %d", k, sv, len(sdkReq.body), dv, len(directReq.body))
			}
		default:
			if !slices.Equal(sv, dv) {
				t.Errorf("%s: SDK %q, direct %q", k, sv, dv)
			}
		}
	}
	sa, da := parseAuthorization(t, sdkReq), parseAuthorization(t, directReq)
	if sa.scope != da.scope || sa.signedHeaders != da.signedHeaders || sa.accessKey != da.accessKey {
		t.Errorf("credential scope and signed headers\n   SDK %s %s %s\ndirect %s %s %s",
			sa.accessKey, sa.scope, sa.signedHeaders, da.accessKey, da.scope, da.signedHeaders)
	}
	for who, r := range map[string]*recordedRequest{"SDK": sdkReq, "direct": directReq} {
		if err := resign(r); err != nil {
			t.Errorf("%s request: %v", who, err)
		}
		a := parseAuthorization(t, r)
		required := []string{"content-length", "content-type", "x-amz-target", "amz-sdk-invocation-id", "amz-sdk-request"}
		if r.header.Get("X-Amz-Security-Token") != "" {
			required = append(required, "x-amz-security-token")
		}
		v := &sigV4Verifier{accessKey: a.accessKey, secret: os.Getenv("AWS_SECRET_ACCESS_KEY"), region: a.region, service: a.service,
			now: time.Now, required: required}
		if err := v.verify(r.httpRequest(), r.body); err != nil {
			t.Errorf("%s request refused by the independent verifier: %v", who, err)
		}
	}

	var sb, db any
	if err := json.Unmarshal(directReq.body, &db); err != nil {
		t.Fatalf("direct body is not JSON: %v\n%s", err, directReq.body)
	}
	if err := json.Unmarshal(sdkReq.body, &sb); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sb, db) {
		t.Errorf("bodies decode differently\n   SDK %s\ndirect %s", sdkReq.body, directReq.body)
	}
	if in.exact && !bytes.Equal(sdkReq.body, directReq.body) {
		t.Errorf("body\n   SDK %s\ndirect %s", sdkReq.body, directReq.body)
	}
	// And the data is what was given, byte for byte.
	var req struct {
		Records []struct {
			Data         []byte
			PartitionKey *string
		}
	}
	if err := json.Unmarshal(directReq.body, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Records) != len(in.in.Records) {
		t.Fatalf("%d records sent, %d given", len(req.Records), len(in.in.Records))
	}
	for i, r := range req.Records {
		if !bytes.Equal(r.Data, in.in.Records[i].Data) {
			t.Errorf("record %d: data %x, want %x", i, r.Data, in.in.Records[i].Data)
		}
		if k := in.in.Records[i].PartitionKey; k != nil && strings.ToValidUTF8(*k, "\ufffd") != aws.ToString(r.PartitionKey) {
			t.Errorf("record %d: partition key %q, want %q", i, aws.ToString(r.PartitionKey), *k)
		}
	}
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// sameUserAgent compares the User-Agents by form: the same SDK, agent
// version, OS, language and API, and the same application ID (app/), if any.
func sameUserAgent(t *testing.T, sdkUA, directUA []string) {
	t.Helper()
	if len(sdkUA) != 1 || len(directUA) != 1 {
		t.Errorf("User-Agent: SDK %q, direct %q", sdkUA, directUA)
		return
	}
	pick := func(ua string) (fixed []string, api, app string) {
		for _, tok := range strings.Fields(ua) {
			switch {
			case strings.HasPrefix(tok, "aws-sdk-go-v2/"), strings.HasPrefix(tok, "ua/"), strings.HasPrefix(tok, "os/"),
				strings.HasPrefix(tok, "lang/"), strings.HasPrefix(tok, "md/GOOS#"), strings.HasPrefix(tok, "md/GOARCH#"):
				fixed = append(fixed, tok)
			case strings.HasPrefix(tok, "api/"):
				api, _, _ = strings.Cut(tok, "#")
			case strings.HasPrefix(tok, "app/"):
				app = tok
			}
		}
		return fixed, api, app
	}
	sf, sapi, sapp := pick(sdkUA[0])
	df, dapi, dapp := pick(directUA[0])
	if !slices.Equal(sf, df) || sapi != dapi || sapp != dapp || sapi != "api/kinesis" {
		t.Errorf("User-Agent\n   SDK %s\ndirect %s", sdkUA[0], directUA[0])
	}
	if want := os.Getenv("AWS_SDK_UA_APP_ID"); want != "" && sapp != "app/"+want {
		t.Errorf("User-Agent %s: no app/%s", sdkUA[0], want)
	}
}

// authorization is the parsed Authorization header of a SigV4 request.
type authorization struct {
	accessKey, scope, region, service, signedHeaders string
}

func parseAuthorization(t *testing.T, r *recordedRequest) authorization {
	t.Helper()
	m := authRE.FindStringSubmatch(r.header.Get("Authorization"))
	if m == nil {
		t.Fatalf("Authorization %q", r.header.Get("Authorization"))
	}
	return authorization{accessKey: m[1], scope: m[3] + "/" + m[4], region: m[3], service: m[4], signedHeaders: m[5]}
}

// httpRequest rebuilds the request as an http.Request, headers as they arrived.
func (r *recordedRequest) httpRequest() *http.Request {
	u, err := url.Parse(r.url())
	if err != nil {
		panic(err)
	}
	return &http.Request{Method: r.method, URL: u, Host: r.host, Header: r.header.Clone(), ContentLength: int64(len(r.body)),
		Body: io.NopCloser(bytes.NewReader(r.body))}
}

// resign signs the recorded request again with the SDK's own v4.Signer, with
// the test's credentials, the time of its X-Amz-Date and the scope it names,
// and its signed headers as they arrived, and reports whether the signature
// is the one it carries.
func resign(r *recordedRequest) error {
	m := authRE.FindStringSubmatch(r.header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("Authorization %q", r.header.Get("Authorization"))
	}
	at, err := time.Parse("20060102T150405Z", r.header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signed at %s, %s from now", at, d)
	}
	req := r.httpRequest()
	req.Header = http.Header{}
	for _, name := range strings.Split(m[5], ";") {
		switch name {
		case "host", "x-amz-date", "x-amz-security-token": // the signer sets them
		default:
			for _, v := range r.header.Values(name) {
				req.Header.Add(name, v)
			}
		}
	}
	sum := sha256.Sum256(r.body)
	creds := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), m[4], m[3], at); err != nil {
		return err
	}
	if got, want := req.Header.Get("Authorization"), r.header.Get("Authorization"); got != want {
		return fmt.Errorf("the SDK's signer signs it\n%s\nbut it carries\n%s", got, want)
	}
	if tok := r.header.Get("X-Amz-Security-Token"); tok != creds.SessionToken {
		return fmt.Errorf("X-Amz-Security-Token %q, the credentials' %q", tok, creds.SessionToken)
	}
	return nil
}

// TestInvocationID: the direct client's amz-sdk-invocation-id values are
// version 4 UUIDs, as the SDK's, and differ per call.
func TestInvocationID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := invocationID()
		if !uuidRE.MatchString(id) || seen[id] {
			t.Fatalf("invocation ID %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
