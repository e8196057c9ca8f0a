package rules

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/wording"
)

// piece is one part of a plain summary: its text, then a value.
type piece struct {
	text  string
	write func(b *bytes.Buffer, env *Env, ac *alertContext) // nil: text only
}

// plainSummary compiles a summary made only of text and plain references
// ({{.who}}, {{.agg.customers_1h}}, {{.actor.id}}) into pieces written
// straight from the Env, without text/template, which reflects on and
// boxes every value it reads. It returns nil for any other template (one
// with functions, conditions, the sequence or the details), which
// text/template renders.
func plainSummary(t *template.Template, r *Rule) []piece {
	if len(t.Templates()) != 1 || t.Tree == nil {
		return nil
	}
	var out []piece
	text := ""
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			text += string(n.Text)
		case *parse.ActionNode:
			p := n.Pipe
			if len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok {
				return nil
			}
			w := plainWriter(f.Ident, r)
			if w == nil {
				return nil
			}
			out = append(out, piece{text: text, write: w})
			text = ""
		default:
			return nil
		}
	}
	return append(out, piece{text: text})
}

// plainWriter writes the value a field chain names, as text/template
// prints it; nil if the chain is not one plainSummary handles.
func plainWriter(chain []string, r *Rule) func(b *bytes.Buffer, env *Env, ac *alertContext) {
	if len(chain) == 2 {
		switch chain[0] {
		case "actor":
			return nsWriter(chain[1], actorFields, func(env *Env) *ActorEnv { return &env.Actor })
		case "customer":
			return nsWriter(chain[1], customerFields, func(env *Env) *CustomerEnv { return &env.Customer })
		case "ticket":
			return nsWriter(chain[1], ticketFields, func(env *Env) *TicketEnv { return &env.Ticket })
		case "history":
			return nsWriter(chain[1], historyFields, func(env *Env) *HistoryEnv { return &env.History })
		case "agg":
			i := slices.IndexFunc(r.aggs, func(a *aggregate) bool { return a.name == chain[1] })
			if i < 0 {
				return nil
			}
			slot := r.aggs[i].slot
			return func(b *bytes.Buffer, env *Env, _ *alertContext) {
				b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(*env.Agg.slot(slot)), 10))
			}
		}
		return nil
	}
	if len(chain) != 1 {
		return nil
	}
	switch chain[0] {
	case "who":
		return func(b *bytes.Buffer, env *Env, ac *alertContext) {
			b.Write(wording.AppendDescribe(b.AvailableBuffer(), env.Actor.ID, ac.person))
		}
	case "verb":
		return func(b *bytes.Buffer, env *Env, _ *alertContext) {
			b.WriteString(wording.Verb(event.Action(env.Action)))
		}
	case "cust":
		return func(b *bytes.Buffer, env *Env, ac *alertContext) {
			b.Write(wording.AppendCustomer(b.AvailableBuffer(), env.Subject, ac.subject))
		}
	case "what":
		return func(b *bytes.Buffer, _ *Env, ac *alertContext) {
			if ac.ev != nil {
				b.Write(wording.AppendWhat(b.AvailableBuffer(), ac.ev))
			}
		}
	case "agg", "rule", "seq", "details", "actor", "customer", "ticket", "history":
		return nil
	}
	if !slices.Contains(summaryNames, chain[0]) {
		return nil
	}
	name := chain[0]
	return func(b *bytes.Buffer, env *Env, ac *alertContext) {
		writePlain(b, summaryValue(name, nil, env, ac, nil))
	}
}

func nsWriter[T any](name string, fs []field[T], ns func(*Env) *T) func(b *bytes.Buffer, env *Env, ac *alertContext) {
	i := slices.IndexFunc(fs, func(f field[T]) bool { return f.name == name })
	if i < 0 {
		return nil
	}
	get := fs[i].get
	return func(b *bytes.Buffer, env *Env, _ *alertContext) { writePlain(b, get(ns(env))) }
}

// writePlain prints a value as text/template does (fmt.Fprint), strings
// and integers without boxing them again.
func writePlain(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString(v)
	case int:
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(v), 10))
	default:
		fmt.Fprint(b, v)
	}
}

// renderPlain writes a plain summary, its spaces collapsed as render does.
func renderPlain(ps []piece, env *Env, ac *alertContext, sc *renderScratch) string {
	b := &sc.out
	b.Reset()
	for _, p := range ps {
		b.WriteString(p.text)
		if p.write != nil {
			p.write(b, env, ac)
		}
	}
	return collapseSpace(b.Bytes())
}

// collapseSpace is strings.Join(strings.Fields(s), " ") in one
// allocation.
func collapseSpace(s []byte) string {
	// Most summaries have nothing to collapse: one look at each byte
	// proves it, and the copy is the one allocation.
	clean := len(s) == 0 || (s[0] != ' ' && s[len(s)-1] != ' ')
	for i, c := range s {
		switch byteClass[c] {
		case classOther:
			continue
		case classSpace:
			clean = clean && s[i+1] != ' ' // not the last byte: s[len(s)-1] is not a space when clean
		case classNonASCII: // Fields also splits at Unicode spaces
			return strings.Join(strings.Fields(string(s)), " ")
		default:
			clean = false
		}
	}
	if clean {
		return string(s)
	}
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); {
		for i < len(s) && asciiSpace(s[i]) {
			i++
		}
		start := i
		for i < len(s) && !asciiSpace(s[i]) {
			i++
		}
		if i > start {
			if out.Len() > 0 {
				out.WriteByte(' ')
			}
			out.Write(s[start:i])
		}
	}
	return out.String()
}

// Byte classes for collapseSpace.
const (
	classOther    = iota
	classSpace    // ' '
	classWhite    // the other ASCII white space
	classNonASCII // a byte of a multi-byte rune
)

var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = classNonASCII
		case c == ' ':
			t[c] = classSpace
		case asciiSpace(byte(c)):
			t[c] = classWhite
		}
	}
	return t
}()

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
