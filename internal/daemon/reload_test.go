package daemon_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
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
		deadline := time.Now().Add(time.Minute)
		for got := status(); got != want; got = status() {
			if time.Now().After(deadline) {
				t.Fatalf("got %s, want %s", got, want)
			}
			time.Sleep(20 * time.Millisecond)
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
	metrics := func() string {
		resp, err := http.Get(d.Metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(metrics(), `genesys_relay_config_reloads_total{result="error"} 1`) {
		if time.Now().After(deadline) {
			t.Fatalf("the failed reload was not counted:\n%s", metrics())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := status(); got != "dropped:no_wrapups_now" {
		t.Fatalf("after a bad reload: %s, want the previous rules kept", got)
	}
	if m := metrics(); !strings.Contains(m, `genesys_relay_config_reloads_total{result="ok"} 1`) {
		t.Errorf("metrics lack one successful reload")
	}
}
