package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	env := map[string]string{
		"A":     "alpha",
		"B":     "beta",
		"EMPTY": "",
		"REF":   "${A}",
	}
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "pre-${A}-post", want: "pre-alpha-post"},
		{in: "${A}${B}", want: "alphabeta"},
		{in: "${A}/${B}/${A}", want: "alpha/beta/alpha"},
		{in: "${EMPTY}", want: ""},
		{in: "x${EMPTY}y", want: "xy"},
		{in: "$${A}", want: "${A}"},
		{in: "cost: $${A} and ${B}", want: "cost: ${A} and beta"},
		{in: "$A and $", want: "$A and $"},
		{in: "${REF}", want: "${A}"}, // a value is not expanded again
		{in: "${MISSING}", err: "environment variable MISSING is not set (referenced as ${MISSING})"},
		{in: "${A}${MISSING}", err: "environment variable MISSING is not set (referenced as ${MISSING})"},
		{in: "${}", err: "empty ${} reference"},
		{in: "${A", err: `unterminated ${ in "${A"`},
		{in: "ok ${A} then ${B", err: `unterminated ${ in "${B"`},
	} {
		got, err := expand(tc.in, lookupMap(env))
		switch {
		case tc.err != "":
			if err == nil || err.Error() != tc.err {
				t.Errorf("expand(%q) error = %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("expand(%q): %v", tc.in, err)
		case got != tc.want:
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestExpandTypes checks that a plain scalar that was a reference decodes as the
// type its value spells (a number for an int field), while a quoted one stays a
// string and a value is never parsed as YAML.
func TestExpandTypes(t *testing.T) {
	env := map[string]string{
		"N":      "8",
		"BOOL":   "true",
		"DUR":    "25ms",
		"NUM":    "123",
		"DATE":   "2001-12-14",
		"YAMLY":  "a: b # c, [d]",
		"EMPTY":  "",
		"NULL":   "null",
		"TILDE":  "~",
		"SECRET": "s3cr3t",
	}
	for _, tc := range []struct {
		name string
		doc  string
		get  func(*Config) any
		want any
	}{
		{"int from plain reference", "sqs:\n  workers: ${N}\n", func(c *Config) any { return c.SQS.Workers }, 8},
		{"bool", "enrich:\n  include_envelope: ${BOOL}\n", func(c *Config) any { return c.Enrich.IncludeEnvelope }, true},
		{"duration", "kinesis:\n  linger: ${DUR}\n", func(c *Config) any { return c.Kinesis.Linger }, 25 * time.Millisecond},
		{"number into a string field", "kinesis:\n  stream: ${NUM}\n", func(c *Config) any { return c.Kinesis.Stream }, "123"},
		{"date into a string field", "kinesis:\n  stream: ${DATE}\n", func(c *Config) any { return c.Kinesis.Stream }, "2001-12-14"},
		{"value is not parsed as YAML", "kinesis:\n  stream: ${YAMLY}\n", func(c *Config) any { return c.Kinesis.Stream }, "a: b # c, [d]"},
		{"null-looking value stays a string", "kinesis:\n  stream: ${NULL}\n", func(c *Config) any { return c.Kinesis.Stream }, "null"},
		{"tilde stays a string", "kinesis:\n  stream: ${TILDE}\n", func(c *Config) any { return c.Kinesis.Stream }, "~"},
		{"in a list", "filter:\n  sources: [genesys.cloud, \"${SECRET}.*\"]\n", func(c *Config) any { return c.Filter.Sources }, []string{"genesys.cloud", "s3cr3t.*"}},
		{"in a map value", "enrich:\n  fields:\n    org: '\"${SECRET}\"'\n", func(c *Config) any { return c.Enrich.Fields }, map[string]string{"org": `"s3cr3t"`}},
		{"keys are not expanded", "enrich:\n  fields:\n    ${SECRET}: '\"x\"'\n", func(c *Config) any { return c.Enrich.Fields }, map[string]string{"${SECRET}": `"x"`}},
		{"explicit string tag", "kinesis:\n  stream: !!str ${NUM}\n", func(c *Config) any { return c.Kinesis.Stream }, "123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "sink: stdout\n"+tc.doc, env)
			if got := tc.get(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	env := map[string]string{"N": "8", "EMPTY": ""}
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"quoted reference is a string", "sqs:\n  queue_url: q\n  workers: \"${N}\"\n",
			`invalid configuration: line 3: sqs.workers: want a whole number, got "8" (a quoted value is a string: remove the quotes)`},
		// Every problem at once, in line order.
		{"unset", "listen: x\nkinesis:\n  stream: ${NOPE}\n",
			"invalid configuration: line 1: listen: want host:port, got \"x\"\n" +
				"line 3: kinesis.stream: environment variable NOPE is not set (referenced as ${NOPE})"},
		{"unset in a list", "filter:\n  sources:\n    - genesys.cloud\n    - ${NOPE}\n",
			"invalid configuration: line 4: filter.sources[1]: environment variable NOPE is not set (referenced as ${NOPE})"},
		{"unset in a test event", "tests:\n  - name: t\n    event:\n      id: ${NOPE}\n",
			"invalid configuration: line 2: tests[0].expect.decision: want forward, drop or reject, got \"\"\n" +
				"line 4: tests[0].event.id: environment variable NOPE is not set (referenced as ${NOPE})"},
		// A variable that is set but empty must not silently keep the default.
		{"empty plain reference", "kinesis:\n  stream: ${EMPTY}\n",
			"invalid configuration: line 2: kinesis.stream: must name the stream (or set KINESIS_STREAM_NAME)"},
		{"empty quoted reference", "kinesis:\n  stream: \"${EMPTY}\"\n",
			"invalid configuration: line 2: kinesis.stream: must name the stream (or set KINESIS_STREAM_NAME)"},
		{"empty secret", "http:\n  auth:\n    api_key:\n      header: X-Api-Key\n      values:\n        - ${EMPTY}\n",
			"invalid configuration: line 6: http.auth.api_key.values[0]: is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), lookupMap(env))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid")
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	const doc = `
listen: "127.0.0.1:8080"
metrics_listen: "127.0.0.1:9100"
log_level: info
sink: kinesis
sqs:
  queue_url: https://sqs.us-east-1.amazonaws.com/1/file-queue
  region: us-east-1
  endpoint: http://file-sqs
kinesis:
  stream: file-stream
  region: us-east-1
  endpoint: http://file-kinesis
`
	env := map[string]string{
		"RELAY_LISTEN":         "0.0.0.0:80",
		"RELAY_METRICS_LISTEN": "0.0.0.0:9090",
		"RELAY_SINK":           "stdout",
		"RELAY_LOG_LEVEL":      "debug",
		"KINESIS_STREAM_NAME":  "env-stream",
		"KINESIS_ENDPOINT":     "http://env-kinesis",
		"AWS_REGION":           "ap-southeast-2",
		"SQS_QUEUE_URL":        "https://sqs.ap-southeast-2.amazonaws.com/1/env-queue",
		"SQS_ENDPOINT":         "http://env-sqs",
	}
	got := mustParse(t, doc, env)
	for _, c := range []struct {
		name      string
		got, want string
	}{
		{"listen", got.Listen, "0.0.0.0:80"},
		{"metrics_listen", got.MetricsListen, "0.0.0.0:9090"},
		{"sink", got.Sink, "stdout"},
		{"log_level", got.LogLevel, "debug"},
		{"kinesis.stream", got.Kinesis.Stream, "env-stream"},
		{"kinesis.endpoint", got.Kinesis.Endpoint, "http://env-kinesis"},
		{"kinesis.region", got.Kinesis.Region, "us-east-1"}, // AWS_REGION only fills an empty region
		{"sqs.region", got.SQS.Region, "us-east-1"},
		{"sqs.queue_url", got.SQS.QueueURL, "https://sqs.ap-southeast-2.amazonaws.com/1/env-queue"},
		{"sqs.endpoint", got.SQS.Endpoint, "http://env-sqs"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	// Empty variables do not override, and the file stays in force.
	empty := map[string]string{}
	for name := range env {
		empty[name] = ""
	}
	got = mustParse(t, doc, empty)
	if got.Listen != "127.0.0.1:8080" || got.Kinesis.Stream != "file-stream" || got.Kinesis.Region != "us-east-1" ||
		got.Kinesis.Endpoint != "http://file-kinesis" || got.Sink != "kinesis" || got.SQS.Endpoint != "http://file-sqs" {
		t.Errorf("empty variables overrode the file: %+v", got)
	}

	// Overrides also apply without a file, and are validated.
	got = mustParse(t, "", map[string]string{"KINESIS_STREAM_NAME": "only-env", "AWS_REGION": "eu-central-1"})
	if got.Kinesis.Stream != "only-env" || got.Kinesis.Region != "eu-central-1" {
		t.Errorf("stream %q region %q", got.Kinesis.Stream, got.Kinesis.Region)
	}
	_, err := Parse(nil, lookupMap(map[string]string{"RELAY_LISTEN": "nonsense"}))
	if err == nil || err.Error() != `invalid configuration: environment RELAY_LISTEN: listen: want host:port, got "nonsense"` {
		t.Errorf("bad RELAY_LISTEN: %v", err)
	}
}

// TestRegionPrecedence: an explicit region in the file wins over AWS_REGION
// (which AWS Lambda always sets to the function's region); the environment
// only fills a region the file leaves empty.
func TestRegionPrecedence(t *testing.T) {
	lambda := map[string]string{"AWS_REGION": "us-east-1"}
	for _, tc := range []struct {
		name, doc          string
		env                map[string]string
		kinesis, sqsRegion string
	}{
		{"file wins", "kinesis: {region: eu-west-1}\nsqs: {queue_url: q, region: ap-south-1}\n", lambda, "eu-west-1", "ap-south-1"},
		{"environment fills an empty kinesis.region", "kinesis: {stream: s}\n", lambda, "us-east-1", ""},
		{"empty file region filled", "kinesis: {region: \"\"}\n", lambda, "us-east-1", ""},
		{"empty AWS_REGION fills nothing", "kinesis: {stream: s}\n", map[string]string{"AWS_REGION": ""}, "", ""},
		{"no environment", "kinesis: {region: eu-west-1}\n", nil, "eu-west-1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.doc, tc.env)
			if got.Kinesis.Region != tc.kinesis || got.SQS.Region != tc.sqsRegion {
				t.Errorf("kinesis.region %q sqs.region %q, want %q %q", got.Kinesis.Region, got.SQS.Region, tc.kinesis, tc.sqsRegion)
			}
		})
	}
}
