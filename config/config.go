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
	MaxInFlight int  `yaml:"max_in_flight"`
	Auth        Auth `yaml:"auth"`
	// TLS turns Listen into an HTTPS listener when both CertFile and KeyFile
	// are set (EventBridge API destinations call only HTTPS endpoints).
	TLS TLS `yaml:"tls"`
}

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

// SQS configures the queue consumer.
type SQS struct {
	QueueURL          string        `yaml:"queue_url"`
	Region            string        `yaml:"region"`
	Endpoint          string        `yaml:"endpoint"`
	Workers           int           `yaml:"workers"`
	WaitTime          time.Duration `yaml:"wait_time"`
	VisibilityTimeout time.Duration `yaml:"visibility_timeout"`
	HandleTimeout     time.Duration `yaml:"handle_timeout"`
	RetryDelay        time.Duration `yaml:"retry_delay"`
	// DeleteInvalid deletes messages that can never succeed instead of leaving them
	// for the queue's redrive policy (off: they reach the dead-letter queue).
	DeleteInvalid bool `yaml:"delete_invalid"`
}

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

// Kinesis configures the output stream and batching.
type Kinesis struct {
	Stream          string        `yaml:"stream"`
	Region          string        `yaml:"region"`
	Endpoint        string        `yaml:"endpoint"`
	MaxBatchRecords int           `yaml:"max_batch_records"`
	MaxBatchBytes   int           `yaml:"max_batch_bytes"`
	MaxRecordBytes  int           `yaml:"max_record_bytes"`
	Linger          time.Duration `yaml:"linger"`
	MaxInFlight     int           `yaml:"max_in_flight"`
	QueueSize       int           `yaml:"queue_size"`
	CallTimeout     time.Duration `yaml:"call_timeout"`
	RetryBase       time.Duration `yaml:"retry_base"`
	RetryMax        time.Duration `yaml:"retry_max"`
	Aggregate       bool          `yaml:"aggregate"`
	// Client is the PutRecords client: "direct" (kinesis.Direct, hand-written,
	// less than half the SDK's CPU per record) or "sdk" (the AWS SDK's client,
	// the way back should the direct one misbehave somewhere).
	Client string `yaml:"client"`
	// SkipStreamCheck skips DescribeStreamSummary at start-up (for endpoints that do
	// not implement it).
	SkipStreamCheck bool `yaml:"skip_stream_check"`
}

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
	// Fields are expected top-level record fields (compared as JSON values).
	Fields map[string]any `yaml:"fields"`
}

// Seed expressions: the behaviour of the original design, the default here.
const (
	DefaultPartitionKeyExpr = `detail.?interaction.?routing.?queue.?id.orValue("") in ["", null] ? detail.?interaction.?id.orValue("") : detail.interaction.routing.queue.id`
	DefaultPassReason       = "passed_all_filters"
)

// Default returns a Config with every default set.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		HTTP: HTTP{
			Path:           "/eventbridge",
			MaxBodyBytes:   1 << 20,
			RequestTimeout: 4 * time.Second,
			MaxInFlight:    4096,
			TLS:            TLS{MinVersion: "1.2"},
		},
		SQS: SQS{
			Workers:       4,
			WaitTime:      20 * time.Second,
			HandleTimeout: 30 * time.Second,
		},
		Filter:       Filter{Sources: []string{"genesys.cloud"}, PassReason: DefaultPassReason},
		PartitionKey: PartitionKey{Expr: DefaultPartitionKeyExpr, Hash: "fnv64a"},
		Kinesis: Kinesis{
			Stream:          "genesys-interactions-stream",
			MaxBatchRecords: 500,
			MaxBatchBytes:   5 << 20,
			MaxRecordBytes:  1 << 20,
			Linger:          10 * time.Millisecond,
			MaxInFlight:     16,
			QueueSize:       10000,
			CallTimeout:     3 * time.Second,
			RetryBase:       50 * time.Millisecond,
			RetryMax:        1 * time.Second,
			Client:          "direct",
		},
		Sink:            "kinesis",
		ShutdownTimeout: 20 * time.Second,
		LogLevel:        "info",
	}
}
