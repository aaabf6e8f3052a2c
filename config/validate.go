package config

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/genesys-relay/genesys-relay/kinesis"
)

// ReservedFields are the record fields enrich.fields may not redefine.
var ReservedFields = []string{"original_event", "filter_reason", "processed_at", "source_region", "trace_id"}

var ruleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$`)

// Validate checks every value; the error is an *Error naming each bad key, and
// wraps ErrInvalid.
func (c *Config) Validate() error {
	return errorOf(c.problems())
}

// problems is every value Validate refuses, in key order.
func (c *Config) problems() []Problem {
	var errs []Problem
	bad := func(key, format string, args ...any) {
		errs = append(errs, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "want host:port, got %q", c.Listen)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen", "want host:port, got %q", c.MetricsListen)
		}
	}
	if !strings.HasPrefix(c.HTTP.Path, "/") {
		bad("http.path", "must start with /, got %q", c.HTTP.Path)
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive, got %d", c.HTTP.MaxBodyBytes)
	}
	if c.HTTP.RequestTimeout <= 0 {
		bad("http.request_timeout", "must be positive, got %s", c.HTTP.RequestTimeout)
	}
	if c.HTTP.MaxInFlight <= 0 {
		bad("http.max_in_flight", "must be positive, got %d", c.HTTP.MaxInFlight)
	}
	if c.HTTP.MaxInFlightBytes < c.HTTP.MaxBodyBytes {
		bad("http.max_in_flight_bytes", "must be at least http.max_body_bytes (%d), or the largest body could never be taken; got %d",
			c.HTTP.MaxBodyBytes, c.HTTP.MaxInFlightBytes)
	}
	if k := c.HTTP.Auth.APIKey; k != nil {
		if k.Header == "" {
			bad("http.auth.api_key.header", "must name a header")
		}
		if len(k.Values) == 0 {
			bad("http.auth.api_key.values", "must list at least one key")
		}
		for i, v := range k.Values {
			if v == "" {
				bad(fmt.Sprintf("http.auth.api_key.values[%d]", i), "is empty")
			}
		}
	}
	if b := c.HTTP.Auth.Basic; b != nil && (b.Username == "" || b.Password == "") {
		bad("http.auth.basic", "needs both username and password")
	}
	c.validateOAuth(bad)
	c.validateTLS(bad)

	if c.SQS.QueueURL != "" {
		errs = append(errs, settingProblems(c.SQS.Problems("sqs")...)...)
	}

	if len(c.Filter.Sources) == 0 {
		bad("filter.sources", "must list at least one allowed source (e.g. genesys.cloud or aws.partner/genesys.com/*)")
	}
	seen := map[string]bool{}
	for i, r := range c.Filter.Rules {
		key := fmt.Sprintf("filter.rules[%d]", i)
		switch {
		case !ruleName.MatchString(r.Name):
			bad(key+".name", "want a name of letters, digits and _.:- (it becomes the drop reason), got %q", r.Name)
		case seen[r.Name]:
			bad(key+".name", "duplicate rule name %q", r.Name)
		}
		seen[r.Name] = true
		if (r.Require == "") == (r.DropIf == "") {
			bad(key, "rule %q needs exactly one of require or drop_if", r.Name)
		}
	}
	if c.Filter.PassReason == "" {
		bad("filter.pass_reason", "must not be empty")
	}

	if c.PartitionKey.Expr != "" && strings.TrimSpace(c.PartitionKey.Expr) == "" { // "": the built-in key
		bad("partition_key.expr", "must not be empty")
	}
	if c.PartitionKey.Hash != "fnv64a" && c.PartitionKey.Hash != "none" {
		bad("partition_key.hash", "want fnv64a or none, got %q", c.PartitionKey.Hash)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Enrich.Fields)) { // a stable error order
		expr := c.Enrich.Fields[name]
		for _, r := range ReservedFields {
			if name == r {
				bad("enrich.fields."+name, "collides with the built-in record field %q", r)
			}
		}
		if name == "" {
			bad("enrich.fields", "a field name is empty")
		}
		if strings.TrimSpace(expr) == "" {
			bad("enrich.fields."+name, "expression is empty")
		}
	}

	switch c.Sink {
	case "kinesis":
		if len(c.Outputs) > 0 {
			break // each output's stream is checked below
		}
		if c.Kinesis.Stream == "" {
			bad("kinesis.stream", "must name the stream (or set KINESIS_STREAM_NAME)")
		} else if err := kinesis.StreamProblem("kinesis", c.Kinesis.Stream); err != nil {
			errs = append(errs, settingProblems(err)...)
		}
	case "stdout":
	default:
		bad("sink", "want kinesis or stdout, got %q", c.Sink)
	}
	errs = append(errs, settingProblems(c.Kinesis.Problems("kinesis")...)...)
	errs = append(errs, settingProblems(c.validateRouting(bad)...)...)
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", "must be positive, got %s", c.ShutdownTimeout)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "want debug, info, warn or error, got %q", c.LogLevel)
	}

	for i, tc := range c.Tests {
		key := fmt.Sprintf("tests[%d]", i)
		if tc.Name == "" {
			bad(key+".name", "must not be empty")
		}
		if (tc.EventFile == "") == (tc.Event == nil) {
			bad(key, "test %q needs exactly one of event_file or event", tc.Name)
		}
		switch tc.Expect.Decision {
		case "forward", "drop", "reject":
		default:
			bad(key+".expect.decision", "want forward, drop or reject, got %q", tc.Expect.Decision)
		}
	}
	return errs
}
