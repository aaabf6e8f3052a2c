package daemon_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// findLog returns the JSON log lines of logs whose msg is msg (or contains it,
// with contains).
func findLog(t *testing.T, logs *testx.Buffer, msg string, contains bool) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range logs.JSONLines(t) {
		if s, _ := m["msg"].(string); s == msg || contains && strings.Contains(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// kinesisFront starts the Kinesis test server with stream, behind an HTTP server
// whose answers wrap can change.
func kinesisFront(t *testing.T, stream string, wrap func(w http.ResponseWriter)) string {
	t.Helper()
	srv := kinesistest.New(kinesistest.Options{Streams: []string{stream}})
	t.Cleanup(srv.Close)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wrap != nil {
			// After the server's own headers (it sets Date), before they go out.
			w = &headerHook{ResponseWriter: w, hook: wrap}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	testx.AWSEnv(t, "us-east-1")
	return front.URL
}

// headerHook calls hook on the ResponseWriter just before the header is
// written.
type headerHook struct {
	http.ResponseWriter
	hook  func(http.ResponseWriter)
	wrote bool
}

func (h *headerHook) WriteHeader(code int) {
	if !h.wrote {
		h.wrote = true
		h.hook(h.ResponseWriter)
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerHook) Write(p []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK) // a Write without WriteHeader is a 200
	}
	return h.ResponseWriter.Write(p)
}

// TestKnownSeriesAtStart: before any event, the series an alert matches exist at 0:
// config reloads by result, every rule name in dropped and rule_errors, and every
// HTTP status the contract lists. A request for an unknown path is answered 404 and
// counted.
func TestKnownSeriesAtStart(t *testing.T) {
	for _, separate := range []bool{false, true} {
		name := "one listener"
		if separate {
			name = "metrics_listen"
		}
		t.Run(name, func(t *testing.T) {
			cfg := exampleConfig(t, "relay.yaml")
			cfg.Kinesis.Stream, cfg.Kinesis.Region = "known", "us-east-1"
			cfg.Kinesis.Endpoint = kinesisFront(t, "known", nil)
			if separate {
				cfg.MetricsListen = "127.0.0.1:0"
			}
			d := daemontest.Start(t, daemon.Options{Config: cfg})
			reg := testx.Scrape(t, d.Metrics+"/metrics")
			want := [][]string{
				{"genesys_relay_config_reloads_total", "result", "ok"},
				{"genesys_relay_config_reloads_total", "result", "error"},
			}
			for _, r := range cfg.Filter.Rules {
				want = append(want, []string{"genesys_relay_events_dropped_total", "reason", r.Name},
					[]string{"genesys_relay_rule_errors_total", "rule", r.Name})
			}
			for _, code := range []string{"200", "400", "401", "404", "405", "413", "429", "503"} {
				want = append(want, []string{"genesys_relay_http_requests_total", "code", code})
			}
			for _, w := range want {
				if v, ok := testx.Lookup(t, reg, w[0], w[1], w[2]); !ok || v != 0 {
					t.Errorf("%s{%s=%q} = %v (present: %v); want 0 at start-up", w[0], w[1], w[2], v, ok)
				}
			}

			resp, err := http.Get(d.Base + "/nope")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET /nope: %s", resp.Status)
			}
			reg = testx.Scrape(t, d.Metrics+"/metrics")
			if v, _ := testx.Lookup(t, reg, "genesys_relay_http_requests_total", "code", "404"); v != 1 {
				t.Errorf("http_requests_total{code=\"404\"} = %v after GET /nope; want 1", v)
			}
		})
	}
}

// TestListeningLineNamesStream: the listening line says where records go: the
// stream and the region the client resolved (here from AWS_REGION, the file
// leaving it empty).
func TestListeningLineNamesStream(t *testing.T) {
	cfg := exampleConfig(t, "relay.yaml")
	cfg.Kinesis.Stream, cfg.Kinesis.Region = "named", ""
	cfg.Kinesis.Endpoint = kinesisFront(t, "named", nil)
	t.Setenv("AWS_REGION", "eu-west-1")
	var logs testx.Buffer
	d := daemontest.Start(t, daemon.Options{Config: cfg, Logger: logx.New(&logs, logx.Options{})})
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := findLog(t, &logs, "listening", false)
	if len(lines) != 1 {
		t.Fatalf("%d listening lines", len(lines))
	}
	if l := lines[0]; l["stream"] != "named" || l["region"] != "eu-west-1" || l["sink"] != "kinesis" {
		t.Errorf("listening line %v; want stream named, region eu-west-1", l)
	}
	// The shutdown line names the cause and writes the timeout as a duration.
	stop := findLog(t, &logs, "shutting down", false)
	if len(stop) != 1 || stop[0]["timeout"] != cfg.ShutdownTimeout.String() || stop[0]["cause"] == nil {
		t.Errorf("shutting down line %v; want timeout %q and a cause", stop, cfg.ShutdownTimeout)
	}
}

// TestSDKWarningsInJSONLog: the AWS SDK's own warnings (here: a Date header it
// cannot parse, from the endpoint the start-up check calls) are lines of the relay's
// JSON log, not plain text on stderr.
func TestSDKWarningsInJSONLog(t *testing.T) {
	cfg := exampleConfig(t, "relay.yaml")
	cfg.Kinesis.Stream, cfg.Kinesis.Region = "sdk-warning", "us-east-1"
	cfg.Kinesis.Endpoint = kinesisFront(t, "sdk-warning", func(w http.ResponseWriter) {
		w.Header().Set("Date", "not a date")
	})
	var logs testx.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	d := daemontest.Start(t, daemon.Options{Config: cfg, Logger: log})
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	lines := findLog(t, &logs, "Date header", true)
	if len(lines) == 0 {
		t.Fatalf("the SDK's warning is not in the relay's log:\n%s", logs.String())
	}
	if lines[0]["level"] != "WARN" || lines[0]["source"] != "aws-sdk" {
		t.Errorf("SDK warning %v; want level WARN, source aws-sdk", lines[0])
	}
}

// TestOutageWarningsRateLimited: while Kinesis fails every call, the relay's log gets
// a few lines per cause, not one per event or call, and their counts add up to the
// failed calls.
func TestOutageWarningsRateLimited(t *testing.T) {
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"outage"}})
	t.Cleanup(srv.Close)
	testx.AWSEnv(t, "us-east-1")
	cfg := exampleConfig(t, "relay.yaml")
	cfg.Kinesis.Stream, cfg.Kinesis.Region, cfg.Kinesis.Endpoint = "outage", "us-east-1", srv.URL()
	cfg.HTTP.RequestTimeout = 300 * time.Millisecond
	var logs testx.Buffer
	log := logx.New(&logs, logx.Options{})
	reg := prometheus.NewRegistry()
	start := time.Now()
	d := daemontest.Start(t, daemon.Options{Config: cfg, Logger: log, Registry: reg})
	srv.SetFaults(kinesistest.Faults{ServiceUnavailableRate: 1})

	var wg sync.WaitGroup
	var unavailable atomic.Int64
	for g := range 20 {
		wg.Go(func() {
			for i := range 5 {
				a := post(t, http.DefaultClient, d.URL, forwardEvent(fmt.Sprintf("outage-%d-%d", g, i)))
				if a.code == http.StatusServiceUnavailable {
					unavailable.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := d.Stop(); err != nil {
		t.Logf("stop: %v", err) // records still retried at shutdown may not be flushed
	}
	logx.Flush(log)
	elapsed := time.Since(start)
	if unavailable.Load() != 100 {
		t.Fatalf("%d of 100 events answered 503 during the outage", unavailable.Load())
	}
	failed, _ := testx.Lookup(t, reg, "genesys_relay_kinesis_put_records_calls_total", "outcome", "error")
	lines := findLog(t, &logs, "kinesis: PutRecords failed, retrying", false)
	counted := 0.0
	for _, l := range lines {
		c, _ := l["count"].(float64)
		counted += c
	}
	if counted != failed || failed == 0 {
		t.Errorf("the log counts %v failed calls; the metric %v", counted, failed)
	}
	// logx writes a cause's first line and then one line per interval.
	if most := 2 * (int(elapsed/logx.DefaultInterval) + 1); len(lines) > most {
		t.Errorf("%d lines for %v failed calls in %v; want at most %d", len(lines), failed, elapsed, most)
	}
}
