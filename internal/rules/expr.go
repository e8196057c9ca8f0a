package rules

import (
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/custos-io/custos/internal/event"
)

// exprKind is what an expression must evaluate to.
type exprKind uint8

const (
	kindBool exprKind = iota
	kindString
	kindInt
	kindAny
)

func (k exprKind) String() string {
	switch k {
	case kindBool:
		return "bool"
	case kindString:
		return "string"
	case kindInt:
		return "int"
	}
	return "any"
}

// compileExpr compiles one expression, checking its type, the action and
// verdict names it compares with, and the aggregates it names. withAgg
// says whether agg.<name> may be used.
func (c *compiler) compileExpr(path, src string, kind exprKind, withAgg bool) *vm.Program {
	prog, _ := c.compileTree(path, src, kind, withAgg)
	return prog
}

// compileCond compiles a boolean expression with its native guard.
func (c *compiler) compileCond(path, src string, withAgg bool) *cond {
	prog, root := c.compileTree(path, src, kindBool, withAgg)
	if prog == nil {
		return nil
	}
	g, exact, pre, post := nativeCond(root, c.aggNames)
	return &cond{prog: prog, guard: g, exact: exact, pre: pre, post: post}
}

// compileValue compiles an expression read for its value; a bare field
// of the right kind is read natively. withAgg says whether agg.<name> may
// be used.
func (c *compiler) compileValue(path, src string, kind exprKind, withAgg bool) *value {
	prog, root := c.compileTree(path, src, kind, withAgg)
	if prog == nil {
		return nil
	}
	v := &value{prog: prog}
	if a := fieldPath(root, c.aggNames); a != nil &&
		((kind == kindString && a.kind == reflect.String) || (kind == kindInt && a.kind == reflect.Int)) {
		v.acc = a
	}
	return v
}

func (c *compiler) compileTree(path, src string, kind exprKind, withAgg bool) (*vm.Program, ast.Node) {
	tree, err := parser.Parse(src)
	if err != nil {
		c.exprError(path, src, err)
		return nil, nil
	}
	n := len(*c.src.errs)
	c.analyse(path, src, tree.Node)
	c.contractRef = c.contractRef || readsContract(tree.Node)
	if len(*c.src.errs) > n {
		return nil, nil
	}
	opts := []expr.Option{
		expr.Env(Env{}),
		// now() reads the wall clock; rules run on event time.
		expr.DisableBuiltin("now"),
		expr.Patch(&aggPatcher{c: c, path: path, src: src, allowed: withAgg}),
	}
	switch kind {
	case kindBool:
		opts = append(opts, expr.AsBool())
	case kindString:
		opts = append(opts, expr.AsKind(reflect.String))
	case kindInt:
		opts = append(opts, expr.AsInt())
	}
	prog, err := expr.Compile(src, opts...)
	if len(*c.src.errs) > n {
		return nil, nil // the patcher said why
	}
	if err != nil {
		c.exprError(path, src, err)
		return nil, nil
	}
	return prog, tree.Node
}

func (c *compiler) exprError(path, src string, err error) {
	var fe *file.Error
	if errors.As(err, &fe) {
		line, col := c.src.exprPos(path, fe.Line, fe.Column)
		c.src.errorAt(line, col, path, "%s", exprMessage(fe.Message))
		return
	}
	c.errorf(path, "%s", exprMessage(err.Error()))
}

// typeNames turns the Go types in expr's messages into the names a rule
// author writes.
var typeNames = strings.NewReplacer(
	"type rules.ActorEnv", "actor", "type rules.CustomerEnv", "customer", "type rules.TicketEnv", "ticket",
	"type rules.HistoryEnv", "history", "type rules.PersonEnv", "person(...)", "type rules.AggEnv", "agg",
	"type rules.Env", "the event", "rules.ActorEnv", "actor", "rules.CustomerEnv", "customer",
	"rules.TicketEnv", "ticket", "rules.HistoryEnv", "history", "rules.PersonEnv", "person", "rules.Env", "event",
)

