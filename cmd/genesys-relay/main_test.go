package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

// TestExamples loads every config in examples/ and runs its tests: cases, so a
// shipped example can never drift from the code.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, out, errs := runCmd(t, "", "test", "-c", f)
			if code != exitOK || !strings.Contains(out, " passed, 0 failed") || strings.Contains(out, "FAIL") {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckOutputAndExitCodes(t *testing.T) {
	code, out, errs := runCmd(t, "", "check", "-c", "../../examples/relay.yaml", "../../testdata/seed-events.jsonl")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 43 {
		t.Fatalf("%d lines, want one per event (43)", len(lines))
	}
	counts := map[string]int{}
	for _, l := range lines {
		var v struct {
			ID           *string
			Decision     string
			Reason       *string
			PartitionKey *string `json:"partition_key"`
			Record       map[string]any
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		counts[v.Decision]++
		if (v.Decision == "forward") != (v.Record != nil && v.PartitionKey != nil) {
			t.Errorf("record/partition_key must be present exactly for forward: %s", l)
		}
	}
	if counts["forward"] != 11 || counts["drop"] != 29 || counts["reject"] != 3 {
		t.Errorf("decisions %v, want 11 forward, 29 drop, 3 reject (the seed's)", counts)
	}

	// Events from stdin, as a JSON array.
	code, out, _ = runCmd(t, `[{"id":"a","source":"genesys.cloud","detail-type":"x","detail":{"eventCode":"nope"}}]`,
		"check", "-c", "../../examples/relay.yaml", "-")
	if code != exitOK || !strings.Contains(out, `"decision":"drop","reason":"excluded_event_code"`) {
		t.Errorf("stdin array: exit %d: %s", code, out)
	}

	bad := writeFile(t, "bad.yaml", "filter:\n  rules:\n    - name: broken\n      require: 'detail.x +'\n")
	code, _, errs = runCmd(t, "", "check", "-c", bad)
	if code != exitInvalid || !strings.Contains(errs, `filter.rules[0] "broken"`) || !strings.Contains(errs, "1:") {
		t.Errorf("bad rule: exit %d, stderr %q; want 2 naming the rule and position", code, errs)
	}
	unknown := writeFile(t, "unknown.yaml", "kinesis:\n  lingr: 5ms\n")
	code, _, errs = runCmd(t, "", "check", "-c", unknown)
	if code != exitInvalid || !strings.Contains(errs, `unknown.yaml:2: kinesis.lingr: unknown key`) {
		t.Errorf("unknown key: exit %d, stderr %q", code, errs)
	}
}

func TestTestCommandReportsFailures(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfg, []byte(`
filter:
  sources: [genesys.cloud]
  rules:
    - {name: only_wrapup, require: 'detail.?eventCode.orValue("") == "interaction.wrapup"'}
tests:
  - name: passes
    event: {id: "1", source: genesys.cloud, detail-type: x, detail: {eventCode: interaction.wrapup, interaction: {id: i1}}}
    expect: {decision: forward, partition_key: `+fnvOf("i1")+`}
  - name: wrong expectation
    event: {id: "2", source: genesys.cloud, detail-type: x, detail: {eventCode: other}}
    expect: {decision: forward}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "", "test", "-c", cfg)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{"PASS passes", `FAIL wrong expectation: decision drop, want forward (dropped by rule "only_wrapup")`, "1 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsage(t *testing.T) {
	if code, _, errs := runCmd(t, "", "frobnicate"); code != exitInvalid || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	if code, out, _ := runCmd(t, "", "version"); code != exitOK || !strings.HasPrefix(out, "genesys-relay ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "", "check", "-h"); code != exitOK || !strings.Contains(errs, "RELAY_CONFIG") {
		t.Errorf("check -h: %d %q", code, errs)
	}
}

func fnvOf(s string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = hex[h&0xf]
		h >>= 4
	}
	return string(b)
}

// TestDeployConfig: the config baked into the container image compiles.
func TestDeployConfig(t *testing.T) {
	t.Setenv("RELAY_API_KEY", "example-key")
	if code, _, errs := runCmd(t, "", "check", "-c", "../../deploy/relay.yaml"); code != exitOK {
		t.Fatalf("deploy/relay.yaml: exit %d: %s", code, errs)
	}
}
