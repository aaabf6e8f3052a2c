package httpin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// rawRequest writes req on a new connection and reads one answer.
func rawRequest(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestExpectContinue: a request that waits for "100 Continue" gets its final
// answer instead when the headers already rule it out, and the body is never
// asked for; a good one gets 100 and is served.
func TestExpectContinue(t *testing.T) {
	h := &countingHandler{res: forwarded}
	opts := defaultOptions()
	opts.MaxBodyBytes = 100
	opts.Auth = NewAuth("X-Api-Key", []string{"k"}, "", "")
	srv, _ := serve(t, h, opts)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"no credentials", "Content-Length: 10\r\n", 401},
		{"too large", "X-Api-Key: k\r\nContent-Length: 101\r\n", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawRequest(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+tc.header+"\r\n")
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, `{"error":`) {
				t.Fatalf("got %d %q %q, want %d with a JSON error", resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status)
			}
		})
	}
	// A good request: 100, then the body, then 200.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nX-Api-Key: k\r\nContent-Length: 2\r\n\r\n")
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q (%v), want 100 Continue", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the empty line after it
		t.Fatal(err)
	}
	fmt.Fprint(conn, "{}")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || h.calls.Load() != 1 {
		t.Fatalf("status %d, handler calls %d", resp.StatusCode, h.calls.Load())
	}
}

// TestDeadlineFromFirstByte: the time a body takes to arrive counts against
// RequestTimeout, on a new connection and on a reused one. The bounds lie
// halfway between the clock started at the first byte and at the wrong moment,
// so that a loaded machine's delays of up to pause/2 cannot decide.
func TestDeadlineFromFirstByte(t *testing.T) {
	const timeout = 4 * time.Second
	const pause = 1500 * time.Millisecond
	left := make(chan time.Duration, 2)
	h := handlerFunc(func(ctx context.Context, raw []byte) (relay.Result, error) {
		dl, _ := ctx.Deadline()
		left <- time.Until(dl)
		return forwarded, nil
	})
	opts := defaultOptions()
	opts.RequestTimeout = timeout
	opts.MaxBodyBytes = 10 << 10
	srv, _ := serve(t, h, opts)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 2 {
		if i == 1 {
			time.Sleep(pause) // idle time between requests does not count
		}
		fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{")
		time.Sleep(pause)
		fmt.Fprint(conn, "}")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		if l := <-left; l > timeout-pause/2 || l < timeout-pause-2*time.Second {
			t.Errorf("request %d: deadline %v away when the body arrived %v after the headers, want about %v", i, l, pause, timeout-pause)
		}
	}

	// A refused request whose body the server reads after the answer (413,
	// 20 KB unread), then a pause: the next request's clock starts at its own
	// first byte, not when the server read the previous body.
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 20<<10, strings.Repeat(" ", 20<<10))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.Close {
		t.Fatalf("oversized request: %d, close %v; want 413 on a kept connection", resp.StatusCode, resp.Close)
	}
	time.Sleep(pause)
	fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request after the 413: %v %v", resp, err)
	}
	resp.Body.Close()
	if l := <-left; l < timeout-pause/2 {
		t.Errorf("request after a 413 and a pause of %v: deadline %v away, want about %v", pause, l, timeout)
	}
}

