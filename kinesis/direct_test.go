package kinesis

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// bothClients returns the SDK client built by NewClient for endpoint and the
// direct client built from it.
func bothClients(t *testing.T, endpoint string) (*kinesis.Client, *Direct) {
	t.Helper()
	sdk, err := NewClient(context.Background(), "", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDirect(sdk)
	if err != nil {
		t.Fatal(err)
	}
	return sdk, d
}

// trickyEntries are records whose keys need JSON escaping and whose data is
// binary, with and without explicit hash keys.
func trickyEntries() []types.PutRecordsRequestEntry {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	rnd := make([]byte, 3001)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	keys := []string{"plain", `quote"d`, `back\slash`, "tab\tnew\nline\rcr", "ctl\x00\x01\x1f\x7f", "ünïcödé ✓ 𝄞", "line\u2028sep\u2029", "</script>&<", strings.Repeat("k", 256)}
	var out []types.PutRecordsRequestEntry
	for i, k := range keys {
		e := types.PutRecordsRequestEntry{PartitionKey: aws.String(k)}
		switch i % 3 {
		case 0:
			e.Data = all
		case 1:
			e.Data = rnd[:i*333+1]
		default:
			e.Data = []byte(`{"json":"with \"quotes\" and \\ and é"}`)
		}
		if i%4 == 1 {
			e.ExplicitHashKey = aws.String(fmt.Sprint(i * 12345678901234567))
		}
		out = append(out, e)
	}
	return out
}

// sigV4Verifier checks SigV4 header signatures without the SDK: it rebuilds
// the canonical request from what arrived on the wire.
type sigV4Verifier struct {
	accessKey, secret, region, service string
	now                                func() time.Time
	// headers that must be signed besides host and x-amz-date
	required []string
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func (v *sigV4Verifier) verify(r *http.Request, body []byte) error {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("malformed Authorization %q", r.Header.Get("Authorization"))
	}
	akid, day, region, service, signedHeaders, sig := m[1], m[2], m[3], m[4], m[5], m[6]
	if akid != v.accessKey || region != v.region || service != v.service {
		return fmt.Errorf("credential scope %s/%s/%s, want %s/%s/%s", akid, region, service, v.accessKey, v.region, v.service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q: %v", amzDate, err)
	}
	if amzDate[:8] != day {
		return fmt.Errorf("scope date %s does not match X-Amz-Date %s", day, amzDate)
	}
	if d := v.now().Sub(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signed at %s, %s away from now", at, d)
	}
	names := strings.Split(signedHeaders, ";")
	if !slices.IsSorted(names) {
		return fmt.Errorf("SignedHeaders %q not sorted", signedHeaders)
	}
	for _, h := range append([]string{"host", "x-amz-date"}, v.required...) {
		if !slices.Contains(names, h) {
			return fmt.Errorf("header %s not signed (%s)", h, signedHeaders)
		}
	}
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") && !slices.Contains(names, lk) {
			return fmt.Errorf("header %s sent but not signed", k)
		}
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + r.URL.EscapedPath() + "\n" + r.URL.RawQuery + "\n")
	for _, name := range names {
		var vals []string
		if name == "host" {
			vals = []string{r.Host}
		} else {
			vals = r.Header.Values(name)
			if len(vals) == 0 {
				return fmt.Errorf("signed header %s missing", name)
			}
		}
		for i, val := range vals {
			vals[i] = strings.Join(strings.Fields(val), " ")
		}
		canon.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	payload := sha256.Sum256(body)
	canon.WriteString("\n" + signedHeaders + "\n" + hex.EncodeToString(payload[:]))
	creq := sha256.Sum256([]byte(canon.String()))
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	key := hmacSHA256([]byte("AWS4"+v.secret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fmt.Errorf("signature mismatch\ncanonical request:\n%s", canon.String())
	}
	return nil
}

// TestSigV4VerifierKnownAnswer checks the test's verifier against the
// "get-vanilla" case of AWS's SigV4 test suite, so that it cannot simply agree
// with whatever the signer does.
func TestSigV4VerifierKnownAnswer(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	v := &sigV4Verifier{accessKey: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "service",
		now: func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) }}
	if err := v.verify(r, nil); err != nil {
		t.Fatalf("known-good request rejected: %v", err)
	}
	if err := v.verify(r, []byte("x")); err == nil {
		t.Error("a different body was accepted")
	}
	v.secret = "wrong"
	if err := v.verify(r, nil); err == nil {
		t.Error("a wrong secret was accepted")
	}
}

