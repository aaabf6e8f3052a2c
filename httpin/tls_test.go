package httpin

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/testtls"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// tlsFixture is an HTTPS Server on loopback whose certificate files live in dir.
type tlsFixture struct {
	ca       *testtls.CA
	dir      string
	files    TLSFiles
	certs    *Certificates
	reg      *prometheus.Registry
	logs     *testx.Buffer
	addr     string
	h        *countingHandler
	shutdown func()
}

// newTLSFixture writes a certificate of a new CA and serves with it; edit
// changes the files' settings before they are loaded.
func newTLSFixture(t *testing.T, edit func(*tlsFixture)) *tlsFixture {
	t.Helper()
	f := &tlsFixture{ca: testtls.NewCA(t, "test CA"), dir: t.TempDir(), reg: prometheus.NewRegistry(), logs: &testx.Buffer{},
		h: &countingHandler{res: forwarded}}
	leaf := f.ca.Issue(t, testtls.Options{})
	f.files = TLSFiles{CertFile: testtls.WriteFile(t, f.dir, "tls.crt", leaf.CertPEM), KeyFile: testtls.WriteFile(t, f.dir, "tls.key", leaf.KeyPEM)}
	if edit != nil {
		edit(f)
	}
	var err error
	f.certs, err = NewCertificates(f.files, f.reg, slog.New(slog.NewJSONHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hd := New(f.h, defaultOptions())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	srv := NewServer(hd, ServerOptions{Path: "/", TLS: f.certs.Config()})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	f.shutdown = func() {
		once.Do(func() {
			srv.Close()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(f.shutdown)
	return f
}

func (f *tlsFixture) url() string { return "https://" + f.addr + "/" }

// client trusts the fixture's CA; keepAlive false opens a connection per
// request.
func (f *tlsFixture) client(keepAlive bool, edit func(*tls.Config)) *http.Client {
	cfg := &tls.Config{RootCAs: f.ca.Pool()}
	if edit != nil {
		edit(cfg)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg,
		DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}}
}

// send posts one event and returns the status and the serial of the server
// certificate it was answered under.
func send(c *http.Client, url string) (int, string, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber.String(), nil
}

func serialOf(l testtls.Leaf) string { return l.Cert.SerialNumber.String() }

// TestTLSRotationWhileServing: certificates renewed on disk (renamed over the
// old files, key and certificate one after the other, as renewal tools do) are
// picked up by the watcher while requests flow on kept-alive connections and on
// a new connection per request; no request fails, an open connection stays
// open, and new connections get the new certificate.
func TestTLSRotationWhileServing(t *testing.T) {
	f := newTLSFixture(t, nil)
	old := f.certs.Leaf().SerialNumber.String()
	stop := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		ctx, cancel := contextUntil(stop)
		defer cancel()
		f.certs.Watch(ctx, 10*time.Millisecond)
	}()

	kept := f.client(true, nil)
	if code, serial, err := send(kept, f.url()); err != nil || code != 200 || serial != old {
		t.Fatalf("before: %d %s %v", code, serial, err)
	}
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range 4 {
		c := f.client(i%2 == 0, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := send(c, f.url())
				sent.Add(1)
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, errorf(code, err))
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	next := f.ca.Issue(t, testtls.Options{Name: "renewed"})
	testtls.Replace(t, f.files.KeyFile, next.KeyPEM)
	time.Sleep(30 * time.Millisecond) // a watcher tick may see the key without its certificate
	testtls.Replace(t, f.files.CertFile, next.CertPEM)

	fresh := f.client(false, nil)
	var serial string
	testx.Eventually(30*time.Second, func() bool {
		var err error
		_, serial, err = send(fresh, f.url())
		return err == nil && serial == serialOf(next)
	})
	time.Sleep(100 * time.Millisecond) // requests keep flowing under the new certificate
	close(stop)
	wg.Wait()
	<-watchDone
	if serial != serialOf(next) {
		t.Fatalf("new connections still get serial %s, want the renewed %s", serial, serialOf(next))
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during the rotation; first: %v", n, sent.Load(), firstErr.Load())
	}
	// The connection opened before the rotation is still the same one.
	var reused bool
	req, _ := http.NewRequest(http.MethodPost, f.url(), strings.NewReader(`{}`))
	resp, err := kept.Do(req.WithContext(withConnReused(req.Context(), &reused)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("kept-alive connection after the rotation: %v", err)
	}
	resp.Body.Close()
	if !reused || resp.TLS.PeerCertificates[0].SerialNumber.String() != old {
		t.Errorf("the open connection was not kept (reused %v)", reused)
	}
	if v := testx.Value(t, f.reg, "genesys_relay_tls_reloads_total", "result", "ok"); v < 1 {
		t.Errorf("reloads ok = %v", v)
	}
	if v := testx.Value(t, f.reg, "genesys_relay_tls_certificate_expiry_timestamp_seconds"); int64(v) != next.Cert.NotAfter.Unix() {
		t.Errorf("expiry metric %v, want %d", v, next.Cert.NotAfter.Unix())
	}
	t.Logf("%d requests during the rotation, none failed", sent.Load())
}

// TestTLSBadReloadKeepsServing: a key that does not belong to the new
// certificate, an expired certificate and a missing file are each logged and
// counted, and the running certificate keeps serving.
func TestTLSBadReloadKeepsServing(t *testing.T) {
	f := newTLSFixture(t, nil)
	old := f.certs.Leaf().SerialNumber.String()
	c := f.client(false, nil)
	other := f.ca.Issue(t, testtls.Options{})
	expired := f.ca.Issue(t, testtls.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	origKey, _ := os.ReadFile(f.files.KeyFile)
	for i, tc := range []struct {
		name, want string
		cert, key  []byte
	}{
		{"wrong key", "private key does not match public key", f.ca.Issue(t, testtls.Options{}).CertPEM, other.KeyPEM},
		{"expired", "expired at", expired.CertPEM, expired.KeyPEM},
		{"not PEM", "failed to find any PEM data", []byte("garbage"), origKey},
	} {
		testtls.Replace(t, f.files.CertFile, tc.cert)
		testtls.Replace(t, f.files.KeyFile, tc.key)
		err := f.certs.Reload()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Reload() = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if v := testx.Value(t, f.reg, "genesys_relay_tls_reloads_total", "result", "error"); v != float64(i+1) {
			t.Errorf("%s: reloads error = %v, want %d", tc.name, v, i+1)
		}
		if code, serial, err := send(c, f.url()); err != nil || code != 200 || serial != old {
			t.Errorf("%s: after the failed reload: %d serial %s (want %s) %v", tc.name, code, serial, old, err)
		}
	}
	if !strings.Contains(f.logs.String(), "tls files not reloaded") {
		t.Errorf("no error logged:\n%s", f.logs.String())
	}
	if strings.Contains(f.logs.String(), "PRIVATE KEY") {
		t.Error("the log contains key material")
	}
}

// TestTLSKubernetesSecretSwap: a secret volume's files are symbolic links
// through ..data to a directory of the version; an update replaces ..data.
// The watcher follows the links and sees the new version.
func TestTLSKubernetesSecretSwap(t *testing.T) {
	var ca *testtls.CA
	f := newTLSFixture(t, func(f *tlsFixture) {
		ca = f.ca
		v1 := filepath.Join(f.dir, "..v1")
		mustMkdir(t, v1)
		leaf := f.ca.Issue(t, testtls.Options{Name: "v1"})
		testtls.WriteFile(t, v1, "tls.crt", leaf.CertPEM)
		testtls.WriteFile(t, v1, "tls.key", leaf.KeyPEM)
		mustSymlink(t, "..v1", filepath.Join(f.dir, "..data"))
		f.files.CertFile, f.files.KeyFile = filepath.Join(f.dir, "tls.k8s.crt"), filepath.Join(f.dir, "tls.k8s.key")
		mustSymlink(t, "..data/tls.crt", f.files.CertFile)
		mustSymlink(t, "..data/tls.key", f.files.KeyFile)
	})
	if cn := f.certs.Leaf().Subject.CommonName; cn != "v1" {
		t.Fatalf("serving %q", cn)
	}
	v2 := filepath.Join(f.dir, "..v2")
	mustMkdir(t, v2)
	leaf := ca.Issue(t, testtls.Options{Name: "v2"})
	testtls.WriteFile(t, v2, "tls.crt", leaf.CertPEM)
	testtls.WriteFile(t, v2, "tls.key", leaf.KeyPEM)
	mustSymlink(t, "..v2", filepath.Join(f.dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(f.dir, "..data_tmp"), filepath.Join(f.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	ctx, cancel := contextUntil(stop)
	defer cancel()
	go f.certs.Watch(ctx, 10*time.Millisecond)
	testx.Eventually(30*time.Second, func() bool { return f.certs.Leaf().Subject.CommonName == "v2" })
	if _, serial, err := send(f.client(false, nil), f.url()); err != nil || serial != serialOf(leaf) {
		t.Fatalf("after the swap: serial %s, want %s (%v)", serial, serialOf(leaf), err)
	}
}

// TestMutualTLS: with client_ca_file, a client without a certificate, or with
// one from another CA, is refused; one with a certificate of the CA is served.
func TestMutualTLS(t *testing.T) {
	clientCA := testtls.NewCA(t, "client CA")
	f := newTLSFixture(t, func(f *tlsFixture) {
		f.files.ClientCAFile = testtls.WriteFile(t, f.dir, "client-ca.crt", clientCA.PEM)
	})
	if _, _, err := send(f.client(false, nil), f.url()); err == nil {
		t.Error("a client without a certificate was served")
	}
	stranger := testtls.NewCA(t, "other CA").Issue(t, testtls.Options{Client: true})
	if _, _, err := send(f.client(false, func(c *tls.Config) {
		c.Certificates = []tls.Certificate{stranger.TLSCertificate(t)}
	}), f.url()); err == nil {
		t.Error("a client with a certificate of another CA was served")
	}
	good := clientCA.Issue(t, testtls.Options{Client: true, Name: "eventbridge"})
	if code, _, err := send(f.client(false, func(c *tls.Config) {
		c.Certificates = []tls.Certificate{good.TLSCertificate(t)}
	}), f.url()); err != nil || code != 200 {
		t.Errorf("client with a certificate of the CA: %d %v", code, err)
	}
	if n := f.h.calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}

// TestTLSProtocol: versions and suites below the configured floor are
// refused, and a returning client resumes its session (no full handshake).
func TestTLSProtocol(t *testing.T) {
	f := newTLSFixture(t, nil)
	tls12 := func(suite uint16) func(*tls.Config) {
		return func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12; c.CipherSuites = []uint16{suite} }
	}
	if code, _, err := send(f.client(false, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)), f.url()); err != nil || code != 200 {
		t.Errorf("TLS 1.2 with an AEAD suite: %d %v", code, err)
	}
	if _, _, err := send(f.client(false, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA)), f.url()); err == nil {
		t.Error("a CBC suite was accepted")
	}
	if _, _, err := send(f.client(false, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS11 }), f.url()); err == nil {
		t.Error("TLS 1.1 was accepted")
	}

	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		var resumed []bool
		c := f.client(false, func(c *tls.Config) {
			c.MaxVersion = max
			c.ClientSessionCache = tls.NewLRUClientSessionCache(8)
			c.VerifyConnection = func(cs tls.ConnectionState) error { resumed = append(resumed, cs.DidResume); return nil }
		})
		for range 3 {
			if code, _, err := send(c, f.url()); err != nil || code != 200 {
				t.Fatalf("%x: %d %v", max, code, err)
			}
		}
		if len(resumed) != 3 || resumed[0] || !resumed[2] {
			t.Errorf("version %x: resumed %v, want a full handshake then resumptions", max, resumed)
		}
	}

	f13 := newTLSFixture(t, func(f *tlsFixture) { f.files.MinVersion = tls.VersionTLS13 })
	if _, _, err := send(f13.client(false, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }), f13.url()); err == nil {
		t.Error("min_version 1.3 accepted TLS 1.2")
	}
}

// TestCheckTLSFiles: what `check` reports about certificate files.
func TestCheckTLSFiles(t *testing.T) {
	ca := testtls.NewCA(t, "ca")
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, l testtls.Leaf) TLSFiles {
		return TLSFiles{CertFile: testtls.WriteFile(t, dir, name+".crt", l.CertPEM), KeyFile: testtls.WriteFile(t, dir, name+".key", l.KeyPEM)}
	}
	good := write("good", ca.Issue(t, testtls.Options{NotAfter: now.Add(90 * 24 * time.Hour)}))
	soon := write("soon", ca.Issue(t, testtls.Options{NotAfter: now.Add(10 * 24 * time.Hour)}))
	expired := write("expired", ca.Issue(t, testtls.Options{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}))
	future := write("future", ca.Issue(t, testtls.Options{NotBefore: now.Add(time.Hour)}))
	mismatch := TLSFiles{CertFile: good.CertFile, KeyFile: soon.KeyFile}
	missing := TLSFiles{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: good.KeyFile}
	badCA := good
	badCA.ClientCAFile = testtls.WriteFile(t, dir, "ca.crt", []byte("not a certificate"))
	goodCA := good
	goodCA.ClientCAFile = testtls.WriteFile(t, dir, "ca2.crt", ca.PEM)
	// A leaf of an intermediate CA, with the intermediate after it in the file
	// as it should be, and without it.
	inter := ca.Intermediate(t, "intermediate")
	viaInter := inter.Issue(t, testtls.Options{NotAfter: now.Add(90 * 24 * time.Hour)})
	chained := TLSFiles{CertFile: testtls.WriteFile(t, dir, "chained.crt", append(append([]byte(nil), viaInter.CertPEM...), inter.PEM...)),
		KeyFile: testtls.WriteFile(t, dir, "chained.key", viaInter.KeyPEM)}
	unchained := TLSFiles{CertFile: testtls.WriteFile(t, dir, "unchained.crt", viaInter.CertPEM), KeyFile: chained.KeyFile}
	const untrusted = "does not verify against the system's trusted roots"
	for _, tc := range []struct {
		name         string
		files        TLSFiles
		err, warning string
		systemRoots  bool // verify against the system's roots, not the test CA
	}{
		{"good", good, "", "", false},
		{"a private CA's certificate, system roots", good, "", untrusted, true},
		{"intermediate in the file", chained, "", "", false},
		{"intermediate missing", unchained, "", untrusted, false},
		{"good with client CA", goodCA, "", "", false},
		{"expires in 10 days", soon, "", "expires at", false},
		{"not valid yet", future, "", "is not valid before", false},
		{"expired", expired, "expired at", "", false},
		{"key of another certificate", mismatch, "private key does not match public key", "", false},
		{"missing file", missing, "no such file", "", false},
		{"bad client CA", badCA, "no PEM certificate", "", false},
	} {
		roots := ca.Pool()
		if tc.systemRoots {
			roots = nil
		}
		warnings, err := checkTLSFiles(tc.files, now, roots)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
		w := strings.Join(warnings, "\n")
		if tc.warning == "" && w != "" || !strings.Contains(w, tc.warning) {
			t.Errorf("%s: warnings %q, want %q", tc.name, w, tc.warning)
		}
	}
}

// TestCertificatesWarnUntrustedChain: serve logs, when it loads the files, the
// warning check gives for a certificate no public CA issued (the test's CA).
func TestCertificatesWarnUntrustedChain(t *testing.T) {
	f := newTLSFixture(t, nil)
	logs := f.logs.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"tls certificate does not verify against the system's trusted roots`) ||
		!strings.Contains(logs, "unknown authority") {
		t.Errorf("no warning of the untrusted chain in the log:\n%s", logs)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// contextUntil is a context that ends when stop is closed.
func contextUntil(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// withConnReused notes in reused whether the request went on a kept-alive
// connection.
func withConnReused(ctx context.Context, reused *bool) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { *reused = i.Reused }})
}

func errorf(code int, err error) error {
	if err != nil {
		return err
	}
	return &statusError{code}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// TestListenNoKeepAlive: connections accepted by Listen have no TCP
// keep-alive probes (set up per connection, they cost four setsockopt calls).
func TestListenNoKeepAlive(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if v != 0 {
		t.Errorf("SO_KEEPALIVE = %d, want 0", v)
	}
}

// TestConnCloseClean: a connection whose last request was read in full and
// answered 200 closes its socket at once; any other one first stops sending
// and keeps the socket open for rstAvoidanceDelay, so a client still sending
// a refused body reads its answer rather than a reset.
func TestConnCloseClean(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := &Server{conns: map[*conn]struct{}{}}
	for _, clean := range []bool{true, false} {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		raw, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := &conn{Conn: raw, raw: raw, s: s, clean: clean}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		// SetDeadline fails only on a closed socket.
		closed := raw.SetDeadline(time.Now().Add(time.Minute)) != nil
		if closed != clean {
			t.Errorf("clean %v: socket closed at once: %v", clean, closed)
		}
		// Either way the client sees the end of the stream.
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := client.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("clean %v: client read %d, %v; want the end of the stream", clean, n, err)
		}
	}
}