// exprMessage rewords the errors expr gives in a rule author's terms.
func exprMessage(m string) string {
	for _, k := range []struct{ prefix, want string }{
		{"expected bool, but got ", "must be true or false (a bool), but it is "},
		{"expected string, but got ", "must be a string, but it is "},
		{"expected int, but got ", "must be an integer, but it is "},
	} {
		if strings.HasPrefix(m, k.prefix) {
			return k.want + strings.TrimPrefix(m, k.prefix)
		}
	}
	return typeNames.Replace(m)
}

// offsetPos turns a rune offset in src into a 1-based line and 0-based
// column, as expr's errors count them.
func offsetPos(src string, off int) (int, int) {
	line, col, i := 1, 0, 0
	for _, r := range src {
		if i == off {
			break
		}
		if r == '\n' {
			line++
			col = 0
		} else {
			col++
		}
		i++
	}
	return line, col
}

func (c *compiler) nodeError(path, src string, n ast.Node, format string, args ...any) {
	l, col := offsetPos(src, n.Location().From)
	line, column := c.src.exprPos(path, l, col)
	c.src.errorAt(line, column, path, format, args...)
}

// analyse walks an expression before compiling: it notes the ticket and
// history references (for the stage) and checks the names compared with
// action and ticket.verdict, which the type checker cannot know.
func (c *compiler) analyse(path, src string, root ast.Node) {
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		switch v := n.(type) {
		case *ast.MemberNode:
			if id, ok := v.Node.(*ast.IdentifierNode); ok {
				if p, ok := v.Property.(*ast.StringNode); ok {
					switch {
					case id.Value == "ticket" && p.Value != "cited" && c.ticketRef == "":
						c.ticketRef = path
					case id.Value == "history" && c.historyRef == "":
						c.historyRef = path
					}
				}
			}
			walk(v.Node)
			walk(v.Property)
		case *ast.BinaryNode:
			c.checkLiterals(path, src, v)
			walk(v.Left)
			walk(v.Right)
		case *ast.UnaryNode:
			walk(v.Node)
		case *ast.ConditionalNode:
			walk(v.Cond)
			walk(v.Exp1)
			walk(v.Exp2)
		case *ast.CallNode:
			walk(v.Callee)
			for _, a := range v.Arguments {
				walk(a)
			}
		case *ast.BuiltinNode:
			for _, a := range v.Arguments {
				walk(a)
			}
		case *ast.ArrayNode:
			for _, a := range v.Nodes {
				walk(a)
			}
		case *ast.PredicateNode:
			walk(v.Node)
		case *ast.ChainNode:
			walk(v.Node)
		case *ast.SliceNode:
			walk(v.Node)
		case *ast.MapNode:
			for _, p := range v.Pairs {
				walk(p)
			}
		case *ast.PairNode:
			walk(v.Key)
			walk(v.Value)
		case *ast.SequenceNode:
			for _, a := range v.Nodes {
				walk(a)
			}
		case *ast.VariableDeclaratorNode:
			walk(v.Value)
			walk(v.Expr)
		}
	}
	walk(root)
}

// checkLiterals reports `action == "veiw"` and `ticket.verdict in
// ["no-ticket"]`: comparisons that type-check but can never be true.
func (c *compiler) checkLiterals(path, src string, b *ast.BinaryNode) {
	var known []string
	var what string
	switch {
	case isIdent(b.Left, "action"):
		known, what = actionStrings(), "action"
	case isMember(b.Left, "ticket", "verdict"):
		known, what = verdicts, "ticket verdict"
	default:
		return
	}
	check := func(n ast.Node) {
		if s, ok := n.(*ast.StringNode); ok && !slices.Contains(known, s.Value) {
			c.nodeError(path, src, s, "unknown %s %q (want one of %s)", what, s.Value, strings.Join(known, ", "))
		}
	}
	switch b.Operator {
	case "==", "!=":
		check(b.Right)
	case "in", "not in":
		if arr, ok := b.Right.(*ast.ArrayNode); ok {
			for _, n := range arr.Nodes {
				check(n)
			}
		}
	}
}

