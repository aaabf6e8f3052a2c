package daemon

import (
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/httpin"
)

// tlsWatchInterval is how often the certificate files are checked for a
// change when Options.TLSWatchInterval is not set.
const tlsWatchInterval = 5 * time.Second

// newCertificates loads http.tls's files, nil when the listener is plain HTTP.
func newCertificates(t config.TLS, reg prometheus.Registerer, log *slog.Logger) (*httpin.Certificates, error) {
	if !t.Enabled() {
		return nil, nil
	}
	v, err := httpin.TLSVersion(t.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	c, err := httpin.NewCertificates(httpin.TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile,
		ClientCAFile: t.ClientCAFile, MinVersion: v}, reg, log)
	if err != nil {
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	return c, nil
}

// authKeeper builds the ingest's credentials from http.auth. It keeps one
// OAuth checker, with its cache of the issuer's keys and the goroutine that
// refreshes them, for as long as http.auth.oauth stays the same across
// reloads, and closes it when it is replaced.
type authKeeper struct {
	reg   prometheus.Registerer
	log   *slog.Logger
	cfg   *config.OAuth
	oauth *httpin.OAuth
}

// build returns the credentials of a, and the function to call once it is
// known whether they are used: commit(true) keeps their OAuth checker and
// closes the one it replaced, commit(false) closes a checker built for them.
func (k *authKeeper) build(a config.Auth) (auth *httpin.Auth, commit func(use bool), err error) {
	var header string
	var keys []string
	if a.APIKey != nil {
		header, keys = a.APIKey.Header, a.APIKey.Values
	}
	var user, pass string
	if a.Basic != nil {
		user, pass = a.Basic.Username, a.Basic.Password
	}
	o, fresh := k.oauth, false
	if !reflect.DeepEqual(a.OAuth, k.cfg) {
		o, fresh = nil, true
		if a.OAuth != nil {
			if o, err = httpin.NewOAuth(httpin.OAuthOptions{JWKSURL: a.OAuth.JWKSURL, Issuer: a.OAuth.Issuer,
				Audience: a.OAuth.Audience, RequiredScopes: a.OAuth.RequiredScopes, Leeway: a.OAuth.Leeway,
				Registerer: k.reg, Logger: k.log}); err != nil {
				return nil, nil, fmt.Errorf("http.auth.oauth: %w", err)
			}
		}
	}
	commit = func(use bool) {
		switch {
		case !fresh:
		case !use:
			if o != nil {
				o.Close()
			}
		default:
			if k.oauth != nil {
				k.oauth.Close()
			}
			k.cfg, k.oauth = a.OAuth, o
		}
	}
	return httpin.NewAuthOAuth(header, keys, user, pass, o), commit, nil
}

// close stops the OAuth checker in use.
func (k *authKeeper) close() {
	if k.oauth != nil {
		k.oauth.Close()
	}
}