// TestHeaderTooLarge: a header block beyond MaxHeaderBytes gets 431 as JSON.
func TestHeaderTooLarge(t *testing.T) {
	srv, hd := serve(t, &countingHandler{res: forwarded}, defaultOptions())
	resp, body := rawRequest(t, srv.Listener.Addr().String(),
		"POST / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 9<<10)+"\r\nContent-Length: 2\r\n\r\n{}")
	if resp.StatusCode != 431 || !strings.HasPrefix(body, `{"error":"request header exceeds`) {
		t.Fatalf("got %d %q, want 431", resp.StatusCode, body)
	}
	if got := testutil.ToFloat64(hd.reqs.WithLabelValues("431")); got != 1 {
		t.Errorf("requests_total{code=431} = %v, want 1", got)
	}
}

// TestSilentConnectionClosedWithoutAnswer: a connection that sends nothing, or
// only part of a header block, is closed at RequestTimeout without an answer
// (a keep-alive client would take one as the answer to its next request).
func TestSilentConnectionClosedWithoutAnswer(t *testing.T) {
	opts := defaultOptions()
	opts.RequestTimeout = 300 * time.Millisecond
	srv, _ := serve(t, &countingHandler{res: forwarded}, opts)
	for _, sent := range []string{"", "POST / HTTP/1.1\r\nHost: x\r\n"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(conn, sent)
		start := time.Now()
		b, err := io.ReadAll(conn)
		conn.Close()
		if len(b) != 0 || err != nil {
			t.Errorf("sent %q: read %q, %v; want the connection closed without an answer", sent, b, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("sent %q: closed after %v, RequestTimeout %v", sent, d, opts.RequestTimeout)
		}
	}
}

// TestOtherPaths: paths other than the ingest path go to ServerOptions.Other.
func TestOtherPaths(t *testing.T) {
	h := &countingHandler{res: forwarded}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := NewServer(New(h, defaultOptions()), ServerOptions{Path: "/eventbridge", Other: mux})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	if r := do(t, http.MethodGet, base+"/healthz", nil, nil); r.status != 200 || r.body != "ok\n" {
		t.Errorf("/healthz: %d %q", r.status, r.body)
	}
	if r := do(t, http.MethodGet, base+"/nope", nil, nil); r.status != 404 {
		t.Errorf("/nope: %d %q", r.status, r.body)
	}
	post(t, base+"/eventbridge?x=1", "{}").check(t, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}`+"\n")
	if r := post(t, base+"/eventbridge/", "{}"); r.status != 404 {
		t.Errorf("/eventbridge/: %d", r.status)
	}
	if h.calls.Load() != 1 {
		t.Errorf("ingest handler called %d times, want 1", h.calls.Load())
	}
}

// TestShutdown: a request in progress is answered (with Connection: close),
// new connections are refused, and Serve returns nil; if the context ends
// first, Shutdown closes what is left and says so.
func TestShutdown(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		t.Run(fmt.Sprint("graceful=", graceful), func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			h := handlerFunc(func(ctx context.Context, raw []byte) (relay.Result, error) {
				close(entered)
				<-release
				return forwarded, nil
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := NewServer(New(h, defaultOptions()), ServerOptions{Path: "/"})
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			answered := make(chan *http.Response, 1)
			go func() {
				resp, err := http.Post("http://"+ln.Addr().String()+"/", "application/json", strings.NewReader("{}"))
				if err != nil {
					answered <- nil
					return
				}
				resp.Body.Close()
				answered <- resp
			}()
			<-entered
			// The graceful shutdown has all the time it needs; the forced one
			// ends while the request is held.
			timeout := 300 * time.Millisecond
			if graceful {
				timeout = time.Minute
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- srv.Shutdown(ctx) }()
			if graceful {
				// Release the request once Shutdown is under way: new
				// connections are refused.
				refused := testx.Eventually(time.Minute, func() bool {
					c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
					if err != nil {
						return true
					}
					c.Close()
					return false
				})
				close(release)
				if !refused {
					t.Fatal("new connections still accepted a minute into Shutdown")
				}
			}
			err = <-shut
			if graceful {
				if err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				resp := <-answered
				if resp == nil || resp.StatusCode != 200 || !resp.Close {
					t.Fatalf("request in progress: %+v, want 200 with Connection: close", resp)
				}
			} else {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Shutdown: %v, want the context's error", err)
				}
				if resp := <-answered; resp != nil {
					t.Fatalf("request answered %d after a forced close", resp.StatusCode)
				}
				close(release)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Error("still accepting connections")
			}
		})
	}
}
