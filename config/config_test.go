package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// overrides are the environment variables applyEnv reads.
var overrides = []string{
	"RELAY_LISTEN", "RELAY_METRICS_LISTEN", "RELAY_SINK", "RELAY_LOG_LEVEL",
	"KINESIS_STREAM_NAME", "KINESIS_ENDPOINT", "AWS_REGION", "SQS_QUEUE_URL", "SQS_ENDPOINT",
	"RELAY_TLS_CERT_FILE", "RELAY_TLS_KEY_FILE",
}

// isolateEnv blanks the override variables for the test (an empty value does not
// override), so Load sees only the file whatever the machine's environment holds.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, name := range overrides {
		t.Setenv(name, "")
	}
}

// lookupMap is a lookup function over a fixed environment.
func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func mustParse(t *testing.T, doc string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(doc), lookupMap(env))
	if err != nil {
		t.Fatalf("Parse(%q): %v", doc, err)
	}
	return cfg
}

func TestDefault(t *testing.T) {
	want := Config{
		Listen: "127.0.0.1:8080",
		HTTP: HTTP{
			Path:             "/eventbridge",
			MaxBodyBytes:     1048576,
			RequestTimeout:   4 * time.Second,
			MaxInFlight:      4096,
			MaxInFlightBytes: 32 << 20,
			TLS:              TLS{MinVersion: "1.2"},
		},
		SQS: SQS{Workers: 4, MaxMessages: 10, WaitTime: 20 * time.Second, HandleTimeout: 30 * time.Second},
		Filter: Filter{
			// Both shapes: the seed's source and every Genesys Cloud partner event source.
			Sources:    []string{"genesys.cloud", "aws.partner/genesys.com/*"},
			PassReason: "passed_all_filters",
		},
		// The built-in key: the seed's expression (below) for the seed's shape,
		// conversationId for Genesys Cloud's.
		PartitionKey: PartitionKey{Hash: "fnv64a"},
		Kinesis: Kinesis{
			Stream:          "genesys-interactions-stream",
			MaxBatchRecords: 500,
			MaxBatchBytes:   5242880,
			MaxRecordBytes:  1048576,
			Linger:          10 * time.Millisecond,
			MaxInFlight:     16,
			QueueSize:       10000,
			CallTimeout:     3 * time.Second,
			RetryBase:       50 * time.Millisecond,
			RetryMax:        time.Second,
			Client:          "direct",
		},
		Sink:            "kinesis",
		ShutdownTimeout: 20 * time.Second,
		LogLevel:        "info",
	}
	if DefaultPartitionKeyExpr != `detail.?interaction.?routing.?queue.?id.orValue("") in ["", null] ? detail.?interaction.?id.orValue("") : detail.interaction.routing.queue.id` {
		t.Errorf("DefaultPartitionKeyExpr = %s, want the seed's key", DefaultPartitionKeyExpr)
	}
	got := Default()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	// Default returns a fresh value: changing one must not change the next.
	got.Filter.Sources[0] = "changed"
	if s := Default().Filter.Sources[0]; s != "genesys.cloud" {
		t.Fatalf("Default() shares its sources slice: %q", s)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, doc := range []string{"", "\n", "# only a comment\n", "---\n"} {
		got := mustParse(t, doc, nil)
		if want := Default(); !reflect.DeepEqual(*got, want) {
			t.Errorf("Parse(%q) =\n%+v\nwant the defaults", doc, *got)
		}
	}
}

func TestLoadGood(t *testing.T) {
	isolateEnv(t)
	t.Setenv("RELAY_TEST_KEY_OLD", "old-key")
	t.Setenv("RELAY_TEST_KEY_NEW", "new-key")
	t.Setenv("RELAY_TEST_PASSWORD", "p@ss: #word")
	t.Setenv("RELAY_TEST_WORKERS", "8")
	path := filepath.Join("testdata", "good.yaml")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:        "0.0.0.0:9000",
		MetricsListen: "127.0.0.1:9100",
		HTTP: HTTP{
			Path:             "/events",
			MaxBodyBytes:     262144,
			RequestTimeout:   2500 * time.Millisecond,
			MaxInFlight:      64,
			MaxInFlightBytes: 8388608,
			Auth: Auth{
				APIKey: &APIKey{Header: "X-Relay-Key", Values: []string{"old-key", "new-key"}},
				Basic:  &Basic{Username: "relay", Password: "p@ss: #word"},
			},
			TLS: TLS{MinVersion: "1.2"},
		},
		SQS: SQS{
			QueueURL:          "https://sqs.eu-west-1.amazonaws.com/123456789012/genesys-events",
			Region:            "eu-west-1",
			Endpoint:          "http://127.0.0.1:4101",
			Workers:           8,
			MaxMessages:       10, // not a key: the default
			WaitTime:          10 * time.Second,
			VisibilityTimeout: time.Minute,
			HandleTimeout:     45 * time.Second,
			RetryDelay:        2 * time.Second,
		},
		Filter: Filter{
			Sources: []string{"genesys.cloud", "aws.partner/genesys.com/*"},
			Rules: []Rule{
				{Name: "excluded_event_code", Require: `detail.eventCode in ["interaction.wrapup"]`},
				{Name: "excluded_internal_queue", DropIf: `detail.interaction.routing.?queue.?name.orValue("") == "Internal Operations"`},
			},
			PassReason: "kept",
		},
		PartitionKey: PartitionKey{Expr: "detail.interaction.id", Hash: "none", ExplicitHashKey: `"42"`},
		Enrich: Enrich{
			IncludeEnvelope: true,
			Fields: map[string]string{
				"queue_name": `detail.interaction.routing.?queue.?name.orValue("")`,
				"cost":       "${not_a_variable}",
			},
		},
		Kinesis: Kinesis{
			Stream:          "interactions",
			Region:          "eu-west-1",
			Endpoint:        "http://127.0.0.1:4568",
			MaxBatchRecords: 250,
			MaxBatchBytes:   10485760,
			MaxRecordBytes:  2097152,
			Linger:          20 * time.Millisecond,
			MaxInFlight:     4,
			QueueSize:       500,
			CallTimeout:     2 * time.Second,
			RetryBase:       100 * time.Millisecond,
			RetryMax:        3 * time.Second,
			Aggregate:       true,
			Client:          "sdk",
			SkipStreamCheck: true,
		},
		Sink:            "stdout",
		ShutdownTimeout: 90 * time.Second,
		LogLevel:        "debug",
		Tests: []TestCase{
			{
				Name:      "wrap-up is forwarded",
				EventFile: "testdata/wrapup.json",
				Expect: Expect{Decision: "forward", Reason: "kept", PartitionKey: "i-1",
					Fields: map[string]any{"queue_name": "Sales"}},
			},
			{
				Name: "inline event",
				Event: map[string]any{"id": "e-1", "source": "genesys.cloud",
					"detail": map[string]any{"eventCode": "interaction.created"}},
				Expect: Expect{Decision: "drop", Reason: "excluded_event_code"},
			},
		},
		Path: path,
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Load(%s) =\n%+v\nwant\n%+v", path, *got, want)
	}
}