func actionStrings() []string {
	s := make([]string, len(event.Actions))
	for i, a := range event.Actions {
		s[i] = string(a)
	}
	return s
}

// contractFields are the actor's fields that come from its contract.
var contractFields = []string{"contract_start", "contract_end", "before_contract", "after_contract", "tenure_days"}

// contractFinder looks for reads of the actor's contract: a contract field
// by name, the actor by a computed name or as a whole (it counts the
// actor's identifiers and its reads of other fields by name), or $env.
type contractFinder struct {
	found          bool
	actors, fields int
}

func (f *contractFinder) Visit(n *ast.Node) {
	switch v := (*n).(type) {
	case *ast.IdentifierNode:
		switch v.Value {
		case "actor":
			f.actors++
		case "$env":
			f.found = true
		}
	case *ast.MemberNode:
		if isIdent(v.Node, "actor") {
			if p, ok := v.Property.(*ast.StringNode); !ok || slices.Contains(contractFields, p.Value) {
				f.found = true
			} else {
				f.fields++
			}
		}
	}
}

// readsContract reports whether an expression may read the actor's
// contract: a stage none of whose rules does leaves it out of the Env
// until an alert.
func readsContract(root ast.Node) bool {
	f := &contractFinder{}
	ast.Walk(&root, f)
	return f.found || f.actors > f.fields
}

func isIdent(n ast.Node, name string) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == name
}

func isMember(n ast.Node, base, prop string) bool {
	m, ok := n.(*ast.MemberNode)
	if !ok || !isIdent(m.Node, base) {
		return false
	}
	p, ok := m.Property.(*ast.StringNode)
	return ok && p.Value == prop
}

// aggPatcher rewrites agg.<name> to the aggregate's slot before type
// checking, so a rule reads its aggregates as plain int fields.
type aggPatcher struct {
	c       *compiler
	path    string
	src     string
	allowed bool
}

func (p *aggPatcher) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || !isIdent(m.Node, "agg") {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		p.c.nodeError(p.path, p.src, m, "aggregates are named: write agg.<name>")
		return
	}
	if !p.allowed {
		p.c.nodeError(p.path, p.src, m, "agg.%s: aggregates cannot be used here, only in condition, exceptions, suppress and details", prop.Value)
		return
	}
	slot, ok := p.c.aggNames[prop.Value]
	if !ok {
		names := make([]string, 0, len(p.c.aggNames))
		for n := range p.c.aggNames {
			names = append(names, n)
		}
		sort.Strings(names)
		declared := "none declared"
		if len(names) > 0 {
			declared = "declared: " + strings.Join(names, ", ")
		}
		p.c.nodeError(p.path, p.src, m, "unknown aggregate agg.%s (%s)", prop.Value, declared)
		return
	}
	m.Property = &ast.StringNode{Value: slotNames[slot]}
	m.Property.SetLocation(prop.Location())
}

// deriveActions finds the actions a condition is limited to by a top-level
// `action == "x"` or `action in [...]` conjunct.
func deriveActions(src string) actionSet {
	tree, err := parser.Parse(src)
	if err != nil {
		return 0
	}
	var set actionSet
	found := false
	var conj func(n ast.Node)
	conj = func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return
		}
		switch b.Operator {
		case "&&", "and":
			conj(b.Left)
			conj(b.Right)
			return
		}
		if !isIdent(b.Left, "action") {
			return
		}
		var s actionSet
		switch b.Operator {
		case "==":
			if str, ok := b.Right.(*ast.StringNode); ok {
				s = actionBit(event.Action(str.Value))
			}
		case "in":
			arr, ok := b.Right.(*ast.ArrayNode)
			if !ok {
				return
			}
			for _, n := range arr.Nodes {
				str, ok := n.(*ast.StringNode)
				if !ok {
					return
				}
				s |= actionBit(event.Action(str.Value))
			}
		default:
			return
		}
		if !found {
			set, found = s, true
		} else {
			set &= s
		}
	}
	conj(tree.Node)
	if !found {
		return 0
	}
	return set
}
