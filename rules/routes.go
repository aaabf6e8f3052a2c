package rules

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/genesys-relay/genesys-relay/config"
)

// The built-in partition key's reading of Genesys Cloud's own EventBridge
// shape: detail is {topicName, version, eventBody, metadata, timestamp}.
const (
	genesysShapeExpr = `has(detail.topicName)`
	genesysKeyExpr   = `detail.?eventBody.?conversationId.orValue("")`
)

// Key is a compiled partition key: the top-level partition_key or a route's.
type Key struct {
	prg cel.Program
	ehk cel.Program
	// Hash is fnv64a or none. It applies to the value and to the envelope id
	// a failing key falls back to.
	Hash string
	// shape and conv are set for the built-in key (partition_key.expr left
	// empty): an event of Genesys Cloud's shape is keyed by its
	// conversationId as is, the seed's shape by the seed's expression.
	shape, conv cel.Program
}

// Value evaluates the key and returns the value before hashing with the
// hash that applies to it (and to the fallback when it fails): the built-in
// key does not hash Genesys Cloud conversation ids, which are already
// uniformly spread UUIDs, readable in the stream.
func (k *Key) Value(v *Vars) (value, hash string, err error) {
	if k.shape != nil {
		if out, _, err := k.shape.Eval(v); err == nil && out == types.True {
			value, err := evalString(k.conv, v)
			return value, "none", err
		}
	}
	value, err = evalString(k.prg, v)
	return value, k.Hash, err
}

// ExplicitHashKey evaluates the optional explicit hash key ("" when not
// configured).
func (k *Key) ExplicitHashKey(v *Vars) (string, error) {
	if k.ehk == nil {
		return "", nil
	}
	return evalString(k.ehk, v)
}

// Route is one compiled route.
type Route struct {
	Name string
	// Output names the output the route writes to.
	Output string
	when   cel.Program // nil: every event
	// Key is the route's partition key (the top-level one unless overridden).
	Key *Key
	// Fields are the record's enrichment fields on this route, sorted by name.
	Fields []Field
	// FieldSet identifies Fields: routes with the same FieldSet write the same
	// record bytes for an event (0 is the top-level enrich.fields).
	FieldSet int
}

// Takes reports whether the route takes the event. An evaluation error
// fails closed: the route is not taken and err says why.
func (r *Route) Takes(v *Vars) (bool, error) {
	if r.when == nil {
		return true, nil
	}
	out, _, err := r.when.Eval(v)
	if err != nil {
		return false, fmt.Errorf("route %q: %w", r.Name, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("route %q returned %s, want bool", r.Name, out.Type().TypeName())
	}
	return bool(b), nil
}

// FieldValue evaluates the route's enrichment field i.
func (r *Route) FieldValue(i int, v *Vars) (ref.Val, error) {
	out, _, err := r.Fields[i].prg.Eval(v)
	return out, err
}

// compileKey compiles a partition_key written under key (for route name, ""
// at the top level); what is read is added to the Set's Access like every
// other expression.
func (s *Set) compileKey(env *cel.Env, pk config.PartitionKey, key, name string) (*Key, []config.Problem) {
	k := &Key{Hash: pk.Hash}
	if k.Hash == "" {
		k.Hash = "fnv64a"
	}
	var errs []config.Problem
	bad := func(key string, err error) {
		errs = append(errs, config.Problem{Key: key, Name: name, Msg: err.Error()})
	}
	expr := pk.Expr
	if expr == "" {
		expr = config.DefaultPartitionKeyExpr
		var err error
		if k.shape, err = s.compile(env, genesysShapeExpr, cel.BoolType); err != nil {
			bad(key+".expr", fmt.Errorf("built-in key: %w", err))
		}
		if k.conv, err = s.compile(env, genesysKeyExpr, cel.StringType); err != nil {
			bad(key+".expr", fmt.Errorf("built-in key: %w", err))
		}
		s.linted = nil // the built-in expressions are not the user's to fix
	}
	var err error
	if k.prg, err = s.compile(env, expr, cel.StringType); err != nil {
		bad(key+".expr", err)
	}
	s.warn(key+".expr", name)
	if pk.ExplicitHashKey != "" {
		if k.ehk, err = s.compile(env, pk.ExplicitHashKey, cel.StringType); err != nil {
			bad(key+".explicit_hash_key", err)
		}
		s.warn(key+".explicit_hash_key", name)
	}
	return k, errs
}

// compileRoutes compiles c's routes (or the one implicit route) after the
// top-level key and fields. Problems name the route's key and the route.
func (s *Set) compileRoutes(env *cel.Env, c *config.Config, top *Key) []config.Problem {
	s.Routed = len(c.Routes) > 0
	var errs []config.Problem
	sets := 1
	for i, cr := range c.EffectiveRoutes() {
		key := fmt.Sprintf("routes[%d]", i)
		bad := func(key string, err error) {
			errs = append(errs, config.Problem{Key: key, Name: cr.Name, Msg: err.Error()})
		}
		r := Route{Name: cr.Name, Output: cr.To, Key: top, Fields: s.Fields}
		if cr.When != "" {
			prg, err := s.compile(env, cr.When, cel.BoolType)
			if err != nil {
				bad(key+".when", err)
			}
			s.warn(key+".when", cr.Name)
			r.when = prg
		}
		if cr.PartitionKey != nil {
			k, kerrs := s.compileKey(env, *cr.PartitionKey, key+".partition_key", cr.Name)
			r.Key = k
			errs = append(errs, kerrs...)
		}
		if len(cr.Enrich.Fields) > 0 {
			fields := make([]Field, 0, len(s.Fields)+len(cr.Enrich.Fields))
			for _, f := range s.Fields {
				if _, replaced := cr.Enrich.Fields[f.Name]; !replaced {
					fields = append(fields, f)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(cr.Enrich.Fields)) {
				prg, err := s.compile(env, cr.Enrich.Fields[name], nil)
				s.warn(key+".enrich.fields."+name, cr.Name)
				if err != nil {
					bad(key+".enrich.fields."+name, err)
					continue
				}
				fields = append(fields, Field{Name: name, prg: prg})
			}
			sort.Slice(fields, func(a, b int) bool { return fields[a].Name < fields[b].Name })
			r.Fields, r.FieldSet = fields, sets
			sets++
		}
		s.Routes = append(s.Routes, r)
	}
	s.FieldSets = sets
	return errs
}
