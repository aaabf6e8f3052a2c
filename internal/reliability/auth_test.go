package reliability

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestAuthRotationAndSecrets checks API keys (two values accepted at once for
// rotation, then the old one removed by a reload), Basic credentials, and that
// no configured secret ever reaches the log, the answers or the metrics: the
// daemon logs at debug level to a buffer while right and wrong credentials
// (some containing the secrets), invalid events, a Kinesis failure and a
// failed reload go by.
func TestAuthRotationAndSecrets(t *testing.T) {
	awsEnv(t)
	const (
		oldKey = "key-OLD-7f3a9c1e5b2d"
		newKey = "key-NEW-2d8e4b6a0c9f"
		user   = "relay-user-q8w7"
		pass   = "pass-W0rd-5e7d1c3b"
	)
	secrets := []string{oldKey, newKey, user, pass}
	t.Setenv("RELAY_KEY_OLD", oldKey)
	t.Setenv("RELAY_KEY_NEW", newKey)
	t.Setenv("RELAY_USER", user)
	t.Setenv("RELAY_PASSWORD", pass)
	tp := newTap(t, 8, kinesistest.Faults{})
	settings := func(keys ...string) map[string]any {
		return map[string]any{
			"kinesis.endpoint":     tp.URL(),
			"http.request_timeout": "500ms",
			"http.auth.api_key":    map[string]any{"header": "X-Api-Key", "values": keys},
			"http.auth.basic":      map[string]any{"username": "${RELAY_USER}", "password": "${RELAY_PASSWORD}"},
		}
	}
	path := writeConfig(t, settings("${RELAY_KEY_OLD}", "${RELAY_KEY_NEW}"))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testx.Buffer{}
	reg := prometheus.NewRegistry()
	reload := make(chan struct{}, 1)
	d := daemontest.Start(t, daemon.Options{Config: cfg, Registry: reg, Reload: reload,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	client := newClient(4)

	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	n := 0
	check := func(phase string, want int, hdr ...string) {
		t.Helper()
		n++
		q := "q-auth"
		r := send(client, d.URL, event(fmt.Sprintf("auth-%03d", n), q), hdr...)
		ok := r.code == want
		switch want {
		case http.StatusOK:
			ok = ok && forwardedOK(r, q)
		case http.StatusUnauthorized:
			ok = ok && r.errMsg != "" && strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ")
		}
		if !ok {
			t.Errorf("%s %v: %d %q, want %d", phase, hdr, r.code, r.raw, want)
		}
		for _, s := range secrets {
			if bytes.Contains(r.raw, []byte(s)) {
				t.Errorf("%s %v: answer %q contains a secret", phase, hdr, r.raw)
			}
		}
	}
	{
		const phase = "both keys"
		check(phase, 401)
		check(phase, 200, "X-Api-Key", oldKey)
		check(phase, 200, "X-Api-Key", newKey)
		check(phase, 200, "x-api-key", newKey)
		check(phase, 401, "X-Api-Key", oldKey+"x")
		check(phase, 401, "X-Api-Key", oldKey[:len(oldKey)-1])
		check(phase, 401, "X-Api-Key", oldKey+","+newKey)
		check(phase, 401, "X-Api-Key", strings.ToUpper(oldKey))
		check(phase, 401, "X-Other-Key", oldKey)
		check(phase, 401, "Authorization", "Bearer "+oldKey)
		check(phase, 200, "Authorization", basic(user, pass))
		check(phase, 401, "Authorization", basic(user, pass+"x"))
		check(phase, 401, "Authorization", basic(user+"x", pass))
		check(phase, 401, "Authorization", basic(user, oldKey))
		check(phase, 401, "Authorization", basic(pass, user))
		check(phase, 401, "Authorization", basic(user, ""))
		check(phase, 401, "Authorization", "Basic "+pass)
	}

	// Failing requests of other kinds: invalid events, and an event Kinesis
	// does not take in time.
	for _, body := range []string{`{"id":"x"`, `{"id":"x","source":"acme","detail-type":"t","detail":{}}`} {
		if r := send(client, d.URL, []byte(body), "X-Api-Key", newKey); r.code != http.StatusBadRequest {
			t.Errorf("invalid event: %d %q", r.code, r.raw)
		}
	}
	tp.SetFaults(kinesistest.Faults{HangRate: 1})
	if r := send(client, d.URL, event("auth-hang", "q-auth"), "X-Api-Key", newKey); r.code != http.StatusServiceUnavailable {
		t.Errorf("while Kinesis hangs: %d %q, want 503", r.code, r.raw)
	}
	tp.SetFaults(kinesistest.Faults{})

	// A reload that fails (a variable unset) keeps both keys.
	reloadTo(t, reg, reload, path, settings("${RELAY_KEY_NEW}", "${RELAY_KEY_UNSET}"), "error", 1)
	check("after a failed reload", 200, "X-Api-Key", oldKey)

	// Rotation: the old key removed, the new one kept.
	reloadTo(t, reg, reload, path, settings("${RELAY_KEY_NEW}"), "ok", 1)
	check("old key removed", 401, "X-Api-Key", oldKey)
	check("old key removed", 200, "X-Api-Key", newKey)
	check("old key removed", 200, "Authorization", basic(user, pass))

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	metrics := ""
	if mfs, err := reg.Gather(); err == nil {
		metrics = fmt.Sprint(mfs)
	}
	log := logs.String()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log contains the secret %q", s)
		}
		if strings.Contains(metrics, s) {
			t.Errorf("the metrics contain the secret %q", s)
		}
	}
	for _, want := range []string{"config reloaded", "config reload failed", "RELAY_KEY_UNSET", "not accepted"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not mention %q", want)
		}
	}
	t.Logf("%d requests with right and wrong credentials, a failed and a good reload: %d log lines, no secret in them", n, strings.Count(log, "\n"))
}

// reloadTo rewrites the config file, asks for a reload and waits until
// config_reloads_total{result} reaches want.
func reloadTo(t *testing.T, reg *prometheus.Registry, reload chan<- struct{}, path string, set map[string]any, result string, want float64) {
	t.Helper()
	data, err := os.ReadFile(writeConfig(t, set))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	if !testx.Eventually(time.Minute, func() bool {
		return testx.Value(t, reg, "genesys_relay_config_reloads_total", "result", result) >= want
	}) {
		t.Fatalf("no %s reload after a minute", result)
	}
}
