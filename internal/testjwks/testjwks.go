// Package testjwks is an OAuth issuer for tests: a JWKS endpoint on loopback
// serving keys the test adds and removes, which can go down, and tokens signed
// with those keys (or forged in the ways attackers forge them).
package testjwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer serves a JWKS at URL and signs tokens with its keys.
type Issuer struct {
	// URL is the JWKS URL; Name the iss of its tokens.
	URL, Name string
	srv       *httptest.Server

	mu      sync.Mutex
	keys    []key
	down    bool
	fetches int
}

type key struct {
	kid, alg string
	priv     crypto.Signer
}

// New starts an issuer with no keys; it stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{}
	i.srv = httptest.NewServer(http.HandlerFunc(i.serve))
	t.Cleanup(i.srv.Close)
	i.URL = i.srv.URL + "/.well-known/jwks.json"
	i.Name = i.srv.URL + "/"
	return i
}

func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.fetches++
	if i.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/.well-known/jwks.json" {
		http.NotFound(w, r)
		return
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	set.Keys = []map[string]string{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jwk(k))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func jwk(k key) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch p := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := p.Bytes() // 0x04 || X || Y, each the curve's size
		if err != nil {
			panic(err) // a key made by ecdsa.GenerateKey
		}
		xy := raw[1:]
		m["kty"], m["crv"], m["x"], m["y"] = "EC", p.Curve.Params().Name, b64(xy[:len(xy)/2]), b64(xy[len(xy)/2:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(p)
	}
	return m
}

// AddKey adds a new key for alg (RS256, RS384, RS512, ES256, ES384, EdDSA)
// and returns its kid.
func (i *Issuer) AddKey(t testing.TB, alg string) string {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "RS384", "RS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("testjwks: no key type for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	kid := fmt.Sprintf("key-%d-%s", len(i.keys)+1, strings.ToLower(alg))
	i.keys = append(i.keys, key{kid: kid, alg: alg, priv: priv})
	return kid
}

// RemoveKey stops publishing kid (its tokens keep being signable).
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for j, k := range i.keys {
		if k.kid == kid {
			i.keys[j].kid = "removed-" + kid
		}
	}
}

// SetDown makes the JWKS endpoint answer 503 (true) or serve again.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// Fetches counts the requests the endpoint received.
func (i *Issuer) Fetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches
}

// Claims are valid claims of the issuer for aud with scope, expiring in ttl.
func (i *Issuer) Claims(aud, scope string, ttl time.Duration) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": i.Name, "sub": "client-1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix()}
	if aud != "" {
		c["aud"] = aud
	}
	if scope != "" {
		c["scope"] = scope
	}
	return c
}

// Token signs claims with the key kid (also removed ones).
func (i *Issuer) Token(t testing.TB, kid string, claims jwt.Claims) string {
	t.Helper()
	k := i.key(t, kid)
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TokenAs signs claims with the key kid but says its kid is claimedKID.
func (i *Issuer) TokenAs(t testing.TB, kid, claimedKID string, claims jwt.Claims) string {
	t.Helper()
	k := i.key(t, kid)
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), claims)
	tok.Header["kid"] = claimedKID
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// NoneToken is an unsigned token (alg "none") naming kid.
func NoneToken(t testing.TB, kid string, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ConfusedToken is the key-confusion forgery: an HS256 token whose HMAC
// secret is the public key of kid, as an attacker who knows the JWKS can
// make, in the encodings a careless verifier might use as the secret.
func (i *Issuer) ConfusedToken(t testing.TB, kid string, claims jwt.Claims, secret func(pub crypto.PublicKey) []byte) string {
	t.Helper()
	k := i.key(t, kid)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(secret(k.priv.Public()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (i *Issuer) key(t testing.TB, kid string) key {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.kid == kid || k.kid == "removed-"+kid {
			return k
		}
	}
	t.Fatalf("testjwks: no key %q", kid)
	return key{}
}
