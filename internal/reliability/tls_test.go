package reliability

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testtls"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// httpsChild is the relay binary serving HTTPS with certificates of ca,
// whose files are in dir.
type httpsChild struct {
	*child
	ca                *testtls.CA
	dir               string
	certFile, keyFile string
	tp                *tapServer
	cfgPath           string
	settings          map[string]any
}

// startHTTPS writes a certificate for 127.0.0.1 and a config serving it, with
// set applied, and starts the binary.
func startHTTPS(t *testing.T, set map[string]any) *httpsChild {
	t.Helper()
	h := &httpsChild{ca: testtls.NewCA(t, "relay test CA"), dir: t.TempDir(), tp: newTap(t, 11, kinesistest.Faults{})}
	leaf := h.ca.Issue(t, testtls.Options{Name: "relay-1"})
	h.certFile = testtls.WriteFile(t, h.dir, "tls.crt", leaf.CertPEM)
	h.keyFile = testtls.WriteFile(t, h.dir, "tls.key", leaf.KeyPEM)
	settings := map[string]any{"kinesis.endpoint": h.tp.URL(), "http.tls.cert_file": h.certFile, "http.tls.key_file": h.keyFile}
	for k, v := range set {
		settings[k] = v
	}
	h.settings, h.cfgPath = settings, writeConfig(t, settings)
	h.child = startChild(t, h.cfgPath)
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.url = h.base + "/eventbridge"
	return h
}

// rewrite writes the config again with set applied on top (for a SIGHUP).
func (h *httpsChild) rewrite(t *testing.T, set map[string]any) {
	t.Helper()
	for k, v := range set {
		h.settings[k] = v
	}
	data, err := os.ReadFile(writeConfig(t, h.settings))
	if err != nil {
		t.Fatal(err)
	}
	testtls.Replace(t, h.cfgPath, data)
}

// client trusts the test CA; keepAlive false opens a connection per request.
func (h *httpsChild) client(keepAlive bool, edit func(*tls.Config)) *http.Client {
	cfg := &tls.Config{RootCAs: h.ca.Pool()}
	if edit != nil {
		edit(cfg)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg,
		DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 8}}
}

// servedName is the CommonName of the certificate a new connection gets.
func (h *httpsChild) servedName(t *testing.T) string {
	t.Helper()
	resp, err := h.client(false, nil).Get(h.base + "/healthz")
	if err != nil {
		return "error: " + err.Error()
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

// rotate writes a new pair named name the way renewals do (renamed over the
// old files, key first).
func (h *httpsChild) rotate(t *testing.T, name string) {
	t.Helper()
	leaf := h.ca.Issue(t, testtls.Options{Name: name})
	testtls.Replace(t, h.keyFile, leaf.KeyPEM)
	testtls.Replace(t, h.certFile, leaf.CertPEM)
}

func (h *httpsChild) waitServed(t *testing.T, name string) {
	t.Helper()
	got := ""
	if !testx.Eventually(60*time.Second, func() bool { got = h.servedName(t); return got == name }) {
		t.Fatalf("serving %q, want %q", got, name)
	}
}

// TestHTTPSBinary: the binary serves HTTPS to a Go client and to curl
// --cacert, with /healthz and /metrics on the same listener; certificates
// renewed on disk are taken up by the file watcher and by SIGHUP while
// requests flow on kept-alive and new connections, and not one request fails
// nor one event is lost; a broken pair is refused and the running certificate
// kept.
func TestHTTPSBinary(t *testing.T) {
	awsEnv(t)
	h := startHTTPS(t, nil)

	if r := send(h.client(true, nil), h.url, event("tls-first", "q-tls")); !forwardedOK(r, "q-tls") {
		t.Fatalf("first event: %d %q %v", r.code, r.raw, r.err)
	}
	curl := func(args ...string) (string, error) {
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "20", "--cacert", filepath.Join(h.dir, "ca.crt")}, args...)...).CombinedOutput()
		return string(out), err
	}
	testtls.WriteFile(t, h.dir, "ca.crt", h.ca.PEM)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("curl not installed: the curl checks are skipped")
	} else {
		out, err := curl("-H", "Content-Type: application/json", "--data-binary", string(event("tls-curl", "q-tls")), h.url)
		if err != nil || !strings.Contains(out, `"status":"forwarded"`) {
			t.Errorf("curl --cacert: %v %s", err, out)
		}
		if out, err := curl(h.base + "/healthz"); err != nil || out != "ok\n" {
			t.Errorf("curl /healthz: %v %q", err, out)
		}
		// Without the CA, curl refuses the certificate.
		if out, err := exec.Command("curl", "-sS", "--max-time", "20", h.base+"/healthz").CombinedOutput(); err == nil {
			t.Errorf("curl without --cacert accepted the certificate: %s", out)
		}
	}

	// Senders on kept-alive connections and on a connection per request
	// while the certificate is renewed twice: through the watcher, then
	// through SIGHUP.
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	var forwarded sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		c := h.client(i%2 == 0, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("tls-%d-%05d", i, n)
				r := send(c, h.url, event(id, "q-tls"))
				sent.Add(1)
				if !forwardedOK(r, "q-tls") {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %d %q %v", id, r.code, r.raw, r.err))
					mu.Unlock()
					continue
				}
				forwarded.Store(id, true)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	h.rotate(t, "relay-2")
	h.waitServed(t, "relay-2") // the watcher checks every 5 s
	h.rotate(t, "relay-3")
	h.signal(t, syscall.SIGHUP)
	h.waitServed(t, "relay-3")
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during the rotations: %v", n, sent.Load(), failures[:min(5, len(failures))])
	}
	stored := storedIDs(h.tp.Records())
	forwarded.Range(func(k, _ any) bool {
		if stored[k.(string)] == 0 {
			t.Errorf("event %s answered forwarded but not in the stream", k)
		}
		return true
	})
	t.Logf("%d requests during two rotations, none failed", sent.Load())

	// A key that does not match: refused, logged, counted; relay-3 stays.
	other := h.ca.Issue(t, testtls.Options{Name: "relay-bad"})
	testtls.Replace(t, h.certFile, other.CertPEM)
	h.signal(t, syscall.SIGHUP)
	testx.Eventually(30*time.Second, func() bool { return h.logs.contains("tls files not reloaded") })
	if !h.logs.contains("private key does not match public key") {
		t.Errorf("the failed reload was not logged with its cause:\n%s", h.logs.tail(10))
	}
	if name := h.servedName(t); name != "relay-3" {
		t.Errorf("after a broken pair: serving %q, want relay-3", name)
	}
	metrics := testx.ScrapeWith(t, h.client(false, nil), h.base+"/metrics")
	if v, ok := testx.Lookup(t, metrics, "genesys_relay_tls_reloads_total", "result", "error"); !ok || v < 1 {
		t.Errorf("reloads error = %v (%v)", v, ok)
	}
	if v, ok := testx.Lookup(t, metrics, "genesys_relay_tls_reloads_total", "result", "ok"); !ok || v < 2 {
		t.Errorf("reloads ok = %v (%v)", v, ok)
	}
	if _, ok := testx.Lookup(t, metrics, "genesys_relay_tls_certificate_expiry_timestamp_seconds"); !ok {
		t.Error("no certificate expiry metric")
	}
	if h.logs.contains("PRIVATE KEY") {
		t.Fatal("a log line holds key material")
	}
}

