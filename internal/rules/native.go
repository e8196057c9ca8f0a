package rules

import (
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Most of what rules say is simple: a flag (!denied), a field against a
// constant (count >= 100, action in [...]), an aggregate against a number.
// Running the expr VM for those costs tens of nanoseconds and an allocation
// per field it loads, on every event. So when compiling, the top-level
// conjuncts of an expression that are simple are also built as a native
// predicate over the Env. Evaluating it first is exact for those
// conjuncts; if it is false the VM never runs, and if every conjunct was
// simple the VM never runs at all. expr still type-checks the whole
// expression, so the native form only ever handles well-typed input.

// accessor reads one scalar field of the Env without boxing it. The
// offset comes from reflect on the Env type itself, so reading through it
// is as safe as a field selector.
type accessor struct {
	off  uintptr
	kind reflect.Kind // String, Int, Float64 or Bool
}

func (a *accessor) ptr(e *Env) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(e), a.off) }

func (a *accessor) str(e *Env) string { return *(*string)(a.ptr(e)) }

func (a *accessor) int(e *Env) int64 { return int64(*(*int)(a.ptr(e))) }

func (a *accessor) strs(e *Env) []string { return *(*[]string)(a.ptr(e)) }

func (a *accessor) num(e *Env) float64 {
	if a.kind == reflect.Float64 {
		return *(*float64)(a.ptr(e))
	}
	return float64(*(*int)(a.ptr(e)))
}

// accessors maps every scalar field path of the Env ("denied",
// "actor.role", "agg.a3") to its accessor.
var accessors = func() map[string]*accessor {
	m := map[string]*accessor{}
	var walk func(t reflect.Type, prefix string, base uintptr)
	walk = func(t reflect.Type, prefix string, base uintptr) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("expr")
			if name == "" {
				continue
			}
			switch k := f.Type.Kind(); k {
			case reflect.String, reflect.Int, reflect.Float64, reflect.Bool:
				m[prefix+name] = &accessor{off: base + f.Offset, kind: k}
			case reflect.Slice:
				if f.Type.Elem().Kind() == reflect.String {
					m[prefix+name] = &accessor{off: base + f.Offset, kind: k}
				}
			case reflect.Struct:
				if prefix == "" && f.Type != reflect.TypeFor[time.Time]() {
					walk(f.Type, name+".", base+f.Offset)
				}
			}
		}
	}
	walk(reflect.TypeFor[Env](), "", 0)
	return m
}()

// native is a predicate evaluated in Go.
type native interface {
	eval(e *Env) bool
}

// The node types have pointer receivers and are stored as pointers: an
// interface holding a value of a type it must box calls a generated
// wrapper that copies it, on every node of every evaluation.
type nAnd []native

func (n *nAnd) eval(e *Env) bool {
	for _, x := range *n {
		if !x.eval(e) {
			return false
		}
	}
	return true
}

type nOr []native

func (n *nOr) eval(e *Env) bool {
	for _, x := range *n {
		if x.eval(e) {
			return true
		}
	}
	return false
}

// nAnd2 and nOr2 are a && b and a || b: most conjunctions and
// disjunctions have two parts, and two fields cost less than a loop over a
// slice.
type nAnd2 struct{ a, b native }

func (n *nAnd2) eval(e *Env) bool { return n.a.eval(e) && n.b.eval(e) }

// nAnd3 is a && b && c, the next most common.
type nAnd3 struct{ a, b, c native }

func (n *nAnd3) eval(e *Env) bool { return n.a.eval(e) && n.b.eval(e) && n.c.eval(e) }

type nOr2 struct{ a, b native }

func (n *nOr2) eval(e *Env) bool { return n.a.eval(e) || n.b.eval(e) }

type nNot struct{ x native }

func (n *nNot) eval(e *Env) bool { return !n.x.eval(e) }

// nBool is a bool field, or its negation (!denied).
type nBool struct {
	off uintptr
	neg bool
}

func (n *nBool) eval(e *Env) bool { return *(*bool)(unsafe.Add(unsafe.Pointer(e), n.off)) != n.neg }

type nStrEq struct {
	a    *accessor
	s    string
	eq   bool
	trim bool // trim(field) == "..."
}

