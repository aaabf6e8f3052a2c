package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// row is a summary row as computed here from check's line per event.
type row struct {
	n      int
	id, at string
}

// label is how the summary names an event's decision and reason.
func label(c checked) string {
	s := c.Decision + " " + *c.Reason
	if c.RuleError != "" {
		s += " (rule error)"
	}
	return s
}

// TestCheckSummary: over several files, the summary counts the events of each
// decision and reason (rule errors apart), with their share and the first
// example — the same counts as check's line per event, computed another way
// (the full Evaluate, aggregated here).
func TestCheckSummary(t *testing.T) {
	files := []string{seedEvents, "../../testdata/genesys-events.jsonl", seedEvents}
	_, out, _ := runCmd(t, "", append([]string{"check", "-c", exampleConfig}, files...)...)
	rows := map[string]*row{}
	var order []string
	lines := parseChecked(t, out)
	for _, c := range lines {
		k := label(c)
		if rows[k] == nil {
			rows[k] = &row{id: *c.ID, at: c.At}
			order = append(order, k)
		}
		rows[k].n++
	}

	code, out, errs := runCmd(t, "", append([]string{"check", "-c", exampleConfig, "--summary"}, files...)...)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// 43 + 12 + 43 events; the seed file alone has 11 forward, 29 drop, 3 reject.
	head := "98 events in 3 files: 22 forward (22.4%), 58 drop (59.2%), 18 reject (18.4%)\n\n"
	if !strings.HasPrefix(out, head) {
		t.Errorf("summary starts\n%s\nwant\n%s", out, head)
	}
	body := strings.Split(strings.TrimSpace(strings.TrimPrefix(out, head)), "\n")
	if !regexp.MustCompile(`^decision +reason +events +share +example +at$`).MatchString(body[0]) {
		t.Errorf("header %q", body[0])
	}
	rowRe := regexp.MustCompile(`^(forward|drop|reject) +(\S+(?: \(rule error\))?) +(\d+) +(\d+\.\d%) +(\S+) +(\S+)$`)
	seen := map[string]bool{}
	for _, l := range body[1:] {
		m := rowRe.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("row %q", l)
			continue
		}
		k := m[1] + " " + m[2]
		want := rows[k]
		if want == nil {
			t.Errorf("row %q: no such decision and reason in check's output", l)
			continue
		}
		seen[k] = true
		share := fmt.Sprintf("%.1f%%", 100*float64(want.n)/float64(len(lines)))
		if m[3] != fmt.Sprint(want.n) || m[4] != share || m[5] != want.id || m[6] != want.at {
			t.Errorf("row %q, want %d %s %s %s", l, want.n, share, want.id, want.at)
		}
	}
	for _, k := range order {
		if !seen[k] {
			t.Errorf("no row for %s", k)
		}
	}
	if !seen["drop failed_tier_priority_filter (rule error)"] {
		t.Errorf("rule errors are not apart:\n%s", out)
	}
}

