package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/genesys-relay/genesys-relay/kinesis"
	"github.com/genesys-relay/genesys-relay/sqsin"
)

// Problem is one thing wrong with a configuration, with where it was written, so
// that a user can fix every problem of a file in one go.
type Problem struct {
	// File and Line locate the value in the config file (Line 0: not known).
	File string
	Line int
	// Env names the environment variable the value came from; it is blamed
	// instead of the file.
	Env string
	// Key is the dotted key of the setting (filter.rules[2].name); Name, when
	// set, is the rule's name, shown after the key.
	Key  string
	Name string
	// Msg says what is wrong and what is expected.
	Msg string
	// Warning marks a problem that does not make the configuration invalid.
	Warning bool
}

// Error formats p as "file:line: key "name": message", leaving out what is not
// known; a value from the environment reads "environment VAR: key: message".
func (p Problem) Error() string {
	var b strings.Builder
	switch {
	case p.Env != "":
		fmt.Fprintf(&b, "environment %s: ", p.Env)
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		fmt.Fprintf(&b, "%s: ", p.File)
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		if p.Name != "" {
			fmt.Fprintf(&b, " %q", p.Name)
		}
		b.WriteString(": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found in a configuration, one a line, in the order
// the stages found them (YAML, ${VAR}s, keys and types, values, rules). It wraps
// ErrInvalid.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return ErrInvalid.Error() + ": " + strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// errorOf returns nil for no problems, else an *Error holding them.
func errorOf(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{Problems: problems}
}

// Problems returns the problems err lists: those of an *Error, else err as one
// problem.
func Problems(err error) []Problem {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return []Problem{{Msg: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")}}
}

// Sort orders problems as a reader fixes them: by line, those without a line
// (from the environment, or not written in the file) last, otherwise as found.
func Sort(problems []Problem) {
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return a.Line - b.Line
	})
}

// Independent returns the problems of later that are not consequences of one in
// earlier: a later stage sees the default where an earlier one refused a value,
// and what it says about that key, or about a key that holds it, is noise.
func Independent(earlier, later []Problem) []Problem {
	var out []Problem
	for _, p := range later {
		if !covered(earlier, p.Key) {
			out = append(out, p)
		}
	}
	return out
}

func covered(earlier []Problem, key string) bool {
	if key == "" {
		return false
	}
	for _, q := range earlier {
		if q.Key == key || strings.HasPrefix(q.Key, key+".") || strings.HasPrefix(q.Key, key+"[") {
			return true
		}
	}
	return false
}

// settingProblems are the problems of a component's own checks (such as
// kinesis.Options.Problems, sqsin.Options.Problems): a *kinesis.SettingError
// or *sqsin.SettingError keeps its key, so the problem is placed at its line;
// any other error is a problem without one.
func settingProblems(errs ...error) []Problem {
	out := make([]Problem, 0, len(errs))
	for _, err := range errs {
		var se *kinesis.SettingError
		if errors.As(err, &se) {
			out = append(out, Problem{Key: se.Key, Msg: se.Msg})
			continue
		}
		var qe *sqsin.SettingError
		if errors.As(err, &qe) {
			out = append(out, Problem{Key: qe.Key, Msg: qe.Msg})
			continue
		}
		out = append(out, Problem{Msg: err.Error()})
	}
	return out
}