func (n *nStrEq) eval(e *Env) bool {
	v := n.a.str(e)
	if n.trim {
		v = strings.TrimSpace(v)
	}
	return (v == n.s) == n.eq
}

// nFieldEq compares two string fields: ticket.id == ticket.cited.
type nFieldEq struct {
	a, b *accessor
	eq   bool
}

func (n *nFieldEq) eval(e *Env) bool { return (n.a.str(e) == n.b.str(e)) == n.eq }

// nAnyIn is any(list, # in [...]).
type nAnyIn struct {
	a   *accessor
	set []string
}

func (n *nAnyIn) eval(e *Env) bool {
	for _, v := range n.a.strs(e) {
		if slices.Contains(n.set, v) {
			return true
		}
	}
	return false
}

type nStrIn struct {
	a   *accessor
	set []string
}

func (n *nStrIn) eval(e *Env) bool { return slices.Contains(n.set, n.a.str(e)) }

type nNum struct {
	a  *accessor
	op cmpOp
	v  float64
}

func (n *nNum) eval(e *Env) bool { return compare(n.a.num(e), n.op, n.v) }

// cmpOp is a comparison operator, decided once when compiling rather than
// by comparing its string on every evaluation.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

func cmpOpOf(op string) cmpOp {
	switch op {
	case "!=":
		return opNe
	case "<":
		return opLt
	case "<=":
		return opLe
	case ">":
		return opGt
	case ">=":
		return opGe
	}
	return opEq
}

func compare(x float64, op cmpOp, y float64) bool {
	switch op {
	case opEq:
		return x == y
	case opNe:
		return x != y
	case opLt:
		return x < y
	case opLe:
		return x <= y
	case opGt:
		return x > y
	case opGe:
		return x >= y
	}
	return false
}

// numeric is arithmetic over numeric fields and literals, computed in
// float64: expr divides in float64 too, and the sums and products of the
// integers rules read (counts, aggregates, milliseconds) are exact in a
// float64 far beyond any they reach.
type numeric interface{ value(e *Env) float64 }

type xField struct{ a *accessor }

func (x xField) value(e *Env) float64 { return x.a.num(e) }

type xConst float64

func (x xConst) value(*Env) float64 { return float64(x) }

type xArith struct {
	op   string
	l, r numeric
}

func (x xArith) value(e *Env) float64 {
	l, r := x.l.value(e), x.r.value(e)
	switch x.op {
	case "+":
		return l + r
	case "-":
		return l - r
	case "*":
		return l * r
	}
	return l / r
}

// xMax is max or min of integers (of floats, NaN would need expr's rules).
type xMax struct {
	args []numeric
	min  bool
}

func (x xMax) value(e *Env) float64 {
	m := x.args[0].value(e)
	for _, a := range x.args[1:] {
		if v := a.value(e); (v > m) != x.min && v != m {
			m = v
		}
	}
	return m
}

// nCmp compares two numeric expressions: agg.a * 2 >= agg.b.
type nCmp struct {
	l, r numeric
	op   cmpOp
}

func (n *nCmp) eval(e *Env) bool { return compare(n.l.value(e), n.op, n.r.value(e)) }

// toNumeric is the native form of a numeric expression, or nil.
func toNumeric(n ast.Node, aggs map[string]int) numeric {
	switch v := n.(type) {
	case *ast.IntegerNode:
		return xConst(v.Value)
	case *ast.FloatNode:
		return xConst(v.Value)
	case *ast.BinaryNode:
		switch v.Operator {
		case "+", "-", "*", "/":
			l, r := toNumeric(v.Left, aggs), toNumeric(v.Right, aggs)
			if l == nil || r == nil {
				return nil
			}
			return xArith{v.Operator, l, r}
		}
		return nil
	case *ast.BuiltinNode:
		if (v.Name != "max" && v.Name != "min") || len(v.Arguments) == 0 {
			return nil
		}
		x := xMax{min: v.Name == "min"}
		for _, a := range v.Arguments {
			if !isInt(a, aggs) {
				return nil
			}
			x.args = append(x.args, toNumeric(a, aggs))
		}
		return x
	}
	if a := fieldPath(n, aggs); a != nil && (a.kind == reflect.Int || a.kind == reflect.Float64) {
		return xField{a}
	}
	return nil
}

