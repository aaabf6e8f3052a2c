package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

const (
	exampleConfig = "../../examples/relay.yaml"
	seedEvents    = "../../testdata/seed-events.jsonl"
)

// checked is one line of check's output.
type checked struct {
	At           string
	ID           *string
	Decision     string
	Reason       *string
	PartitionKey *string `json:"partition_key"`
	Record       json.RawMessage
	Error        string
	RuleError    string `json:"rule_error"`
	Routes       []struct{ Route string }
}

func parseChecked(t *testing.T, out string) []checked {
	t.Helper()
	var lines []checked
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var c checked
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		lines = append(lines, c)
	}
	return lines
}

// TestCheckPointsAtTheInput: each line names the file and line its event
// starts on, in every input shape; a malformed line is a reject at its line;
// an input without events says so and exits 1.
func TestCheckPointsAtTheInput(t *testing.T) {
	ev := func(id string) string {
		return `{"id":"` + id + `","source":"genesys.cloud","detail-type":"x","detail":{"eventCode":"nope"}}`
	}
	for _, tc := range []struct {
		name, content string
		want          []string // "line decision reason"
	}{
		{"lines", ev("a") + "\n\n" + `{"id":"b", broken` + "\n" + ev("c") + "\n",
			[]string{"1 drop excluded_event_code", "3 reject malformed_json", "4 drop excluded_event_code"}},
		{"crlf lines", ev("a") + "\r\n" + ev("b") + "\r\n",
			[]string{"1 drop excluded_event_code", "2 drop excluded_event_code"}},
		{"array over lines", "[\n  " + ev("a") + ",\n  " + ev("b") + "\n]\n",
			[]string{"2 drop excluded_event_code", "3 drop excluded_event_code"}},
		{"pretty-printed values", "{\n  \"id\": \"a\",\n  \"source\": \"genesys.cloud\",\n  \"detail-type\": \"x\",\n  \"detail\": {\"eventCode\": \"nope\"}\n}\n\n{\n  \"id\": \"b\"\n}\n",
			[]string{"1 drop excluded_event_code", "8 reject not_envelope"}},
		{"unclosed value", "{\n  \"id\": \"a\",\n  \"detail\": {\n",
			[]string{"1 reject malformed_json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "events.json", tc.content)
			code, out, errs := runCmd(t, "", "check", "-c", exampleConfig, path)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got []string
			for _, c := range parseChecked(t, out) {
				line, ok := strings.CutPrefix(c.At, path+":")
				if !ok {
					t.Errorf("at %q does not name %s", c.At, path)
				}
				got = append(got, fmt.Sprintf("%s %s %s", line, c.Decision, *c.Reason))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}

	// Stdin is named so.
	code, out, _ := runCmd(t, ev("a")+"\n", "check", "-c", exampleConfig, "-")
	if code != exitOK || !strings.HasPrefix(out, `{"at":"stdin:1","id":"a",`) {
		t.Errorf("stdin: exit %d: %s", code, out)
	}
	// Empty inputs.
	for _, content := range []string{"", "\n  \n", "[]\n"} {
		path := writeFile(t, "empty.jsonl", content)
		code, out, errs := runCmd(t, "", "check", "-c", exampleConfig, path)
		if code != exitFailed || out != "" || errs != "genesys-relay: "+path+": no events (the input is empty)\n" {
			t.Errorf("empty input %q: exit %d, stdout %q, stderr %q", content, code, out, errs)
		}
	}
}

// TestCheckRecordIsVerbatim: the record check prints holds original_event byte
// for byte as received (here with the spaces of the sample files), as Kinesis
// gets it; the seed's decisions and keys are unchanged.
func TestCheckRecordIsVerbatim(t *testing.T) {
	code, out, errs := runCmd(t, "", "check", "-c", exampleConfig, seedEvents)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(seedEvents)
	if err != nil {
		t.Fatal(err)
	}
	inputs := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	forwarded := 0
	for i, c := range parseChecked(t, out) {
		if c.At != seedEvents+":"+strconv.Itoa(i+1) {
			t.Errorf("line %d: at %q", i+1, c.At)
		}
		if c.Decision != "forward" {
			continue
		}
		forwarded++
		var in struct{ Detail json.RawMessage }
		var rec struct {
			OriginalEvent json.RawMessage `json:"original_event"`
		}
		if err := json.Unmarshal(inputs[i], &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c.Record, &rec); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.OriginalEvent, in.Detail) || !bytes.Contains(in.Detail, []byte(", ")) {
			t.Errorf("line %d: original_event\n%s\nwant the received detail\n%s", i+1, rec.OriginalEvent, in.Detail)
		}
	}
	if forwarded != 11 {
		t.Errorf("%d forwarded, want 11", forwarded)
	}
}

// TestCheckRuleErrorHint: a rule that fails on a missing key says how to read
// an optional key.
func TestCheckRuleErrorHint(t *testing.T) {
	cfg := writeFile(t, "relay.yaml", "sink: stdout\nfilter:\n  rules:\n    - {name: tier, require: 'detail.customer_tier == \"gold\"'}\n")
	_, out, _ := runCmd(t, `{"id":"a","source":"genesys.cloud","detail-type":"x","detail":{}}`, "check", "-c", cfg, "-")
	want := `"rule_error":"rule \"tier\": no such key: customer_tier (not every event has customer_tier: read it with .?customer_tier.orValue(…), or test has(….customer_tier) first)"`
	if !strings.Contains(out, want) {
		t.Errorf("output\n%s\nlacks\n%s", out, want)
	}
}
