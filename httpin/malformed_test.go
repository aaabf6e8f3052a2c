package httpin

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// debugServer starts a Server whose handler and server log at debug level into
// the returned buffer, with other on every path but "/".
func debugServer(t *testing.T, h *countingHandler, opts Options, other http.Handler) (string, *Handler, *testx.Buffer) {
	t.Helper()
	logs := &testx.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Logger = log
	hd := New(h, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(hd, ServerOptions{Path: "/", Other: other, Logger: log})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), hd, logs
}

// exchange writes req on a new connection, closes its sending side if
// closeWrite, and reads one answer. A connection closed without an answer
// gives a nil response. The deadline is far beyond what an answer needs, so
// only a server that does not answer at all runs into it.
func exchange(t *testing.T, addr, req string, closeWrite bool) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%q: no answer within 20 s", req)
		}
		return nil, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// checkJSONError fails unless resp is status with a JSON {"error": ...} body.
func checkJSONError(t *testing.T, what string, resp *http.Response, body string, status int) {
	t.Helper()
	if resp == nil {
		t.Fatalf("%s: connection closed without an answer, want %d", what, status)
	}
	var m map[string]string
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal([]byte(body), &m) != nil || m["error"] == "" {
		t.Fatalf("%s: got %d %q %q, want %d with a JSON error", what, resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
}

// TestMalformedRequestsDoNotEchoHeaders sends requests the server cannot read,
// each carrying credentials: the answer is a JSON 400 and neither it nor the
// server's logs, at debug level, hold the credentials or any other header.
func TestMalformedRequestsDoNotEchoHeaders(t *testing.T) {
	const key = "k-3f9a1c77e2"                         // an API key
	const basic = "Basic dXNlcjpzM2NyM3QtcGFzc3dvcmQ=" // user:s3cr3t-password
	const other = "opaque-8d2e4b"                      // any other header value
	secrets := []string{key, basic, "dXNlcjpzM2NyM3QtcGFzc3dvcmQ", other}
	opts := defaultOptions()
	opts.Auth = NewAuth("X-Api-Key", []string{key}, "user", "s3cr3t-password")
	addr, _, logs := debugServer(t, &countingHandler{res: forwarded}, opts, nil)
	hdrs := "X-Api-Key: " + key + "\r\nAuthorization: " + basic + "\r\nX-Other: " + other + "\r\n"
	for _, tc := range []struct{ name, req string }{
		{"two Content-Length", "POST / HTTP/1.1\r\nHost: x\r\n" + hdrs + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: x\r\n" + hdrs + "Content-Length: 2x\r\n\r\n{}"},
		{"bad request line", "POST / HTTP/1.1 extra\r\nHost: x\r\n" + hdrs + "Content-Length: 2\r\n\r\n{}"},
		{"no method", "/ HTTP/1.1\r\nHost: x\r\n" + hdrs + "\r\n"},
		{"bad method", "P\x00ST / HTTP/1.1\r\nHost: x\r\n" + hdrs + "\r\n"},
		{"bad URI", "POST /\x01 HTTP/1.1\r\nHost: x\r\n" + hdrs + "\r\n"},
		{"no Host", "POST / HTTP/1.1\r\n" + hdrs + "Content-Length: 2\r\n\r\n{}"},
		{"header without a colon", "POST / HTTP/1.1\r\nHost: x\r\n" + hdrs + "X-Broken\r\n\r\n"},
		{"header name with a control byte", "POST / HTTP/1.1\r\nHost: x\r\n" + hdrs + "X-Bro\x01ken: 1\r\n\r\n"},
		{"malformed chunked body", "POST / HTTP/1.1\r\nHost: x\r\n" + hdrs + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchange(t, addr, tc.req, false)
			checkJSONError(t, tc.name, resp, body, 400)
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("answer %q holds %q", body, s)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // fasthttp logs a connection's error after closing it
	out := logs.String()
	for _, s := range append(secrets, "X-Api-Key", "X-Other") {
		if strings.Contains(out, s) {
			t.Errorf("debug logs hold %q:\n%s", s, out)
		}
	}
}

// TestMalformedChunkedBody: a chunked body whose framing is broken can never be
// read, whenever it is sent: 400, not the 503 of a body that did not arrive.
// One cut short is still 503.
func TestMalformedChunkedBody(t *testing.T) {
	h := &countingHandler{res: forwarded}
	addr, _, _ := debugServer(t, h, defaultOptions(), nil)
	head := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name, body string
		closeWrite bool
		status     int
	}{
		{"size not hex", "zz\r\n{}\r\n0\r\n\r\n", false, 400},
		{"size too large", "fffffffffffffffffff\r\n{}\r\n0\r\n\r\n", false, 400},
		{"bare LF after the size", "2\n{}\r\n0\r\n\r\n", false, 400},
		{"bare LF after the data", "2\r\n{}\n0\r\n\r\n", false, 400},
		{"data longer than the size", "1\r\n{}\r\n0\r\n\r\n", false, 400},
		{"bare LF throughout", "2\n{}\n0\n\n", false, 400},
		{"cut short", "2\r\n{", true, 503},
		{"cut short in the size", "2", true, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchange(t, addr, head+tc.body, tc.closeWrite)
			checkJSONError(t, tc.name, resp, body, tc.status)
		})
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("handler called %d times", n)
	}
}

// TestBareLFHeaderBlock: a header block that ends in a bare LF is answered 400
// at once rather than left waiting for a CRLF CRLF that never comes; line ends
// fasthttp accepts still work, as do bodies holding blank lines.
func TestBareLFHeaderBlock(t *testing.T) {
	opts := defaultOptions()
	opts.RequestTimeout = time.Minute // only an answer, not the timeout, can end the wait
	h := &countingHandler{res: forwarded}
	addr, _, _ := debugServer(t, h, opts, nil)
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"all bare LF", "POST / HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}", 400},
		{"blank line bare LF", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\n{}", 400},
		{"blank line CRLF after a bare LF", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\n\r\n{}", 400},
		{"no headers", "POST / HTTP/1.1\n\n", 400},
		{"bare LF lines, CRLF CRLF end", "POST / HTTP/1.1\nHost: x\nContent-Length: 2\r\n\r\n{}", 200},
		{"blank lines in the body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n{\n\n\r\n}", 200},
		{"CRLF before the request line", "\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchange(t, addr, tc.req, false)
			if tc.status == 200 {
				if resp == nil || resp.StatusCode != 200 {
					t.Fatalf("got %v %q, want 200", resp, body)
				}
				return
			}
			checkJSONError(t, tc.name, resp, body, tc.status)
		})
	}
	// A keep-alive connection: the second request's header block is read on
	// its own and checked the same way.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	for i, req := range []string{
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\n\n{}",
	} {
		io.WriteString(conn, req)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if want := []int{200, 400}[i]; resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

// TestOddRequestTargets: whatever the request line, the answer is the JSON one
// every other refusal has, not a text or HTML answer from the ops handler's
// mux; ordinary ops requests still reach it.
func TestOddRequestTargets(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", notFoundJSON)
	addr, _, _ := debugServer(t, &countingHandler{res: forwarded}, defaultOptions(), mux)
	for _, tc := range []struct {
		name, line string
		status     int
	}{
		{"CONNECT authority", "CONNECT example.com:443 HTTP/1.1", 404},
		{"CONNECT name", "CONNECT x HTTP/1.1", 404},
		{"CONNECT path", "CONNECT /healthz HTTP/1.1", 404},
		{"OPTIONS asterisk", "OPTIONS * HTTP/1.1", 404},
		{"dot segments", "GET /a/../healthz HTTP/1.1", 404},
		{"double slash", "GET //healthz HTTP/1.1", 404},
		{"bad escape", "GET /%zz HTTP/1.1", 404},
		{"bad escape on the ingest path", "GET /%zz/.. HTTP/1.1", 405},
		{"asterisk", "POST * HTTP/1.1", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchange(t, addr, tc.line+"\r\nHost: x\r\nConnection: close\r\n\r\n", false)
			checkJSONError(t, tc.name, resp, body, tc.status)
		})
	}
	for _, line := range []string{"GET /healthz HTTP/1.1", "GET http://x/healthz HTTP/1.1", "GET /healthz?a=%zz HTTP/1.1"} {
		resp, body := exchange(t, addr, line+"\r\nHost: x\r\nConnection: close\r\n\r\n", false)
		if resp == nil || resp.StatusCode != 200 || body != "ok\n" {
			t.Errorf("%s: %v %q, want 200 ok", line, resp, body)
		}
	}
}

var notFoundJSON = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, `{"error":"not found"}`+"\n")
})

