package rules

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// Access is what a Set's expressions read from an event, found in their checked
// syntax trees, so that the decoder can leave out the rest: decoding only the
// fields the rules look at is most of the cost of an event.
type Access struct {
	// Event is set when an expression uses the event variable other than by
	// selecting constant fields from it (passed to a function, compared,
	// iterated): it needs the whole envelope as a map, detail included.
	Event bool
	// EventFields are the top-level envelope keys selected as event.key or
	// event["key"], detail included (the reads below it are in Detail).
	EventFields map[string]bool
	// eventKeys holds the keys of EventFields, for ReadsEventKey.
	eventKeys []string
	// Detail is the tree of fields read below detail.
	Detail *Path
}

// Path is one node of the tree of fields read below detail.
type Path struct {
	// Name is the field this node selects from its parent ("" at the root).
	Name string
	// All is set when the value here is used as a whole (compared, passed to a
	// function, iterated, tested with has()): everything below it is needed.
	All bool
	// Fields are the fields selected from the value here, by constant name.
	Fields map[string]*Path
	// list holds the values of Fields, for Lookup.
	list []*Path
}

// Lookup returns Fields[string(name)]. It compares name with each field in
// turn: the rules of an event select a few fields of each object, and a
// decoder looks up every key it meets, where hashing each one cost more than
// comparing it (go test ./pipeline -bench Evaluate).
func (p *Path) Lookup(name []byte) *Path {
	if p.list == nil && len(p.Fields) > 0 {
		return p.Fields[string(name)] // a Path built by hand
	}
	for _, f := range p.list {
		if f.Name == string(name) {
			return f
		}
	}
	return nil
}

// ReadsEventKey reports whether the top-level envelope key is read: the
// event is used whole, or the key is among EventFields. It compares key with
// each of them, as Lookup does: the decoder asks for every envelope key.
func (a *Access) ReadsEventKey(key string) bool {
	if a.Event {
		return true
	}
	if a.eventKeys == nil && len(a.EventFields) > 0 {
		return a.EventFields[key] // an Access built by hand
	}
	for _, k := range a.eventKeys {
		if k == key {
			return true
		}
	}
	return false
}

// ReadsEvent reports whether the rules read anything of the event variable.
func (a *Access) ReadsEvent() bool { return a.Event || len(a.EventFields) > 0 }

// FullAccess reads everything: the whole envelope and the whole detail.
func FullAccess() *Access {
	return &Access{Event: true, EventFields: map[string]bool{}, Detail: &Path{All: true}}
}

func newAccess() *Access {
	return &Access{EventFields: map[string]bool{}, Detail: &Path{}}
}

// Uses reports whether anything is read from the event at all.
func (a *Access) Uses() bool {
	return a.Event || len(a.EventFields) > 0 || a.Detail.All || len(a.Detail.Fields) > 0
}

// add records the reads of one checked expression.
func (a *Access) add(checked *cel.Ast) {
	if checked == nil || checked.NativeRep() == nil {
		a.Event, a.Detail.All = true, true
		return
	}
	a.visit(checked.NativeRep().Expr())
	if a.Event {
		a.Detail.All = true
	}
}

// visit walks e. A chain of constant selections rooted at event or detail is
// recorded as a path whose end is used whole; anything else is walked into.
// An identifier named event or detail that is in fact a comprehension variable
// is taken for the event variable: that reads more than needed, never less.
func (a *Access) visit(e ast.Expr) {
	if root, path, ok := chain(e); ok {
		a.record(root, path)
		return
	}
	switch e.Kind() {
	case ast.SelectKind:
		a.visit(e.AsSelect().Operand())
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			a.visit(c.Target())
		}
		for _, arg := range c.Args() {
			a.visit(arg)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			a.visit(x)
		}
	case ast.ListKind:
		for _, x := range e.AsList().Elements() {
			a.visit(x)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			if en.Kind() == ast.MapEntryKind {
				a.visit(en.AsMapEntry().Key())
				a.visit(en.AsMapEntry().Value())
			}
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			if f.Kind() == ast.StructFieldKind {
				a.visit(f.AsStructField().Value())
			}
		}
	}
}

// chain returns the variable and the constant field names of e when e is a
// chain of selections (x.f, x.?f, x["f"], x[?"f"], has(x.f)) from an identifier.
func chain(e ast.Expr) (root string, path []string, ok bool) {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent(), nil, true
	case ast.SelectKind:
		s := e.AsSelect()
		if root, path, ok = chain(s.Operand()); ok {
			return root, append(path, s.FieldName()), true
		}
	case ast.CallKind:
		c := e.AsCall()
		switch c.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if len(c.Args()) != 2 || c.IsMemberFunction() {
				return "", nil, false
			}
			k := c.Args()[1]
			if k.Kind() != ast.LiteralKind {
				return "", nil, false
			}
			name, isString := k.AsLiteral().(types.String)
			if !isString {
				return "", nil, false
			}
			if root, path, ok = chain(c.Args()[0]); ok {
				return root, append(path, string(name)), true
			}
		}
	}
	return "", nil, false
}

// record notes that the value at root.path is used whole.
func (a *Access) record(root string, path []string) {
	switch root {
	case "event":
		if len(path) == 0 {
			a.Event = true
			return
		}
		if !a.EventFields[path[0]] {
			a.EventFields[path[0]] = true
			a.eventKeys = append(a.eventKeys, path[0])
		}
		if path[0] != "detail" {
			return
		}
		path = path[1:]
	case "detail":
	default:
		return
	}
	p := a.Detail
	for _, f := range path {
		if p.All {
			return
		}
		if p.Fields == nil {
			p.Fields = map[string]*Path{}
		}
		next := p.Fields[f]
		if next == nil {
			next = &Path{Name: f}
			p.Fields[f] = next
			p.list = append(p.list, next)
		}
		p = next
	}
	p.All = true
	p.Fields, p.list = nil, nil
}
