package httpin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLSFiles names the files of an HTTPS listener.
type TLSFiles struct {
	// CertFile is a PEM chain, leaf first; KeyFile its PEM private key.
	CertFile, KeyFile string
	// ClientCAFile, if set, holds the PEM certificates client certificates
	// must chain to (mutual TLS); a client without one is refused.
	ClientCAFile string
	// MinVersion is tls.VersionTLS12 or tls.VersionTLS13 (0: 1.2).
	MinVersion uint16
}

// ExpiryWarning is how close to its expiry a certificate is reported as
// expiring (by check, and in the log when it is loaded).
const ExpiryWarning = 14 * 24 * time.Hour

// modernCipherSuites are the TLS 1.2 suites offered: forward-secret key
// exchange and AEAD ciphers only, the set of Mozilla's "intermediate"
// profile. TLS 1.3 suites are all modern and not configurable in Go.
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Certificates is the certificate (and client CAs) of an HTTPS listener, read
// from files and read again by Reload or when Watch sees them change, without
// closing connections: each handshake takes the pair current at that moment.
// A new set of files that does not load (a key that does not match, an expired
// certificate, a file half written) is logged and counted, and the running one
// kept. Session tickets stay valid across reloads: their keys belong to the
// listener, not to a certificate.
type Certificates struct {
	files TLSFiles
	log   *slog.Logger
	base  *tls.Config
	cur   atomic.Pointer[tlsState]

	mu    sync.Mutex // serializes loads
	stamp [3]fileStamp

	expiry  prometheus.Gauge
	reloads *prometheus.CounterVec
}

// tlsState is one loaded set of files: the configuration handshakes use.
type tlsState struct {
	cfg  *tls.Config
	leaf *x509.Certificate
}

// NewCertificates loads files; it fails when they do not load, so that a
// listener never starts without a certificate. reg, if not nil, receives
// genesys_relay_tls_certificate_expiry_timestamp_seconds and
// genesys_relay_tls_reloads_total{result}.
func NewCertificates(files TLSFiles, reg prometheus.Registerer, log *slog.Logger) (*Certificates, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if files.MinVersion == 0 {
		files.MinVersion = tls.VersionTLS12
	}
	c := &Certificates{files: files, log: log,
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "genesys_relay", Subsystem: "tls",
			Name: "certificate_expiry_timestamp_seconds", Help: "NotAfter of the serving certificate (the leaf), in Unix seconds."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "genesys_relay", Subsystem: "tls",
			Name: "reloads_total", Help: "Reads of changed TLS files, by result (error: the running certificate was kept)."}, []string{"result"}),
	}
	c.reloads.WithLabelValues("ok")
	c.reloads.WithLabelValues("error")
	c.base = &tls.Config{
		MinVersion:   files.MinVersion,
		CipherSuites: modernCipherSuites,
		NextProtos:   []string{"http/1.1"},
	}
	if err := c.load(true); err != nil {
		return nil, err
	}
	if reg != nil {
		reg.MustRegister(c.expiry, c.reloads)
	}
	return c, nil
}

// Config returns the listener's TLS configuration: every handshake asks for
// the set of files loaded last.
func (c *Certificates) Config() *tls.Config {
	cfg := c.base.Clone()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return c.cur.Load().cfg, nil }
	return cfg
}

// Leaf returns the certificate being served.
func (c *Certificates) Leaf() *x509.Certificate { return c.cur.Load().leaf }

// Reload reads the files again (SIGHUP). On error the running certificate
// stays.
func (c *Certificates) Reload() error { return c.load(false) }

// Watch checks the files every interval until ctx ends and reloads them when
// one changed: its inode, size or modification time, after following
// symbolic links, so that renewals written in place, renamed over the old
// file, or swapped in as a Kubernetes secret volume does (a symbolic link
// replaced) are all seen.
func (c *Certificates) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.mu.Lock()
			changed := c.stamps() != c.stamp
			c.mu.Unlock()
			if changed {
				_ = c.load(false)
			}
		}
	}
}

// load reads the files and swaps them in if they are good. The stamps are
// taken before reading, so a file changed while it is read is read again at
// the next check; a set that failed is not retried until a file changes.
func (c *Certificates) load(first bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stamp = c.stamps()
	st, err := loadTLS(c.base, c.files, time.Now())
	if first {
		if err != nil {
			return err
		}
	} else {
		if err != nil {
			c.reloads.WithLabelValues("error").Inc()
			c.log.Error("tls files not reloaded; serving the previous certificate", "err", err)
			return err
		}
		c.reloads.WithLabelValues("ok").Inc()
	}
	c.cur.Store(st)
	c.expiry.Set(float64(st.leaf.NotAfter.Unix()))
	attrs := []any{"cert_file", c.files.CertFile, "subject", st.leaf.Subject.String(), "not_after", st.leaf.NotAfter.UTC()}
	if left := time.Until(st.leaf.NotAfter); left < ExpiryWarning {
		c.log.Warn("tls certificate expires soon", append(attrs, "expires_in", left.Round(time.Minute).String())...)
	} else {
		c.log.Info("tls certificate loaded", attrs...)
	}
	if err := verifyChain(st.cfg.Certificates[0], time.Now(), nil); err != nil {
		c.log.Warn("tls certificate does not verify against the system's trusted roots: clients that trust only public CAs, EventBridge API destinations among them, will refuse it",
			append(attrs, "err", err)...)
	}
	return nil
}

