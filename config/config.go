// Package config loads relay.yaml: one struct with every default in Default, strict
// YAML (unknown keys are errors), ${VAR} expansion from the environment (an unset
// variable is an error, so a secret never silently becomes empty), environment
// overrides for deployment, and validation whose errors name the file and the key.
//
// The key names are a contract with users and tests; see the README's configuration
// reference. CEL expressions are only checked for presence here: they are compiled
// by package rules, which reports the rule name and position.
package config

import (
	"errors"
	"time"

	"github.com/genesys-relay/genesys-relay/kinesis"
	"github.com/genesys-relay/genesys-relay/sqsin"
)

// ErrInvalid is wrapped by every error Load returns for a bad configuration.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole relay.yaml.
type Config struct {
	// Listen is the HTTP address for ingest, /healthz, /readyz and /metrics.
	Listen string `yaml:"listen"`
	// MetricsListen optionally moves /healthz, /readyz and /metrics to their own
	// listener (empty: served on Listen).
	MetricsListen string `yaml:"metrics_listen"`
	HTTP          HTTP   `yaml:"http"`
	// SQS is optional: when QueueURL is set, serve also consumes the queue.
	SQS          SQS          `yaml:"sqs"`
	Filter       Filter       `yaml:"filter"`
	PartitionKey PartitionKey `yaml:"partition_key"`
	Enrich       Enrich       `yaml:"enrich"`
	Kinesis      Kinesis      `yaml:"kinesis"`
	// Outputs are named Kinesis destinations for Routes; each holds its
	// resolved settings (what the file leaves out of an output comes from
	// Kinesis). Empty: the one output is Kinesis, named DefaultOutput.
	Outputs map[string]Kinesis `yaml:"outputs"`
	// Routes send each event that passed the filter to every output whose
	// route selects it. Empty: one route, DefaultRoute, takes every event to
	// DefaultOutput.
	Routes []Route `yaml:"routes"`
	// Sink is "kinesis" or "stdout" (records as JSON lines, for dry runs).
	Sink string `yaml:"sink"`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight work.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// Tests are the cases run by `genesys-relay test`.
	Tests []TestCase `yaml:"tests"`

	// Path is the file the config was loaded from ("" when built in code); relative
	// event_file paths in Tests are resolved against its directory.
	Path string `yaml:"-"`
}

