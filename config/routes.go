package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/genesys-relay/genesys-relay/kinesis"
)

// Names used when a config has no outputs: or routes: of its own.
const (
	// DefaultOutput names the one output of a config without outputs: (the
	// kinesis: section).
	DefaultOutput = "default"
	// DefaultRoute names the one route of a config without routes: (every
	// event that passes the filter, to DefaultOutput).
	DefaultRoute = "default"
	// NoRoute is the drop reason of an event that passed the filter but that
	// no route selects.
	NoRoute = "no_route"
)

// Route sends the events its When selects to the output To.
type Route struct {
	// Name labels the route in metrics, check output and test expectations.
	Name string `yaml:"name"`
	// When is a CEL expression over event and detail; empty: every event.
	When string `yaml:"when"`
	// To names an entry of outputs: (DefaultOutput without outputs:).
	To string `yaml:"to"`
	// PartitionKey, when set, replaces the top-level partition_key for this
	// route; keys it leaves out come from the top level (resolved at load).
	PartitionKey *PartitionKey `yaml:"partition_key"`
	// Enrich adds record fields for this route.
	Enrich RouteEnrich `yaml:"enrich"`
}

// RouteEnrich is what a route adds to the record.
type RouteEnrich struct {
	// Fields are added to enrich.fields; a name given in both takes the
	// route's expression.
	Fields map[string]string `yaml:"fields"`
}

// ExpectRoute is one expected route of a test case. In YAML it is a route
// name, or a mapping with the parts to compare.
type ExpectRoute struct {
	Route        string `yaml:"route"`
	Stream       string `yaml:"stream"`
	PartitionKey string `yaml:"partition_key"`
}

// UnmarshalYAML accepts a plain route name as well as the mapping.
func (e *ExpectRoute) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*e = ExpectRoute{Route: n.Value}
		return nil
	}
	type plain ExpectRoute
	return n.Decode((*plain)(e))
}

// EffectiveOutputs returns the outputs events are written to: Outputs, or
// the kinesis: section as DefaultOutput.
func (c *Config) EffectiveOutputs() map[string]Kinesis {
	if len(c.Outputs) > 0 {
		return c.Outputs
	}
	return map[string]Kinesis{DefaultOutput: c.Kinesis}
}

// EffectiveRoutes returns the routes in order: Routes, or DefaultRoute (every
// event to DefaultOutput with the top-level partition key and fields).
func (c *Config) EffectiveRoutes() []Route {
	if len(c.Routes) > 0 {
		return c.Routes
	}
	return []Route{{Name: DefaultRoute, To: DefaultOutput}}
}

// RouteKey returns the partition key route r uses.
func (c *Config) RouteKey(r Route) PartitionKey {
	if r.PartitionKey != nil {
		return *r.PartitionKey
	}
	return c.PartitionKey
}

// resolveInherited gives each output the kinesis: settings it leaves out and
// each route's partition_key the top-level keys it leaves out, by decoding
// their YAML over copies of those (so "left out" means absent from the file,
// not zero). It runs after the environment overrides, so an output inherits
// KINESIS_ENDPOINT, for example, unless it names its own endpoint.
func resolveInherited(root *yaml.Node, c *Config) error {
	if outs := mappingValue(root, "outputs"); outs != nil && outs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(outs.Content); i += 2 {
			k := c.Kinesis
			if err := outs.Content[i+1].Decode(&k); err != nil {
				return err
			}
			c.Outputs[outs.Content[i].Value] = k
		}
	}
	if routes := mappingValue(root, "routes"); routes != nil && routes.Kind == yaml.SequenceNode {
		for i, r := range routes.Content {
			pk := mappingValue(r, "partition_key")
			if pk == nil || i >= len(c.Routes) {
				continue
			}
			k := c.PartitionKey
			if err := pk.Decode(&k); err != nil {
				return err
			}
			c.Routes[i].PartitionKey = &k
		}
	}
	return nil
}

// mappingValue returns the value of key in mapping n (aliases followed), or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// validateRouting checks outputs:, routes: and the route expectations of
// tests:; bad reports one problem.
func (c *Config) validateRouting(bad func(key, format string, args ...any)) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Outputs)) {
		key := "outputs." + name
		if !ruleName.MatchString(name) {
			bad(key, "want a name of letters, digits and _.:- (it labels metrics), got %q", name)
		}
		o := c.Outputs[name]
		errs = append(errs, o.Problems(key)...)
		if c.Sink == "kinesis" {
			if err := kinesis.StreamProblem(key, o.Stream); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(c.Outputs) > 0 && len(c.Routes) == 0 {
		bad("routes", "outputs: is set but no route sends events to it (add routes: with to: naming an output)")
	}
	outputs := c.EffectiveOutputs()
	seen := map[string]bool{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		switch {
		case !ruleName.MatchString(r.Name):
			bad(key+".name", "want a name of letters, digits and _.:- (it labels metrics), got %q", r.Name)
		case seen[r.Name]:
			bad(key+".name", "duplicate route name %q", r.Name)
		}
		seen[r.Name] = true
		if _, ok := outputs[r.To]; !ok {
			bad(key+".to", "route %q: %q is not an output (want one of %s)", r.Name, r.To,
				strings.Join(slices.Sorted(maps.Keys(outputs)), ", "))
		}
		if pk := r.PartitionKey; pk != nil {
			if pk.Expr != "" && strings.TrimSpace(pk.Expr) == "" {
				bad(key+".partition_key.expr", "route %q: must not be empty", r.Name)
			}
			if pk.Hash != "fnv64a" && pk.Hash != "none" {
				bad(key+".partition_key.hash", "route %q: want fnv64a or none, got %q", r.Name, pk.Hash)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(r.Enrich.Fields)) {
			if slices.Contains(ReservedFields, name) {
				bad(key+".enrich.fields."+name, "route %q: collides with the built-in record field %q", r.Name, name)
			}
			if name == "" {
				bad(key+".enrich.fields", "route %q: a field name is empty", r.Name)
			}
			if strings.TrimSpace(r.Enrich.Fields[name]) == "" {
				bad(key+".enrich.fields."+name, "route %q: expression is empty", r.Name)
			}
		}
	}
	if len(c.Routes) > 0 {
		for i, r := range c.Filter.Rules {
			if r.Name == NoRoute {
				bad(fmt.Sprintf("filter.rules[%d].name", i), "%q is the drop reason of events no route selects", NoRoute)
			}
		}
	}
	routes := map[string]bool{}
	for _, r := range c.EffectiveRoutes() {
		routes[r.Name] = true
	}
	for i, tc := range c.Tests {
		for j, er := range tc.Expect.Routes {
			if !routes[er.Route] {
				bad(fmt.Sprintf("tests[%d].expect.routes[%d]", i, j), "test %q: %q is not a route", tc.Name, er.Route)
			}
		}
	}
	return errs
}