// loadTLS reads and checks a set of files and returns the configuration that
// serves them.
func loadTLS(base *tls.Config, f TLSFiles, now time.Time) (*tlsState, error) {
	pair, leaf, err := loadPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("tls: certificate %s expired at %s", f.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	cfg := base.Clone()
	cfg.Certificates = []tls.Certificate{pair}
	if f.ClientCAFile != "" {
		pool, err := loadCAs(f.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return &tlsState{cfg: cfg, leaf: leaf}, nil
}

// loadPair reads a certificate chain and its key and checks that they match.
func loadPair(certFile, keyFile string) (tls.Certificate, *x509.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls: cert_file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls: key_file: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The error names the problem (no PEM block, a key that does not
		// match), never the key's bytes.
		return tls.Certificate{}, nil, fmt.Errorf("tls: %s and %s: %w", certFile, keyFile, err)
	}
	return pair, pair.Leaf, nil
}

// loadCAs reads a PEM file of CA certificates.
func loadCAs(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("tls: client_ca_file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// CheckTLSFiles is what `genesys-relay check` says of the files: an error if
// they cannot serve (unreadable, a key that does not match, an expired
// certificate, client CAs that do not parse), and warnings that need action
// soon (the certificate expires within ExpiryWarning, or is not valid yet) or
// that some clients will refuse it (ChainWarning).
func CheckTLSFiles(f TLSFiles, now time.Time) (warnings []string, err error) {
	return checkTLSFiles(f, now, nil)
}

// checkTLSFiles is CheckTLSFiles with the roots the chain is verified against
// (nil: the system's).
func checkTLSFiles(f TLSFiles, now time.Time, roots *x509.CertPool) (warnings []string, err error) {
	pair, leaf, err := loadPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	if f.ClientCAFile != "" {
		if _, err := loadCAs(f.ClientCAFile); err != nil {
			return nil, err
		}
	}
	switch left := leaf.NotAfter.Sub(now); {
	case left < 0:
		return nil, fmt.Errorf("tls: certificate %s expired at %s", f.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case left < ExpiryWarning:
		warnings = append(warnings, fmt.Sprintf("tls: certificate %s expires at %s, in %s", f.CertFile,
			leaf.NotAfter.UTC().Format(time.RFC3339), left.Round(time.Hour)))
	}
	if now.Before(leaf.NotBefore) {
		warnings = append(warnings, fmt.Sprintf("tls: certificate %s is not valid before %s", f.CertFile,
			leaf.NotBefore.UTC().Format(time.RFC3339)))
	} else if err := verifyChain(pair, now, roots); err != nil {
		warnings = append(warnings, fmt.Sprintf("tls: certificate %s does not verify against the system's trusted roots "+
			"with the chain in the file (%v): EventBridge API destinations and other clients that trust only public CAs "+
			"will refuse it; a public CA's intermediate certificates belong in cert_file after the certificate", f.CertFile, err))
	}
	return warnings, nil
}

// verifyChain verifies the chain of pair, for a server, against roots (nil:
// the system's trusted roots), with the certificates after the leaf as the
// intermediates. A failure is a warning, not an error: a certificate of a
// private CA serves clients given that CA (curl --cacert, a load balancer in
// front) but no EventBridge API destination, which calls only endpoints whose
// certificate a public CA issued; and a public CA's certificate without its
// intermediates in cert_file is refused by clients that do not fetch them.
func verifyChain(pair tls.Certificate, now time.Time, roots *x509.CertPool) error {
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("a certificate after the first does not parse: %w", err)
		}
		inter.AddCert(c)
	}
	_, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// fileStamp identifies a version of a file: a renewal changes at least one
// of its fields.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
	missing  bool
}

func (c *Certificates) stamps() [3]fileStamp {
	return [3]fileStamp{stampOf(c.files.CertFile), stampOf(c.files.KeyFile), stampOf(c.files.ClientCAFile)}
}

func stampOf(path string) fileStamp {
	if path == "" {
		return fileStamp{}
	}
	fi, err := os.Stat(path) // follows symbolic links
	if err != nil {
		return fileStamp{missing: true}
	}
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}

// errNoTLS is returned by TLSVersion for a version it does not know.
var errNoTLS = errors.New(`want "1.2" or "1.3"`)

// TLSVersion maps http.tls.min_version to its crypto/tls constant.
func TLSVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tls min_version %q: %w", v, errNoTLS)
}
