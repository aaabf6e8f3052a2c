package httpin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

//go:noinline
func panicExplicitly() { panic("an explicit panic") }

//go:noinline
func panicOnNil(m map[string]int) { m["x"] = 1 }

//go:noinline
func panicInOps(w http.ResponseWriter, _ *http.Request) { panic(errors.New("ops handler bug")) }

// TestPanicRecovered: a handler that panics gets its request answered 500 with
// a JSON body, the panic counted, its stack logged once per site (not once per
// request), and the server keeps serving.
func TestPanicRecovered(t *testing.T) {
	h := handlerFunc(func(_ context.Context, raw []byte) (relay.Result, error) {
		switch string(raw) {
		case "explicit":
			panicExplicitly()
		case "nil map":
			panicOnNil(nil)
		}
		return forwarded, nil
	})
	reg := prometheus.NewRegistry()
	logs := &testx.Buffer{}
	opts := defaultOptions()
	opts.Registerer = reg
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hd := New(h, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(hd, ServerOptions{Path: "/", Logger: opts.Logger, Other: http.HandlerFunc(panicInOps)})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"

	for _, body := range []string{"explicit", "explicit", "nil map", "explicit", "nil map"} {
		r := post(t, url, body)
		r.check(t, 500, `{"error":"internal error; retry later"}`+"\n")
	}
	post(t, url, "fine").check(t, 200, `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}`+"\n")
	// An ops handler's panic too, with its own stack.
	do(t, http.MethodGet, url+"healthz", nil, nil).check(t, 500, `{"error":"internal error"}`+"\n")

	if got := testx.Value(t, reg, "genesys_relay_panics_total", "input", "http"); got != 6 {
		t.Errorf(`genesys_relay_panics_total{input="http"} = %v, want 6`, got)
	}
	if got := testutil.ToFloat64(hd.reqs.WithLabelValues("500")); got != 5 {
		t.Errorf("requests_total{code=500} = %v, want 5", got)
	}
	if n := hd.inFlight.Load(); n != 0 {
		t.Errorf("%d requests still counted in flight", n)
	}
	// One stack per site, each naming where the panic happened.
	var sites []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level, Site, Stack string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Stack != "" {
			if rec.Level != "ERROR" || !strings.Contains(rec.Stack, "panics_test.go") {
				t.Errorf("stack logged at %s: %.200q", rec.Level, rec.Stack)
			}
			sites = append(sites, rec.Site)
		}
	}
	if len(sites) != 3 || !strings.Contains(sites[0], "httpin.panicExplicitly (") || !strings.Contains(sites[1], "httpin.panicOnNil (") ||
		!strings.Contains(sites[2], "httpin.panicInOps (") {
		t.Errorf("stacks logged for the sites %q, want one for each of the 3 sites:\n%s", sites, logs.String())
	}

	// Another input on the same registry shares the metric rather than
	// failing to register it.
	panicCounter(reg, "sqs").Inc()
	if got := testx.Value(t, reg, "genesys_relay_panics_total", "input", "http"); got != 6 {
		t.Errorf(`genesys_relay_panics_total{input="http"} = %v after another input's panic, want 6`, got)
	}
}