// TestDirectSignature has a loopback server verify every request of the
// direct client with the independent verifier above, with and without a
// session token, and shows that a request changed after signing is refused.
func TestDirectSignature(t *testing.T) {
	for _, token := range []string{"", "session-token-value"} {
		t.Run(fmt.Sprintf("token=%v", token != ""), func(t *testing.T) {
			testx.AWSEnv(t, "eu-west-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret/with+chars")
			t.Setenv("AWS_SESSION_TOKEN", token)
			required := []string{"content-length", "content-type", "x-amz-target"}
			if token != "" {
				required = append(required, "x-amz-security-token")
			}
			v := &sigV4Verifier{accessKey: "AKIDTEST", secret: "secret/with+chars", region: "eu-west-1", service: "kinesis", now: time.Now, required: required}
			var tamper atomic.Bool
			var verified, refused atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if tamper.Load() {
					body = append(body[:len(body)-1:len(body)-1], ' ', '}')
				}
				if token != "" && r.Header.Get("X-Amz-Security-Token") != token {
					t.Errorf("X-Amz-Security-Token %q", r.Header.Get("X-Amz-Security-Token"))
				}
				w.Header().Set("Content-Type", jsonContentType)
				if err := v.verify(r, body); err != nil {
					refused.Add(1)
					if !tamper.Load() {
						t.Errorf("signature refused: %v", err)
					}
					w.WriteHeader(400)
					io.WriteString(w, `{"__type":"InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided."}`)
					return
				}
				verified.Add(1)
				io.WriteString(w, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`)
			}))
			defer srv.Close()
			sdk, d := bothClients(t, srv.URL+"/")
			in := &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: trickyEntries()[:1]}
			// The SDK client passes the same verifier: it checks the protocol, not
			// one implementation.
			if _, err := sdk.PutRecords(context.Background(), in); err != nil {
				t.Fatalf("SDK client: %v", err)
			}
			for range 3 {
				if _, err := d.PutRecords(context.Background(), in); err != nil {
					t.Fatalf("direct client: %v", err)
				}
			}
			if verified.Load() != 4 {
				t.Errorf("%d requests verified, want 4", verified.Load())
			}
			tamper.Store(true)
			_, err := d.PutRecords(context.Background(), in)
			if errorCode(err) != "InvalidSignatureException" || classify(err) != classUnavailable || refused.Load() != 1 {
				t.Errorf("tampered body: %v (refused %d)", err, refused.Load())
			}
		})
	}
}

// TestDirectClockSkew checks that, like the SDK, the client signs at the
// server's time as its Date header shows it.
func TestDirectClockSkew(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	const ahead = 2 * time.Hour
	var mu sync.Mutex
	var signed []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		mu.Lock()
		signed = append(signed, at)
		mu.Unlock()
		w.Header().Set("Date", time.Now().Add(ahead).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", jsonContentType)
		io.WriteString(w, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"s"}]}`)
	}))
	defer srv.Close()
	_, d := bothClients(t, srv.URL)
	in := &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: trickyEntries()[:1]}
	for range 2 {
		if _, err := d.PutRecords(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if d := now.Sub(signed[0]); d < -time.Minute || d > time.Minute {
		t.Errorf("first request signed at %s, now is %s", signed[0], now)
	}
	if d := now.Add(ahead).Sub(signed[1]); d < -time.Minute || d > time.Minute {
		t.Errorf("second request signed at %s, want about %s", signed[1], now.Add(ahead))
	}
}

// requestIDRE matches the request IDs kinesistest numbers per answer.
var requestIDRE = regexp.MustCompile(`RequestID: kinesistest-\d+`)

// sameFailure asserts that the two clients' errors for the same fault are
// treated alike by the writer: class, code, network, context, operator
// explanation, status, and (request IDs aside) the logged text.
func sameFailure(t *testing.T, sdkErr, directErr error) {
	t.Helper()
	if (sdkErr == nil) != (directErr == nil) {
		t.Fatalf("SDK error %v, direct error %v", sdkErr, directErr)
	}
	if sdkErr == nil {
		return
	}
	if a, b := classify(sdkErr), classify(directErr); a != b {
		t.Errorf("class: SDK %v, direct %v", a, b)
	}
	if a, b := errorCode(sdkErr), errorCode(directErr); a != b {
		t.Errorf("code: SDK %q, direct %q", a, b)
	}
	if a, b := isNetwork(sdkErr), isNetwork(directErr); a != b {
		t.Errorf("isNetwork: SDK %v, direct %v", a, b)
	}
	if a, b := isCredentials(sdkErr), isCredentials(directErr); a != b {
		t.Errorf("isCredentials: SDK %v, direct %v", a, b)
	}
	for _, target := range []error{context.DeadlineExceeded, context.Canceled} {
		if a, b := errors.Is(sdkErr, target), errors.Is(directErr, target); a != b {
			t.Errorf("errors.Is(%v): SDK %v, direct %v", target, a, b)
		}
	}
	if a, b := explain(sdkErr, "events"), explain(directErr, "events"); a != b {
		t.Errorf("explain: SDK %q, direct %q", a, b)
	}
	status := func(err error) int {
		var hs interface{ HTTPStatusCode() int }
		if errors.As(err, &hs) {
			return hs.HTTPStatusCode()
		}
		return -1
	}
	if a, b := status(sdkErr), status(directErr); a != b {
		t.Errorf("status: SDK %d, direct %d", a, b)
	}
	a := requestIDRE.ReplaceAllString(sdkErr.Error(), "RequestID: X")
	b := requestIDRE.ReplaceAllString(directErr.Error(), "RequestID: X")
	// Below a DeserializationError the words are the decoder's own.
	if i := strings.Index(a, "deserialization failed"); i >= 0 {
		a = a[:i]
		b = b[:min(i, len(b))]
	}
	if a != b {
		t.Errorf("message:\n   SDK %s\ndirect %s", a, b)
	}
	if a, b := errorChain(sdkErr), errorChain(directErr); !slices.Equal(a, b) {
		t.Errorf("wrapped types:\n   SDK %v\ndirect %v", a, b)
	}
}

// errorChain is the type of each error err wraps, err first, down to the
// first that wraps nothing, several errors, or the decoder's own error (what
// a DeserializationError wraps).
func errorChain(err error) []string {
	var chain []string
	for err != nil {
		chain = append(chain, reflect.TypeOf(err).String())
		if _, ok := err.(*smithy.DeserializationError); ok {
			break
		}
		err = errors.Unwrap(err)
	}
	return chain
}

// sameOutput asserts equal per-record results; sequence numbers only have to
// be present in the same places (the server numbers on).
func sameOutput(t *testing.T, sdkOut, directOut *kinesis.PutRecordsOutput) {
	t.Helper()
	if sdkOut == nil || directOut == nil {
		if sdkOut != directOut {
			t.Fatalf("outputs: SDK %v, direct %v", sdkOut, directOut)
		}
		return
	}
	if aws.ToInt32(sdkOut.FailedRecordCount) != aws.ToInt32(directOut.FailedRecordCount) || sdkOut.EncryptionType != directOut.EncryptionType {
		t.Errorf("FailedRecordCount/EncryptionType: SDK %d/%s, direct %d/%s", aws.ToInt32(sdkOut.FailedRecordCount), sdkOut.EncryptionType,
			aws.ToInt32(directOut.FailedRecordCount), directOut.EncryptionType)
	}
	if len(sdkOut.Records) != len(directOut.Records) {
		t.Fatalf("%d results from the SDK, %d direct", len(sdkOut.Records), len(directOut.Records))
	}
	for i := range sdkOut.Records {
		a, b := sdkOut.Records[i], directOut.Records[i]
		if aws.ToString(a.ErrorCode) != aws.ToString(b.ErrorCode) || aws.ToString(a.ErrorMessage) != aws.ToString(b.ErrorMessage) ||
			aws.ToString(a.ShardId) != aws.ToString(b.ShardId) || (a.SequenceNumber == nil) != (b.SequenceNumber == nil) {
			t.Errorf("record %d: SDK %+v, direct %+v", i, a, b)
		}
	}
}

// TestDirectFaultsMatchSDK runs the SDK client and the direct client against
// the same fault-injecting server and asserts that every failure is the same
// to the writer.
func TestDirectFaultsMatchSDK(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"events"}, ShardsPerStream: 4, Seed: 7, MaxRequestBytes: 1 << 20})
	defer srv.Close()
	sdk, d := bothClients(t, srv.URL())
	recs := make([]types.PutRecordsRequestEntry, 64)
	for i := range recs {
		recs[i] = types.PutRecordsRequestEntry{Data: bytes.Repeat([]byte{byte(i)}, 100), PartitionKey: aws.String(fmt.Sprint("key-", i))}
	}
	input := func(mod func(*kinesis.PutRecordsInput)) *kinesis.PutRecordsInput {
		in := &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: recs}
		if mod != nil {
			mod(in)
		}
		return in
	}
	for _, tc := range []struct {
		name    string
		faults  kinesistest.Faults
		in      *kinesis.PutRecordsInput
		timeout time.Duration
		class   class // expected for the whole call (when it fails)
		fails   bool
	}{
		{name: "all accepted", in: input(nil)},
		{name: "every record throttled", faults: kinesistest.Faults{RecordThrottleRate: 1}, in: input(nil)},
		{name: "some records throttled or failed", faults: kinesistest.Faults{RecordThrottleRate: 0.3, RecordInternalFailureRate: 0.2}, in: input(nil)},
		{name: "500 InternalFailure", faults: kinesistest.Faults{InternalFailureRate: 1}, in: input(nil), fails: true, class: classRetry},
		{name: "503 ServiceUnavailable", faults: kinesistest.Faults{ServiceUnavailableRate: 1}, in: input(nil), fails: true, class: classRetry},
		{name: "400 throttled call", faults: kinesistest.Faults{ThrottleRate: 1}, in: input(nil), fails: true, class: classThrottle},
		{name: "400 stream not found", in: input(func(in *kinesis.PutRecordsInput) { in.StreamName = aws.String("missing") }), fails: true, class: classUnavailable},
		{name: "400 stream ARN not found", in: input(func(in *kinesis.PutRecordsInput) {
			in.StreamName, in.StreamARN = nil, aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/missing")
		}), fails: true, class: classUnavailable},
		{name: "400 validation", in: input(func(in *kinesis.PutRecordsInput) {
			in.Records = []types.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String(strings.Repeat("k", 257))}}
		}), fails: true, class: classInvalid},
		{name: "400 request too large", in: input(func(in *kinesis.PutRecordsInput) {
			in.Records = []types.PutRecordsRequestEntry{{Data: make([]byte, 600<<10), PartitionKey: aws.String("a")}, {Data: make([]byte, 600<<10), PartitionKey: aws.String("b")}}
		}), fails: true, class: classInvalid},
		{name: "client-side validation", in: input(func(in *kinesis.PutRecordsInput) {
			in.Records = []types.PutRecordsRequestEntry{{Data: []byte("x")}, {PartitionKey: aws.String("k")}}
		}), fails: true, class: classRetry},
		{name: "hang until the deadline", faults: kinesistest.Faults{HangRate: 1}, in: input(nil), timeout: 200 * time.Millisecond, fails: true, class: classRetry},
		{name: "connection dropped after the write", faults: kinesistest.Faults{DropResponseRate: 1}, in: input(nil), fails: true, class: classRetry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetFaults(tc.faults)
			call := func(api PutRecordsAPI) (*kinesis.PutRecordsOutput, error) {
				srv.Reset() // the same fault draws for both clients
				ctx := context.Background()
				if tc.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				return api.PutRecords(ctx, tc.in)
			}
			sdkOut, sdkErr := call(sdk)
			directOut, directErr := call(d)
			sameFailure(t, sdkErr, directErr)
			sameOutput(t, sdkOut, directOut)
			if tc.fails != (directErr != nil) {
				t.Fatalf("direct error %v, want failure %v", directErr, tc.fails)
			}
			if tc.fails && classify(directErr) != tc.class {
				t.Errorf("class %v, want %v (%v)", classify(directErr), tc.class, directErr)
			}
		})
	}
	srv.SetFaults(kinesistest.Faults{})

	t.Run("canceled before the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, sdkErr := sdk.PutRecords(ctx, input(nil))
		_, directErr := d.PutRecords(ctx, input(nil))
		sameFailure(t, sdkErr, directErr)
		if classify(directErr) != classCanceled {
			t.Errorf("class %v", classify(directErr))
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String()
		l.Close()
		sdk, d := bothClients(t, url)
		_, sdkErr := sdk.PutRecords(context.Background(), input(nil))
		_, directErr := d.PutRecords(context.Background(), input(nil))
		sameFailure(t, sdkErr, directErr)
		if !isNetwork(directErr) {
			t.Errorf("not a network error: %v", directErr)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		sdk, d := bothClients(t, srv.URL())
		_, sdkErr := sdk.PutRecords(context.Background(), input(nil))
		_, directErr := d.PutRecords(context.Background(), input(nil))
		sameFailure(t, sdkErr, directErr)
		if classify(directErr) != classUnavailable {
			t.Errorf("class %v (%v)", classify(directErr), directErr)
		}
	})
}

