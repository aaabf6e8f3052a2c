package daemon_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

const reloadBase = `
listen: 127.0.0.1:0
sink: stdout
filter:
  sources: [genesys.cloud]
  rules:
    - name: only_wrapup
      require: 'detail.?eventCode.orValue("") == "interaction.wrapup"'
`

// TestReload: a reload swaps in the new rules; a reload with a broken rule keeps the
// running ones.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadBase)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	d := daemontest.Start(t, daemon.Options{Config: cfg, Reload: reload, Stdout: io.Discard})
	event := []byte(`{"id":"r1","source":"genesys.cloud","detail-type":"x","detail":{"eventCode":"interaction.wrapup","interaction":{"id":"i"}}}`)

	status := func() string {
		a := post(t, http.DefaultClient, d.URL, event)
		if s, _ := a.body["status"].(string); s == "dropped" {
			return "dropped:" + a.body["reason"].(string)
		}
		return a.body["status"].(string)
	}
	if got := status(); got != "forwarded" {
		t.Fatalf("before reload: %s", got)
	}
	// eventually polls until the running rules give want (the reload is asynchronous).
	eventually := func(want string) {
		t.Helper()
		var got string
		if !testx.Eventually(time.Minute, func() bool { got = status(); return got == want }) {
			t.Fatalf("got %s, want %s", got, want)
		}
	}

	write(reloadBase + `    - name: no_wrapups_now
      drop_if: 'detail.eventCode == "interaction.wrapup"'
`)
	reload <- struct{}{}
	eventually("dropped:no_wrapups_now")

	write(reloadBase + `    - name: broken
      require: 'detail.eventCode =='
`)
	reload <- struct{}{}
	metrics := func() prometheus.Gatherer { return testx.Scrape(t, d.Metrics+"/metrics") }
	if !testx.Eventually(time.Minute, func() bool {
		return testx.HasSample(t, metrics(), `genesys_relay_config_reloads_total{result="error"} 1`)
	}) {
		v, _ := testx.Lookup(t, metrics(), "genesys_relay_config_reloads_total", "result", "error")
		t.Fatalf("the failed reload was not counted: genesys_relay_config_reloads_total{result=\"error\"} %v", v)
	}
	if got := status(); got != "dropped:no_wrapups_now" {
		t.Fatalf("after a bad reload: %s, want the previous rules kept", got)
	}
	if !testx.HasSample(t, metrics(), `genesys_relay_config_reloads_total{result="ok"} 1`) {
		t.Errorf("metrics lack one successful reload")
	}
}