// TestOtherPathsDoNotReadBodies: a body sent to an ops path is not read into
// memory for its handler (ops endpoints take none); the connection is kept
// when what is left is small.
func TestOtherPathsDoNotReadBodies(t *testing.T) {
	got := make(chan int64, 4)
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got <- n
		io.WriteString(w, "ok\n")
	})
	addr, _, _ := debugServer(t, &countingHandler{res: forwarded}, defaultOptions(), other)
	big := strings.Repeat("x", 4<<20)
	for _, tc := range []struct{ name, req string }{
		{"chunked, 4 MiB", "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400000\r\n" + big + "\r\n0\r\n\r\n"},
		{"Content-Length, 100 KiB", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" + big[:100<<10]},
	} {
		resp, body := exchange(t, addr, tc.req, false)
		if resp == nil || resp.StatusCode != 200 || body != "ok\n" {
			t.Fatalf("%s: %v %q", tc.name, resp, body)
		}
		if n := <-got; n != 0 {
			t.Errorf("%s: the ops handler read %d body bytes, want 0", tc.name, n)
		}
	}
}

// TestContentLengthOverLimitAtOnce: a request whose Content-Length already
// exceeds MaxBodyBytes is answered 413 before its body arrives, whether or
// not any of it is sent, rather than waiting for the first 8 KiB of it (and,
// when they never come, answering 503 at the request timeout).
func TestContentLengthOverLimitAtOnce(t *testing.T) {
	opts := defaultOptions()
	opts.RequestTimeout = time.Minute // only an answer, not the timeout, can end the wait
	h := &countingHandler{res: forwarded}
	addr, _, _ := debugServer(t, h, opts, nil)
	for _, tc := range []struct{ name, req string }{
		{"no body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n"},
		{"some body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n" + strings.Repeat(" ", 100)},
		{"HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: 2097152\r\n\r\n{"},
		{"another path", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchange(t, addr, tc.req, false)
			checkJSONError(t, tc.name, resp, body, 413)
		})
	}

	// A limit below what the server reads after an answer (256 KiB): the
	// answer comes once the body has begun, and the connection is kept.
	opts.MaxBodyBytes = 64
	addr, _, _ = debugServer(t, h, opts, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer before the rest of the body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	checkJSONError(t, "100 bytes announced, limit 64", resp, string(b), 413)
	if resp.Close {
		t.Error("connection closed after a small refused body")
	}
	io.WriteString(conn, strings.Repeat(" ", 98)+"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request on the connection: %v %v", resp, err)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}
