package guards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"

	"github.com/emac-dev/emac/internal/guard"
)

// regoGuard translates a checked guard into Rego rules.
//
// CEL and Rego disagree on errors: CEL's a && b is false when either side
// is false even if the other fails, and an error elsewhere denies; Rego
// has no boolean operators, and `not` turns an undefined (missing) value
// into true. So each boolean node N becomes two rules, t_N (N is true)
// and f_N (N is false), both undefined when N is an error, and ! swaps
// them: the translation never negates an undefined value, and the guard
// allows only when t of its root is true.
type regoGuard struct {
	a     *celast.AST
	rules []string
	n     int
	// comparable is set when a rule compares values of unknown types.
	comparable bool
}

// translate returns the rules and the names of the root's t and f rules.
func translate(g *guard.Guard) (rules []string, t, f string, err error) {
	r := &regoGuard{a: g.AST()}
	defer func() {
		if p := recover(); p != nil {
			e, ok := p.(unsupported)
			if !ok {
				panic(p)
			}
			err = e
		}
	}()
	t, f = r.cond(r.a.Expr())
	if r.comparable {
		r.rules = append(r.rules, `# comparable holds for values CEL can order: both numbers, both strings or both booleans.
comparable(x, y) if {
	type_name(x) == type_name(y)
	type_name(x) in {"number", "string", "boolean"}
}`)
	}
	return r.rules, t, f, nil
}

// unsupported is a construct outside the guard subset; guard.Check refuses
// them, so it means the two disagree.
type unsupported string

func (u unsupported) Error() string { return "guard: cannot translate to Rego: " + string(u) }

func (r *regoGuard) fail(format string, args ...any) {
	panic(unsupported(fmt.Sprintf(format, args...)))
}

func (r *regoGuard) kind(e celast.Expr) types.Kind { return r.a.GetType(e.ID()).Kind() }

func (r *regoGuard) next() int { r.n++; return r.n }

// rule appends head if { body } for each body (a rule with no bodies
// gets a default of false, so that referring to it is never an error).
func (r *regoGuard) rule(head string, bodies ...[]string) {
	if len(bodies) == 0 {
		r.rules = append(r.rules, "default "+head+" := false")
		return
	}
	for _, b := range bodies {
		if len(b) == 1 {
			r.rules = append(r.rules, head+" if "+b[0])
			continue
		}
		r.rules = append(r.rules, head+" if {\n\t"+strings.Join(b, "\n\t")+"\n}")
	}
}

// pair declares t_N and f_N with the given bodies.
func (r *regoGuard) pair(t, f [][]string) (string, string) {
	n := r.next()
	tn, fn := fmt.Sprintf("t_%d", n), fmt.Sprintf("f_%d", n)
	r.rule(tn, t...)
	r.rule(fn, f...)
	return tn, fn
}

func body(lines ...string) []string { return lines }

// cond translates a boolean node into its t and f rules.
func (r *regoGuard) cond(e celast.Expr) (string, string) {
	if e.Kind() == celast.CallKind {
		c := e.AsCall()
		args := c.Args()
		switch fn := c.FunctionName(); {
		case fn == operators.LogicalNot:
			t, f := r.cond(args[0])
			return f, t
		case fn == operators.LogicalAnd:
			xt, xf := r.cond(args[0])
			yt, yf := r.cond(args[1])
			return r.pair([][]string{body(xt, yt)}, [][]string{body(xf), body(yf)})
		case fn == operators.LogicalOr:
			xt, xf := r.cond(args[0])
			yt, yf := r.cond(args[1])
			return r.pair([][]string{body(xt), body(yt)}, [][]string{body(xf, yf)})
		case fn == operators.Conditional:
			ct, cf := r.cond(args[0])
			xt, xf := r.cond(args[1])
			yt, yf := r.cond(args[2])
			return r.pair([][]string{body(ct, xt), body(cf, yt)}, [][]string{body(ct, xf), body(cf, yf)})
		case guard.IsComparison(fn):
			return r.comparison(fn, args[0], args[1])
		case fn == operators.In:
			return r.in(args[0], args[1])
		case guard.IsStringFunction(fn) && c.IsMemberFunction():
			return r.stringFunc(fn, c.Target(), args[0])
		}
	}
	if e.Kind() == celast.SelectKind && e.AsSelect().IsTestOnly() {
		s := e.AsSelect()
		m := r.value(s.Operand())
		key := quote(s.FieldName())
		return r.pair([][]string{body(key + " in object.keys(" + m + ")")},
			[][]string{body("is_object("+m+")", "not "+key+" in object.keys("+m+")")})
	}
	if e.Kind() == celast.LiteralKind {
		if b, ok := e.AsLiteral().Value().(bool); ok {
			if b {
				return r.pair([][]string{body("true")}, nil)
			}
			return r.pair(nil, [][]string{body("true")})
		}
	}
	// A boolean value: a variable, a field, an indexed element, a
	// conditional's branch of dyn type.
	v := r.value(e)
	return r.pair([][]string{body(v + " == true")}, [][]string{body(v + " == false")})
}

