package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestInitPassesTest writes the starter config for each topic family, for
// all of them and for the default, and runs its tests: cases as written.
func TestInitPassesTest(t *testing.T) {
	sets := [][]string{nil, {"--topics", "conversation,presence,audits,transcription,metrics"}}
	for _, f := range topicFamilies {
		sets = append(sets, []string{"--topics", f.name})
	}
	for _, extra := range sets {
		name := "default"
		if extra != nil {
			name = extra[1]
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "relay.yaml")
			code, _, errs := runCmd(t, "", append([]string{"init", "-c", path}, extra...)...)
			if code != exitOK {
				t.Fatalf("init: exit %d: %s", code, errs)
			}
			code, out, errs := runCmd(t, "", "test", "-c", path)
			if code != exitOK || strings.Contains(out, "FAIL") || !strings.Contains(out, " passed, 0 failed") {
				data, _ := os.ReadFile(path)
				t.Fatalf("test: exit %d\n%s%s\n%s", code, out, errs, data)
			}
			families := len(topicFamilies)
			if extra == nil {
				families = 2
			} else if !strings.Contains(extra[1], ",") {
				families = 1
			}
			if want := families + 1; !strings.Contains(out, "\n"+strconv.Itoa(want)+" passed, 0 failed") {
				t.Errorf("want %d cases (one per family and no_route):\n%s", want, out)
			}
		})
	}
}

func TestInitRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.yaml")
	if code, _, errs := runCmd(t, "", "init", "-c", path, "--topics", "conversation,nope"); code != exitInvalid || !strings.Contains(errs, `unknown topic family "nope"`) {
		t.Errorf("unknown family: exit %d: %s", code, errs)
	}
	if err := os.WriteFile(path, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "", "init", "-c", path); code != exitFailed || !strings.Contains(errs, "exists") {
		t.Errorf("existing file: exit %d: %s", code, errs)
	}
	if data, _ := os.ReadFile(path); string(data) != "mine\n" {
		t.Error("init overwrote a file without -force")
	}
	if code, _, errs := runCmd(t, "", "init", "-c", path, "-force"); code != exitOK {
		t.Errorf("-force: exit %d: %s", code, errs)
	}
	code, out, _ := runCmd(t, "", "init", "-c", "-", "--topics", "audits")
	if code != exitOK || !strings.Contains(out, "stream: genesys-audits") || strings.Contains(out, "genesys-presence") {
		t.Errorf("stdout: exit %d:\n%s", code, out)
	}
}

// TestCheckRoutes: check lists every route an event takes with its stream
// and key; the top-level partition_key is the first route's.
func TestCheckRoutes(t *testing.T) {
	code, out, errs := runCmd(t, "", "check", "-c", "../../examples/genesys-routing.yaml",
		"../../examples/testdata/genesys-audit-user-presence.json", "../../examples/testdata/genesys-transcription-interim.json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	type route struct{ Route, Stream, PartitionKey string }
	var fwd struct {
		Decision     string
		PartitionKey string `json:"partition_key"`
		Routes       []struct {
			Route, Stream string
			PartitionKey  string `json:"partition_key"`
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &fwd); err != nil {
		t.Fatal(err)
	}
	const user = "9c0d1e2f-3a4b-4c5d-8e7f-809102132435"
	want := []route{
		{"presence_audits", "genesys-agent-state", user},
		{"audits", "genesys-audit", user},
		{"archive", "genesys-raw", "e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f623"},
	}
	if fwd.Decision != "forward" || fwd.PartitionKey != user || len(fwd.Routes) != len(want) {
		t.Fatalf("%s", lines[0])
	}
	for i, w := range want {
		if g := fwd.Routes[i]; (route{g.Route, g.Stream, g.PartitionKey}) != w {
			t.Errorf("routes[%d] = %+v, want %+v", i, g, w)
		}
	}
	if strings.Contains(lines[1], `"routes"`) || !strings.Contains(lines[1], `"decision":"drop","reason":"interim_transcript"`) {
		t.Errorf("a dropped event takes no route: %s", lines[1])
	}

	// A config without routes: has one route, named default, to kinesis.stream.
	code, out, _ = runCmd(t, "", "check", "-c", "../../examples/relay.yaml", "../../examples/testdata/seed-forward-no-queue.json")
	if code != exitOK || !strings.Contains(out, `"routes":[{"route":"default","stream":"genesys-interactions-stream","partition_key":"b104cbe3b13be646"}]`) {
		t.Errorf("exit %d: %s", code, out)
	}
}

// TestTestRouteExpectations: a case whose routes differ fails and says how.
func TestTestRouteExpectations(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.yaml")
	doc := `
outputs:
  a: {stream: stream-a}
  b: {stream: stream-b}
routes:
  - {name: ra, to: a, when: 'detail.?x.orValue("") == "a"'}
  - {name: rb, to: b, partition_key: {expr: 'event.id', hash: none}}
tests:
  - name: right
    event: {id: e-1, detail-type: t, source: genesys.cloud, detail: {x: a}}
    expect: {decision: forward, routes: [ra, {route: rb, stream: stream-b, partition_key: e-1}]}
  - name: wrong order
    event: {id: e-2, detail-type: t, source: genesys.cloud, detail: {x: a}}
    expect: {decision: forward, routes: [rb, ra]}
  - name: missing route
    event: {id: e-3, detail-type: t, source: genesys.cloud, detail: {x: b}}
    expect: {decision: forward, routes: [ra, rb]}
  - name: wrong stream and key
    event: {id: e-4, detail-type: t, source: genesys.cloud, detail: {}}
    expect: {decision: forward, routes: [{route: rb, stream: stream-a, partition_key: e-1}]}
  - name: no routes expected
    event: {id: e-5, detail-type: t, source: genesys.cloud, detail: {}}
    expect: {decision: forward, routes: []}
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, "", "test", "-c", path)
	if code != exitFailed {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{
		"PASS right\n",
		"FAIL wrong order: routes[0] ra, want rb (routes [ra rb])",
		"FAIL missing route: routes [rb], want [ra rb]",
		`FAIL wrong stream and key: route rb: stream "stream-b", want "stream-a"`,
		"FAIL no routes expected: routes [rb], want []",
		"1 passed, 4 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestReplayRoutes: commands outside serve (replay, and the Lambda handler,
// which opens the config the same way) write each route's record to its
// output: with the stdout sink, each line names its stream.
func TestReplayRoutes(t *testing.T) {
	t.Setenv("RELAY_SINK", "stdout")
	code, out, errs := runCmd(t, "", "replay", "-c", "../../examples/genesys-routing.yaml", "-workers", "4",
		"../../examples/testdata/genesys-user-presence.json", "../../examples/testdata/genesys-acw.json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var streams []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Stream       string `json:"stream"`
			PartitionKey string `json:"partition_key"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		streams = append(streams, rec.Stream+"="+rec.PartitionKey)
	}
	slices.Sort(streams)
	want := []string{
		"genesys-agent-state=9c0d1e2f-3a4b-4c5d-8e7f-809102132435",
		"genesys-conversations=8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b",
		"genesys-raw=e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f604",
		"genesys-raw=e0a1b2c3-d4e5-4f60-8a71-b2c3d4e5f622",
	}
	if !slices.Equal(streams, want) {
		t.Errorf("records\n%v\nwant\n%v", streams, want)
	}
}
