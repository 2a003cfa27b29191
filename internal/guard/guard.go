// Package guard is the language of action guards: the CEL environment a
// spec's governance.actions[].guard is written in (the journey's live
// variables, its objective and the action's parameters), type-checking
// with positions inside the expression, evaluation on a set of values, and
// the rewriting that other enforcement points need.
//
// Guards are a subset of CEL (see Check): each guard that checks also
// compiles to Rego and to a Kubernetes ValidatingAdmissionPolicy
// (internal/emit/guards), so a spec that passes `emac check` never fails
// to compile.
package guard

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/parser"

	"github.com/emac-dev/emac/internal/diag"
)

// MaxLength bounds a guard's source, in bytes: guards are short, and the
// bound keeps hostile input from costing parse time.
const MaxLength = 4096

// Env is the CEL environment of guards. It is immutable and safe for
// concurrent use; build one and reuse it for many guards.
type Env struct {
	cel  *cel.Env
	vars []Variable
}

// NewEnv builds the guard environment.
func NewEnv() (*Env, error) {
	vars := Variables()
	opts := []cel.EnvOption{
		// Kubernetes enables these too: a guard may compare a double
		// variable with an integer literal (confidence >= 1).
		cel.CrossTypeNumericComparisons(true),
		// Kubernetes refuses [1, "a"]: so do guards, which it runs.
		cel.HomogeneousAggregateLiterals(),
		cel.ParserExpressionSizeLimit(MaxLength),
	}
	for _, v := range vars {
		opts = append(opts, cel.Variable(v.Name, v.cel))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("guard environment: %w", err)
	}
	return &Env{cel: env, vars: vars}, nil
}

// Issue is a problem with a guard, at a position inside the expression.
type Issue struct {
	// Line and Column count from 1; Column in characters. Both are 0 when
	// the issue is about the whole guard.
	Line, Column int
	// Length is how many characters the issue spans, 0 when unknown.
	Length  int
	Message string
	// Detail is a hint, such as a "did you mean", or "".
	Detail string
}

// String writes the issue as "line:col: message".
func (i Issue) String() string {
	if i.Line == 0 {
		return i.Message
	}
	return fmt.Sprintf("%d:%d: %s", i.Line, i.Column, i.Message)
}

// Guard is a checked guard, ready to evaluate.
type Guard struct {
	env *Env
	src string
	ast *cel.Ast
	prg cel.Program
}

// Check type-checks expr in a new environment; see (*Env).Check.
func Check(expr string) (*Guard, []Issue) {
	env, err := NewEnv()
	if err != nil {
		return nil, []Issue{{Message: err.Error()}}
	}
	return env.Check(expr)
}

// undeclaredRE matches cel-go's message for an unknown identifier.
var undeclaredRE = regexp.MustCompile(`^undeclared reference to '([^']*)'`)

// Check parses and type-checks expr: it must be a bool over the declared
// variables, and use only the subset of CEL that every enforcement point
// supports: literals, the variables, field selection and indexing,
// ! && || ?:, comparisons, arithmetic on numbers (+ also on strings), in,
// size(), has(), double(), and the string functions startsWith, endsWith,
// contains and matches. Comprehension macros (all, exists, map, filter)
// are not supported. The guard is nil when there are issues.
func (e *Env) Check(expr string) (*Guard, []Issue) {
	if strings.TrimSpace(expr) == "" {
		return nil, []Issue{{Message: "guard is empty"}}
	}
	if len(expr) > MaxLength {
		return nil, []Issue{{Message: fmt.Sprintf("guard is longer than %d bytes", MaxLength)}}
	}
	ast, iss := e.cel.Compile(expr)
	if iss.Err() != nil {
		var out []Issue
		for _, ce := range iss.Errors() {
			out = append(out, e.issue(ce.Location.Line(), ce.Location.Column(), ce.Message))
		}
		return nil, out
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, []Issue{{Message: fmt.Sprintf("expression is a %s, not a bool", ast.OutputType()),
			Detail: "a guard says whether the action is allowed, e.g. A_minus >= objective.availability"}}
	}
	if out := subset(ast.NativeRep()); len(out) > 0 {
		return nil, out
	}
	prg, err := e.cel.Program(ast)
	if err != nil {
		return nil, []Issue{{Message: err.Error()}}
	}
	return &Guard{env: e, src: expr, ast: ast, prg: prg}, nil
}