// HTTP configures the EventBridge API-destination input.
type HTTP struct {
	Path           string        `yaml:"path"`
	MaxBodyBytes   int64         `yaml:"max_body_bytes"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxInFlight bounds concurrent requests being processed; beyond it the relay
	// answers 429 with Retry-After.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightBytes bounds the raw bytes of the request bodies being handled
	// (a Content-Length is reserved before the body is read, a chunked body is
	// counted as it arrives, and both are held until the answer); beyond it the
	// relay answers 429 with Retry-After. MaxInFlight alone bounds requests, not
	// memory: 4096 bodies of 1 MiB would be 4 GiB. See DefaultMaxInFlightBytes.
	MaxInFlightBytes int64 `yaml:"max_in_flight_bytes"`
	Auth             Auth  `yaml:"auth"`
	// TLS turns Listen into an HTTPS listener when both CertFile and KeyFile
	// are set (EventBridge API destinations call only HTTPS endpoints).
	TLS TLS `yaml:"tls"`
}

// DefaultMaxInFlightBytes is http.max_in_flight_bytes by default: 32 MiB,
// chosen so that the relay's peak RSS stays well under 512 MB however many
// large events arrive at once. Memory grows with the bytes in flight by several
// times their size: the body, the values decoded from it (bounded by the
// decoder in proportion to the body), the Kinesis record (the body again), and
// the collector's headroom over all of that (the heap may grow to twice its
// live size). Measured with ordinary 1 MB events (bench/large-event.sh, then
// go -C bench run ./cmd/relay-bench -c 64 -d 10s -event FILE -set
// http.max_in_flight_bytes=N, 2 shared cores): peak RSS 275-296 MB at 32 MiB,
// 389-491 MB at 64 MiB, and with 256 senders 241 MB at 32 MiB but 611 MB
// without a bound in bytes. 32 MiB costs no throughput: those events are
// CPU-bound (about 7 ms each here), so 32 of them at once keep two cores busy,
// and the events of ordinary traffic are a few KB, thousands of which fit. A
// relay given more memory can raise it; it must be at least
// http.max_body_bytes, or the largest body could never be taken.
const DefaultMaxInFlightBytes = 32 << 20

// TLS configures HTTPS on Listen. The files are read again on SIGHUP and when
// they change on disk; a pair that does not load is logged and the running one
// kept.
type TLS struct {
	// CertFile is a PEM chain, leaf first; KeyFile its PEM private key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// MinVersion is "1.2" or "1.3".
	MinVersion string `yaml:"min_version"`
	// ClientCAFile, when set, requires every client to present a certificate
	// signed by one of its PEM certificates (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the listener speaks HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Auth lists the accepted credentials; a request passes if any one matches. With
// neither set, the endpoint is open (bind it to a private address).
type Auth struct {
	APIKey *APIKey `yaml:"api_key"`
	Basic  *Basic  `yaml:"basic"`
	OAuth  *OAuth  `yaml:"oauth"`
}

// OAuth accepts "Authorization: Bearer" JWTs signed by a key of the issuer's
// JWKS, the tokens an EventBridge connection of the OAuth client-credentials
// type fetches from its authorization server.
type OAuth struct {
	// JWKSURL is where the issuer publishes its public keys.
	JWKSURL string `yaml:"jwks_url"`
	// Issuer must equal the token's iss.
	Issuer string `yaml:"issuer"`
	// Audience: any one must be in the token's aud. Empty does not check aud
	// (Amazon Cognito access tokens have none); required_scopes must then say
	// which tokens are for the relay.
	Audience []string `yaml:"audience"`
	// RequiredScopes must all be in the token's scope (space-separated) or scp.
	RequiredScopes []string `yaml:"required_scopes"`
	// Leeway is the clock skew allowed on exp, nbf and iat (default 30s).
	Leeway time.Duration `yaml:"leeway"`
}

// DefaultOAuthLeeway is http.auth.oauth.leeway when the file leaves it out.
const DefaultOAuthLeeway = 30 * time.Second

// APIKey accepts any of Values in Header (several values allow rotation).
type APIKey struct {
	Header string   `yaml:"header"`
	Values []string `yaml:"values"`
}

// Basic is HTTP Basic authentication.
type Basic struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// SQS configures the queue consumer. Its keys, defaults and checks live with
// the consumer (sqsin.Options), as the kinesis: section's live with the writer.
type SQS = sqsin.Options

// Filter is the source allow-list and the ordered rules.
type Filter struct {
	// Sources allow-lists envelope.source; '*' matches any characters, '/' included.
	Sources    []string `yaml:"sources"`
	Rules      []Rule   `yaml:"rules"`
	PassReason string   `yaml:"pass_reason"`
}

// Rule has a name and exactly one of Require or DropIf (CEL expressions).
type Rule struct {
	Name    string `yaml:"name"`
	Require string `yaml:"require"`
	DropIf  string `yaml:"drop_if"`
}

// PartitionKey selects the Kinesis partition key.
type PartitionKey struct {
	// Expr is a CEL expression giving the key. Empty: the built-in key, which
	// reads both payload shapes: for the seed's, DefaultPartitionKeyExpr hashed
	// with Hash (the seed's key); for Genesys Cloud's (detail.topicName
	// present), detail.eventBody.conversationId as is. Each falls back to the
	// envelope id, hashed the same way.
	Expr string `yaml:"expr"`
	// Hash is fnv64a (first 16 hex chars of FNV-1a 64) or none (the value itself).
	Hash string `yaml:"hash"`
	// ExplicitHashKey is an optional CEL expression giving a decimal 128-bit hash key.
	ExplicitHashKey string `yaml:"explicit_hash_key"`
}

// Enrich shapes the record written to Kinesis.
type Enrich struct {
	// IncludeEnvelope keeps the whole envelope in original_event instead of detail.
	IncludeEnvelope bool `yaml:"include_envelope"`
	// Fields adds top-level record fields from CEL expressions.
	Fields map[string]string `yaml:"fields"`
}

// Kinesis configures an output stream: the client, the batching and the
// retries. Its keys, defaults and checks live with the writer
// (kinesis.Options), so relay.yaml's kinesis: section and each of outputs:
// read the same way.
type Kinesis = kinesis.Options

// TestCase is one `genesys-relay test` case.
type TestCase struct {
	Name      string         `yaml:"name"`
	EventFile string         `yaml:"event_file"`
	Event     map[string]any `yaml:"event"`
	Expect    Expect         `yaml:"expect"`
}

// Expect is what a test case asserts; empty fields are not checked.
type Expect struct {
	Decision     string `yaml:"decision"`
	Reason       string `yaml:"reason"`
	PartitionKey string `yaml:"partition_key"`
	// Routes, when given (even empty), are the routes the event must take, in
	// order: a route name, or {route, stream, partition_key} with the parts
	// to compare.
	Routes []ExpectRoute `yaml:"routes"`
	// Fields are expected top-level record fields (compared as JSON values).
	Fields map[string]any `yaml:"fields"`
}

// Seed expressions: the behaviour of the original design, the default here
// (DefaultPartitionKeyExpr is the built-in key for events of the seed's shape).
const (
	DefaultPartitionKeyExpr = `detail.?interaction.?routing.?queue.?id.orValue("") in ["", null] ? detail.?interaction.?id.orValue("") : detail.interaction.routing.queue.id`
	DefaultPassReason       = "passed_all_filters"
)

// DefaultSources are the envelope sources allowed when filter.sources is not
// set: the seed's and every Genesys Cloud EventBridge integration's (partner
// event sources are aws.partner/genesys.com/cloud/{organizationId}/{name}), so
// real events are not rejected before a config says otherwise.
func DefaultSources() []string {
	return []string{"genesys.cloud", "aws.partner/genesys.com/*"}
}

// Default returns a Config with every default set.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		HTTP: HTTP{
			Path:             "/eventbridge",
			MaxBodyBytes:     1 << 20,
			RequestTimeout:   4 * time.Second,
			MaxInFlight:      4096,
			MaxInFlightBytes: DefaultMaxInFlightBytes,
			TLS:              TLS{MinVersion: "1.2"},
		},
		SQS:             sqsin.DefaultOptions(),
		Filter:          Filter{Sources: DefaultSources(), PassReason: DefaultPassReason},
		PartitionKey:    PartitionKey{Hash: "fnv64a"},
		Kinesis:         defaultKinesis(),
		Sink:            "kinesis",
		ShutdownTimeout: 20 * time.Second,
		LogLevel:        "info",
	}
}

func defaultKinesis() Kinesis {
	k := kinesis.DefaultOptions()
	k.Stream = "genesys-interactions-stream"
	return k
}
