package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/testtls"
)

// TestCheckTLS: check loads http.tls's files as serve would: a good pair
// passes (with a warning when no public CA issued it), one expiring within 14
// days passes with a warning, an expired
// certificate, a key of another certificate and a missing file fail with
// exit 2 naming the problem.
func TestCheckTLS(t *testing.T) {
	ca := testtls.NewCA(t, "ca")
	dir := t.TempDir()
	now := time.Now()
	pair := func(name string, o testtls.Options) (string, string) {
		l := ca.Issue(t, o)
		return testtls.WriteFile(t, dir, name+".crt", l.CertPEM), testtls.WriteFile(t, dir, name+".key", l.KeyPEM)
	}
	goodCrt, goodKey := pair("good", testtls.Options{NotAfter: now.Add(90 * 24 * time.Hour)})
	soonCrt, soonKey := pair("soon", testtls.Options{NotAfter: now.Add(3 * 24 * time.Hour)})
	oldCrt, oldKey := pair("old", testtls.Options{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	for _, tc := range []struct {
		name, crt, key string
		code           int
		stderr         string
	}{
		// The test's CA is no public one: check passes, and warns that
		// EventBridge would refuse the certificate.
		{"good, of a private CA", goodCrt, goodKey, exitOK, "warning: http.tls: certificate " + goodCrt + " does not verify against the system's trusted roots"},
		{"expiring", soonCrt, soonKey, exitOK, "warning: http.tls: certificate " + soonCrt + " expires at"},
		{"expired", oldCrt, oldKey, exitInvalid, "http.tls: certificate " + oldCrt + " expired at"},
		{"wrong key", goodCrt, soonKey, exitInvalid, "private key does not match public key"},
		{"missing", filepath.Join(dir, "none.crt"), goodKey, exitInvalid, "http.tls: cert_file: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeFile(t, "relay.yaml", fmt.Sprintf("sink: stdout\nhttp:\n  tls: {cert_file: %q, key_file: %q}\n", tc.crt, tc.key))
			code, _, errs := runCmd(t, "", "check", "-c", cfg)
			if code != tc.code || tc.stderr == "" && errs != "" || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.stderr)
			}
		})
	}
}
