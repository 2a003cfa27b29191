package guard

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"

	"github.com/emac-dev/emac/internal/diag"
)

// subsetHint explains why a construct is refused.
const subsetHint = "guards use the part of CEL that also compiles to Rego and to Kubernetes admission policies"

// IsLogical reports whether fn is one of ! && || ?:.
func IsLogical(fn string) bool {
	switch fn {
	case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot, operators.Conditional:
		return true
	}
	return false
}

// IsComparison reports whether fn is one of == != < <= > >=.
func IsComparison(fn string) bool {
	switch fn {
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		return true
	}
	return false
}

// IsStringFunction reports whether fn is one of the string member
// functions guards may call: startsWith, endsWith, contains, matches.
func IsStringFunction(fn string) bool {
	switch fn {
	case "startsWith", "endsWith", "contains", "matches":
		return true
	}
	return false
}

// subset reports the constructs of a checked guard that fall outside what
// every enforcement point supports.
func subset(a *celast.AST) []Issue {
	s := &subsetter{a: a}
	s.expr(a.Expr())
	return s.issues
}

type subsetter struct {
	a      *celast.AST
	issues []Issue
}

func (s *subsetter) report(e celast.Expr, detail, format string, args ...any) {
	loc := s.a.SourceInfo().GetStartLocation(e.ID())
	is := Issue{Message: fmt.Sprintf(format, args...), Detail: detail}
	if loc.Line() > 0 {
		is.Line, is.Column = loc.Line(), loc.Column()+1
	}
	s.issues = append(s.issues, is)
}

func (s *subsetter) kind(e celast.Expr) types.Kind { return s.a.GetType(e.ID()).Kind() }

func (s *subsetter) numeric(e celast.Expr) bool {
	switch s.kind(e) {
	case types.IntKind, types.UintKind, types.DoubleKind:
		return true
	}
	return false
}

func (s *subsetter) expr(e celast.Expr) {
	switch e.Kind() {
	case celast.LiteralKind:
		if _, ok := e.AsLiteral().(types.Bytes); ok {
			s.report(e, subsetHint, "bytes literals are not supported in guards")
		}
	case celast.IdentKind:
	case celast.SelectKind:
		sel := e.AsSelect()
		s.objectiveField(sel.Operand(), sel.FieldName(), e, true)
		s.expr(sel.Operand())
	case celast.ListKind:
		l := e.AsList()
		if len(l.OptionalIndices()) > 0 {
			s.report(e, subsetHint, "optional list elements are not supported in guards")
		}
		for _, x := range l.Elements() {
			s.expr(x)
		}
	case celast.CallKind:
		s.call(e)
	case celast.ComprehensionKind:
		s.report(e, subsetHint+"; test membership with in, or sizes with size()",
			"comprehension macros (all, exists, exists_one, map, filter) are not supported in guards")
	case celast.MapKind:
		s.report(e, subsetHint, "map literals are not supported in guards")
	case celast.StructKind:
		s.report(e, subsetHint, "message literals are not supported in guards")
	default:
		s.report(e, subsetHint, "this expression is not supported in guards")
	}
}

// objectiveField checks a field read from objective by name; at is the
// field's name (a select) or key (an index).
func (s *subsetter) objectiveField(op celast.Expr, field string, at celast.Expr, selected bool) {
	if op.Kind() != celast.IdentKind || op.AsIdent() != VarObjective || slices.Contains(ObjectiveFields(), field) {
		return
	}
	d := diag.DidYouMean(field, ObjectiveFields())
	if d == "" {
		d = "objective has: " + strings.Join(ObjectiveFields(), ", ")
	}
	s.report(at, d, "objective has no field %q", field)
	is := &s.issues[len(s.issues)-1]
	if selected && is.Line > 0 {
		is.Column++ // a select's position is its dot
		is.Length = utf8.RuneCountInString(field)
	}
}

func (s *subsetter) call(e celast.Expr) {
	c := e.AsCall()
	fn, args := c.FunctionName(), c.Args()
	member := c.IsMemberFunction()
	defer func() {
		if member {
			s.expr(c.Target())
		}
		for _, a := range args {
			s.expr(a)
		}
	}()
	switch {
	case IsLogical(fn), IsComparison(fn), fn == operators.In:
	case fn == operators.Index:
		if k := args[1]; k.Kind() == celast.LiteralKind {
			if f, ok := k.AsLiteral().Value().(string); ok {
				s.objectiveField(args[0], f, k, false)
			}
		}
	case fn == operators.Add:
		switch s.kind(e) {
		case types.IntKind, types.UintKind, types.DoubleKind, types.StringKind:
		default:
			s.report(e, "convert operands with double(...) when they are numbers from params", "+ on %s is not supported in guards", s.a.GetType(e.ID()))
		}
	case fn == operators.Subtract, fn == operators.Multiply, fn == operators.Negate:
		if !s.numeric(e) {
			s.report(e, "convert operands with double(...) when they are numbers from params", "arithmetic on %s is not supported in guards", s.a.GetType(e.ID()))
		}
	case fn == operators.Divide:
		if s.kind(e) != types.DoubleKind {
			s.report(e, "integer division truncates in CEL but not in Rego; divide doubles (2.0, double(x))", "/ on %s is not supported in guards", s.a.GetType(e.ID()))
		}
	case fn == operators.Modulo:
		if s.kind(e) != types.IntKind {
			s.report(e, subsetHint, "%% on %s is not supported in guards", s.a.GetType(e.ID()))
		}
	case fn == "size":
	case fn == "double" && !member && len(args) == 1:
	case IsStringFunction(fn) && member:
	default:
		s.report(e, subsetHint+": literals, variables, field selection, indexing, ! && || ?:, comparisons, arithmetic, in, size(), has(), double(), startsWith, endsWith, contains, matches",
			"function %s is not supported in guards", fn)
	}
}
