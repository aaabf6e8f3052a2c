package reliability

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/testjwks"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestOAuthBinary: the binary over HTTPS with an OAuth issuer of the test's
// own (and an API key beside it): a token of the issuer forwards the event;
// wrong tokens get 401 with `WWW-Authenticate: Bearer error="invalid_token"`;
// the issuer's new key works at once; tokens keep passing while the issuer is
// down; a SIGHUP that changes the audience applies it and keeps OAuth working;
// no token ever reaches the log (at debug level) or an answer.
func TestOAuthBinary(t *testing.T) {
	awsEnv(t)
	iss := testjwks.New(t)
	k1 := iss.AddKey(t, "RS256")
	h := startHTTPS(t, map[string]any{
		"log_level":         "debug",
		"http.auth.api_key": map[string]any{"header": "X-Api-Key", "values": []string{"api-key-5d1e"}},
		"http.auth.oauth": map[string]any{"jwks_url": iss.URL, "issuer": iss.Name, "audience": []string{"genesys-relay"},
			"required_scopes": []string{"relay/ingest"}, "leeway": "5s"},
	})
	client := h.client(true, nil)
	var tokens []string
	token := func(kid, aud, scope string, ttl time.Duration) string {
		tok := iss.Token(t, kid, iss.Claims(aud, scope, ttl))
		tokens = append(tokens, tok)
		return tok
	}
	n := 0
	expect := func(what string, want int, hdr ...string) {
		t.Helper()
		n++
		r := send(client, h.url, event("oauth-"+what, "q-oauth"), hdr...)
		switch want {
		case http.StatusOK:
			if !forwardedOK(r, "q-oauth") {
				t.Errorf("%s: %d %q %v, want forwarded", what, r.code, r.raw, r.err)
			}
		case http.StatusUnauthorized:
			if r.code != 401 || r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Errorf("%s: %d %q WWW-Authenticate %q, want 401 invalid_token", what, r.code, r.raw, r.header.Get("WWW-Authenticate"))
			}
		}
		for _, tok := range tokens {
			if strings.Contains(string(r.raw), tok) {
				t.Errorf("%s: the answer holds a token", what)
			}
		}
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	expect("valid", 200, bearer(token(k1, "genesys-relay", "relay/ingest", time.Hour))...)
	expect("api-key", 200, "X-Api-Key", "api-key-5d1e")
	expect("wrong-audience", 401, bearer(token(k1, "another-app", "relay/ingest", time.Hour))...)
	expect("missing-scope", 401, bearer(token(k1, "genesys-relay", "relay/read", time.Hour))...)
	expect("expired", 401, bearer(token(k1, "genesys-relay", "relay/ingest", -time.Minute))...)
	none := testjwks.NoneToken(t, k1, iss.Claims("genesys-relay", "relay/ingest", time.Hour))
	tokens = append(tokens, none)
	expect("alg-none", 401, bearer(none)...)

	k2 := iss.AddKey(t, "ES256")
	expect("rotated-key", 200, bearer(token(k2, "genesys-relay", "relay/ingest", time.Hour))...)
	iss.SetDown(true)
	expect("issuer-down", 200, bearer(token(k1, "genesys-relay", "relay/ingest", time.Hour))...)
	expect("unknown-kid-issuer-down", 401, bearer(iss.TokenAs(t, k1, "made-up", iss.Claims("genesys-relay", "relay/ingest", time.Hour)))...)
	iss.SetDown(false)

	// A reload that changes the audience.
	h.rewrite(t, map[string]any{"http.auth.oauth.audience": []string{"genesys-relay-v2"}})
	h.signal(t, syscall.SIGHUP)
	testx.Eventually(30*time.Second, func() bool { return h.logs.contains(`"config reloaded"`) })
	expect("new-audience", 200, bearer(token(k2, "genesys-relay-v2", "relay/ingest", time.Hour))...)
	expect("old-audience", 401, bearer(token(k2, "genesys-relay", "relay/ingest", time.Hour))...)

	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if h.logs.contains(tok) || (len(sig) > 16 && h.logs.contains(sig)) {
			t.Fatalf("the log holds a token:\n%s", h.logs.tail(20))
		}
	}
}
