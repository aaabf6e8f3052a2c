package httpin

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay/internal/testjwks"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

const testAudience = "genesys-relay"

// newTestOAuth is an OAuth checker of iss for testAudience and the scope
// relay/ingest; o changes its options.
func newTestOAuth(t *testing.T, iss *testjwks.Issuer, reg prometheus.Registerer, o func(*OAuthOptions)) *OAuth {
	t.Helper()
	opts := OAuthOptions{JWKSURL: iss.URL, Issuer: iss.Name, Audience: []string{testAudience, "other-app"},
		RequiredScopes: []string{"relay/ingest"}, Leeway: 30 * time.Second, Registerer: reg,
		// No background refresh unless a test asks for one: fetches are then
		// exactly the ones a test causes.
		RefreshInterval: time.Hour, UnknownKeyInterval: time.Hour}
	if o != nil {
		o(&opts)
	}
	a, err := NewOAuth(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// TestOAuthAlgorithms: tokens signed with every accepted algorithm pass.
func TestOAuthAlgorithms(t *testing.T) {
	iss := testjwks.New(t)
	algs := []string{"RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"}
	kids := map[string]string{}
	for _, alg := range algs {
		kids[alg] = iss.AddKey(t, alg)
	}
	a := newTestOAuth(t, iss, nil, nil)
	for _, alg := range algs {
		tok := iss.Token(t, kids[alg], iss.Claims(testAudience, "openid relay/ingest", time.Hour))
		if err := a.Verify([]byte(tok)); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

// TestOAuthRefusals: every way a token can be wrong is refused, counted by
// reason, and the error never contains the token.
func TestOAuthRefusals(t *testing.T) {
	iss := testjwks.New(t)
	kid := iss.AddKey(t, "RS256")
	ecKid := iss.AddKey(t, "ES256")
	other := testjwks.New(t) // an issuer the relay does not trust
	otherKid := other.AddKey(t, "RS256")
	reg := prometheus.NewRegistry()
	a := newTestOAuth(t, iss, reg, nil)

	valid := func() jwt.MapClaims { return iss.Claims(testAudience, "relay/ingest", time.Hour) }
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	now := time.Now()
	pemOf := func(pub crypto.PublicKey) []byte {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	derOf := func(pub crypto.PublicKey) []byte { der, _ := x509.MarshalPKIXPublicKey(pub); return der }
	modulus := func(pub crypto.PublicKey) []byte { return pub.(*rsa.PublicKey).N.Bytes() }

	accept := []struct {
		name  string
		token string
	}{
		{"valid", iss.Token(t, kid, valid())},
		{"audience array, one matches", iss.Token(t, kid, with("aud", []string{"x", "other-app"}))},
		{"scp array", iss.Token(t, kid, with("scope", nil))},
		{"expired within the leeway", iss.Token(t, kid, with("exp", now.Add(-10*time.Second).Unix()))},
		{"ES256", iss.Token(t, ecKid, valid())},
	}
	// "scp array" replaces scope with scp.
	c := valid()
	delete(c, "scope")
	c["scp"] = []string{"openid", "relay/ingest"}
	accept[2].token = iss.Token(t, kid, c)
	for _, tc := range accept {
		if err := a.Verify([]byte(tc.token)); err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
		}
	}

	noScope := valid()
	delete(noScope, "scope")
	refuse := []struct {
		name, reason, token string
	}{
		{"expired", "expired", iss.Token(t, kid, with("exp", now.Add(-time.Minute).Unix()))},
		{"no exp", "claims", iss.Token(t, kid, with("exp", nil))},
		{"not yet valid", "not_yet_valid", iss.Token(t, kid, with("nbf", now.Add(time.Minute).Unix()))},
		{"issued in the future", "not_yet_valid", iss.Token(t, kid, with("iat", now.Add(time.Minute).Unix()))},
		{"wrong audience", "audience", iss.Token(t, kid, with("aud", "someone-else"))},
		{"no audience", "claims", iss.Token(t, kid, with("aud", nil))},
		{"wrong issuer", "issuer", iss.Token(t, kid, with("iss", "https://evil.example/"))},
		{"missing scope", "scope", iss.Token(t, kid, with("scope", "openid relay/read"))},
		{"no scope", "scope", iss.Token(t, kid, noScope)},
		{"alg none", "algorithm", testjwks.NoneToken(t, kid, valid())},
		{"HS256 with the public key as PEM", "algorithm", iss.ConfusedToken(t, kid, valid(), pemOf)},
		{"HS256 with the public key as DER", "algorithm", iss.ConfusedToken(t, kid, valid(), derOf)},
		{"HS256 with the modulus", "algorithm", iss.ConfusedToken(t, kid, valid(), modulus)},
		{"signed by another key under a known kid", "signature", other.TokenAs(t, otherKid, kid, valid())},
		{"ES256 key claimed as RS256", "key", forgeAlg(t, iss.Token(t, ecKid, valid()), "RS256")},
		{"malformed", "malformed", "not.a.jwt"},
		{"empty", "malformed", ""},
	}
	for _, tc := range refuse {
		t.Run(tc.name, func(t *testing.T) {
			before := testx.Value(t, reg, "genesys_relay_http_oauth_rejected_total", "reason", tc.reason)
			err := a.Verify([]byte(tc.token))
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error contains the token: %v", err)
			}
			if after := testx.Value(t, reg, "genesys_relay_http_oauth_rejected_total", "reason", tc.reason); after != before+1 {
				t.Errorf("rejected{reason=%q} went %v → %v (%v)", tc.reason, before, after, err)
			}
		})
	}
}

// forgeAlg rewrites a token's header to claim alg, keeping the signature.
func forgeAlg(t *testing.T, token, alg string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	var p jwt.Parser
	tok, _, err := p.ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	tok.Header["alg"] = alg
	enc := &jwt.Token{Header: tok.Header, Claims: jwt.MapClaims{}, Method: jwt.SigningMethodRS256}
	s, err := enc.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(s, ".")[0] + "." + parts[1] + "." + parts[2]
}

// TestOAuthKeyRotationAndUnknownKIDs: a token signed with the issuer's new
// key passes at once (the JWKS is read again for its unknown kid), a flood of
// made-up kids reads the JWKS at most once per UnknownKeyInterval and answers
// at once, and a key the issuer removed stops working after a refresh.
func TestOAuthKeyRotationAndUnknownKIDs(t *testing.T) {
	iss := testjwks.New(t)
	k1 := iss.AddKey(t, "RS256")
	a := newTestOAuth(t, iss, nil, nil)
	if n := iss.Fetches(); n != 1 {
		t.Fatalf("%d JWKS fetches at start, want 1", n)
	}
	claims := func() jwt.MapClaims { return iss.Claims(testAudience, "relay/ingest", time.Hour) }
	if err := a.Verify([]byte(iss.Token(t, k1, claims()))); err != nil {
		t.Fatal(err)
	}

	k2 := iss.AddKey(t, "ES256") // rotation: the issuer signs with a new key
	if err := a.Verify([]byte(iss.Token(t, k2, claims()))); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if n := iss.Fetches(); n != 2 {
		t.Fatalf("%d JWKS fetches after the new key, want 2", n)
	}
	for i := range 200 {
		tok := iss.TokenAs(t, k1, fmt.Sprintf("made-up-%d", i), claims())
		if err := a.Verify([]byte(tok)); err == nil {
			t.Fatal("token with an unknown kid accepted")
		}
	}
	if n := iss.Fetches(); n != 2 {
		t.Errorf("%d JWKS fetches after 200 unknown kids within the rate limit, want still 2", n)
	}
	// Both keys keep working from the cache.
	for _, k := range []string{k1, k2} {
		if err := a.Verify([]byte(iss.Token(t, k, claims()))); err != nil {
			t.Errorf("key %s after the flood: %v", k, err)
		}
	}

	// A removed key stops working once the JWKS is read again.
	iss.RemoveKey(k1)
	b := newTestOAuth(t, iss, nil, nil)
	if err := b.Verify([]byte(iss.Token(t, k1, claims()))); err == nil {
		t.Error("token of a removed key accepted")
	}
	if err := b.Verify([]byte(iss.Token(t, k2, claims()))); err != nil {
		t.Errorf("key %s: %v", k2, err)
	}
}

// TestOAuthIssuerDown: once the keys were read, tokens keep passing while the
// JWKS endpoint fails its periodic refreshes; a relay that starts while the
// issuer is down refuses tokens until the JWKS can be read.
func TestOAuthIssuerDown(t *testing.T) {
	iss := testjwks.New(t)
	kid := iss.AddKey(t, "EdDSA")
	claims := func() jwt.MapClaims { return iss.Claims(testAudience, "relay/ingest", time.Hour) }
	a := newTestOAuth(t, iss, nil, func(o *OAuthOptions) { o.RefreshInterval = 20 * time.Millisecond })
	iss.SetDown(true)
	start := iss.Fetches()
	if !testx.Eventually(30*time.Second, func() bool { return iss.Fetches() >= start+3 }) {
		t.Fatal("no refresh attempted while the issuer is down")
	}
	if err := a.Verify([]byte(iss.Token(t, kid, claims()))); err != nil {
		t.Errorf("cached key while the issuer is down: %v", err)
	}

	// Started while down: refused, then accepted once the issuer is back (an
	// unknown kid reads the JWKS again, at most every UnknownKeyInterval).
	b := newTestOAuth(t, iss, nil, func(o *OAuthOptions) { o.UnknownKeyInterval = 10 * time.Millisecond })
	if err := b.Verify([]byte(iss.Token(t, kid, claims()))); err == nil {
		t.Fatal("accepted with no key ever read")
	}
	iss.SetDown(false)
	var err error
	testx.Eventually(30*time.Second, func() bool { err = b.Verify([]byte(iss.Token(t, kid, claims()))); return err == nil })
	if err != nil {
		t.Errorf("after the issuer came back: %v", err)
	}
}

// TestBearerAuth: through the server, a valid token passes, a refused one gets
// 401 with `WWW-Authenticate: Bearer error="invalid_token"` and an answer
// without the token, no credentials gets the Bearer challenge, and an API key
// still passes beside OAuth.
func TestBearerAuth(t *testing.T) {
	iss := testjwks.New(t)
	kid := iss.AddKey(t, "RS256")
	a := NewAuthOAuth("X-Api-Key", []string{"k1"}, "", "", newTestOAuth(t, iss, nil, nil))
	h := &countingHandler{res: forwarded}
	opts := defaultOptions()
	opts.Auth = a
	srv, _ := serve(t, h, opts)
	good := iss.Token(t, kid, iss.Claims(testAudience, "relay/ingest", time.Hour))
	expired := iss.Token(t, kid, iss.Claims(testAudience, "relay/ingest", -time.Hour))
	const ok = `{"status":"forwarded","partition_key":"9f1c2d3e4f5a6b7c"}` + "\n"
	const denied = `{"error":"missing or wrong credentials"}` + "\n"

	do(t, http.MethodPost, srv.URL, strings.NewReader(`{}`), map[string]string{"Authorization": "Bearer " + good}).check(t, 200, ok)
	do(t, http.MethodPost, srv.URL, strings.NewReader(`{}`), map[string]string{"Authorization": "bearer " + good}).check(t, 200, ok)
	do(t, http.MethodPost, srv.URL, strings.NewReader(`{}`), map[string]string{"X-Api-Key": "k1"}).check(t, 200, ok)
	for _, tok := range []string{expired, good + "x", "Bearer"} {
		r := do(t, http.MethodPost, srv.URL, strings.NewReader(`{}`), map[string]string{"Authorization": "Bearer " + tok})
		r.check(t, 401, denied)
		if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer error="invalid_token"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
		for k, vs := range r.header {
			if len(tok) > 20 && strings.Contains(k+strings.Join(vs, ""), tok[:20]) {
				t.Errorf("answer header %s echoes the token", k)
			}
		}
	}
	r := do(t, http.MethodPost, srv.URL, strings.NewReader(`{}`), nil)
	r.check(t, 401, denied)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="genesys-relay"` {
		t.Errorf("no credentials: WWW-Authenticate %q", got)
	}
	if n := h.calls.Load(); n != 3 {
		t.Errorf("handler called %d times, want 3", n)
	}
}