// compareOps returns Rego's operator for the CEL comparison fn and for
// its negation.
func compareOps(fn string) (op, negated string) {
	switch fn {
	case operators.Equals:
		return "==", "!="
	case operators.NotEquals:
		return "!=", "=="
	case operators.Less:
		return "<", ">="
	case operators.LessEquals:
		return "<=", ">"
	case operators.Greater:
		return ">", "<="
	}
	return ">=", "<"
}

func (r *regoGuard) comparison(fn string, x, y celast.Expr) (string, string) {
	a, b := r.value(x), r.value(y)
	op, neg := compareOps(fn)
	t := body(a + " " + op + " " + b)
	f := body(a + " " + neg + " " + b)
	if fn != operators.Equals && fn != operators.NotEquals && !(r.ordered(x) && r.ordered(y)) {
		// CEL orders only numbers, strings and booleans, and never
		// across them; Rego orders everything.
		r.comparable = true
		guard := "comparable(" + a + ", " + b + ")"
		t = append([]string{guard}, t...)
		f = append([]string{guard}, f...)
	}
	return r.pair([][]string{t}, [][]string{f})
}

// ordered reports whether e's static type is one CEL orders.
func (r *regoGuard) ordered(e celast.Expr) bool {
	switch r.kind(e) {
	case types.IntKind, types.UintKind, types.DoubleKind, types.StringKind, types.BoolKind:
		return true
	}
	return false
}

// in is x in c: membership in a list, a key of a map.
func (r *regoGuard) in(x, c celast.Expr) (string, string) {
	v, l := r.value(x), r.value(c)
	list := [][]string{body("is_array("+l+")", v+" in "+l)}
	notList := [][]string{body("x := "+v, "is_array("+l+")", "not x in "+l)}
	keys := [][]string{body("is_object("+l+")", v+" in object.keys("+l+")")}
	notKeys := [][]string{body("x := "+v, "is_object("+l+")", "not x in object.keys("+l+")")}
	switch r.kind(c) {
	case types.ListKind:
		return r.pair(list, notList)
	case types.MapKind:
		return r.pair(keys, notKeys)
	}
	return r.pair(append(list, keys...), append(notList, notKeys...))
}

func (r *regoGuard) stringFunc(fn string, target, arg celast.Expr) (string, string) {
	s, p := r.value(target), r.value(arg)
	var call, valid string
	switch fn {
	case "startsWith":
		call = "startswith(s, p)"
	case "endsWith":
		call = "endswith(s, p)"
	case "contains":
		call = "contains(s, p)"
	case "matches":
		call, valid = "regex.match(p, s)", "regex.is_valid(p)"
	default:
		r.fail("function %s", fn)
	}
	bind := []string{"s := " + s, "p := " + p, "is_string(s)", "is_string(p)"}
	if valid != "" {
		bind = append(bind, valid)
	}
	return r.pair([][]string{append(append([]string(nil), bind...), call)}, [][]string{append(append([]string(nil), bind...), "not "+call)})
}

var regoIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyword reports whether s is a Rego keyword, which cannot follow a dot
// in a reference.
func keyword(s string) bool {
	switch s {
	case "as", "contains", "default", "else", "every", "false", "if", "import", "in", "not", "null", "package", "some", "true", "with":
		return true
	}
	return false
}

// quote writes s as a Rego string (Rego strings are JSON strings).
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep guards' < > & readable
	_ = enc.Encode(s)        // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// scalar reports whether term is a string or number literal.
