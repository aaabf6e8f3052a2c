package httpin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/testx"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// handlerFunc is a fake relay.Handler.
type handlerFunc func(ctx context.Context, raw []byte) (relay.Result, error)

func (f handlerFunc) Handle(ctx context.Context, raw []byte) (relay.Result, error) {
	return f(ctx, raw)
}

// countingHandler answers every event with res, err and counts the calls.
type countingHandler struct {
	calls atomic.Int32
	res   relay.Result
	err   error
}

func (h *countingHandler) Handle(context.Context, []byte) (relay.Result, error) {
	h.calls.Add(1)
	return h.res, h.err
}

var forwarded = relay.Result{ID: "e-1", Decision: relay.Forward, Reason: "passed_all_filters",
	Record: relay.Record{PartitionKey: "9f1c2d3e4f5a6b7c"}}

func defaultOptions() Options {
	return Options{MaxBodyBytes: 1 << 20, RequestTimeout: 4 * time.Second, MaxInFlight: 16}
}

// testServer is a Server with a handler on "/" listening on loopback.
type testServer struct {
	URL      string
	Listener net.Listener
}

// serve starts the handler on a loopback server.
func serve(t *testing.T, h relay.Handler, opts Options) (*testServer, *Handler) {
	t.Helper()
	hd := New(h, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(hd, ServerOptions{Path: "/"})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{URL: "http://" + ln.Addr().String() + "/", Listener: ln}, hd
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request with the given body and headers and reads the whole answer.
func do(t *testing.T, method, url string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func post(t *testing.T, url, body string) response {
	t.Helper()
	return do(t, http.MethodPost, url, strings.NewReader(body), nil)
}

// rawPost posts body (in one chunk when chunked) on a connection of its own and
// returns the answer as sent: unlike net/http's client, it reports Connection:
// close only when the answer says so. The body is written while the answer is
// read, and may be cut short by the server.
func rawPost(t *testing.T, addr, body string, chunked bool) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		if chunked {
			_, _ = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
			return
		}
		_, _ = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (r response) check(t *testing.T, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

// examplePipeline is the real pipeline with the shipped seed example.
func examplePipeline(t *testing.T, sink relay.Sink) relay.Handler {
	t.Helper()
	cfg, err := config.Parse(mustRead(t, filepath.Join("..", "examples", "relay.yaml")), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.NewRelay(p, sink, nil, nil).Input("http")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleEvent reads one of the example's sample events.
func sampleEvent(t *testing.T, name string) string {
	t.Helper()
	return string(mustRead(t, filepath.Join("..", "examples", "testdata", name)))
}

// TestContract sends events through the real pipeline and checks each row of the
// HTTP contract: status and body.
func TestContract(t *testing.T) {
	const ok = `"version":"0","id":"e-1","detail-type":"Genesys Cloud Interaction Event","source":"genesys.cloud","region":"us-east-1"`
	forwardEvent := sampleEvent(t, "seed-forward-no-queue.json")
	for _, tc := range []struct {
		name    string
		body    string
		sinkErr error
		status  int
		want    string
	}{
		{"forwarded", forwardEvent, nil, 200,
			`{"status":"forwarded","partition_key":"b104cbe3b13be646"}` + "\n"},
		{"dropped", `{` + ok + `,"detail":{"eventCode":"interaction.created","interaction":{"type":"voice"}}}`, nil, 200,
			`{"status":"dropped","reason":"excluded_event_code"}` + "\n"},
		{"dropped by a rule error", `{` + ok + `,"detail":{"eventCode":"interaction.wrapup","interaction":{"type":"voice","customAttributes":{"priority_score":"high"}}}}`, nil, 200,
			`{"status":"dropped","reason":"failed_tier_priority_filter"}` + "\n"},
		{"empty body", ``, nil, 400,
			`{"error":"request body is empty; want an EventBridge event (JSON object)"}` + "\n"},
		{"malformed JSON", `{"id":`, nil, 400,
			`{"error":"body is not valid JSON: unexpected end of JSON input"}` + "\n"},
		{"not JSON", `hello`, nil, 400,
			`{"error":"body is not valid JSON"}` + "\n"},
		{"base64 string (the seed's defect)", `"eyJpZCI6ImUtMSJ9"`, nil, 400,
			`{"error":"body is JSON but not an object; want an EventBridge event envelope"}` + "\n"},
		{"not an envelope", `{"hello":"world"}`, nil, 400,
			`{"error":"not an EventBridge envelope: \"id\" is missing or empty"}` + "\n"},
		{"detail missing", `{` + ok + `}`, nil, 400,
			`{"error":"envelope has no \"detail\" (or it is null)"}` + "\n"},
		{"detail not an object", `{` + ok + `,"detail":"x"}`, nil, 400,
			`{"error":"envelope \"detail\" must be a JSON object"}` + "\n"},
		{"source not allowed", `{"id":"e-1","detail-type":"t","source":"acme.billing","detail":{}}`, nil, 400,
			`{"error":"event source \"acme.billing\" is not allowed by filter.sources"}` + "\n"},
		{"sink did not accept in time", forwardEvent, fmt.Errorf("put: %w", context.DeadlineExceeded), 503,
			`{"error":"not written to Kinesis in time; retry later"}` + "\n"},
		{"sink unavailable", forwardEvent, fmt.Errorf("put: %w", relay.ErrUnavailable), 503,
			`{"error":"not written to Kinesis in time; retry later"}` + "\n"},
		{"record can never be written", forwardEvent, fmt.Errorf("record of 1048577 bytes exceeds kinesis.max_record_bytes: %w", relay.ErrPermanent), 400,
			`{"error":"record of 1048577 bytes exceeds kinesis.max_record_bytes: permanent failure"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &testx.Sink{Err: tc.sinkErr}
			srv, _ := serve(t, examplePipeline(t, sink), defaultOptions())
			resp := post(t, srv.URL, tc.body)
			resp.check(t, tc.status, tc.want)
			if tc.status == 503 && resp.header.Get("Retry-After") != "1" {
				t.Errorf("503 without Retry-After: %v", resp.header)
			}
			if n := len(sink.Records()); (tc.status == 200 && strings.Contains(tc.want, "forwarded") || tc.sinkErr != nil) != (n == 1) {
				t.Errorf("sink got %d records", n)
			}
		})
	}
}

func TestHandleErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		want       string
		retryAfter string
	}{
		{"invalid", relay.Invalid("malformed_json", "body is not valid JSON"), 400, `{"error":"body is not valid JSON"}` + "\n", ""},
		{"wrapped invalid", fmt.Errorf("decode: %w", relay.ErrInvalid), 400, `{"error":"decode: invalid event"}` + "\n", ""},
		{"permanent", fmt.Errorf("too big: %w", relay.ErrPermanent), 400, `{"error":"too big: permanent failure"}` + "\n", ""},
		{"overloaded", fmt.Errorf("queue full: %w", relay.ErrOverloaded), 429, `{"error":"relay overloaded; retry later"}` + "\n", "1"},
		{"unavailable", relay.ErrUnavailable, 503, `{"error":"not written to Kinesis in time; retry later"}` + "\n", "1"},
		{"deadline", context.DeadlineExceeded, 503, `{"error":"not written to Kinesis in time; retry later"}` + "\n", "1"},
		{"canceled", context.Canceled, 503, `{"error":"not written to Kinesis in time; retry later"}` + "\n", "1"},
		{"unknown", errors.New("boom"), 503, `{"error":"not written to Kinesis in time; retry later"}` + "\n", "1"},
		{"refused", fmt.Errorf("put: %w", &relay.RefusedError{Reason: "Kinesis refused the write: AccessDeniedException", Err: errors.New("secret details")}), 503,
			`{"error":"Kinesis refused the write: AccessDeniedException; retry later"}` + "\n", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := serve(t, &countingHandler{err: tc.err}, defaultOptions())
			resp := post(t, srv.URL, `{}`)
			resp.check(t, tc.status, tc.want)
			if got := resp.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
		})
	}
}

func TestResponseEscaping(t *testing.T) {
	h := &countingHandler{res: relay.Result{Decision: relay.Drop, Reason: "rule \"x\"\u2028"}}
	srv, _ := serve(t, h, defaultOptions())
	post(t, srv.URL, `{}`).check(t, 200, `{"status":"dropped","reason":"rule \"x\"\u2028"}`+"\n")
}

// TestBodyPassedVerbatim checks the handler gets the body byte for byte, also when
// a pooled buffer from a bigger request is reused.
func TestBodyPassedVerbatim(t *testing.T) {
	var got [][]byte
	var mu sync.Mutex
	h := handlerFunc(func(_ context.Context, raw []byte) (relay.Result, error) {
		mu.Lock()
		got = append(got, append([]byte(nil), raw...))
		mu.Unlock()
		return forwarded, nil
	})
	srv, _ := serve(t, h, defaultOptions())
	bodies := []string{
		strings.Repeat("x", 100000),
		"{\"a\":\"\u2028\"}\n",
		"",
		"\x00\xff binary",
		strings.Repeat("y", 1<<20),
		"short",
	}
	for _, b := range bodies {
		post(t, srv.URL, b).check(t, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}`+"\n")
	}
	for i := range bodies {
		if string(got[i]) != bodies[i] {
			t.Errorf("body %d: handler got %d bytes %.20q, want %d bytes %.20q", i, len(got[i]), got[i], len(bodies[i]), bodies[i])
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := &countingHandler{res: forwarded}
	srv, _ := serve(t, h, defaultOptions())
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		resp := do(t, m, srv.URL, strings.NewReader(`{}`), nil)
		resp.check(t, 405, `{"error":"method `+m+` not allowed; POST one EventBridge event"}`+"\n")
		if a := resp.header.Get("Allow"); a != "POST" {
			t.Errorf("%s: Allow %q, want POST", m, a)
		}
	}
	resp := do(t, http.MethodHead, srv.URL, nil, nil)
	if resp.status != 405 || resp.header.Get("Allow") != "POST" {
		t.Errorf("HEAD: %d %v", resp.status, resp.header)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("handler called %d times", n)
	}
}

func TestAuth(t *testing.T) {
	apiKey := NewAuth("X-Api-Key", []string{"old-key", "new-key"}, "", "")
	basic := NewAuth("", nil, "relay", "s3cret")
	both := NewAuth("X-Api-Key", []string{"k1"}, "relay", "s3cret")
	basicHeader := func(user, pass string) string {
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header.Get("Authorization")
	}
	const denied = `{"error":"missing or wrong credentials"}` + "\n"
	for _, tc := range []struct {
		name      string
		auth      *Auth
		header    map[string]string
		ok        bool
		challenge bool // WWW-Authenticate expected on 401
	}{
		{"open endpoint", nil, nil, true, false},
		{"no key", apiKey, nil, false, false},
		{"old key", apiKey, map[string]string{"X-Api-Key": "old-key"}, true, false},
		{"new key", apiKey, map[string]string{"X-Api-Key": "new-key"}, true, false},
		{"header name is case-insensitive", apiKey, map[string]string{"x-api-key": "new-key"}, true, false},
		{"wrong key", apiKey, map[string]string{"X-Api-Key": "old-keyx"}, false, false},
		{"key prefix", apiKey, map[string]string{"X-Api-Key": "old"}, false, false},
		{"key in another header", apiKey, map[string]string{"Authorization": "old-key"}, false, false},
		{"basic against a key", apiKey, map[string]string{"Authorization": basicHeader("old-key", "old-key")}, false, false},
		{"basic right", basic, map[string]string{"Authorization": basicHeader("relay", "s3cret")}, true, false},
		{"basic wrong password", basic, map[string]string{"Authorization": basicHeader("relay", "wrong")}, false, true},
		{"basic wrong user", basic, map[string]string{"Authorization": basicHeader("admin", "s3cret")}, false, true},
		{"basic swapped", basic, map[string]string{"Authorization": basicHeader("s3cret", "relay")}, false, true},
		{"basic missing", basic, nil, false, true},
		{"basic malformed", basic, map[string]string{"Authorization": "Basic !!!"}, false, true},
		{"bearer", basic, map[string]string{"Authorization": "Bearer s3cret"}, false, true},
		{"both: key", both, map[string]string{"X-Api-Key": "k1"}, true, false},
		{"both: basic", both, map[string]string{"Authorization": basicHeader("relay", "s3cret")}, true, false},
		{"both: wrong key, right basic", both, map[string]string{"X-Api-Key": "no", "Authorization": basicHeader("relay", "s3cret")}, true, false},
		{"both: neither", both, map[string]string{"X-Api-Key": "no"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &countingHandler{res: forwarded}
			opts := defaultOptions()
			opts.Auth = tc.auth
			srv, _ := serve(t, h, opts)
			resp := do(t, http.MethodPost, srv.URL, strings.NewReader(`{}`), tc.header)
			if tc.ok {
				resp.check(t, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}`+"\n")
				return
			}
			resp.check(t, 401, denied)
			challenge := resp.header.Get("WWW-Authenticate")
			if tc.challenge && challenge != `Basic realm="genesys-relay"` || !tc.challenge && challenge != "" {
				t.Errorf("WWW-Authenticate %q", challenge)
			}
			if n := h.calls.Load(); n != 0 {
				t.Errorf("handler called %d times without credentials", n)
			}
		})
	}
}

func TestNewAuth(t *testing.T) {
	if a := NewAuth("X-Api-Key", nil, "", ""); a != nil {
		t.Errorf("nothing configured: %+v, want nil", a)
	}
	if a := NewAuth("X-Api-Key", []string{"k"}, "", ""); a == nil || a.Basic || a.Header != "X-Api-Key" {
		t.Errorf("key only: %+v", a)
	}
	if a := NewAuth("", nil, "u", "p"); a == nil || !a.Basic {
		t.Errorf("basic only: %+v", a)
	}
	// Secrets are kept only as digests.
	a := NewAuth("X-Api-Key", []string{"plain-key"}, "plain-user", "plain-pass")
	if s := fmt.Sprintf("%+v %#v", a, a); strings.Contains(s, "plain-") {
		t.Errorf("Auth holds a secret in clear: %s", s)
	}
}

func TestBodyTooLarge(t *testing.T) {
	const limit = 64
	event := `{"id":"e-1"}`
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		status  int
		want    string
	}{
		{"at the limit", limit, false, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}` + "\n"},
		{"Content-Length over the limit", limit + 1, false, 413,
			`{"error":"body of 65 bytes exceeds http.max_body_bytes (64)"}` + "\n"},
		{"far over the limit", 10 << 20, false, 413,
			`{"error":"body of 10485760 bytes exceeds http.max_body_bytes (64)"}` + "\n"},
		{"chunked at the limit", limit, true, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}` + "\n"},
		{"chunked over the limit", limit + 1, true, 413,
			`{"error":"body exceeds http.max_body_bytes (64)"}` + "\n"},
		{"chunked far over the limit", 1 << 20, true, 413,
			`{"error":"body exceeds http.max_body_bytes (64)"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &countingHandler{res: forwarded}
			opts := defaultOptions()
			opts.MaxBodyBytes = limit
			srv, _ := serve(t, h, opts)
			body := []byte(event + strings.Repeat(" ", tc.size-len(event)))
			var r io.Reader = bytes.NewReader(body)
			if tc.chunked {
				r = io.MultiReader(r) // unknown length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL, r)
			if err != nil {
				t.Fatal(err)
			}
			if tc.chunked && req.ContentLength != 0 {
				t.Fatalf("request has a length: %d", req.ContentLength)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if !tc.chunked && resp.Request.ContentLength != int64(tc.size) {
				t.Fatalf("sent Content-Length %d", resp.Request.ContentLength)
			}
			if resp.StatusCode != tc.status || string(b) != tc.want {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, b, tc.status, tc.want)
			}
			if wantCalls := int32(map[bool]int{true: 1}[tc.status == 200]); h.calls.Load() != wantCalls {
				t.Errorf("handler called %d times, want %d", h.calls.Load(), wantCalls)
			}
		})
	}
}

// TestBackpressure fills MaxInFlight with requests blocked in the handler: the next
// one gets 429 with Retry-After, and once one finishes a new one is served.
func TestBackpressure(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	h := handlerFunc(func(ctx context.Context, raw []byte) (relay.Result, error) {
		if string(raw) == "block" {
			entered <- struct{}{}
			<-release
		}
		return forwarded, nil
	})
	opts := defaultOptions()
	opts.MaxInFlight = 2
	srv, hd := serve(t, h, opts)

	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader("block"))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case <-entered:
		case <-time.After(30 * time.Second):
			t.Fatal("blocked requests did not reach the handler")
		}
	}
	// A large body is refused the same way. A small one is read after the
	// answer and the connection kept; one over 256 KiB is not read, so the
	// answer says the connection closes.
	for _, body := range []string{"fast", strings.Repeat(" ", 512<<10)} {
		resp := post(t, srv.URL, body)
		resp.check(t, 429, `{"error":"too many requests in flight; retry later"}`+"\n")
		if ra := resp.header.Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After %q, want 1", ra)
		}
		if raw := rawPost(t, srv.Listener.Addr().String(), body, false); raw.StatusCode != 429 || raw.Close != (len(body) > 256<<10) {
			t.Errorf("body of %d bytes: %d, Connection: close %v; want 429, close %v", len(body), raw.StatusCode, raw.Close, len(body) > 256<<10)
		}
		if raw := rawPost(t, srv.Listener.Addr().String(), body, true); raw.StatusCode != 429 || !raw.Close {
			t.Errorf("chunked body of %d bytes: %d, Connection: close %v; want 429, close", len(body), raw.StatusCode, raw.Close)
		}
	}
	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("blocked request answered %d", s)
		}
	}
	post(t, srv.URL, "fast").check(t, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}`+"\n")
	if got := testutil.ToFloat64(hd.reqs.WithLabelValues("429")); got != 6 {
		t.Errorf("requests_total{code=429} = %v, want 6", got)
	}
}

// TestRequestTimeout checks the handler's context carries the RequestTimeout
// deadline and a handler that waits for it is answered 503 in time, not sooner
// than the grain deadlines are rounded to.
func TestRequestTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	deadlines := make(chan time.Duration, 1)
	h := handlerFunc(func(ctx context.Context, raw []byte) (relay.Result, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			deadlines <- -1
			return forwarded, nil
		}
		deadlines <- time.Until(dl)
		if string(raw) == "wait" {
			<-ctx.Done()
			return relay.Result{}, fmt.Errorf("put: %w", ctx.Err())
		}
		return forwarded, nil
	})
	opts := defaultOptions()
	opts.RequestTimeout = timeout
	srv, _ := serve(t, h, opts)

	post(t, srv.URL, "now").check(t, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}`+"\n")
	if left := <-deadlines; left <= 0 || left > timeout {
		t.Fatalf("handler context deadline in %v, want within %v", left, timeout)
	}
	start := time.Now()
	resp := post(t, srv.URL, "wait")
	elapsed := time.Since(start)
	<-deadlines
	resp.check(t, 503, `{"error":"not written to Kinesis in time; retry later"}`+"\n")
	// The deadline is rounded down to deadlineGrain (shared contexts).
	if elapsed < timeout-deadlineGrain || elapsed > timeout+5*time.Second {
		t.Errorf("answered after %v, want about %v", elapsed, timeout)
	}
}

// TestTruncatedBody sends fewer bytes than Content-Length announces and closes its
// side: the body cannot be read, the handler is not called, and the answer is one
// EventBridge retries.
func TestTruncatedBody(t *testing.T) {
	h := &countingHandler{res: forwarded}
	srv, _ := serve(t, h, defaultOptions())
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":")
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || h.calls.Load() != 0 {
		t.Fatalf("status %d, Retry-After %q, handler calls %d", resp.StatusCode, resp.Header.Get("Retry-After"), h.calls.Load())
	}
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := defaultOptions()
	opts.Registerer = reg
	opts.Auth = NewAuth("X-Api-Key", []string{"k"}, "", "")
	h := &countingHandler{res: forwarded}
	srv, hd := serve(t, h, opts)
	key := map[string]string{"X-Api-Key": "k"}
	do(t, http.MethodPost, srv.URL, strings.NewReader("{}"), key)
	do(t, http.MethodPost, srv.URL, strings.NewReader("{}"), key)
	do(t, http.MethodPost, srv.URL, strings.NewReader("{}"), nil)
	do(t, http.MethodGet, srv.URL, nil, key)
	for code, want := range map[string]float64{"200": 2, "401": 1, "405": 1, "400": 0, "413": 0, "429": 0, "503": 0} {
		if got := testutil.ToFloat64(hd.reqs.WithLabelValues(code)); got != want {
			t.Errorf("requests_total{code=%s} = %v, want %v", code, got, want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// Body bytes in flight, requests by code (the usual codes from the
	// start), and panics.
	if len(mfs) != 3 || mfs[0].GetName() != "genesys_relay_http_body_bytes_in_flight" || len(mfs[0].Metric) != 1 ||
		mfs[1].GetName() != "genesys_relay_http_requests_total" || len(mfs[1].Metric) != 10 ||
		mfs[2].GetName() != "genesys_relay_panics_total" || len(mfs[2].Metric) != 1 {
		t.Fatalf("registered %v", mfs)
	}
}

// TestRefusedChunkedBodyCloses: a chunked body over the limit gets 413 with
// Connection: close, since the server may not be able to read the rest of it
// and then closes the connection; one of known length within what the server
// reads after the answer keeps the connection.
func TestRefusedChunkedBodyCloses(t *testing.T) {
	opts := defaultOptions()
	opts.MaxBodyBytes = 64
	srv, _ := serve(t, &countingHandler{res: forwarded}, opts)
	addr := srv.Listener.Addr().String()
	body := strings.Repeat(" ", 1<<10)
	if r := rawPost(t, addr, body, true); r.StatusCode != 413 || !r.Close {
		t.Errorf("chunked body over the limit: %d, Connection: close %v; want 413, close", r.StatusCode, r.Close)
	}
	if r := rawPost(t, addr, body, false); r.StatusCode != 413 || r.Close {
		t.Errorf("1 KiB body over the limit: %d, Connection: close %v; want 413 on a kept connection", r.StatusCode, r.Close)
	}
}

// TestMaxInFlightBytes: a request's body holds its bytes against
// MaxInFlightBytes until it is answered. One that would take the total beyond
// the bound gets 429 with Retry-After: a Content-Length one before its body is
// read, a chunked one once what it has sent crosses the bound (and with
// Connection: close). Every answer gives the bytes back.
func TestMaxInFlightBytes(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	h := handlerFunc(func(_ context.Context, raw []byte) (relay.Result, error) {
		switch {
		case bytes.HasPrefix(raw, []byte("block")):
			entered <- struct{}{}
			<-release
		case bytes.HasPrefix(raw, []byte("fail")):
			return relay.Result{}, relay.ErrUnavailable
		}
		return forwarded, nil
	})
	opts := defaultOptions()
	opts.MaxBodyBytes = 6000
	opts.MaxInFlightBytes = 10000
	srv, hd := serve(t, h, opts)
	addr := srv.Listener.Addr().String()
	body := func(prefix string, n int) string { return prefix + strings.Repeat(" ", n-len(prefix)) }
	const ok = `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}` + "\n"

	// Requests blocked in the handler hold 6000 and then 4000 bytes: exactly
	// the bound.
	blocked := make(chan int, 2)
	for _, n := range []int{6000, 4000} {
		go func() {
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body("block", n)))
			if err != nil {
				blocked <- 0
				return
			}
			resp.Body.Close()
			blocked <- resp.StatusCode
		}()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("blocked request did not reach the handler")
		}
	}
	if n := hd.inFlightBytes.Load(); n != 10000 {
		t.Fatalf("%d bytes in flight, want 10000", n)
	}
	for _, chunked := range []bool{false, true} {
		r := rawPost(t, addr, body("x", 100), chunked)
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" || r.Close != chunked {
			t.Errorf("chunked %v: %d %q, Retry-After %q, Connection: close %v; want 429, Retry-After 1, close %v",
				chunked, r.StatusCode, b, r.Header.Get("Retry-After"), r.Close, chunked)
		}
	}
	post(t, srv.URL, "").check(t, 200, ok) // an empty body holds nothing
	resp := post(t, srv.URL, body("x", 100))
	resp.check(t, 429, `{"error":"too many request body bytes in flight (http.max_in_flight_bytes); retry later"}`+"\n")

	close(release)
	for range 2 {
		if s := <-blocked; s != 200 {
			t.Errorf("blocked request answered %d", s)
		}
	}
	// The bytes are back, whatever the answer.
	post(t, srv.URL, body("x", 6000)).check(t, 200, ok)
	if r := rawPost(t, addr, body("x", 6000), true); r.StatusCode != 200 {
		t.Errorf("chunked 6000 bytes after the others finished: %d", r.StatusCode)
	}
	post(t, srv.URL, body("fail", 5000)).check(t, 503, `{"error":"not written to Kinesis in time; retry later"}`+"\n")
	post(t, srv.URL, body("x", 7000)).check(t, 413, `{"error":"body of 7000 bytes exceeds http.max_body_bytes (6000)"}`+"\n")
	if r := rawPost(t, addr, body("x", 7000), true); r.StatusCode != 413 {
		t.Errorf("chunked 7000 bytes: %d, want 413", r.StatusCode)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n%s", body("x", 3000))
	conn.(*net.TCPConn).CloseWrite()
	if r, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || r.StatusCode != 503 {
		t.Errorf("body cut short: %v %v, want 503", r, err)
	}
	conn.Close()
	if n := hd.inFlightBytes.Load(); n != 0 {
		t.Errorf("%d bytes still in flight after every request was answered", n)
	}
	if got := testutil.ToFloat64(hd.reqs.WithLabelValues("429")); got != 3 {
		t.Errorf("requests_total{code=429} = %v, want 3", got)
	}
}
