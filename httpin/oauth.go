package httpin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// OAuthOptions configures the checks of Bearer tokens.
type OAuthOptions struct {
	// JWKSURL is where the issuer publishes its public keys.
	JWKSURL string
	// Issuer must equal the token's iss.
	Issuer string
	// Audience: any one must be in aud; empty does not check aud.
	Audience []string
	// RequiredScopes must all be in scope (space-separated) or scp.
	RequiredScopes []string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// RefreshInterval is how often the JWKS is read again (default 10 min);
	// a key the issuer removed stops working then.
	RefreshInterval time.Duration
	// UnknownKeyInterval is the least time between two reads of the JWKS
	// caused by tokens naming a key not in it (default 30 s): an issuer's new
	// key is picked up at once, and a flood of made-up key IDs costs the
	// issuer one request per interval.
	UnknownKeyInterval time.Duration
	// Client fetches the JWKS (default: a client with a 5 s timeout).
	Client *http.Client
	// Registerer receives genesys_relay_http_oauth_rejected_total{reason}.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// OAuth checks "Authorization: Bearer" JWTs: signed (RS256/384/512, ES256/384
// or EdDSA) by a key of the issuer's JWKS, from the issuer, for the audience,
// with the scopes, and valid now. Keys are cached: when the issuer is down the
// cached ones keep serving, and a token naming an unknown key ID makes the JWKS
// be read again, at most once per UnknownKeyInterval. HMAC and "none" are
// refused whatever the token says, so a public key can never be used as an
// HMAC secret (key confusion).
//
// A token found valid is remembered (by its SHA-256) for at most a minute and
// never past its expiry: EventBridge sends the same token with every event
// until it expires, and checking a signature costs more CPU than relaying the
// event.
type OAuth struct {
	kf       keyfunc.Keyfunc
	parser   *jwt.Parser
	scopes   []string
	cancel   context.CancelFunc
	log      *slog.Logger
	rejected *prometheus.CounterVec
	now      func() time.Time

	mu    sync.RWMutex
	valid map[[sha256.Size]byte]time.Time // token digest → remembered until
}

// validMethods are the signature algorithms accepted.
var validMethods = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"}

const (
	validCacheTTL  = time.Minute
	validCacheSize = 4096
)

// NewOAuth reads the JWKS once (waiting at most the client's timeout; if the
// issuer cannot be reached, tokens are refused until a later read succeeds)
// and starts refreshing it in the background until Close.
func NewOAuth(o OAuthOptions) (*OAuth, error) {
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 10 * time.Minute
	}
	if o.UnknownKeyInterval <= 0 {
		o.UnknownKeyInterval = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{o.JWKSURL}, keyfunc.Override{
		Client:      o.Client,
		HTTPTimeout: o.Client.Timeout,
		// A request waits for the JWKS at most this long, and never for the
		// rate limit of unknown key IDs: its wait would be longer.
		RateLimitWaitMax:  2 * time.Second,
		RefreshInterval:   o.RefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKeyInterval), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				log.Error("oauth: reading the JWKS failed; the keys read before stay in use", "jwks_url", u, "err", err)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("oauth: %w", err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(validMethods),
		jwt.WithIssuer(o.Issuer),
		jwt.WithLeeway(o.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if len(o.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(o.Audience...))
	}
	a := &OAuth{kf: kf, parser: jwt.NewParser(opts...), scopes: o.RequiredScopes, cancel: cancel, log: log, now: time.Now,
		valid: map[[sha256.Size]byte]time.Time{},
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "genesys_relay", Subsystem: "http",
			Name: "oauth_rejected_total", Help: "Bearer tokens refused, by reason."}, []string{"reason"}),
	}
	for _, r := range rejectReasons {
		a.rejected.WithLabelValues(r)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(a.rejected); err != nil {
			// A reload builds a new OAuth: it counts on the first one's series.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				cancel()
				return nil, fmt.Errorf("oauth: %w", err)
			}
			a.rejected = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return a, nil
}

// Close stops refreshing the JWKS.
func (a *OAuth) Close() { a.cancel() }

// claims are the claims checked; RegisteredClaims takes aud as a string or
// an array.
type claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
	Scp   any    `json:"scp"`
}

// Verify reports whether token is valid. The error says why not in words
// that never contain the token.
func (a *OAuth) Verify(token []byte) error {
	sum := sha256.Sum256(token)
	now := a.now()
	a.mu.RLock()
	until, ok := a.valid[sum]
	a.mu.RUnlock()
	if ok && now.Before(until) {
		return nil
	}
	var c claims
	if _, err := a.parser.ParseWithClaims(string(token), &c, a.kf.Keyfunc); err != nil {
		reason := rejectReason(err)
		a.rejected.WithLabelValues(reason).Inc()
		return fmt.Errorf("oauth: token refused: %s", reason)
	}
	if missing := a.missingScope(&c); missing != "" {
		a.rejected.WithLabelValues("scope").Inc()
		return errors.New("oauth: token refused: scope")
	}
	until = now.Add(validCacheTTL)
	if exp := c.ExpiresAt.Time; exp.Before(until) {
		until = exp
	}
	a.mu.Lock()
	if len(a.valid) >= validCacheSize {
		clear(a.valid)
	}
	a.valid[sum] = until
	a.mu.Unlock()
	return nil
}

// missingScope returns a required scope the token lacks, "" if none.
func (a *OAuth) missingScope(c *claims) string {
	if len(a.scopes) == 0 {
		return ""
	}
	have := strings.Fields(c.Scope)
	switch v := c.Scp.(type) {
	case string:
		have = append(have, strings.Fields(v)...)
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok {
				have = append(have, s)
			}
		}
	}
	for _, s := range a.scopes {
		if !slices.Contains(have, s) {
			return s
		}
	}
	return ""
}

// rejectReasons are the label values of oauth_rejected_total.
var rejectReasons = []string{"malformed", "algorithm", "key", "signature", "expired", "not_yet_valid",
	"issuer", "audience", "scope", "claims"}

// rejectReason classifies a parse error into a label value.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		return "algorithm"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "key" // no key of the JWKS fits the token's kid and alg
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not_yet_valid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "audience"
	}
	return "claims"
}