// TestLoadErrors loads each bad fixture and checks the whole error: every problem
// of the file at once, each on its own line naming the file, the line and the
// key, in words that say what is expected; and that it wraps ErrInvalid.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // the lines, each after "testdata/<file>:"
	}{
		{"unknown-top.yaml", []string{`3: lissen: unknown key (did you mean listen?)`}},
		{"unknown-nested.yaml", []string{`4: kinesis.lingr: unknown key (did you mean linger?)`}},
		// The missing drop_if is a consequence of the misspelt key: not reported.
		{"unknown-rule.yaml", []string{`6: filter.rules[1].dropif: unknown key (did you mean drop_if?)`}},
		{"unknown-auth.yaml", []string{
			`3: http.auth.api_key.values: must list at least one key`,
			`5: http.auth.api_key.value: unknown key (did you mean values?)`}},
		{"unknown-test-expect.yaml", []string{`4: tests[0].expect.reasn: unknown key (did you mean reason?)`}},
		{"unknown-alias.yaml", []string{`4: kinesis.lingr: unknown key (did you mean linger?)`}},
		{"unset-var.yaml", []string{`5: http.auth.basic.password: environment variable RELAY_TEST_UNSET is not set (referenced as ${RELAY_TEST_UNSET})`}},
		{"unterminated-var.yaml", []string{`2: kinesis.stream: unterminated ${ in "${KINESIS"`}},
		{"empty-var.yaml", []string{`2: kinesis.stream: empty ${} reference`}},
		{"bad-duration.yaml", []string{`2: kinesis.linger: want a duration with a unit, such as 10ms or 2s, got "soon" (units: ns, us, ms, s, m, h)`}},
		{"int-duration.yaml", []string{`2: kinesis.linger: want a duration with a unit, such as 10ms or 2s, got 10 (a number needs a unit: 10ms? 10s?)`}},
		{"bad-int.yaml", []string{`2: sqs.workers: want a whole number, got "many"`}},
		{"not-yaml.yaml", []string{`1: not valid YAML: did not find expected ',' or ']' (a [ or { opened here is not closed, or lacks a comma)`}},
		// yaml.v3 blames line 2 (where the list began) for these two.
		{"bad-indent.yaml", []string{`5: not valid YAML: did not find expected '-' indicator (check the indentation of this line against the lines above it)`}},
		{"bad-indent-key.yaml", []string{`4: not valid YAML: did not find expected key (check the indentation of this line against the lines above it)`}},
		{"tab-indent.yaml", []string{`5: not valid YAML: found a tab character that violates indentation (indent with spaces, not tabs)`}},
		{"not-mapping.yaml", []string{`1: want a mapping of settings (listen: …, kinesis: …), got a list`}},
		{"duplicate-key.yaml", []string{`2: sink: set twice (first at line 1)`}},
		{"wrong-shapes.yaml", []string{
			`1: kinesis: want a mapping (key: value), got "genesys-interactions-stream"`,
			`3: filter.sources: want a list ([a, b], or lines starting with "- "), got "genesys.cloud"`,
			`4: filter.pass_reason: want a string, got a list`,
			`6: sqs.workers: want a whole number, got "8" (a quoted value is a string: remove the quotes)`,
			`8: enrich.include_envelope: want true or false, got "maybe"`,
		}},
		{"invalid-values.yaml", []string{
			`1: listen: want host:port, got "localhost"`,
			`3: http.path: must start with /, got "events"`,
			`4: sink: want kinesis or stdout, got "file"`,
		}},
		// The consumer's own checks (sqsin.Options.Problems), each at its line; a
		// default that conflicts with a value in the file, at its section's.
		{"bad-sqs.yaml", []string{
			`1: sqs.handle_timeout: must be shorter than sqs.visibility_timeout (20s), else a message is delivered again while it is handled; got 30s`,
			`3: sqs.workers: must be positive, got 0`,
			`5: sqs.retry_delay: must be between 0s and 12h0m0s, got 13h0m0s`,
		}},
		{"bad-rules.yaml", []string{
			`3: filter.rules[0]: rule "both" needs exactly one of require or drop_if`,
			`6: filter.rules[1].name: duplicate rule name "both"`,
			`8: filter.rules[2].name: want a name of letters, digits and _.:- (it becomes the drop reason), got "has space"`,
			`10: filter.rules[3]: rule "neither" needs exactly one of require or drop_if`,
		}},
		// Every stage's problems in one run, in line order; what only follows from
		// an earlier problem (an empty api key, a rule without an expression, an
		// empty source list) is left out.
		{"many-problems.yaml", []string{
			`2: lissen: unknown key (did you mean listen?)`,
			`4: http.path: must start with /, got "events"`,
			`5: http.max_body_bytes: want a whole number of bytes (1 MiB is 1048576), got "1MB"`,
			`7: http.auth.api_key.values[0]: environment variable RELAY_TEST_UNSET_A is not set (referenced as ${RELAY_TEST_UNSET_A})`,
			`9: kinesis.linger: want a duration with a unit, such as 10ms or 2s, got 10 (a number needs a unit: 10ms? 10s?)`,
			`10: kinesis.stream: environment variable RELAY_TEST_UNSET_B is not set (referenced as ${RELAY_TEST_UNSET_B})`,
			`11: kinesis.max_batch_records: must be 1..500 (the PutRecords limit), got 501`,
			`13: filter.sources: want a list ([a, b], or lines starting with "- "), got "genesys.cloud"`,
			`16: filter.rules[0].requires: unknown key (did you mean require?)`,
			`17: log_level: want debug, info, warn or error, got "verbose"`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			isolateEnv(t)
			path := filepath.Join("testdata", tc.file)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			lines := make([]string, len(tc.want))
			for i, l := range tc.want {
				lines[i] = path + ":" + l
			}
			if got, want := err.Error(), "invalid configuration: "+strings.Join(lines, "\n"); got != want {
				t.Errorf("error\n%s\nwant\n%s", got, want)
			}
			if n := len(Problems(err)); n != len(tc.want) {
				t.Errorf("Problems(err) has %d problems, want %d", n, len(tc.want))
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "does-not-exist.yaml"))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want ErrInvalid and fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("error does not name the file: %v", err)
	}
}