// TestModeledErrorsCoverTypeRegistry fails when the SDK models a Kinesis error
// that modeledError does not return as the SDK's type.
func TestModeledErrorsCoverTypeRegistry(t *testing.T) {
	n := 0
	for id, entry := range kinesis.TypeRegistry.Entries {
		want, ok := entry.New().(smithy.APIError)
		if !ok {
			continue
		}
		n++
		code := id[strings.IndexByte(id, '#')+1:]
		got := modeledError(code, aws.String("m"))
		if reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s: modeledError gives %T, the SDK %T", code, got, want)
			continue
		}
		if got.ErrorCode() != code || got.ErrorMessage() != "m" {
			t.Errorf("%s: code %q message %q", code, got.ErrorCode(), got.ErrorMessage())
		}
	}
	if n < 10 {
		t.Errorf("only %d modelled errors in the SDK's registry", n)
	}
}

// TestDirectConcurrentCalls sends many calls at once (so request and answer
// buffers are reused across goroutines) and checks everything stored, with
// its data, exactly once. Run with -race.
func TestDirectConcurrentCalls(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"events"}, ShardsPerStream: 2})
	defer srv.Close()
	_, d := bothClients(t, srv.URL())
	const goroutines, calls, per = 8, 20, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for c := range calls {
				recs := make([]types.PutRecordsRequestEntry, per)
				for i := range recs {
					recs[i] = types.PutRecordsRequestEntry{
						Data:         []byte(strings.Repeat(fmt.Sprintf("%d/%d/%d;", g, c, i), 1+i*7)),
						PartitionKey: aws.String(fmt.Sprintf("pk-%d-%d", g, i)),
					}
				}
				out, err := d.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: recs})
				if err != nil {
					t.Error(err)
					return
				}
				if len(out.Records) != per || aws.ToInt32(out.FailedRecordCount) != 0 {
					t.Errorf("%d results, %d failed", len(out.Records), aws.ToInt32(out.FailedRecordCount))
				}
				for _, r := range out.Records {
					if r.SequenceNumber == nil || r.ShardId == nil {
						t.Errorf("result %+v", r)
					}
				}
			}
		})
	}
	wg.Wait()
	stored := map[string]string{}
	for _, r := range srv.Records() {
		if _, dup := stored[string(r.Data)]; dup {
			t.Errorf("stored twice: %.40s", r.Data)
		}
		stored[string(r.Data)] = r.PartitionKey
	}
	for g := range goroutines {
		for c := range calls {
			for i := range per {
				data := strings.Repeat(fmt.Sprintf("%d/%d/%d;", g, c, i), 1+i*7)
				if pk, ok := stored[data]; !ok || pk != fmt.Sprintf("pk-%d-%d", g, i) {
					t.Fatalf("record %d/%d/%d: stored %v with key %q", g, c, i, ok, pk)
				}
			}
		}
	}
}

