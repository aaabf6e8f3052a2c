package httpin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/valyala/fasthttp"
)

// Auth accepts a request that carries any configured API key in Header, or the
// configured Basic credentials, or a Bearer token OAuth accepts. Comparisons are
// constant-time over SHA-256 digests, so neither the content nor the length of a
// secret leaks through timing; every configured key is compared on every request.
type Auth struct {
	Header string
	keys   [][sha256.Size]byte
	// Basic is true when Basic credentials are configured.
	Basic      bool
	user, pass [sha256.Size]byte
	// OAuth, if set, checks Bearer tokens.
	OAuth *OAuth
}

// NewAuth returns nil when nothing is configured (open endpoint).
func NewAuth(header string, keys []string, user, pass string) *Auth {
	return NewAuthOAuth(header, keys, user, pass, nil)
}

// NewAuthOAuth is NewAuth that also accepts the Bearer tokens o accepts.
func NewAuthOAuth(header string, keys []string, user, pass string, o *OAuth) *Auth {
	if len(keys) == 0 && user == "" && o == nil {
		return nil
	}
	a := &Auth{Header: header, OAuth: o}
	for _, k := range keys {
		a.keys = append(a.keys, sha256.Sum256([]byte(k)))
	}
	if user != "" {
		a.Basic = true
		a.user, a.pass = sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	}
	return a
}

// Check reports whether the request headers h carry valid credentials.
func (a *Auth) Check(h *fasthttp.RequestHeader) bool {
	ok := 0
	if a.Header != "" && len(a.keys) > 0 {
		if v := h.Peek(a.Header); len(v) > 0 {
			d := sha256.Sum256(v)
			for i := range a.keys {
				ok |= subtle.ConstantTimeCompare(d[:], a.keys[i][:])
			}
		}
	}
	if a.Basic {
		if u, p, found := basicAuth(h.Peek(fasthttp.HeaderAuthorization)); found {
			du, dp := sha256.Sum256(u), sha256.Sum256(p)
			ok |= subtle.ConstantTimeCompare(du[:], a.user[:]) & subtle.ConstantTimeCompare(dp[:], a.pass[:])
		}
	}
	if ok == 0 && a.OAuth != nil {
		if tok, found := bearer(h.Peek(fasthttp.HeaderAuthorization)); found && a.OAuth.Verify(tok) == nil {
			ok = 1
		}
	}
	return ok == 1
}

// challenge sets the WWW-Authenticate answers of a request Check refused: one
// per configured scheme, Basic first; a Bearer token that was sent and refused
// is called invalid_token (RFC 6750), without saying why.
func (a *Auth) challenge(resp *fasthttp.ResponseHeader, req *fasthttp.RequestHeader) {
	if a.Basic {
		resp.Add("WWW-Authenticate", `Basic realm="genesys-relay"`)
	}
	if a.OAuth != nil {
		if _, sent := bearer(req.Peek(fasthttp.HeaderAuthorization)); sent {
			resp.Add("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			resp.Add("WWW-Authenticate", `Bearer realm="genesys-relay"`)
		}
	}
}

// bearer returns the token of an "Authorization: Bearer" value; the scheme is
// case-insensitive.
func bearer(v []byte) ([]byte, bool) {
	const prefix = "Bearer "
	if len(v) <= len(prefix) || !bytes.EqualFold(v[:len(prefix)], []byte(prefix)) {
		return nil, false
	}
	return bytes.TrimSpace(v[len(prefix):]), true
}

// basicAuth parses an "Authorization: Basic" value as net/http's
// Request.BasicAuth does: the scheme is case-insensitive, the credentials are
// standard base64 of "user:password", split at the first colon.
func basicAuth(v []byte) (user, pass []byte, ok bool) {
	const prefix = "Basic "
	if len(v) < len(prefix) || !bytes.EqualFold(v[:len(prefix)], []byte(prefix)) {
		return nil, nil, false
	}
	c := make([]byte, base64.StdEncoding.DecodedLen(len(v)-len(prefix)))
	n, err := base64.StdEncoding.Decode(c, v[len(prefix):])
	if err != nil {
		return nil, nil, false
	}
	user, pass, ok = bytes.Cut(c[:n], []byte(":"))
	return user, pass, ok
}
