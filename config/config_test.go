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
			Path:           "/eventbridge",
			MaxBodyBytes:   1048576,
			RequestTimeout: 4 * time.Second,
			MaxInFlight:    4096,
			TLS:            TLS{MinVersion: "1.2"},
		},
		SQS: SQS{Workers: 4, WaitTime: 20 * time.Second, HandleTimeout: 30 * time.Second},
		Filter: Filter{
			Sources:    []string{"genesys.cloud"},
			PassReason: "passed_all_filters",
		},
		PartitionKey: PartitionKey{
			Expr: `detail.?interaction.?routing.?queue.?id.orValue("") in ["", null] ? detail.?interaction.?id.orValue("") : detail.interaction.routing.queue.id`,
			Hash: "fnv64a",
		},
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
			Path:           "/events",
			MaxBodyBytes:   262144,
			RequestTimeout: 2500 * time.Millisecond,
			MaxInFlight:    64,
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

// TestLoadErrors loads each bad fixture and checks the error names the file, the
// key and the line, and wraps ErrInvalid.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unknown-top.yaml", []string{`line 3: unknown key "lissen"`}},
		{"unknown-nested.yaml", []string{`line 4: unknown key "kinesis.lingr"`}},
		{"unknown-rule.yaml", []string{`line 6: unknown key "filter.rules[1].dropif"`}},
		{"unknown-auth.yaml", []string{`line 5: unknown key "http.auth.api_key.value"`}},
		{"unknown-test-expect.yaml", []string{`line 4: unknown key "tests[0].expect.reasn"`}},
		{"unknown-alias.yaml", []string{`line 4: unknown key "kinesis.lingr"`}},
		{"unset-var.yaml", []string{`line 5: environment variable RELAY_TEST_UNSET is not set (referenced as ${RELAY_TEST_UNSET})`}},
		{"unterminated-var.yaml", []string{`line 2: unterminated ${ in "${KINESIS"`}},
		{"empty-var.yaml", []string{`line 2: empty ${} reference`}},
		{"bad-duration.yaml", []string{"line 2: cannot unmarshal !!str `soon` into time.Duration"}},
		{"bad-int.yaml", []string{"line 2: cannot unmarshal !!str `many` into int"}},
		{"not-yaml.yaml", []string{"yaml: line 1:"}},
		{"not-mapping.yaml", []string{"line 1: cannot unmarshal !!seq into config.Config"}},
		{"duplicate-key.yaml", []string{`line 2: mapping key "sink" already defined at line 1`}},
		{"invalid-values.yaml", []string{
			"listen: want host:port, got \"localhost\"\n" +
				"http.path: must start with /, got \"events\"\n" +
				"sink: want kinesis or stdout, got \"file\"",
		}},
		{"bad-rules.yaml", []string{
			"filter.rules[0]: rule \"both\" needs exactly one of require or drop_if\n" +
				"filter.rules[1].name: duplicate rule name \"both\"\n" +
				"filter.rules[2].name: want a name of letters, digits and _.:- (it becomes the drop reason), got \"has space\"\n" +
				"filter.rules[3]: rule \"neither\" needs exactly one of require or drop_if",
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
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": invalid configuration: ") {
				t.Errorf("error does not start with the file name: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
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
		!strings.Contains(err.Error(), `unknown key "http.tls.ciphers"`) {
		t.Errorf("unknown tls key: %v", err)
	}
}
