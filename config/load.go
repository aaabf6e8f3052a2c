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
// validates the file at path. The error wraps ErrInvalid; it is an *Error listing
// every problem, each with the file and line (or the environment variable) it
// comes from.
func Load(path string) (*Config, error) {
	cfg, _, err := Read(path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Read is Load for tools that report every problem at once: it goes on past
// problems and returns the configuration as far as it could be read (defaults
// where a value was refused; nil only when the file cannot be read or is not
// YAML), where each setting came from, and the problems as an *Error. lookup
// resolves ${VAR} references and the environment overrides (pass os.LookupEnv).
func Read(path string, lookup func(string) (string, bool)) (*Config, *Origins, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cfg, o, problems := parse(data, path, lookup)
	if cfg != nil {
		cfg.Path = path
	}
	return cfg, o, errorOf(problems)
}

// Parse is Load without the file: lookup resolves ${VAR} references and the
// environment overrides (pass os.LookupEnv; nil is an empty environment).
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false } // an empty environment
	}
	cfg, _, problems := parse(data, "", lookup)
	if len(problems) > 0 {
		return nil, errorOf(problems)
	}
	return cfg, nil
}

// parse runs every stage and collects their problems; a stage's problem hides
// what later stages say about the same key (they see the default instead).
func parse(data []byte, file string, lookup func(string) (string, bool)) (*Config, *Origins, []Problem) {
	cfg := Default()
	o := newOrigins(file)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, o, []Problem{syntaxProblem(data, file, err)}
	}
	var problems []Problem
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		o.recordLines(root, "")
		expandNode(root, lookup, "", &problems)
		checkKeys(root, reflect.TypeOf(cfg), "", &problems)
		presetOAuth(root, &cfg)
		problems = append(problems, decodeProblems(root.Decode(&cfg), problems)...)
	}
	before := cfg
	applyEnv(&cfg, lookup)
	o.recordEnv(&before, &cfg, lookup)
	if len(doc.Content) > 0 {
		// Outputs and route keys take what they leave out from kinesis: and
		// partition_key, after the environment overrides. A value that does
		// not decode was reported by the Decode above.
		if err := resolveInherited(doc.Content[0], &cfg); err != nil && len(problems) == 0 {
			problems = append(problems, decodeProblems(err, problems)...)
		}
	}
	problems = append(problems, Independent(problems, cfg.problems())...)
	for i := range problems {
		problems[i] = o.Locate(problems[i])
	}
	Sort(problems)
	return &cfg, o, problems
}

// applyEnv applies the deployment overrides; they win over the file. AWS_REGION
// is not an override but a default: it fills kinesis.region only when the file
// leaves it empty, because AWS Lambda always sets it (to the function's region)
// and a stream in another region must stay reachable from there. sqs.region is
// left alone: an empty one is taken from the queue URL, else from the Kinesis
// region (see sqsin.Region).
func applyEnv(c *Config, lookup func(string) (string, bool)) {
	set := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	fill := func(name string, dst *string) {
		if *dst == "" {
			set(name, dst)
		}
	}
	set("RELAY_LISTEN", &c.Listen)
	set("RELAY_METRICS_LISTEN", &c.MetricsListen)
	set("RELAY_SINK", &c.Sink)
	set("RELAY_LOG_LEVEL", &c.LogLevel)
	set("KINESIS_STREAM_NAME", &c.Kinesis.Stream)
	set("KINESIS_ENDPOINT", &c.Kinesis.Endpoint)
	fill("AWS_REGION", &c.Kinesis.Region)
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
		if n = mappingValue(n, key); n == nil {
			return
		}
	}
	if n.Kind == yaml.MappingNode {
		c.HTTP.Auth.OAuth = &OAuth{Leeway: DefaultOAuthLeeway}
	}
}

// expandNode replaces ${VAR} in every scalar value (not in keys) with the variable's
// value. An unset variable is a problem naming it and the key; the value is then
// left out (read as null), so that the default stays and no later stage reports
// the unexpanded text. "$${" stands for a literal "${".
func expandNode(n *yaml.Node, lookup func(string) (string, bool), path string, problems *[]Problem) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		v, err := expand(n.Value, lookup)
		if err != nil {
			*problems = append(*problems, Problem{Line: n.Line, Key: path, Msg: err.Error()})
			setNull(n)
			return
		}
		n.Value = v
		if n.Tag == "" || n.Style != 0 {
			return
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
			expandNode(n.Content[i], lookup, join(path, n.Content[i-1].Value), problems)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, lookup, fmt.Sprintf("%s[%d]", path, i), problems)
		}
	default:
		for _, c := range n.Content {
			expandNode(c, lookup, path, problems)
		}
	}
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

// checkKeys reports every mapping key that has no field in t, naming its full
// dotted path and line, and every value whose type does not fit its field, in
// words that say what is expected. A refused value is left out (read as null),
// so decoding keeps the default and reports nothing more about it. yaml.v3's
// KnownFields is not available when decoding from a Node, and this also gives
// better messages.
var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func checkKeys(n *yaml.Node, t reflect.Type, prefix string, problems *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	at := n
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		// The anchor may sit where keys are not checked (a map of strings).
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // the default stays
	}
	refuse := func(msg string) {
		*problems = append(*problems, Problem{Line: at.Line, Key: prefix, Msg: msg})
		setNull(at)
	}
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		if n.Kind == yaml.ScalarNode && reflect.PointerTo(t).Implements(unmarshalerType) {
			return // a short form the type reads itself (ExpectRoute: a route name)
		}
		if n.Kind != yaml.MappingNode && prefix == "" {
			refuse("want a mapping of settings (listen: …, kinesis: …), got " + describe(n))
			return
		}
		if n.Kind != yaml.MappingNode {
			refuse("want a mapping (key: value), got " + describe(n))
			return
		}
		eachKey(n, prefix, problems, func(k, v *yaml.Node, path string) {
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				*problems = append(*problems, Problem{Line: k.Line, Key: path, Msg: "unknown key" + suggest(t, k.Value)})
				return
			}
			checkKeys(v, f.Type, path, problems)
		})
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			refuse("want a mapping (name: value), got " + describe(n))
			return
		}
		eachKey(n, prefix, problems, func(_, v *yaml.Node, path string) {
			checkKeys(v, t.Elem(), path, problems)
		})
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			refuse("want a list ([a, b], or lines starting with \"- \"), got " + describe(n))
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i), problems)
		}
	case t.Kind() == reflect.Interface:
		// Anything goes (a test case's event).
	case n.Kind != yaml.ScalarNode:
		refuse(fmt.Sprintf("want %s, got %s", scalarWant(t, prefix), describe(n)))
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			refuse(scalarProblem(t, prefix, n))
		}
	}
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
