package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every error wraps
// ErrInvalid, and that what Parse accepts also passes Validate.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range append(files, filepath.Join("..", "examples", "relay.yaml")) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"listen: ${A}\n",
		"sqs:\n  workers: ${N}\n",
		"a: &x [*x]\n",
		"kinesis: &k {stream: s}\nhttp: *k\n",
		"tests:\n  - event: {a: [1, {b: ~}]}\n",
		"? [a]\n: b\n",
		"!!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	env := lookupMap(map[string]string{"A": "127.0.0.1:1", "N": "3", "RELAY_TEST_KEY_OLD": "k",
		"RELAY_TEST_KEY_NEW": "k2", "RELAY_TEST_PASSWORD": "p", "RELAY_TEST_WORKERS": "2"})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, env)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", err)
		}
	})
}