// issue converts one of cel-go's errors (Column from 0), naming the
// variables a misspelt reference may have meant.
func (e *Env) issue(line, col int, msg string) Issue {
	is := Issue{Line: line, Column: col + 1, Message: msg}
	if m := undeclaredRE.FindStringSubmatch(msg); m != nil {
		is.Message = fmt.Sprintf("undeclared variable %q", m[1])
		is.Length = utf8.RuneCountInString(m[1])
		is.Detail = diag.DidYouMean(m[1], e.names())
		if is.Detail == "" {
			is.Detail = "guards may read: " + strings.Join(e.names(), ", ")
		}
	}
	if line < 1 {
		is.Line, is.Column = 0, 0
	}
	return is
}

func (e *Env) names() []string {
	var out []string
	for _, v := range e.vars {
		out = append(out, v.Name)
	}
	return out
}

// Source returns the guard as written.
func (g *Guard) Source() string { return g.src }

// AST returns the guard's checked syntax tree (types and references
// included), for translators. Callers must not modify it.
func (g *Guard) AST() *celast.AST { return g.ast.NativeRep() }

// References returns what the guard reads, sorted: variable names, and
// objective.<field> and params.<name> for fields it selects by name
// (objective or params alone when it uses the whole map or indexes it
// with a computed key).
func (g *Guard) References() []string {
	a := g.ast.NativeRep()
	seen := map[string]bool{}
	// selected marks identifiers reached through a named field, so that
	// the bare identifier is not reported as well.
	selected := map[int64]bool{}
	for _, n := range celast.MatchDescendants(celast.NavigateAST(a), celast.KindMatcher(celast.SelectKind)) {
		s := n.AsSelect()
		if op := s.Operand(); op.Kind() == celast.IdentKind && (op.AsIdent() == VarObjective || op.AsIdent() == VarParams) {
			seen[op.AsIdent()+"."+s.FieldName()] = true
			selected[op.ID()] = true
		}
	}
	for _, n := range celast.MatchDescendants(celast.NavigateAST(a), celast.KindMatcher(celast.CallKind)) {
		c := n.AsCall()
		if c.FunctionName() != "_[_]" || len(c.Args()) != 2 {
			continue
		}
		op, key := c.Args()[0], c.Args()[1]
		if op.Kind() == celast.IdentKind && (op.AsIdent() == VarObjective || op.AsIdent() == VarParams) &&
			key.Kind() == celast.LiteralKind {
			if s, ok := key.AsLiteral().Value().(string); ok {
				seen[op.AsIdent()+"."+s] = true
				selected[op.ID()] = true
			}
		}
	}
	for _, n := range celast.MatchDescendants(celast.NavigateAST(a), celast.KindMatcher(celast.IdentKind)) {
		if !selected[n.ID()] {
			seen[n.AsIdent()] = true
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
}

// Eval evaluates the guard on v. It returns an error, and so never allows,
// when the guard reads a variable that v leaves unknown or when
// evaluation fails (a missing parameter, a type mismatch in params).
func (g *Guard) Eval(v *Vars) (bool, error) {
	act := v.activation()
	var missing []string
	for _, r := range g.References() {
		name, _, _ := strings.Cut(r, ".")
		if _, ok := act[name]; !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Errorf("unknown variables: %s", strings.Join(missing, ", "))
	}
	out, _, err := g.prg.Eval(act)
	if err != nil {
		return false, fmt.Errorf("guard cannot be evaluated: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("guard did not give a bool")
	}
	return b, nil
}

// Qualified returns the guard's source with every variable read through
// prefix (A_minus becomes prefix.A_minus), e.g. for a Kubernetes
// ValidatingAdmissionPolicy, whose own variables live under "variables".
// The result is CEL printed from the syntax tree, not the original text.
func (g *Guard) Qualified(prefix string) (string, error) {
	if !validIdent(prefix) {
		return "", fmt.Errorf("prefix %q is not an identifier", prefix)
	}
	parsed, iss := g.env.cel.Parse(g.src)
	if iss.Err() != nil {
		return "", iss.Err()
	}
	a := parsed.NativeRep()
	next := int64(0)
	for id := range a.IDs() {
		next = max(next, id)
	}
	fac := celast.NewExprFactory()
	for _, n := range celast.MatchDescendants(celast.NavigateAST(a), celast.KindMatcher(celast.IdentKind)) {
		e := n.(celast.Expr)
		name := e.AsIdent()
		next += 2
		e.SetKindCase(fac.NewSelect(next-1, fac.NewIdent(next, prefix), name))
	}
	// One line: a wrapped guard would read badly in YAML.
	return parser.Unparse(a.Expr(), a.SourceInfo(), parser.WrapOnOperators())
}

func validIdent(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
