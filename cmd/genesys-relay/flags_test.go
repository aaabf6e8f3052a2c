package main

import (
	"strings"
	"testing"
)

// TestConfigProblemsAllAtOnce: check, test and serve print every problem of a
// config in one run — the file's own (unknown keys, unset variables, bad values
// and types) and the rules' (compiled although the file has problems) — each
// on its own line with file:line, a value from the environment blamed on its
// variable; then the count, and exit 2.
func TestConfigProblemsAllAtOnce(t *testing.T) {
	t.Setenv("RELAY_LOG_LEVEL", "verbose")
	cfg := writeFile(t, "relay.yaml", `listen: "127.0.0.1:0"
sink: stdout
kinesis:
  lingr: 5ms
  linger: 10
http:
  auth:
    api_key: {header: X-Api-Key, values: ["${RELAY_TEST_NOT_SET}"]}
filter:
  rules:
    - name: broken
      require: 'detail.x +'
    - name: fine
      require: 'true'
    - name: undeclared
      drop_if: 'nope == 1'
`)
	want := []string{
		cfg + `:4: kinesis.lingr: unknown key (did you mean linger?)`,
		cfg + `:5: kinesis.linger: want a duration with a unit, such as 10ms or 2s, got 10 (a number needs a unit: 10ms? 10s?)`,
		cfg + `:8: http.auth.api_key.values[0]: environment variable RELAY_TEST_NOT_SET is not set (referenced as ${RELAY_TEST_NOT_SET})`,
		cfg + `:11: filter.rules[0] "broken": ERROR: <input>:1:11: Syntax error:`,
		cfg + `:15: filter.rules[2] "undeclared": ERROR: <input>:1:1: undeclared reference to 'nope'`,
		`environment RELAY_LOG_LEVEL: log_level: want debug, info, warn or error, got "verbose"`,
		`genesys-relay: ` + cfg + `: invalid configuration, 6 problems`,
	}
	for _, cmd := range []string{"check", "test", "serve"} {
		code, out, errs := runCmd(t, "", cmd, "-c", cfg)
		if code != exitInvalid || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing", cmd, code, out)
		}
		last := -1
		for _, w := range want {
			i := strings.Index(errs, w)
			if i < 0 || i < last {
				t.Errorf("%s: stderr lacks (or has out of order)\n%s\nin\n%s", cmd, w, errs)
				break
			}
			last = i
		}
	}
}

// TestFlagsFromEnvironment: every flag can be set as RELAY_<FLAG>, the command
// line wins, a bad value is an error naming the variable, and -h says so.
func TestFlagsFromEnvironment(t *testing.T) {
	events := "../../testdata/seed-events.jsonl"
	t.Setenv("RELAY_CONFIG", "../../examples/relay.yaml")

	t.Setenv("RELAY_SUMMARY", "true")
	code, out, errs := runCmd(t, "", "check", events)
	if code != exitOK || !strings.HasPrefix(out, "43 events in 1 file:") {
		t.Errorf("RELAY_SUMMARY=true: exit %d, stdout %q, stderr %q; want the summary", code, out, errs)
	}
	code, out, _ = runCmd(t, "", "check", "-summary=false", events)
	if code != exitOK || !strings.HasPrefix(out, `{"at":`) {
		t.Errorf("-summary=false must win over RELAY_SUMMARY: exit %d, %.80q", code, out)
	}

	// -c (the short form of -config) wins over RELAY_CONFIG too.
	t.Setenv("RELAY_SUMMARY", "")
	code, _, errs = runCmd(t, "", "check", "-c", "does-not-exist.yaml", events)
	if code != exitInvalid || !strings.Contains(errs, "does-not-exist.yaml") {
		t.Errorf("-c over RELAY_CONFIG: exit %d, %q", code, errs)
	}

	t.Setenv("RELAY_WORKERS", "abc")
	code, out, errs = runCmd(t, "", "replay", events)
	if code != exitInvalid || out != "" || !strings.Contains(errs, `environment RELAY_WORKERS="abc": invalid value for -workers`) {
		t.Errorf("RELAY_WORKERS=abc: exit %d, stdout %q, stderr %q; want 2 naming the variable", code, out, errs)
	}

	_, _, errs = runCmd(t, "", "replay", "-h")
	for _, w := range []string{"(env RELAY_WORKERS)", "(env RELAY_RETRIES)", "(env RELAY_CONFIG)"} {
		if !strings.Contains(errs, w) {
			t.Errorf("replay -h lacks %q:\n%s", w, errs)
		}
	}
	if _, _, errs = runCmd(t, "", "-h"); !strings.Contains(errs, "RELAY_<FLAG>") {
		t.Errorf("help does not name RELAY_<FLAG>:\n%s", errs)
	}
}

// TestWarnings: check and test print what compiles but likely does not mean
// what it says, with file:line, and still run. (The case passes: "9" > "80"
// as strings, which is what the warning is about.)
func TestWarnings(t *testing.T) {
	cfg := writeFile(t, "relay.yaml", `sink: stdout
filter:
  rules:
    - name: score
      require: 'detail.?score.orValue("0") > "80"'
tests:
  - name: high score
    event: {id: "1", source: genesys.cloud, detail-type: x, detail: {score: "9"}}
    expect: {decision: forward}
`)
	want := cfg + `:4: filter.rules[0] "score": warning: 1:28: x > "80" compares strings when x is a string ("100" < "80") and fails when it is a number; to compare numbers write double(x) > 80`
	for _, cmd := range []string{"check", "test"} {
		code, _, errs := runCmd(t, "", cmd, "-c", cfg)
		if code != exitOK || strings.TrimSpace(errs) != want {
			t.Errorf("%s: exit %d, stderr\n%s\nwant\n%s", cmd, code, errs, want)
		}
	}
}

// TestYAMLSyntaxLine: a YAML syntax error names the line at fault (yaml.v3
// names line 2, where the list began).
func TestYAMLSyntaxLine(t *testing.T) {
	cfg := writeFile(t, "relay.yaml", "filter:\n  rules:\n    - name: a\n      require: 'true'\n     - name: b\n")
	code, _, errs := runCmd(t, "", "check", "-c", cfg)
	want := cfg + ":5: not valid YAML: did not find expected '-' indicator (check the indentation of this line against the lines above it)\n" +
		"genesys-relay: " + cfg + ": invalid configuration, 1 problem\n"
	if code != exitInvalid || errs != want {
		t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, errs, want)
	}
}
