package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, expands, strictly decodes, overrides from the environment and
// validates the file at path. Every error wraps ErrInvalid and names the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cfg, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// Parse is Load without the file: lookup resolves ${VAR} references and the
// environment overrides (pass os.LookupEnv).
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg := Default()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if err := expandNode(root, lookup); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if err := checkKeys(root, reflect.TypeOf(cfg), ""); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		presetOAuth(root, &cfg)
		if err := root.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	applyEnv(&cfg, lookup)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// applyEnv applies the deployment overrides; they win over the file.
func applyEnv(c *Config, lookup func(string) (string, bool)) {
	set := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	set("RELAY_LISTEN", &c.Listen)
	set("RELAY_METRICS_LISTEN", &c.MetricsListen)
	set("RELAY_SINK", &c.Sink)
	set("RELAY_LOG_LEVEL", &c.LogLevel)
	set("KINESIS_STREAM_NAME", &c.Kinesis.Stream)
	set("KINESIS_ENDPOINT", &c.Kinesis.Endpoint)
	set("AWS_REGION", &c.Kinesis.Region)
	set("AWS_REGION", &c.SQS.Region)
	set("SQS_QUEUE_URL", &c.SQS.QueueURL)
	set("SQS_ENDPOINT", &c.SQS.Endpoint)
	set("RELAY_TLS_CERT_FILE", &c.HTTP.TLS.CertFile)
	set("RELAY_TLS_KEY_FILE", &c.HTTP.TLS.KeyFile)
}

// presetOAuth gives http.auth.oauth its defaults before decoding when the file
// has that section: the section is a pointer (absent means OAuth is off), so
// Default cannot hold them.
func presetOAuth(root *yaml.Node, c *Config) {
	n := root
	for _, key := range []string{"http", "auth", "oauth"} {
		if n = mapValue(n, key); n == nil {
			return
		}
	}
	if n.Kind == yaml.MappingNode {
		c.HTTP.Auth.OAuth = &OAuth{Leeway: DefaultOAuthLeeway}
	}
}

// mapValue returns the value of key in the mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// expandNode replaces ${VAR} in every scalar value (not in keys) with the variable's
// value. An unset variable is an error naming it and the line; "$${" stands for a
// literal "${".
func expandNode(n *yaml.Node, lookup func(string) (string, bool)) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		v, err := expand(n.Value, lookup)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		n.Value = v
		if n.Tag == "" || n.Style != 0 {
			return nil
		}
		// A plain scalar that was only a reference keeps its resolved type (a
		// number stays a number); anything else is a string. A value that reads as
		// null ("", "~", "null") stays a string: decoding a null leaves the default in
		// place, and a set-but-empty variable must not silently mean "the default".
		n.Tag = ""
		if n.ShortTag() == "!!null" {
			n.Tag = "!!str"
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := expandNode(n.Content[i], lookup); err != nil {
				return err
			}
		}
	default:
		for _, c := range n.Content {
			if err := expandNode(c, lookup); err != nil {
				return err
			}
		}
	}
	return nil
}

func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // "$${" is an escaped literal
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s[i:])
		}
		name := s[i+2 : i+j]
		if name == "" {
			return "", errors.New("empty ${} reference")
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set (referenced as ${%s})", name, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

// checkKeys reports the first mapping key that has no field in t, naming its full
// dotted path and line. yaml.v3's KnownFields is not available when decoding from a
// Node, and this also gives better messages.
func checkKeys(n *yaml.Node, t reflect.Type, prefix string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		// The anchor may sit where keys are not checked (a map of strings).
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			path := join(prefix, k.Value)
			if !ok {
				return fmt.Errorf("line %d: unknown key %q", k.Line, path)
			}
			if err := checkKeys(v, f.Type, path); err != nil {
				return err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), join(prefix, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
