package httpin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
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

// Check reports whether r carries valid credentials.
func (a *Auth) Check(r *http.Request) bool {
	ok := 0
	if a.Header != "" && len(a.keys) > 0 {
		if v := r.Header.Get(a.Header); v != "" {
			d := sha256.Sum256([]byte(v))
			for i := range a.keys {
				ok |= subtle.ConstantTimeCompare(d[:], a.keys[i][:])
			}
		}
	}
	if a.Basic {
		if u, p, found := r.BasicAuth(); found {
			du, dp := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
			ok |= subtle.ConstantTimeCompare(du[:], a.user[:]) & subtle.ConstantTimeCompare(dp[:], a.pass[:])
		}
	}
	return ok == 1
}
