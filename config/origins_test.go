package config

import (
	"path/filepath"
	"testing"
)

// TestEnvBlame: a bad value that came from an environment override names the
// variable, not the file line whose value it replaced; the file's own bad values
// keep their lines, in the same report.
func TestEnvBlame(t *testing.T) {
	isolateEnv(t)
	t.Setenv("RELAY_LOG_LEVEL", "verbose")
	t.Setenv("RELAY_SINK", "file")
	t.Setenv("RELAY_METRICS_LISTEN", "127.0.0.1:9100") // valid: not reported
	path := filepath.Join("testdata", "env-blame.yaml")
	_, err := Load(path)
	want := "invalid configuration: " +
		path + `:2: listen: want host:port, got "nowhere"` + "\n" +
		`environment RELAY_SINK: sink: want kinesis or stdout, got "file"` + "\n" +
		`environment RELAY_LOG_LEVEL: log_level: want debug, info, warn or error, got "verbose"`
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
}

// TestOriginsLocate: problems found after loading (rules that do not compile)
// are placed on the line of their key, or of the nearest key above it written
// in the file; keys the environment set name the variable.
func TestOriginsLocate(t *testing.T) {
	doc := "filter:\n  rules:\n    - name: a\n      require: 'x'\nkinesis:\n  stream: s\n"
	_, o, problems := parse([]byte(doc), "relay.yaml", lookupMap(map[string]string{"KINESIS_ENDPOINT": "http://k"}))
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	for _, tc := range []struct {
		key, want string
	}{
		{"filter.rules[0]", `relay.yaml:3: filter.rules[0]: m`},
		{"filter.rules[0].require", `relay.yaml:4: filter.rules[0].require: m`},
		{"kinesis.linger", `relay.yaml:5: kinesis.linger: m`},
		{"kinesis.endpoint", `environment KINESIS_ENDPOINT: kinesis.endpoint: m`},
		{"partition_key.expr", `relay.yaml: partition_key.expr: m`},
	} {
		if got := o.Locate(Problem{Key: tc.key, Msg: "m"}).Error(); got != tc.want {
			t.Errorf("Locate(%s) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