// TestLoadExamples loads every shipped example so they cannot drift from the code.
func TestLoadExamples(t *testing.T) {
	isolateEnv(t)
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range files {
		cfg, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(cfg.Filter.Rules) == 0 {
			t.Errorf("%s: no filter rules", f)
		}
	}
}

// TestParseTLSAndOAuth: the http.tls and http.auth.oauth keys, the OAuth
// leeway's default when the section leaves it out, and the environment
// overrides of the certificate files.
func TestParseTLSAndOAuth(t *testing.T) {
	doc := `
http:
  tls: {cert_file: /etc/tls.crt, key_file: /etc/tls.key, client_ca_file: /etc/ca.crt}
  auth:
    oauth:
      jwks_url: https://idp.example/.well-known/jwks.json
      issuer: https://idp.example/
      audience: [genesys-relay, other]
      required_scopes: [relay/ingest]
`
	c := mustParse(t, doc, nil)
	wantTLS := TLS{CertFile: "/etc/tls.crt", KeyFile: "/etc/tls.key", MinVersion: "1.2", ClientCAFile: "/etc/ca.crt"}
	if c.HTTP.TLS != wantTLS || !c.HTTP.TLS.Enabled() {
		t.Errorf("tls = %+v, want %+v", c.HTTP.TLS, wantTLS)
	}
	wantOAuth := &OAuth{JWKSURL: "https://idp.example/.well-known/jwks.json", Issuer: "https://idp.example/",
		Audience: []string{"genesys-relay", "other"}, RequiredScopes: []string{"relay/ingest"}, Leeway: 30 * time.Second}
	if !reflect.DeepEqual(c.HTTP.Auth.OAuth, wantOAuth) {
		t.Errorf("oauth = %+v, want %+v", c.HTTP.Auth.OAuth, wantOAuth)
	}

	c = mustParse(t, strings.Replace(doc, "required_scopes: [relay/ingest]", "leeway: 0s", 1), nil)
	if c.HTTP.Auth.OAuth.Leeway != 0 {
		t.Errorf("explicit leeway 0s = %s", c.HTTP.Auth.OAuth.Leeway)
	}
	if c := mustParse(t, "http: {path: /x}\n", nil); c.HTTP.Auth.OAuth != nil || c.HTTP.TLS.Enabled() {
		t.Errorf("without the sections: oauth %+v, tls %+v", c.HTTP.Auth.OAuth, c.HTTP.TLS)
	}

	env := map[string]string{"RELAY_TLS_CERT_FILE": "/run/crt", "RELAY_TLS_KEY_FILE": "/run/key"}
	c = mustParse(t, doc, env)
	if c.HTTP.TLS.CertFile != "/run/crt" || c.HTTP.TLS.KeyFile != "/run/key" {
		t.Errorf("env overrides: %+v", c.HTTP.TLS)
	}
	if _, err := Parse([]byte("http:\n  tls: {cert_file: a, key_file: b, ciphers: x}\n"), nil); err == nil ||
		!strings.Contains(err.Error(), `http.tls.ciphers: unknown key`) {
		t.Errorf("unknown tls key: %v", err)
	}
}
