package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Origins tells where each setting of a loaded configuration came from: a line
// of the file or an environment variable. Problems found after loading (rules
// that do not compile) are located with it.
type Origins struct {
	// File is the config file ("" for Parse).
	File  string
	lines map[string]int    // dotted key → line of the key in File
	env   map[string]string // dotted key → the variable whose value it holds
}

func newOrigins(file string) *Origins {
	return &Origins{File: file, lines: map[string]int{}, env: map[string]string{}}
}

// Locate fills in where p's key came from: the environment variable that set it,
// else the line of the key, or of the nearest enclosing key written in the file.
// A problem that already has a line keeps it.
func (o *Origins) Locate(p Problem) Problem {
	if o == nil {
		return p
	}
	if p.File == "" {
		p.File = o.File
	}
	if p.Line > 0 || p.Env != "" || p.Key == "" {
		return p
	}
	if v, ok := o.env[p.Key]; ok {
		p.Env = v
		return p
	}
	for k := p.Key; k != ""; k = parentKey(k) {
		if l, ok := o.lines[k]; ok {
			p.Line = l
			break
		}
	}
	return p
}

// parentKey strips the last ".name" or "[i]" of a dotted key.
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// recordLines notes the line of every key under n (sequence items by index),
// named as Validate and package rules name them.
func (o *Origins) recordLines(n *yaml.Node, prefix string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			if _, dup := o.lines[k]; !dup {
				o.lines[k] = n.Content[i].Line
			}
			o.recordLines(n.Content[i+1], k)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", prefix, i)
			o.lines[k] = c.Line
			o.recordLines(c, k)
		}
	}
}

// recordEnv notes the settings the environment overrides replaced: before and
// after are the configuration around applyEnv. applyEnv itself is the only list
// of overrides: it is run once for each variable it reads that is set, alone,
// on an empty Config, to see which keys that variable fills.
func (o *Origins) recordEnv(before, after *Config, lookup func(string) (string, bool)) {
	var names []string
	applyEnv(&Config{}, func(name string) (string, bool) {
		if v, ok := lookup(name); ok && v != "" {
			names = append(names, name)
		}
		return "", false
	})
	if len(names) == 0 {
		return
	}
	was, now := leaves(before), leaves(after)
	const probe = "\x00probe"
	for _, name := range names {
		var c Config
		applyEnv(&c, func(n string) (string, bool) {
			if n == name {
				return probe, true
			}
			return "", false
		})
		value, _ := lookup(name)
		for key, v := range leaves(&c) {
			if v != probe {
				continue
			}
			if now[key] != was[key] && now[key] == value {
				o.env[key] = name
			}
		}
	}
}

// leaves returns the scalar settings of c by dotted key.
func leaves(c *Config) map[string]any {
	out := map[string]any{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			switch fv.Kind() {
			case reflect.Struct:
				walk(fv, join(prefix, name))
			case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
				out[join(prefix, name)] = fv.Interface()
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}