func scalar(term string) bool {
	var v any
	if json.Unmarshal([]byte(term), &v) != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

// isRef reports whether term is a plain reference (input.x, cfg.y["z"],
// v_3), which Rego accepts where an expression is not allowed.
func isRef(term string) bool {
	head, _, _ := strings.Cut(term, ".")
	head, _, _ = strings.Cut(head, "[")
	return regoIdent.MatchString(head) && !strings.ContainsAny(term, " ()+-*/%,")
}

// hoist binds a term that is neither a reference nor a scalar to a rule,
// so it can be indexed or index.
func (r *regoGuard) hoist(term string) string {
	if isRef(term) || scalar(term) {
		return term
	}
	name := fmt.Sprintf("v_%d", r.next())
	r.rules = append(r.rules, name+" := "+term)
	return name
}

// value translates a node into a Rego term.
func (r *regoGuard) value(e celast.Expr) string {
	switch e.Kind() {
	case celast.LiteralKind:
		switch v := e.AsLiteral().(type) {
		case types.Bool:
			return strconv.FormatBool(bool(v))
		case types.Int:
			return strconv.FormatInt(int64(v), 10)
		case types.Uint:
			return strconv.FormatUint(uint64(v), 10)
		case types.Double:
			return strconv.FormatFloat(float64(v), 'g', -1, 64)
		case types.String:
			return quote(string(v))
		case types.Null:
			return "null"
		}
		r.fail("literal %v", e.AsLiteral())
	case celast.IdentKind:
		switch name := e.AsIdent(); name {
		case guard.VarObjective:
			return "cfg.objective"
		case guard.VarParams:
			return "input.params"
		default:
			return "input." + name
		}
	case celast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return r.boolValue(e)
		}
		op := r.hoist(r.value(s.Operand()))
		if regoIdent.MatchString(s.FieldName()) && !keyword(s.FieldName()) {
			return op + "." + s.FieldName()
		}
		return op + "[" + quote(s.FieldName()) + "]"
	case celast.ListKind:
		var elems []string
		for _, x := range e.AsList().Elements() {
			elems = append(elems, r.value(x))
		}
		return "[" + strings.Join(elems, ", ") + "]"
	case celast.CallKind:
		return r.callValue(e)
	}
	r.fail("expression of kind %v", e.Kind())
	return ""
}

func (r *regoGuard) callValue(e celast.Expr) string {
	c := e.AsCall()
	args := c.Args()
	fn := c.FunctionName()
	switch {
	case fn == operators.Index:
		return r.hoist(r.value(args[0])) + "[" + r.hoist(r.value(args[1])) + "]"
	case fn == operators.Add && r.kind(e) == types.StringKind:
		return `concat("", [` + r.value(args[0]) + ", " + r.value(args[1]) + "])"
	case fn == operators.Add, fn == operators.Subtract, fn == operators.Multiply, fn == operators.Divide, fn == operators.Modulo:
		// Division by zero differs: CEL gives ±Inf for doubles, Rego an
		// error (undefined, so the guard denies).
		op := strings.Trim(fn, "_")
		return "(" + r.value(args[0]) + " " + op + " " + r.value(args[1]) + ")"
	case fn == operators.Negate:
		return "(0 - " + r.value(args[0]) + ")"
	case fn == "size":
		if c.IsMemberFunction() {
			return "count(" + r.value(c.Target()) + ")"
		}
		return "count(" + r.value(args[0]) + ")"
	case fn == "double":
		return "to_number(" + r.value(args[0]) + ")"
	case fn == operators.Conditional && r.kind(e) != types.BoolKind:
		ct, cf := r.cond(args[0])
		name := fmt.Sprintf("v_%d", r.next())
		r.rules = append(r.rules, name+" := "+r.value(args[1])+" if "+ct, name+" := "+r.value(args[2])+" if "+cf)
		return name
	}
	return r.boolValue(e)
}

// boolValue is a boolean node used as a value (compared, listed).
func (r *regoGuard) boolValue(e celast.Expr) string {
	if r.kind(e) != types.BoolKind {
		r.fail("%s", r.a.GetType(e.ID()))
	}
	t, f := r.cond(e)
	name := fmt.Sprintf("v_%d", r.next())
	r.rules = append(r.rules, name+" := true if "+t, name+" := false if "+f)
	return name
}
