package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// relayConfig returns the config the relay runs: -config with listen, the
// Kinesis endpoint and stream replaced, its tests removed, and the -set
// overrides applied.
func relayConfig(o options, listen, endpoint, stream string) ([]byte, error) {
	src, err := os.ReadFile(o.path(o.config))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", o.config, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", o.config)
	}
	root := doc.Content[0]
	removeKey(root, "tests")
	removeKey(root, "sqs")
	sets := []string{
		"listen=" + listen,
		"metrics_listen=",
		"sink=kinesis",
		"kinesis.endpoint=" + endpoint,
		"kinesis.stream=" + stream,
		"kinesis.region=us-east-1",
	}
	if o.certFile != "" {
		sets = append(sets, "http.tls.cert_file="+o.certFile, "http.tls.key_file="+o.keyFile)
	}
	for _, kv := range append(sets, o.sets...) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("-set %q: want key=value", kv)
		}
		setKey(root, strings.Split(k, "."), v)
	}
	return yaml.Marshal(&doc)
}

func removeKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// setKey sets the scalar at path in mapping m, creating mappings on the way.
func setKey(m *yaml.Node, path []string, value string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			m.Content[i+1] = scalar(value)
			return
		}
		if m.Content[i+1].Kind != yaml.MappingNode {
			m.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		setKey(m.Content[i+1], path[1:], value)
		return
	}
	var v *yaml.Node
	if len(path) == 1 {
		v = scalar(value)
	} else {
		v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setKey(v, path[1:], value)
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: path[0]}, v)
}

// scalar is a plain scalar, so that numbers and booleans keep their type.
func scalar(v string) *yaml.Node {
	var n yaml.Node
	if v == "" || yaml.Unmarshal([]byte(v), &n) != nil || len(n.Content) == 0 || n.Content[0].Kind != yaml.ScalarNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	}
	return n.Content[0]
}

// loadEvents returns the request bodies: the lines of -events, or -event.
func loadEvents(o options) ([][]byte, error) {
	if o.events == "" {
		b, err := os.ReadFile(o.path(o.event))
		if err != nil {
			return nil, err
		}
		return [][]byte{bytes.TrimSpace(b)}, nil
	}
	f, err := os.Open(o.path(o.events))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no events", o.events)
	}
	return out, nil
}
