package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

func runTest(_ context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("test", "", e)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, p, ok := loadChecked(*cfgPath, e.stderr)
	if !ok {
		return exitInvalid
	}
	if len(cfg.Tests) == 0 {
		fmt.Fprintf(e.stderr, "genesys-relay: %s has no tests: cases\n", *cfgPath)
		return exitFailed
	}
	passed, failed := 0, 0
	for _, tc := range cfg.Tests {
		problems := runCase(cfg, p, tc)
		if len(problems) == 0 {
			passed++
			fmt.Fprintf(e.stdout, "PASS %s\n", tc.Name)
			continue
		}
		failed++
		fmt.Fprintf(e.stdout, "FAIL %s: %s\n", tc.Name, strings.Join(problems, "; "))
	}
	fmt.Fprintf(e.stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// runCase returns what differs from the case's expectations (nothing: it passed).
func runCase(cfg *config.Config, p *pipeline.Processor, tc config.TestCase) []string {
	raw, err := caseEvent(cfg, tc)
	if err != nil {
		return []string{err.Error()}
	}
	l := evaluateLine(p, raw)
	var problems []string
	want := tc.Expect
	if l.Decision != want.Decision {
		msg := fmt.Sprintf("decision %s, want %s", l.Decision, want.Decision)
		switch {
		case l.Error != "":
			msg += " (" + l.Error + ")"
		case l.RuleError != "":
			why := strings.TrimPrefix(l.RuleError, "rule "+str(l.Reason)+": ")
			msg += fmt.Sprintf(" (dropped by rule %s, which could not be evaluated: %s)", str(l.Reason), why)
		case l.Decision == "drop":
			msg += fmt.Sprintf(" (dropped by rule %s)", str(l.Reason))
		}
		problems = append(problems, msg)
	}
	if want.Reason != "" && (l.Reason == nil || *l.Reason != want.Reason) {
		problems = append(problems, fmt.Sprintf("reason %s, want %q", str(l.Reason), want.Reason))
	}
	if want.PartitionKey != "" && (l.PartitionKey == nil || *l.PartitionKey != want.PartitionKey) {
		problems = append(problems, fmt.Sprintf("partition_key %s, want %q", str(l.PartitionKey), want.PartitionKey))
	}
	if want.Routes != nil {
		problems = append(problems, routeProblems(l.Routes, want.Routes)...)
	}
	if len(want.Fields) > 0 {
		var rec map[string]any
		if err := json.Unmarshal(l.Record, &rec); err != nil {
			problems = append(problems, "no record to compare fields with")
		} else {
			for name, w := range want.Fields {
				if got, ok := rec[name]; !ok || !sameJSON(got, w) {
					g, _ := json.Marshal(got)
					ww, _ := json.Marshal(w)
					problems = append(problems, fmt.Sprintf("record.%s = %s, want %s", name, g, ww))
				}
			}
		}
	}
	return problems
}

func caseEvent(cfg *config.Config, tc config.TestCase) ([]byte, error) {
	if tc.Event != nil {
		return json.Marshal(tc.Event)
	}
	path := tc.EventFile
	if !filepath.IsAbs(path) && cfg.Path != "" {
		path = filepath.Join(filepath.Dir(cfg.Path), path)
	}
	events, err := readEvents(path, nil)
	if err != nil {
		return nil, fmt.Errorf("event_file: %w", err)
	}
	if len(events) != 1 {
		return nil, fmt.Errorf("event_file %s holds %d events, want 1", tc.EventFile, len(events))
	}
	return events[0], nil
}

// sameJSON compares a decoded JSON value with a YAML value, numbers by value.
func sameJSON(got, want any) bool {
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		return false
	}
	var a, b any
	_ = json.Unmarshal(g, &a)
	_ = json.Unmarshal(w, &b)
	return reflect.DeepEqual(a, b)
}

func str(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// routeProblems compares the routes an event took with the expected ones, in
// order; an expected stream or partition key is compared only when given.
func routeProblems(got []routeLine, want []config.ExpectRoute) []string {
	names := func() string {
		var n []string
		for _, r := range got {
			n = append(n, r.Route)
		}
		return "[" + strings.Join(n, " ") + "]"
	}
	if len(got) != len(want) {
		var w []string
		for _, r := range want {
			w = append(w, r.Route)
		}
		return []string{fmt.Sprintf("routes %s, want [%s]", names(), strings.Join(w, " "))}
	}
	var problems []string
	for i, w := range want {
		g := got[i]
		switch {
		case g.Route != w.Route:
			problems = append(problems, fmt.Sprintf("routes[%d] %s, want %s (routes %s)", i, g.Route, w.Route, names()))
		case w.Stream != "" && g.Stream != w.Stream:
			problems = append(problems, fmt.Sprintf("route %s: stream %q, want %q", g.Route, g.Stream, w.Stream))
		case w.PartitionKey != "" && g.PartitionKey != w.PartitionKey:
			problems = append(problems, fmt.Sprintf("route %s: partition_key %q, want %q", g.Route, g.PartitionKey, w.PartitionKey))
		}
	}
	return problems
}
