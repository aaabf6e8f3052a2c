package httpin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/valyala/fasthttp"
)

// Auth accepts a request that carries any configured API key in Header, or the
// configured Basic credentials. Comparisons are constant-time over SHA-256 digests,
// so neither the content nor the length of a secret leaks through timing; every
// configured key is compared on every request.
type Auth struct {
	Header string
	keys   [][sha256.Size]byte
	// Basic is true when Basic credentials are configured.
	Basic      bool
	user, pass [sha256.Size]byte
}

// NewAuth returns nil when nothing is configured (open endpoint).
func NewAuth(header string, keys []string, user, pass string) *Auth {
	if len(keys) == 0 && user == "" {
		return nil
	}
	a := &Auth{Header: header}
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
	return ok == 1
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
