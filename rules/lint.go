package rules

import (
	"fmt"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// EvalError is a rule that could not be evaluated for an event, which is then
// dropped with the rule's name (fail closed). Its message suggests the fix for
// the common cause: a key the event does not have, read without ?. or has().
type EvalError struct {
	Rule string
	Err  error
}

func (e *EvalError) Error() string {
	msg := fmt.Sprintf("rule %q: %v", e.Rule, e.Err)
	if key, ok := strings.CutPrefix(e.Err.Error(), "no such key: "); ok {
		msg += fmt.Sprintf(" (not every event has %[1]s: read it with .?%[1]s.orValue(…), or test has(….%[1]s) first)", key)
	}
	return msg
}

// Unwrap returns the evaluation error.
func (e *EvalError) Unwrap() error { return e.Err }

var ordering = map[string]string{
	operators.Less: "<", operators.LessEquals: "<=", operators.Greater: ">", operators.GreaterEquals: ">=",
}

// lint returns what checked compiles but likely does not mean what it says,
// each with its position in the expression (line:column, as CEL's errors):
//
//   - an ordering (<, <=, >, >=) between a value of unknown type and a string
//     literal that spells a number: detail.x.priority_score > "80" compares
//     strings character by character ("100" < "80") when the value is a string,
//     as Genesys sends attribute values, and fails when it is a number.
func lint(checked *cel.Ast) []string {
	native := checked.NativeRep()
	if native == nil {
		return nil
	}
	var out []string
	ast.PreOrderVisit(native.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		c := e.AsCall()
		op, ok := ordering[c.FunctionName()]
		if !ok || len(c.Args()) != 2 {
			return
		}
		for i, arg := range c.Args() {
			num, ok := numericString(arg)
			other := c.Args()[1-i]
			if !ok || native.GetType(other.ID()).Kind() == types.StringKind {
				continue
			}
			loc := native.SourceInfo().GetStartLocation(e.ID())
			cmp := fmt.Sprintf("x %s %q", op, num)
			want := fmt.Sprintf("double(x) %s %s", op, num)
			if i == 0 {
				cmp = fmt.Sprintf("%q %s x", num, op)
				want = fmt.Sprintf("%s %s double(x)", num, op)
			}
			out = append(out, fmt.Sprintf(`%d:%d: %s compares strings when x is a string ("100" < "80") and fails when it is a number; to compare numbers write %s`,
				loc.Line(), loc.Column()+1, cmp, want))
		}
	}))
	return out
}

// numericString returns the text of e when e is a string literal that spells a
// number.
func numericString(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	if !ok {
		return "", false
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64); err != nil {
		return "", false
	}
	return string(s), true
}
