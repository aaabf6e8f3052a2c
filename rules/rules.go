// Package rules compiles the relay's CEL expressions — filter rules, the partition
// key, the optional explicit hash key and enrichment fields — once at load, and
// evaluates them per event.
//
// Expressions see two variables: event (the whole EventBridge envelope as a map) and
// detail (event.detail). Optional syntax (a.?b.orValue(x)) and the cel-go string and
// math extensions are enabled; double("85") converts the numeric strings Genesys uses
// for participant attributes.
package rules

import (
	"errors"
	"fmt"
	"sort"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/genesys-relay/genesys-relay/config"
)

// Vars is what one event's expressions are evaluated against.
type Vars struct {
	// Event is the envelope as a CEL map: a ref.Val, or a Go value cel-go
	// converts, such as the map[string]any of encoding/json (JSON numbers as
	// float64).
	Event any
	// Detail is Event["detail"], likewise.
	Detail any
}

// ResolveName implements interpreter.Activation without allocating a map per event.
func (v *Vars) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		return v.Event, true
	case "detail":
		return v.Detail, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *Vars) Parent() interpreter.Activation { return nil }

var _ interpreter.Activation = (*Vars)(nil)

// Rule is one compiled filter rule.
type Rule struct {
	Name string
	// DropIf is true for drop_if rules (the event is dropped when the expression is
	// true) and false for require rules (dropped when false).
	DropIf bool
	prg    cel.Program
}

// Field is one compiled enrichment field.
type Field struct {
	Name string
	prg  cel.Program
}

// Set is a compiled configuration. It is immutable and safe for concurrent use.
type Set struct {
	Sources    *Sources
	Rules      []Rule
	PassReason string
	// Fields are sorted by name so records are byte-for-byte reproducible.
	Fields []Field
	key    cel.Program
	ehk    cel.Program
	// HashKey is the partition_key.hash setting.
	HashKey string
	// Key is the top-level partition_key, compiled.
	Key *Key
	// Routes are the routes in config order: the configured ones, or one
	// route, config.DefaultRoute, taking every event to config.DefaultOutput.
	Routes []Route
	// Routed is true when the config has routes of its own (an event may then
	// match none and be dropped as config.NoRoute).
	Routed bool
	// FieldSets is the number of distinct Route.FieldSet values.
	FieldSets int
	// Warnings are expressions that compile but likely do not mean what they
	// say (see lint); `check` and `test` print them.
	Warnings []config.Problem
	linted   []string // of the last expression compiled, until warn
	access   *Access
}

// warn files what lint said about the expression just compiled under its key
// and rule name.
func (s *Set) warn(key, name string) {
	for _, w := range s.linted {
		s.Warnings = append(s.Warnings, config.Problem{Key: key, Name: name, Msg: w, Warning: true})
	}
	s.linted = nil
}

// NewEnv returns the CEL environment every expression is compiled in.
func NewEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("detail", cel.DynType),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
		ext.Math(),
	)
}

// Compile compiles and type-checks every expression of c. The error is a
// *config.Error with a problem for each expression that does not compile,
// naming the config key, the rule and the position in the expression.
func Compile(c *config.Config) (*Set, error) {
	env, err := NewEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	s := &Set{PassReason: c.Filter.PassReason, HashKey: c.PartitionKey.Hash, access: newAccess()}
	var errs []config.Problem
	bad := func(key, name string, err error) {
		errs = append(errs, config.Problem{Key: key, Name: name, Msg: err.Error()})
	}
	if s.Sources, err = NewSources(c.Filter.Sources); err != nil {
		bad("filter.sources", "", err)
	}
	for i, r := range c.Filter.Rules {
		expr, dropIf := r.Require, false
		if r.DropIf != "" {
			expr, dropIf = r.DropIf, true
		}
		key := fmt.Sprintf("filter.rules[%d]", i)
		prg, err := s.compile(env, expr, cel.BoolType)
		s.warn(key, r.Name)
		if err != nil {
			bad(key, r.Name, err)
			continue
		}
		s.Rules = append(s.Rules, Rule{Name: r.Name, DropIf: dropIf, prg: prg})
	}
	top, kerrs := s.compileKey(env, c.PartitionKey, "partition_key", "")
	errs = append(errs, kerrs...)
	s.Key, s.key, s.ehk = top, top.prg, top.ehk
	names := make([]string, 0, len(c.Enrich.Fields))
	for name := range c.Enrich.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prg, err := s.compile(env, c.Enrich.Fields[name], nil)
		s.warn("enrich.fields."+name, "")
		if err != nil {
			bad("enrich.fields."+name, "", err)
			continue
		}
		s.Fields = append(s.Fields, Field{Name: name, prg: prg})
	}
	errs = append(errs, s.compileRoutes(env, c, top)...)
	if len(errs) > 0 {
		return nil, &config.Error{Problems: errs}
	}
	return s, nil
}

// compile parses and checks expr, keeps what lint says about it for warn, and
// adds what it reads to the Set's Access; want, when set, is the result type it
// must have (dyn is accepted and checked at evaluation).
func (s *Set) compile(env *cel.Env, expr string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	s.linted = append(s.linted, lint(ast)...)
	if want != nil {
		out := ast.OutputType()
		if !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
			return nil, fmt.Errorf("expression returns %s, want %s", out, want)
		}
	}
	s.access.add(ast)
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize))
}

// Access is what the Set's expressions read from an event. It must not be
// modified.
func (s *Set) Access() *Access { return s.access }

// Filter runs the rules in order. It returns the reason (the first rule that
// rejects the event, or PassReason) and whether the event passed. An evaluation
// error fails closed: the event is dropped with that rule's name and err says why.
func (s *Set) Filter(v *Vars) (reason string, pass bool, err error) {
	for i := range s.Rules {
		r := &s.Rules[i]
		out, _, evalErr := r.prg.Eval(v)
		if evalErr != nil {
			return r.Name, false, &EvalError{Rule: r.Name, Err: evalErr}
		}
		b, ok := out.(types.Bool)
		if !ok {
			return r.Name, false, fmt.Errorf("rule %q returned %s, want bool", r.Name, out.Type().TypeName())
		}
		if bool(b) == r.DropIf {
			return r.Name, false, nil
		}
	}
	return s.PassReason, true, nil
}

// KeyValue evaluates the partition key expression before hashing. An empty value is
// returned as an error so the caller falls back.
func (s *Set) KeyValue(v *Vars) (string, error) {
	return evalString(s.key, v)
}

// ExplicitHashKey evaluates the optional explicit hash key ("" when not configured).
func (s *Set) ExplicitHashKey(v *Vars) (string, error) {
	if s.ehk == nil {
		return "", nil
	}
	return evalString(s.ehk, v)
}

func evalString(prg cel.Program, v *Vars) (string, error) {
	out, _, err := prg.Eval(v)
	if err != nil {
		return "", err
	}
	switch x := out.(type) {
	case types.String:
		if x == "" {
			return "", errors.New("empty value")
		}
		return string(x), nil
	case types.Int, types.Uint, types.Double:
		return fmt.Sprint(x.Value()), nil
	}
	return "", fmt.Errorf("value of type %s, want string", out.Type().TypeName())
}

// FieldValue evaluates enrichment field i.
func (s *Set) FieldValue(i int, v *Vars) (ref.Val, error) {
	out, _, err := s.Fields[i].prg.Eval(v)
	return out, err
}
