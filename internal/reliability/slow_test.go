package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestSlowClientsDoNotBlockOthers holds 200 connections that sent their headers
// and part of their body and 50 that sent part of their headers, and never
// finish. Meanwhile normal senders keep getting 200 promptly. The slow ones are
// cut by the server's timeouts: a body that does not arrive within
// http.request_timeout is answered 503 (retry; the event may be valid), headers
// that do not arrive within 5 s get the connection closed (after net/http's
// plain-text 400 for an incomplete request).
func TestSlowClientsDoNotBlockOthers(t *testing.T) {
	awsEnv(t)
	tp := newTap(t, 6, kinesistest.Faults{})
	reg := prometheus.NewRegistry()
	cfg := loadConfig(t, map[string]any{"kinesis.endpoint": tp.URL()})
	d := daemontest.Start(t, daemon.Options{Config: cfg, Registry: reg})
	addr := d.Base[len("http://"):]
	const bodySlow, headerSlow = 200, 50

	type slowConn struct {
		conn   net.Conn
		opened time.Time
		body   bool // headers complete, body partial
		// The relay's answer (or the close), read as it comes, so that the
		// time it came is not when the test got round to reading it.
		answered chan slowAnswer
	}
	var slow []slowConn
	ev := event("slow", "q-slow")
	for i := range bodySlow + headerSlow {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		sc := slowConn{conn: conn, opened: time.Now(), body: i < bodySlow, answered: make(chan slowAnswer, 1)}
		if sc.body {
			fmt.Fprintf(conn, "POST /eventbridge HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(ev), ev[:100])
		} else {
			fmt.Fprintf(conn, "POST /eventbridge HTTP/1.1\r\nHost: relay\r\nContent-Ty")
		}
		go func() {
			_ = sc.conn.SetReadDeadline(time.Now().Add(time.Minute))
			var a slowAnswer
			a.resp, a.err = http.ReadResponse(bufio.NewReader(sc.conn), nil)
			a.after = time.Since(sc.opened)
			if a.err == nil {
				a.body, _ = io.ReadAll(a.resp.Body)
				a.resp.Body.Close()
			}
			sc.answered <- a
		}()
		slow = append(slow, sc)
	}

	// Normal senders while the slow connections are held.
	const senders = 8
	client := newClient(senders)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		bad       atomic.Int64
		wg        sync.WaitGroup
	)
	stop := time.Now().Add(3 * time.Second)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				q := fmt.Sprintf("q-%d", s)
				r := send(client, d.URL, event(fmt.Sprintf("sl-%d-%04d", s, i), q))
				if !forwardedOK(r, q) && bad.Add(1) <= 5 {
					t.Errorf("normal request: %d %q %v", r.code, r.raw, r.err)
				}
				mu.Lock()
				latencies = append(latencies, r.elapsed)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		return latencies[int(p*float64(len(latencies)-1))].Round(time.Microsecond)
	}
	t.Logf("with %d slow-body and %d slow-header connections held: %d normal requests, latency p50 %s p99 %s max %s",
		bodySlow, headerSlow, len(latencies), pct(0.5), pct(0.99), pct(1))
	// A request held up behind the slow connections would wait until they are
	// cut, up to http.request_timeout (4 s) after they were opened.
	if len(latencies) < senders || pct(1) > 2*time.Second {
		t.Errorf("normal requests slowed down by slow clients: %d requests, max latency %s", len(latencies), pct(1))
	}

	// The slow connections are cut by the timeouts.
	var cutBody, cutHeader []time.Duration
	for _, sc := range slow {
		a := <-sc.answered
		resp, err, after, b := a.resp, a.err, a.after, a.body
		switch {
		case sc.body && err == nil:
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("slow body answered %d %q, want 503 with Retry-After", resp.StatusCode, b)
			}
			cutBody = append(cutBody, after)
		case sc.body:
			t.Errorf("slow body: no answer (%v), want 503", err)
		case err == nil:
			t.Errorf("slow headers answered %d, want the connection closed", resp.StatusCode)
		default: // closed
			cutHeader = append(cutHeader, after)
		}
	}
	slices.Sort(cutBody)
	slices.Sort(cutHeader)
	if len(cutBody) > 0 && len(cutHeader) > 0 {
		t.Logf("slow bodies answered 503 after %s to %s (http.request_timeout %s); slow headers closed after %s to %s",
			cutBody[0].Round(time.Millisecond), cutBody[len(cutBody)-1].Round(time.Millisecond), cfg.HTTP.RequestTimeout,
			cutHeader[0].Round(time.Millisecond), cutHeader[len(cutHeader)-1].Round(time.Millisecond))
		if cutBody[0] < cfg.HTTP.RequestTimeout-500*time.Millisecond || cutBody[len(cutBody)-1] > cfg.HTTP.RequestTimeout+3*time.Second {
			t.Errorf("slow bodies cut after %s to %s, want about %s", cutBody[0], cutBody[len(cutBody)-1], cfg.HTTP.RequestTimeout)
		}
		// The whole request, header block included, must arrive within
		// http.request_timeout of its first byte.
		headerTimeout := cfg.HTTP.RequestTimeout
		if cutHeader[0] < headerTimeout-500*time.Millisecond || cutHeader[len(cutHeader)-1] > headerTimeout+3*time.Second {
			t.Errorf("slow headers cut after %s to %s, want about %s", cutHeader[0], cutHeader[len(cutHeader)-1], headerTimeout)
		}
	}
	if got := testx.Value(t, reg, "genesys_relay_http_requests_total", "code", "503"); got != bodySlow {
		t.Errorf("requests_total{code=503} = %v, want %d (the slow bodies)", got, bodySlow)
	}
	if r := send(client, d.URL, event("sl-final", "q-final")); !forwardedOK(r, "q-final") {
		t.Errorf("after the slow clients: %d %q", r.code, r.raw)
	}
}

// slowAnswer is what a slow connection got: an answer, or an error when the
// relay closed it, and after how long from its opening.
type slowAnswer struct {
	resp  *http.Response
	body  []byte
	err   error
	after time.Duration
}
