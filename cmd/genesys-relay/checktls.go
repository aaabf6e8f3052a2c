package main

import (
	"fmt"
	"io"
	"time"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/httpin"
)

// checkTLS validates http.tls's files as serve would load them: readable, the
// key matching the certificate, not expired, client CAs that parse. It prints
// a warning for a certificate expiring within 14 days and reports whether the
// files can serve.
func checkTLS(cfg *config.Config, stderr io.Writer) bool {
	t := cfg.HTTP.TLS
	if !t.Enabled() {
		return true
	}
	v, err := httpin.TLSVersion(t.MinVersion)
	if err == nil {
		var warnings []string
		warnings, err = httpin.CheckTLSFiles(httpin.TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile,
			ClientCAFile: t.ClientCAFile, MinVersion: v}, time.Now())
		for _, w := range warnings {
			fmt.Fprintf(stderr, "genesys-relay: warning: http.%s\n", w)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "genesys-relay: %s: http.%v\n", cfg.Path, err)
		return false
	}
	return true
}
