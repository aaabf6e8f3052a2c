package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// validateTLS checks http.tls without reading the files: serve and check do
// that (a missing file is reported with its path then).
func (c *Config) validateTLS(bad func(key, format string, args ...any)) {
	t := c.HTTP.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("http.tls", "needs both cert_file and key_file (or neither, for plain HTTP)")
	}
	if t.ClientCAFile != "" && !t.Enabled() {
		bad("http.tls.client_ca_file", "needs cert_file and key_file: client certificates are asked for only over HTTPS")
	}
	switch t.MinVersion {
	case "1.2", "1.3":
	default:
		bad("http.tls.min_version", `want "1.2" or "1.3", got %q`, t.MinVersion)
	}
}

// validateOAuth checks http.auth.oauth: a token must be tied to the relay by
// its issuer and by its audience or its scopes.
func (c *Config) validateOAuth(bad func(key, format string, args ...any)) {
	o := c.HTTP.Auth.OAuth
	if o == nil {
		return
	}
	if u, err := url.Parse(o.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("http.auth.oauth.jwks_url", "want the https:// URL of the issuer's JWKS, got %q", o.JWKSURL)
	}
	if o.Issuer == "" {
		bad("http.auth.oauth.issuer", "must name the token issuer (the iss claim)")
	}
	if len(o.Audience) == 0 && len(o.RequiredScopes) == 0 {
		bad("http.auth.oauth", "needs audience or required_scopes: otherwise any token of the issuer, for any application, is accepted")
	}
	for i, a := range o.Audience {
		if strings.TrimSpace(a) == "" {
			bad(fmt.Sprintf("http.auth.oauth.audience[%d]", i), "is empty")
		}
	}
	for i, s := range o.RequiredScopes {
		if s == "" || strings.ContainsAny(s, " \t") {
			bad(fmt.Sprintf("http.auth.oauth.required_scopes[%d]", i), "want one scope without spaces, got %q", s)
		}
	}
	if o.Leeway < 0 || o.Leeway > 5*time.Minute {
		bad("http.auth.oauth.leeway", "must be between 0s and 5m, got %s", o.Leeway)
	}
}