// isInt reports whether n is an integer: a field, a literal, or a sum,
// difference or product of integers.
func isInt(n ast.Node, aggs map[string]int) bool {
	switch v := n.(type) {
	case *ast.IntegerNode:
		return true
	case *ast.BinaryNode:
		return (v.Operator == "+" || v.Operator == "-" || v.Operator == "*") && isInt(v.Left, aggs) && isInt(v.Right, aggs)
	}
	a := fieldPath(n, aggs)
	return a != nil && a.kind == reflect.Int
}

// cond is a compiled boolean expression: its VM program and the native
// form of its simple conjuncts.
type cond struct {
	prog  *vm.Program
	guard native // nil if no conjunct is simple
	exact bool   // guard is the whole expression
	// pre is the part of guard that reads no aggregate: when it is false
	// the rule's aggregates need not even be read. post is the rest, all
	// that is left to test once pre has passed.
	pre, post native
}

// conjuncts splits a && b && c into its parts.
func conjuncts(n ast.Node, out []ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return conjuncts(b.Right, conjuncts(b.Left, out))
	}
	return append(out, n)
}

// nativeCond builds the guard of an expression, its aggregate-free part
// and the rest; aggs maps aggregate names to their slots.
func nativeCond(root ast.Node, aggs map[string]int) (guard native, exact bool, pre, post native) {
	var parts, pres, posts nAnd
	exact = true
	for _, c := range conjuncts(root, nil) {
		if n := toNative(c, aggs); n != nil {
			parts = append(parts, n)
			if !readsAgg(c) {
				pres = append(pres, n)
			} else {
				posts = append(posts, n)
			}
		} else {
			exact = false
		}
	}
	return collapse(parts), exact && len(parts) > 0, collapse(pres), collapse(posts)
}

func collapse(n nAnd) native {
	switch len(n) {
	case 0:
		return nil
	case 1:
		return n[0]
	case 2:
		return &nAnd2{n[0], n[1]}
	case 3:
		return &nAnd3{n[0], n[1], n[2]}
	}
	return &n
}

type aggFinder struct{ found bool }

func (f *aggFinder) Visit(n *ast.Node) {
	if m, ok := (*n).(*ast.MemberNode); ok && isIdent(m.Node, "agg") {
		f.found = true
	}
}

func readsAgg(n ast.Node) bool {
	f := &aggFinder{}
	ast.Walk(&n, f)
	return f.found
}

// fieldPath resolves a field reference to its accessor, or nil.
func fieldPath(n ast.Node, aggs map[string]int) *accessor {
	switch v := n.(type) {
	case *ast.IdentifierNode:
		return accessors[v.Value]
	case *ast.MemberNode:
		id, ok := v.Node.(*ast.IdentifierNode)
		if !ok || v.Optional {
			return nil
		}
		p, ok := v.Property.(*ast.StringNode)
		if !ok {
			return nil
		}
		if id.Value == "agg" {
			slot, ok := aggs[p.Value]
			if !ok {
				return nil
			}
			return accessors["agg."+slotNames[slot]]
		}
		return accessors[id.Value+"."+p.Value]
	}
	return nil
}

// stringSet reads an array literal of strings.
func stringSet(n ast.Node) ([]string, bool) {
	arr, ok := n.(*ast.ArrayNode)
	if !ok {
		return nil, false
	}
	set := make([]string, 0, len(arr.Nodes))
	for _, x := range arr.Nodes {
		s, ok := x.(*ast.StringNode)
		if !ok {
			return nil, false
		}
		set = append(set, s.Value)
	}
	return set, true
}

