package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// What yaml.v3 says, turned into what the user wrote wrong: its messages name Go
// types ("cannot unmarshal !!int into time.Duration") and, for syntax errors,
// often the line where the enclosing block began rather than the line at fault.

var durationType = reflect.TypeOf(time.Duration(0))

// setNull turns n into a null, which decoding skips (the default stays).
func setNull(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// describe names what n holds for a message: "a mapping", "a list", or the value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// eachKey calls f for each key of the mapping n, once: a key written twice is a
// problem (the first one would silently lose).
func eachKey(n *yaml.Node, prefix string, problems *[]Problem, f func(k, v *yaml.Node, path string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := join(prefix, k.Value)
		if first, dup := seen[k.Value]; dup {
			*problems = append(*problems, Problem{Line: k.Line, Key: path, Msg: fmt.Sprintf("set twice (first at line %d)", first)})
			continue
		}
		seen[k.Value] = k.Line
		f(k, v, path)
	}
}

// suggest returns " (did you mean NAME?)" for the key of t closest to key, if
// one is close enough to be a typo.
func suggest(t reflect.Type, key string) string {
	best, bestD := "", 3
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if d := distance(strings.ToLower(key), name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" || bestD > len(key)/3+1 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalarWant says what a value of type t looks like.
func scalarWant(t reflect.Type, key string) string {
	switch {
	case t == durationType:
		return "a duration with a unit, such as 10ms or 2s"
	case strings.HasSuffix(key, "_bytes"):
		return "a whole number of bytes (1 MiB is 1048576)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

// scalarProblem says why the scalar n does not fit t.
func scalarProblem(t reflect.Type, key string, n *yaml.Node) string {
	msg := fmt.Sprintf("want %s, got %s", scalarWant(t, key), describe(n))
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && t != durationType && t.Kind() != reflect.String {
		var probe yaml.Node
		if yaml.Unmarshal([]byte(n.Value), &probe) == nil && len(probe.Content) == 1 &&
			probe.Content[0].Decode(reflect.New(t).Interface()) == nil {
			msg += " (a quoted value is a string: remove the quotes)"
		}
	}
	if t == durationType {
		if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
			msg += fmt.Sprintf(" (a number needs a unit: %sms? %ss?)", n.Value, n.Value)
		} else {
			msg += " (units: ns, us, ms, s, m, h)"
		}
	}
	return msg
}

var lineMsg = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeProblems turns what decoding still refused into problems, leaving out
// lines checkKeys already reported.
func decodeProblems(err error, known []Problem) []Problem {
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{{Msg: err.Error()}}
	}
	var out []Problem
	for _, m := range te.Errors {
		p := Problem{Msg: m}
		if g := lineMsg.FindStringSubmatch(m); g != nil {
			p.Line, _ = strconv.Atoi(g[1])
			p.Msg = g[2]
		}
		if !onLine(known, p.Line) {
			out = append(out, p)
		}
	}
	return out
}

func onLine(problems []Problem, line int) bool {
	for _, p := range problems {
		if line > 0 && p.Line == line {
			return true
		}
	}
	return false
}

var (
	yamlLine   = regexp.MustCompile(`^yaml: (?:line \d+: )?`)
	yamlLineNo = regexp.MustCompile(`^yaml: line (\d+): `)
)

// syntaxProblem locates a YAML syntax error. yaml.v3 reports the line where the
// enclosing block began (line 2 for a bad indent on line 5), so the line given
// is the first at which the text up to it fails with the same message: the line
// that made it fail.
func syntaxProblem(data []byte, file string, err error) Problem {
	msg := yamlLine.ReplaceAllString(err.Error(), "")
	p := Problem{File: file, Msg: "not valid YAML: " + msg}
	if g := yamlLineNo.FindStringSubmatch(err.Error()); g != nil {
		p.Line, _ = strconv.Atoi(g[1])
	}
	// The fault is not above the line yaml.v3 names.
	lines := bytes.SplitAfter(data, []byte("\n"))
	for k := max(p.Line, 1); k <= len(lines); k++ {
		var n yaml.Node
		e := yaml.Unmarshal(bytes.Join(lines[:k], nil), &n)
		if e != nil && yamlLine.ReplaceAllString(e.Error(), "") == msg {
			p.Line = k
			break
		}
	}
	switch {
	case strings.Contains(msg, "tab character"):
		p.Msg += " (indent with spaces, not tabs)"
	case strings.Contains(msg, "expected ',' or"):
		p.Msg += " (a [ or { opened here is not closed, or lacks a comma)"
	case strings.Contains(msg, "did not find expected") || strings.Contains(msg, "mapping values are not allowed") ||
		strings.Contains(msg, "block mapping") || strings.Contains(msg, "cannot start any token"):
		p.Msg += " (check the indentation of this line against the lines above it)"
	case strings.Contains(msg, "unexpected end of stream"):
		p.Msg += " (a quote or bracket opened here is not closed)"
	}
	return p
}