// TestHTTPSBinaryRefusals: an expired certificate or a key of another
// certificate stops the binary at start with the reason; with
// client_ca_file, a client without a certificate is refused and one with a
// certificate of that CA (Go and curl) is served.
func TestHTTPSBinaryRefusals(t *testing.T) {
	awsEnv(t)
	ca := testtls.NewCA(t, "ca")
	dir := t.TempDir()
	expired := ca.Issue(t, testtls.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	good := ca.Issue(t, testtls.Options{})
	for _, tc := range []struct {
		name     string
		crt, key []byte
		want     string
	}{
		{"expired", expired.CertPEM, expired.KeyPEM, "expired at"},
		{"wrong key", good.CertPEM, ca.Issue(t, testtls.Options{}).KeyPEM, "private key does not match public key"},
	} {
		crt := testtls.WriteFile(t, dir, tc.name+".crt", tc.crt)
		key := testtls.WriteFile(t, dir, tc.name+".key", tc.key)
		cfg := writeConfig(t, map[string]any{"sink": "stdout", "http.tls.cert_file": crt, "http.tls.key_file": key})
		out, err := exec.Command(relayBinary(t), "serve", "-c", cfg).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %v\n%s", tc.name, err, out)
		}
	}

	clientCA := testtls.NewCA(t, "client CA")
	caFile := testtls.WriteFile(t, dir, "client-ca.crt", clientCA.PEM)
	h := startHTTPS(t, map[string]any{"http.tls.client_ca_file": caFile, "http.tls.min_version": "1.3"})
	if r := send(h.client(false, nil), h.url, event("mtls-none", "q-tls")); r.err == nil {
		t.Errorf("served without a client certificate: %d", r.code)
	}
	cc := clientCA.Issue(t, testtls.Options{Client: true, Name: "eventbridge"})
	r := send(h.client(false, func(c *tls.Config) { c.Certificates = []tls.Certificate{cc.TLSCertificate(t)} }),
		h.url, event("mtls-go", "q-tls"))
	if !forwardedOK(r, "q-tls") {
		t.Errorf("with a client certificate: %d %q %v", r.code, r.raw, r.err)
	}
	if _, err := exec.LookPath("curl"); err == nil {
		testtls.WriteFile(t, h.dir, "ca.crt", h.ca.PEM)
		crt := testtls.WriteFile(t, h.dir, "client.crt", cc.CertPEM)
		key := testtls.WriteFile(t, h.dir, "client.key", cc.KeyPEM)
		out, err := exec.Command("curl", "-sS", "--max-time", "20", "--cacert", filepath.Join(h.dir, "ca.crt"),
			"--cert", crt, "--key", key, "-H", "Content-Type: application/json",
			"--data-binary", string(event("mtls-curl", "q-tls")), h.url).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"status":"forwarded"`) {
			t.Errorf("curl with a client certificate: %v %s", err, out)
		}
		if out, err := exec.Command("curl", "-sS", "--max-time", "20", "--cacert", filepath.Join(h.dir, "ca.crt"),
			h.base+"/healthz").CombinedOutput(); err == nil {
			t.Errorf("curl without a client certificate was served: %s", out)
		}
	}
}