func toNative(n ast.Node, aggs map[string]int) native {
	switch v := n.(type) {
	case *ast.BuiltinNode:
		// any(fields, # in ["dob", ...])
		if v.Name != "any" || len(v.Arguments) != 2 {
			return nil
		}
		a := fieldPath(v.Arguments[0], aggs)
		p, ok := v.Arguments[1].(*ast.PredicateNode)
		if a == nil || a.kind != reflect.Slice || !ok {
			return nil
		}
		b, ok := p.Node.(*ast.BinaryNode)
		if !ok || b.Operator != "in" {
			return nil
		}
		if ptr, ok := b.Left.(*ast.PointerNode); !ok || ptr.Name != "" {
			return nil
		}
		set, ok := stringSet(b.Right)
		if !ok {
			return nil
		}
		return &nAnyIn{a, set}
	case *ast.BoolNode:
		if v.Value {
			return &nAnd{} // true
		}
		return &nOr{} // false
	case *ast.UnaryNode:
		if v.Operator != "!" && v.Operator != "not" {
			return nil
		}
		if x := toNative(v.Node, aggs); x != nil {
			return negate(x)
		}
		return nil
	case *ast.BinaryNode:
		switch v.Operator {
		case "&&", "and", "||", "or":
			l, r := toNative(v.Left, aggs), toNative(v.Right, aggs)
			if l == nil || r == nil {
				return nil
			}
			if v.Operator == "&&" || v.Operator == "and" {
				return &nAnd2{l, r}
			}
			return &nOr2{l, r}
		case "in":
			a := fieldPath(v.Left, aggs)
			set, ok := stringSet(v.Right)
			if a == nil || a.kind != reflect.String || !ok {
				return nil
			}
			return &nStrIn{a, set}
		case "==", "!=", "<", "<=", ">", ">=":
			if t, ok := v.Left.(*ast.BuiltinNode); ok && t.Name == "trim" && len(t.Arguments) == 1 && (v.Operator == "==" || v.Operator == "!=") {
				a := fieldPath(t.Arguments[0], aggs)
				s, ok := v.Right.(*ast.StringNode)
				if a == nil || a.kind != reflect.String || !ok {
					return nil
				}
				return &nStrEq{a: a, s: s.Value, eq: v.Operator == "==", trim: true}
			}
			if x := simpleCompare(v, aggs); x != nil {
				return x
			}
			l, r := toNumeric(v.Left, aggs), toNumeric(v.Right, aggs)
			if l == nil || r == nil {
				return nil
			}
			return &nCmp{l, r, cmpOpOf(v.Operator)}
		}
		return nil
	}
	if a := fieldPath(n, aggs); a != nil && a.kind == reflect.Bool {
		return &nBool{off: a.off}
	}
	return nil
}

// negate is !x; a bool field's negation is a field read too.
func negate(x native) native {
	if b, ok := x.(*nBool); ok {
		return &nBool{off: b.off, neg: !b.neg}
	}
	return &nNot{x}
}

// simpleCompare is a comparison of a field with a literal or another
// string field, or nil.
func simpleCompare(v *ast.BinaryNode, aggs map[string]int) native {
	a, lit, op := fieldPath(v.Left, aggs), v.Right, v.Operator
	if b := fieldPath(lit, aggs); a != nil && b != nil {
		if a.kind == reflect.String && b.kind == reflect.String && (op == "==" || op == "!=") {
			return &nFieldEq{a: a, b: b, eq: op == "=="}
		}
		return nil
	}
	if a == nil {
		a, lit, op = fieldPath(v.Right, aggs), v.Left, flip(op)
	}
	if a == nil {
		return nil
	}
	switch l := lit.(type) {
	case *ast.StringNode:
		if a.kind == reflect.String && (op == "==" || op == "!=") {
			return &nStrEq{a: a, s: l.Value, eq: op == "=="}
		}
	case *ast.IntegerNode:
		if a.kind == reflect.Int || a.kind == reflect.Float64 {
			return &nNum{a, cmpOpOf(op), float64(l.Value)}
		}
	case *ast.FloatNode:
		if a.kind == reflect.Int || a.kind == reflect.Float64 {
			return &nNum{a, cmpOpOf(op), l.Value}
		}
	case *ast.BoolNode:
		if a.kind == reflect.Bool && (op == "==" || op == "!=") {
			return &nBool{off: a.off, neg: l.Value != (op == "==")}
		}
	}
	return nil
}

// flip mirrors a comparison: 3 < x is x > 3.
func flip(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// value is a compiled expression whose value is read: the VM program, or
// an accessor when the expression is just a field (of: subject).
type value struct {
	prog *vm.Program
	acc  *accessor
}