// TestCheckDiff: --diff lists exactly the events whose decision, reason or
// partition key differ between two configs — as the two configs' line-per-event
// outputs differ — each with file:line and id, and totals by change.
func TestCheckDiff(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for old, new := range map[string]string{
		`>= 80.0`: `>= 70.0`, // some drops become forwards
		`expr: 'detail.?interaction.?routing.?queue.?id.orValue("") in ["", null] ? detail.?interaction.?id.orValue("") : detail.interaction.routing.queue.id'`: `expr: 'detail.?interaction.?id.orValue("")'`,
		`["voice", "chat"]`: `["voice"]`, // some forwards become drops
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("examples/relay.yaml no longer holds %s", old)
		}
		src = strings.ReplaceAll(src, old, new)
	}
	newCfg := writeFile(t, "new.yaml", src)

	_, oldOut, _ := runCmd(t, "", "check", "-c", exampleConfig, seedEvents)
	_, newOut, _ := runCmd(t, "", "check", "-c", newCfg, seedEvents)
	was, now := parseChecked(t, oldOut), parseChecked(t, newOut)
	var want []string
	totals := map[string]int{}
	for i := range now {
		a, b := was[i], now[i]
		ka, kb := str(a.PartitionKey), str(b.PartitionKey)
		if label(a) == label(b) && ka == kb {
			continue
		}
		if a.Decision == "forward" && b.Decision == "forward" {
			want = append(want, fmt.Sprintf("%s %s: %s key %s -> key %s", b.At, *b.ID, label(a), *a.PartitionKey, *b.PartitionKey))
			totals[label(a)+" -> "+label(b)+", another partition key"]++
		} else {
			want = append(want, fmt.Sprintf("%s %s: %s -> %s", b.At, *b.ID, label(a), label(b)))
			totals[label(a)+" -> "+label(b)]++
		}
	}
	if len(want) < 3 || len(totals) < 3 {
		t.Fatalf("the configs differ too little for the test: %v", totals)
	}

	code, out, errs := runCmd(t, "", "check", "-c", newCfg, "--diff", exampleConfig, seedEvents)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	list, table, ok := strings.Cut(out, "\n\n")
	if !ok || list != strings.Join(want, "\n") {
		t.Fatalf("changed events\n%s\nwant\n%s", list, strings.Join(want, "\n"))
	}
	head := fmt.Sprintf("%d of 43 events change (%.1f%%):\n\n", len(want), 100*float64(len(want))/43)
	if !strings.HasPrefix(table, head) {
		t.Fatalf("totals\n%s\nwant them to start with\n%s", table, head)
	}
	rows := strings.Split(strings.TrimSpace(strings.TrimPrefix(table, head)), "\n")[1:]
	if len(rows) != len(totals) {
		t.Errorf("%d total rows, want %d:\n%s", len(rows), len(totals), table)
	}
	rowRe := regexp.MustCompile(`^ *(\d+) +\S+%  (.+?)  +(.+?)  +\S+ +\S+$`)
	for _, r := range rows {
		m := rowRe.FindStringSubmatch(r)
		if m == nil || fmt.Sprint(totals[m[2]+" -> "+m[3]]) != m[1] {
			t.Errorf("total row %q does not match %v", r, totals)
		}
	}

	// The same config: nothing changes.
	_, out, _ = runCmd(t, "", "check", "-c", exampleConfig, "--diff", exampleConfig, seedEvents)
	if out != "no event changes decision, reason or partition key (43 events)\n" {
		t.Errorf("same config: %q", out)
	}
	// A bad old config is named.
	bad := writeFile(t, "old.yaml", "kinesis:\n  lingr: 1s\n")
	if code, _, errs := runCmd(t, "", "check", "-c", exampleConfig, "--diff", bad, seedEvents); code != exitInvalid || !strings.Contains(errs, bad+":2: kinesis.lingr") {
		t.Errorf("bad old config: exit %d: %s", code, errs)
	}
	// Summary and diff need events.
	if code, _, errs := runCmd(t, "", "check", "-c", exampleConfig, "--summary"); code != exitInvalid || !strings.Contains(errs, "need event files") {
		t.Errorf("no files: exit %d: %s", code, errs)
	}
}

// TestCheckSummaryRoutes: with routes, a forwarded event is counted once for
// each route it takes, under the route's name, and the totals count events —
// computed here from check's line per event.
func TestCheckSummaryRoutes(t *testing.T) {
	const cfg = "../../examples/genesys-routing.yaml"
	files := []string{"../../testdata/genesys-events.jsonl", "../../examples/testdata/genesys-user-presence.json",
		"../../examples/testdata/genesys-transcription-interim.json", seedEvents}
	_, out, _ := runCmd(t, "", append([]string{"check", "-c", cfg}, files...)...)
	lines := parseChecked(t, out)
	want := map[string]int{} // "route decision reason" -> events
	per := map[string]int{}
	for _, c := range lines {
		per[c.Decision]++
		if c.Decision != "forward" {
			want[" "+label(c)]++
			continue
		}
		for _, r := range c.Routes {
			want[r.Route+" "+label(c)]++
		}
	}
	if per["forward"] == 0 || per["drop"] == 0 || per["reject"] == 0 {
		t.Fatalf("the events should have every decision: %v", per)
	}

	code, out, errs := runCmd(t, "", append([]string{"check", "-c", cfg, "--summary"}, files...)...)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	n := len(lines)
	head := fmt.Sprintf("%d events in %d files: %d forward (%.1f%%), %d drop (%.1f%%), %d reject (%.1f%%)\n\n", n, len(files),
		per["forward"], 100*float64(per["forward"])/float64(n), per["drop"], 100*float64(per["drop"])/float64(n),
		per["reject"], 100*float64(per["reject"])/float64(n))
	if !strings.HasPrefix(out, head) {
		t.Fatalf("summary starts\n%s\nwant\n%s", out, head)
	}
	body := strings.Split(strings.TrimSpace(strings.TrimPrefix(out, head)), "\n")
	if !regexp.MustCompile(`^route +decision +reason +events +share +example +at$`).MatchString(body[0]) {
		t.Errorf("header %q", body[0])
	}
	forwardRe := regexp.MustCompile(`^(\S+) +(forward) +(\S+) +(\d+) +\S+ +\S+ +\S+$`)
	otherRe := regexp.MustCompile(`^ *(drop|reject) +(\S+(?: \(rule error\))?) +(\d+) +\S+ +\S+ +\S+$`)
	got := map[string]int{}
	for _, l := range body[1:] {
		if m := forwardRe.FindStringSubmatch(l); m != nil {
			got[m[1]+" "+m[2]+" "+m[3]], _ = strconv.Atoi(m[4])
			continue
		}
		if m := otherRe.FindStringSubmatch(l); m != nil {
			got[" "+m[1]+" "+m[2]], _ = strconv.Atoi(m[3])
			continue
		}
		t.Errorf("row %q", l)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows\n%v\nwant\n%v\n%s", got, want, out)
	}
}