// TestDirectAgainstEmulator writes through the direct client to kinesis-local
// and reads the records back with the SDK: data byte for byte, partition keys
// that need escaping, by stream name and by ARN.
func TestDirectAgainstEmulator(t *testing.T) {
	endpoint := testx.KinesisEndpoint(t)
	admin := testx.KinesisClient(endpoint)
	stream := testx.NewStream(t, admin, 2)
	sdk, err := NewClient(context.Background(), "us-east-1", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDirect(sdk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc, err := admin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}

	type sent struct {
		key  string
		data []byte
	}
	var want []sent
	put := func(in *kinesis.PutRecordsInput) {
		t.Helper()
		out, err := d.PutRecords(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != len(in.Records) {
			t.Fatalf("%d of %d failed, %d results", aws.ToInt32(out.FailedRecordCount), len(in.Records), len(out.Records))
		}
		for i, r := range out.Records {
			if aws.ToString(r.SequenceNumber) == "" || !strings.HasPrefix(aws.ToString(r.ShardId), "shardId-") {
				t.Errorf("result %d: %+v", i, r)
			}
			want = append(want, sent{*in.Records[i].PartitionKey, in.Records[i].Data})
		}
	}
	recs := trickyEntries()
	put(&kinesis.PutRecordsInput{StreamName: &stream, Records: recs})
	byARN := []types.PutRecordsRequestEntry{{Data: []byte("by ARN \x00\xff"), PartitionKey: aws.String("arn-key/ü")}}
	put(&kinesis.PutRecordsInput{StreamARN: desc.StreamDescriptionSummary.StreamARN, Records: byARN})

	got, err := testx.ReadAll(ctx, admin, stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, wrote %d", len(got), len(want))
	}
	// Order across shards is not kept: match by partition key.
	sort.Slice(want, func(i, j int) bool { return want[i].key < want[j].key })
	sort.Slice(got, func(i, j int) bool { return got[i].PartitionKey < got[j].PartitionKey })
	for i := range want {
		if got[i].PartitionKey != want[i].key || !bytes.Equal(got[i].Data, want[i].data) {
			t.Errorf("record %d: read key %q data %.60x, wrote key %q data %.60x", i, got[i].PartitionKey, got[i].Data, want[i].key, want[i].data)
		}
	}
}

// TestDirectEndpointProbe: NewDirect learns the endpoint parameters without
// retrieving credentials (which may mean a call to STS or IMDS), and refuses a
// client whose endpoint a deprecated v1 resolver chooses, which the SDK client
// then serves.
func TestDirectEndpointProbe(t *testing.T) {
	testx.AWSEnv(t, "eu-west-1")
	sdk, err := NewClient(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var retrieved atomic.Int64
	counting := kinesis.New(sdk.Options(), func(o *kinesis.Options) {
		o.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			retrieved.Add(1)
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		}))
	})
	if _, err := NewDirect(counting); err != nil {
		t.Fatal(err)
	}
	if n := retrieved.Load(); n != 0 {
		t.Errorf("NewDirect retrieved credentials %d times", n)
	}

	legacy := kinesis.New(sdk.Options(), func(o *kinesis.Options) {
		//lint:ignore SA1019 a client configured with the deprecated resolver is what this checks
		o.EndpointResolver = kinesis.EndpointResolverFromURL("http://127.0.0.1:1")
	})
	if _, err := NewDirect(legacy); !errors.Is(err, ErrDirectUnsupported) {
		t.Errorf("v1 endpoint resolver: %v, want ErrDirectUnsupported", err)
	}
}
