package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // the whole message after "invalid configuration: "; "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"listen", func(c *Config) { c.Listen = "localhost" },
			`listen: want host:port, got "localhost"`},
		{"listen port only", func(c *Config) { c.Listen = ":8080" }, ""},
		{"metrics_listen", func(c *Config) { c.MetricsListen = "9100" },
			`metrics_listen: want host:port, got "9100"`},
		{"metrics_listen set", func(c *Config) { c.MetricsListen = "127.0.0.1:9100" }, ""},
		{"http.path", func(c *Config) { c.HTTP.Path = "eventbridge" },
			`http.path: must start with /, got "eventbridge"`},
		{"http.max_body_bytes", func(c *Config) { c.HTTP.MaxBodyBytes = 0 },
			`http.max_body_bytes: must be positive, got 0`},
		{"http.request_timeout", func(c *Config) { c.HTTP.RequestTimeout = -time.Second },
			`http.request_timeout: must be positive, got -1s`},
		{"http.max_in_flight", func(c *Config) { c.HTTP.MaxInFlight = 0 },
			`http.max_in_flight: must be positive, got 0`},
		{"http.max_in_flight_bytes", func(c *Config) { c.HTTP.MaxInFlightBytes = 0 },
			`http.max_in_flight_bytes: must be at least http.max_body_bytes (1048576), or the largest body could never be taken; got 0`},
		{"http.max_in_flight_bytes below max_body_bytes", func(c *Config) { c.HTTP.MaxBodyBytes = 2 << 20; c.HTTP.MaxInFlightBytes = 2<<20 - 1 },
			`http.max_in_flight_bytes: must be at least http.max_body_bytes (2097152), or the largest body could never be taken; got 2097151`},
		{"http.max_in_flight_bytes equal to max_body_bytes", func(c *Config) { c.HTTP.MaxInFlightBytes = c.HTTP.MaxBodyBytes }, ""},
		{"api_key without header", func(c *Config) { c.HTTP.Auth.APIKey = &APIKey{Values: []string{"k"}} },
			`http.auth.api_key.header: must name a header`},
		{"api_key without values", func(c *Config) { c.HTTP.Auth.APIKey = &APIKey{Header: "X-Api-Key"} },
			`http.auth.api_key.values: must list at least one key`},
		{"api_key empty value", func(c *Config) { c.HTTP.Auth.APIKey = &APIKey{Header: "X-Api-Key", Values: []string{"k", ""}} },
			`http.auth.api_key.values[1]: is empty`},
		{"api_key good", func(c *Config) { c.HTTP.Auth.APIKey = &APIKey{Header: "X-Api-Key", Values: []string{"k1", "k2"}} }, ""},
		{"basic without password", func(c *Config) { c.HTTP.Auth.Basic = &Basic{Username: "u"} },
			`http.auth.basic: needs both username and password`},
		{"basic without username", func(c *Config) { c.HTTP.Auth.Basic = &Basic{Password: "p"} },
			`http.auth.basic: needs both username and password`},
		{"basic good", func(c *Config) { c.HTTP.Auth.Basic = &Basic{Username: "u", Password: "p"} }, ""},
		{"tls cert without key", func(c *Config) { c.HTTP.TLS.CertFile = "tls.crt" },
			`http.tls: needs both cert_file and key_file (or neither, for plain HTTP)`},
		{"tls key without cert", func(c *Config) { c.HTTP.TLS.KeyFile = "tls.key" },
			`http.tls: needs both cert_file and key_file (or neither, for plain HTTP)`},
		{"tls client ca without cert", func(c *Config) { c.HTTP.TLS.ClientCAFile = "ca.crt" },
			`http.tls.client_ca_file: needs cert_file and key_file: client certificates are asked for only over HTTPS`},
		{"tls min_version", func(c *Config) {
			c.HTTP.TLS = TLS{CertFile: "c", KeyFile: "k", MinVersion: "1.1"}
		}, `http.tls.min_version: want "1.2" or "1.3", got "1.1"`},
		{"tls good", func(c *Config) {
			c.HTTP.TLS = TLS{CertFile: "c", KeyFile: "k", MinVersion: "1.3", ClientCAFile: "ca"}
		}, ""},
		{"oauth empty", func(c *Config) { c.HTTP.Auth.OAuth = &OAuth{} },
			`http.auth.oauth.jwks_url: want the https:// URL of the issuer's JWKS, got ""` + "\n" +
				`http.auth.oauth.issuer: must name the token issuer (the iss claim)` + "\n" +
				`http.auth.oauth: needs audience or required_scopes: otherwise any token of the issuer, for any application, is accepted`},
		{"oauth bad values", func(c *Config) {
			c.HTTP.Auth.OAuth = &OAuth{JWKSURL: "ftp://x/jwks", Issuer: "i", Audience: []string{""},
				RequiredScopes: []string{"a b"}, Leeway: -time.Second}
		}, `http.auth.oauth.jwks_url: want the https:// URL of the issuer's JWKS, got "ftp://x/jwks"` + "\n" +
			`http.auth.oauth.audience[0]: is empty` + "\n" +
			`http.auth.oauth.required_scopes[0]: want one scope without spaces, got "a b"` + "\n" +
			`http.auth.oauth.leeway: must be between 0s and 5m, got -1s`},
		{"oauth scopes only", func(c *Config) {
			c.HTTP.Auth.OAuth = &OAuth{JWKSURL: "https://idp.example/jwks", Issuer: "https://idp.example/", RequiredScopes: []string{"relay/ingest"}}
		}, ""},
		{"oauth audience", func(c *Config) {
			c.HTTP.Auth.OAuth = &OAuth{JWKSURL: "https://idp.example/jwks", Issuer: "https://idp.example/", Audience: []string{"genesys-relay"}}
		}, ""},
		{"sqs ignored without queue", func(c *Config) { c.SQS.Workers = 0; c.SQS.WaitTime = time.Hour }, ""},
		{"sqs.workers", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.Workers = 0 },
			`sqs.workers: must be positive, got 0`},
		{"sqs.wait_time above 20s", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.WaitTime = 21 * time.Second },
			`sqs.wait_time: must be between 0s and 20s, got 21s`},
		{"sqs.wait_time negative", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.WaitTime = -time.Second },
			`sqs.wait_time: must be between 0s and 20s, got -1s`},
		{"sqs.wait_time bounds", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.WaitTime = 20 * time.Second }, ""},
		{"sqs.wait_time zero", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.WaitTime = 0 }, ""},
		{"sqs.handle_timeout", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.HandleTimeout = 0 },
			`sqs.handle_timeout: must be positive, got 0s`},
		{"sqs.handle_timeout not below visibility", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.VisibilityTimeout = 20 * time.Second },
			`sqs.handle_timeout: must be shorter than sqs.visibility_timeout (20s), else a message is delivered again while it is handled; got 30s`},
		{"sqs.handle_timeout below visibility", func(c *Config) {
			c.SQS.QueueURL = "q"
			c.SQS.VisibilityTimeout, c.SQS.HandleTimeout = 20*time.Second, 19*time.Second
		}, ""},
		{"sqs.visibility_timeout", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.VisibilityTimeout = 13 * time.Hour },
			`sqs.visibility_timeout: must be between 0s (the queue's) and 12h0m0s, got 13h0m0s`},
		{"sqs.retry_delay", func(c *Config) { c.SQS.QueueURL = "q"; c.SQS.RetryDelay = -time.Second },
			`sqs.retry_delay: must be between 0s and 12h0m0s, got -1s`},
		{"filter.sources", func(c *Config) { c.Filter.Sources = nil },
			`filter.sources: must list at least one allowed source (e.g. genesys.cloud or aws.partner/genesys.com/*)`},
		{"rule name with a space", func(c *Config) { c.Filter.Rules = []Rule{{Name: "has space", Require: "true"}} },
			`filter.rules[0].name: want a name of letters, digits and _.:- (it becomes the drop reason), got "has space"`},
		{"rule name empty", func(c *Config) { c.Filter.Rules = []Rule{{Require: "true"}} },
			`filter.rules[0].name: want a name of letters, digits and _.:- (it becomes the drop reason), got ""`},
		{"rule name starting with a digit", func(c *Config) { c.Filter.Rules = []Rule{{Name: "1st", Require: "true"}} },
			`filter.rules[0].name: want a name of letters, digits and _.:- (it becomes the drop reason), got "1st"`},
		{"rule name too long", func(c *Config) { c.Filter.Rules = []Rule{{Name: "a" + strings.Repeat("b", 128), Require: "true"}} },
			`filter.rules[0].name: want a name of letters, digits and _.:- (it becomes the drop reason), got "a` + strings.Repeat("b", 128) + `"`},
		{"rule name longest", func(c *Config) { c.Filter.Rules = []Rule{{Name: "a" + strings.Repeat("b", 127), Require: "true"}} }, ""},
		{"rule name punctuation", func(c *Config) { c.Filter.Rules = []Rule{{Name: "_x.y:z-1", Require: "true"}} }, ""},
		{"duplicate rule", func(c *Config) {
			c.Filter.Rules = []Rule{{Name: "a", Require: "true"}, {Name: "b", Require: "true"}, {Name: "a", DropIf: "false"}}
		}, `filter.rules[2].name: duplicate rule name "a"`},
		{"rule with both", func(c *Config) { c.Filter.Rules = []Rule{{Name: "a", Require: "true", DropIf: "false"}} },
			`filter.rules[0]: rule "a" needs exactly one of require or drop_if`},
		{"rule with neither", func(c *Config) { c.Filter.Rules = []Rule{{Name: "a"}} },
			`filter.rules[0]: rule "a" needs exactly one of require or drop_if`},
		{"filter.pass_reason", func(c *Config) { c.Filter.PassReason = "" },
			`filter.pass_reason: must not be empty`},
		{"partition_key.expr", func(c *Config) { c.PartitionKey.Expr = " \n\t" },
			`partition_key.expr: must not be empty`},
		{"partition_key.hash", func(c *Config) { c.PartitionKey.Hash = "sha1" },
			`partition_key.hash: want fnv64a or none, got "sha1"`},
		{"partition_key.hash none", func(c *Config) { c.PartitionKey.Hash = "none" }, ""},
		{"enrich reserved", func(c *Config) { c.Enrich.Fields = map[string]string{"trace_id": "event.id"} },
			`enrich.fields.trace_id: collides with the built-in record field "trace_id"`},
		{"enrich empty name", func(c *Config) { c.Enrich.Fields = map[string]string{"": "event.id"} },
			`enrich.fields: a field name is empty`},
		{"enrich empty expression", func(c *Config) { c.Enrich.Fields = map[string]string{"x": " "} },
			`enrich.fields.x: expression is empty`},
		{"kinesis.stream", func(c *Config) { c.Kinesis.Stream = "" },
			`kinesis.stream: must name the stream (or set KINESIS_STREAM_NAME)`},
		{"stdout needs no stream", func(c *Config) { c.Sink = "stdout"; c.Kinesis.Stream = "" }, ""},
		{"sink", func(c *Config) { c.Sink = "file" },
			`sink: want kinesis or stdout, got "file"`},
		{"max_batch_records low", func(c *Config) { c.Kinesis.MaxBatchRecords = 0 },
			`kinesis.max_batch_records: must be 1..500 (the PutRecords limit), got 0`},
		{"max_batch_records high", func(c *Config) { c.Kinesis.MaxBatchRecords = 501 },
			`kinesis.max_batch_records: must be 1..500 (the PutRecords limit), got 501`},
		{"max_batch_records bounds", func(c *Config) { c.Kinesis.MaxBatchRecords = 1 }, ""},
		{"max_batch_bytes high", func(c *Config) { c.Kinesis.MaxBatchBytes = 10<<20 + 1 },
			`kinesis.max_batch_bytes: must be 1..10485760, got 10485761`},
		{"max_batch_bytes 10 MiB", func(c *Config) { c.Kinesis.MaxBatchBytes = 10 << 20 }, ""},
		{"max_record_bytes low", func(c *Config) { c.Kinesis.MaxRecordBytes = 0 },
			`kinesis.max_record_bytes: must be 1..10485760, got 0`},
		{"max_record_bytes above the batch", func(c *Config) { c.Kinesis.MaxRecordBytes = 6 << 20 },
			`kinesis.max_record_bytes: must not exceed kinesis.max_batch_bytes (5242880)`},
		{"max_record_bytes too high", func(c *Config) { c.Kinesis.MaxBatchBytes = 10 << 20; c.Kinesis.MaxRecordBytes = 10<<20 + 1 },
			"kinesis.max_record_bytes: must be 1..10485760, got 10485761\n" +
				"kinesis.max_record_bytes: must not exceed kinesis.max_batch_bytes (10485760)"},
		{"max_batch_bytes low", func(c *Config) { c.Kinesis.MaxBatchBytes = 0 },
			"kinesis.max_batch_bytes: must be 1..10485760, got 0\n" +
				"kinesis.max_record_bytes: must not exceed kinesis.max_batch_bytes (0)"},
		{"linger", func(c *Config) { c.Kinesis.Linger = -time.Millisecond },
			`kinesis.linger: must not be negative, got -1ms`},
		{"linger zero", func(c *Config) { c.Kinesis.Linger = 0 }, ""},
		{"kinesis.max_in_flight", func(c *Config) { c.Kinesis.MaxInFlight = 0 },
			`kinesis.max_in_flight: must be positive, got 0`},
		{"kinesis.queue_size", func(c *Config) { c.Kinesis.QueueSize = -1 },
			`kinesis.queue_size: must be positive, got -1`},
		{"kinesis.call_timeout", func(c *Config) { c.Kinesis.CallTimeout = 0 },
			`kinesis.call_timeout: must be positive, got 0s`},
		{"retry_base zero", func(c *Config) { c.Kinesis.RetryBase = 0 },
			`kinesis.retry_base: want 0 < retry_base <= retry_max, got 0s and 1s`},
		{"retry_max below base", func(c *Config) { c.Kinesis.RetryBase = 2 * time.Second },
			`kinesis.retry_base: want 0 < retry_base <= retry_max, got 2s and 1s`},
		{"retry equal", func(c *Config) { c.Kinesis.RetryBase = time.Second }, ""},
		{"kinesis.client sdk", func(c *Config) { c.Kinesis.Client = "sdk" }, ""},
		{"kinesis.client unknown", func(c *Config) { c.Kinesis.Client = "SDK" },
			`kinesis.client: want direct or sdk, got "SDK"`},
		{"kinesis.client empty", func(c *Config) { c.Kinesis.Client = "" },
			`kinesis.client: want direct or sdk, got ""`},
		{"shutdown_timeout", func(c *Config) { c.ShutdownTimeout = 0 },
			`shutdown_timeout: must be positive, got 0s`},
		{"log_level", func(c *Config) { c.LogLevel = "trace" },
			`log_level: want debug, info, warn or error, got "trace"`},
		{"test without name", func(c *Config) { c.Tests = []TestCase{{EventFile: "e.json", Expect: Expect{Decision: "drop"}}} },
			`tests[0].name: must not be empty`},
		{"test with both events", func(c *Config) {
			c.Tests = []TestCase{{Name: "t", EventFile: "e.json", Event: map[string]any{}, Expect: Expect{Decision: "drop"}}}
		}, `tests[0]: test "t" needs exactly one of event_file or event`},
		{"test without event", func(c *Config) { c.Tests = []TestCase{{Name: "t", Expect: Expect{Decision: "drop"}}} },
			`tests[0]: test "t" needs exactly one of event_file or event`},
		{"test decision", func(c *Config) {
			c.Tests = []TestCase{{Name: "t", EventFile: "e.json", Expect: Expect{Decision: "pass"}}}
		},
			`tests[0].expect.decision: want forward, drop or reject, got "pass"`},
		{"test without decision", func(c *Config) { c.Tests = []TestCase{{Name: "t", EventFile: "e.json"}} },
			`tests[0].expect.decision: want forward, drop or reject, got ""`},
		{"tests good", func(c *Config) {
			c.Tests = []TestCase{
				{Name: "a", EventFile: "e.json", Expect: Expect{Decision: "forward"}},
				{Name: "b", Event: map[string]any{"id": "x"}, Expect: Expect{Decision: "reject"}},
			}
		}, ""},
		{"several errors in key order", func(c *Config) {
			c.Listen = "x"
			c.HTTP.Path = "p"
			c.Sink = "s"
			c.LogLevel = "l"
		}, "listen: want host:port, got \"x\"\n" +
			"http.path: must start with /, got \"p\"\n" +
			"sink: want kinesis or stdout, got \"s\"\n" +
			"log_level: want debug, info, warn or error, got \"l\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.modify(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
			if got := strings.TrimPrefix(err.Error(), "invalid configuration: "); got != tc.want {
				t.Fatalf("Validate() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestValidateEnrichOrder checks several enrich.fields errors come in the same
// (name) order every time, although they are kept in a map.
func TestValidateEnrichOrder(t *testing.T) {
	c := Default()
	c.Enrich.Fields = map[string]string{
		"trace_id":       "event.id",
		"a_empty":        "",
		"processed_at":   "1",
		"z_empty":        " ",
		"original_event": "detail",
		"ok":             "event.id",
		"m_empty":        "\t",
	}
	want := "enrich.fields.a_empty: expression is empty\n" +
		"enrich.fields.m_empty: expression is empty\n" +
		"enrich.fields.original_event: collides with the built-in record field \"original_event\"\n" +
		"enrich.fields.processed_at: collides with the built-in record field \"processed_at\"\n" +
		"enrich.fields.trace_id: collides with the built-in record field \"trace_id\"\n" +
		"enrich.fields.z_empty: expression is empty"
	for i := 0; i < 50; i++ {
		err := c.Validate()
		if err == nil {
			t.Fatal("Validate() = nil")
		}
		if got := strings.TrimPrefix(err.Error(), "invalid configuration: "); got != want {
			t.Fatalf("run %d: Validate() =\n%s\nwant\n%s", i, got, want)
		}
	}
}
