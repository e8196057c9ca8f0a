package rules

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/wording"
)

// templateFuncs are the helpers a summary template may call.
var templateFuncs = template.FuncMap{
	// money formats dollars compactly: $812, $48k, $3.1M.
	"money": wording.Money,
	// ago says how long from one time to another: "85 minutes", "3 days".
	"ago": func(from, to time.Time) string { return wording.Ago(to.Sub(from)) },
	// date is a time's UTC date, 2026-03-02.
	"date": func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	// clock is a time's UTC hour and minute, 03:07 UTC.
	"clock": func(t time.Time) string { return t.UTC().Format("15:04 MST") },
	"join":  strings.Join,
	// plural: plural 3 "customer" -> "3 customers".
	"plural": func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return fmt.Sprintf("%d %ss", n, word)
	},
	// ms formats milliseconds as a person would: "95 seconds", "6 minutes".
	"ms": func(ms int) string {
		d := time.Duration(ms) * time.Millisecond
		if d < 2*time.Minute {
			return fmt.Sprintf("%d seconds", int(d/time.Second))
		}
		return wording.Ago(d)
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
}

// seqHit is one earlier step of a sequence that completed.
type seqHit struct {
	step    string
	event   string
	actor   string
	subject string
	device  string
	country string
	ip      string
	at      time.Time
}

// alertContext is what render needs beyond the Env: the records behind it
// (for the descriptive phrases) and what the rule's state found.
type alertContext struct {
	ev      *event.Event
	person  *event.Person
	subject *event.Subject
	seq     []seqHit
	details map[string]any
}

// render executes a rule's summary template. The data is the Env under the
// names expressions use, the rule's aggregates by name, its details, the
// sequence's earlier steps, and ready-made phrases: who (the actor with vendor, team
// and role), verb (what they did), cust (the customer with tier and
// balance) and what (the part of the record: ": contact [email, phone]").
// Only the names the template reads are built (r.summaryUses): rendering
// happens on every alert, and building all of them would cost more than
// the rest. sc holds maps reused from one rendering to the next; nil makes
// new ones.
func render(t *template.Template, r *Rule, env *Env, ac *alertContext, sc *renderScratch) (string, error) {
	if sc == nil {
		sc = &renderScratch{}
	}
	if ac == nil {
		ac = &alertContext{}
	}
	if r.plain != nil {
		return renderPlain(r.plain, env, ac, sc), nil
	}
	data := sc.reuse(&sc.data, len(r.summaryUses))
	for _, name := range r.summaryUses {
		data[name] = summaryValue(name, r, env, ac, sc)
	}
	b := &sc.out
	b.Reset()
	if err := t.Execute(b, data); err != nil {
		return "", err
	}
	return collapseSpace(b.Bytes()), nil
}

// renderScratch is what one evaluator stage reuses between renderings. A
// template cannot keep its data, so the maps live only for one call.
type renderScratch struct {
	data, actor, customer, ticket, history map[string]any
	out                                    bytes.Buffer
}

func (sc *renderScratch) reuse(m *map[string]any, n int) map[string]any {
	if *m == nil {
		*m = make(map[string]any, n)
	}
	clear(*m)
	return *m
}

// summaryNames are the names a summary template may read at its top level.
var summaryNames = []string{
	"id", "time", "hour", "weekday", "action", "subject", "resource", "fields", "reason", "query", "count",
	"duration_ms", "verification", "denied", "app", "actor", "customer", "ticket", "history",
	"agg", "rule", "seq", "details", "who", "verb", "cust", "what",
}

// summaryValue is the value of one top-level name of the template's data.
func summaryValue(name string, r *Rule, env *Env, ac *alertContext, sc *renderScratch) any {
	switch name {
	case "id":
		return env.ID
	case "time":
		return env.Time
	case "hour":
		return env.Hour
	case "weekday":
		return env.Weekday
	case "action":
		return env.Action
	case "subject":
		return env.Subject
	case "resource":
		return env.Resource
	case "fields":
		return env.Fields
	case "reason":
		return env.Reason
	case "query":
		return env.Query
	case "count":
		return env.Count
	case "duration_ms":
		return env.DurationMS
	case "verification":
		return env.Verification
	case "denied":
		return env.Denied
	case "app":
		return env.App
	case "actor":
		return nsData(r.summarySub["actor"], actorFields, &env.Actor, sc.reuse(&sc.actor, len(actorFields)))
	case "customer":
		return nsData(r.summarySub["customer"], customerFields, &env.Customer, sc.reuse(&sc.customer, len(customerFields)))
	case "ticket":
		return nsData(r.summarySub["ticket"], ticketFields, &env.Ticket, sc.reuse(&sc.ticket, len(ticketFields)))
	case "history":
		return nsData(r.summarySub["history"], historyFields, &env.History, sc.reuse(&sc.history, len(historyFields)))
	case "agg":
		aggs := make(map[string]any, len(r.aggs))
		for _, a := range r.aggs {
			aggs[a.name] = *env.Agg.slot(a.slot)
		}
		return aggs
	case "rule":
		return map[string]any{"id": r.ID, "title": r.Title, "severity": string(r.Severity), "risk": r.Risk}
	case "seq":
		return seqData(r, env, ac)
	case "details":
		details := make(map[string]any, len(r.details))
		for _, d := range r.details {
			details[d.name] = ac.details[d.name]
		}
		return details
	case "who":
		return wording.Describe(env.Actor.ID, ac.person)
	case "verb":
		return wording.Verb(event.Action(env.Action))
	case "cust":
		return wording.Customer(env.Subject, ac.subject)
	case "what":
		if ac.ev != nil {
			return wording.What(ac.ev)
		}
		return ""
	}
	return nil
}

// field is one name of an Env namespace in template data.
type field[T any] struct {
	name string
	get  func(*T) any
}

// nsData fills m with the namespace's fields named in use (all if nil).
func nsData[T any](use []string, fs []field[T], v *T, m map[string]any) map[string]any {
	for _, f := range fs {
		if use == nil || slices.Contains(use, f.name) {
			m[f.name] = f.get(v)
		}
	}
	return m
}

// The namespaces' fields under their expr tags (TestSummaryDataMirrorsEnv
// checks them against the tags).
var (
	actorFields = []field[ActorEnv]{
		{"id", func(a *ActorEnv) any { return a.ID }},
		{"session", func(a *ActorEnv) any { return a.Session }},
		{"ip", func(a *ActorEnv) any { return a.IP }},
		{"device", func(a *ActorEnv) any { return a.Device }},
		{"country", func(a *ActorEnv) any { return a.Country }},
		{"on_roster", func(a *ActorEnv) any { return a.OnRoster }},
		{"name", func(a *ActorEnv) any { return a.Name }},
		{"vendor", func(a *ActorEnv) any { return a.Vendor }},
		{"team", func(a *ActorEnv) any { return a.Team }},
		{"role", func(a *ActorEnv) any { return a.Role }},
		{"site", func(a *ActorEnv) any { return a.Site }},
		{"site_country", func(a *ActorEnv) any { return a.SiteCountry }},
		{"status", func(a *ActorEnv) any { return a.Status }},
		{"manager", func(a *ActorEnv) any { return a.Manager }},
		{"contract_start", func(a *ActorEnv) any { return a.ContractStart }},
		{"contract_end", func(a *ActorEnv) any { return a.ContractEnd }},
		{"before_contract", func(a *ActorEnv) any { return a.BeforeContract }},
		{"after_contract", func(a *ActorEnv) any { return a.AfterContract }},
		{"tenure_days", func(a *ActorEnv) any { return a.TenureDays }},
	}
	customerFields = []field[CustomerEnv]{
		{"id", func(c *CustomerEnv) any { return c.ID }},
		{"known", func(c *CustomerEnv) any { return c.Known }},
		{"tier", func(c *CustomerEnv) any { return c.Tier }},
		{"balance_usd", func(c *CustomerEnv) any { return c.BalanceUSD }},
		{"country", func(c *CustomerEnv) any { return c.Country }},
		{"honeytoken", func(c *CustomerEnv) any { return c.Honeytoken }},
	}
	ticketFields = []field[TicketEnv]{
		{"cited", func(t *TicketEnv) any { return t.Cited }},
		{"verdict", func(t *TicketEnv) any { return t.Verdict }},
		{"id", func(t *TicketEnv) any { return t.ID }},
		{"assignee", func(t *TicketEnv) any { return t.Assignee }},
		{"assignee_team", func(t *TicketEnv) any { return t.AssigneeTeam }},
		{"subject", func(t *TicketEnv) any { return t.Subject }},
		{"cited_exists", func(t *TicketEnv) any { return t.CitedExists }},
		{"cited_subject", func(t *TicketEnv) any { return t.CitedSubject }},
	}
	historyFields = []field[HistoryEnv]{
		{"events", func(h *HistoryEnv) any { return h.Events }},
		{"days_active", func(h *HistoryEnv) any { return h.DaysActive }},
		{"first_seen", func(h *HistoryEnv) any { return h.FirstSeen }},
		{"idle_days", func(h *HistoryEnv) any { return h.IdleDays }},
		{"new_device", func(h *HistoryEnv) any { return h.NewDevice }},
		{"new_country", func(h *HistoryEnv) any { return h.NewCountry }},
		{"new_ip", func(h *HistoryEnv) any { return h.NewIP }},
		{"hour_share", func(h *HistoryEnv) any { return h.HourShare }},
		{"watched_days", func(h *HistoryEnv) any { return h.WatchedDays }},
	}
)

func seqData(r *Rule, env *Env, ac *alertContext) []any {
	var seq []any
	for _, h := range ac.seq {
		seq = append(seq, map[string]any{"step": h.step, "event": h.event, "actor": h.actor, "subject": h.subject,
			"device": h.device, "country": h.country, "ip": h.ip, "time": h.at})
	}
	if r.seq != nil && len(seq) == 0 {
		// the sample rendering at load: one placeholder per step
		for _, st := range r.seq.steps {
			seq = append(seq, map[string]any{"step": st.name, "event": "", "actor": "", "subject": "",
				"device": "", "country": "", "ip": "", "time": env.Time})
		}
	}
	return seq
}

// summaryUses lists the top-level names of the template's data that its
// text reads: the first name of every field chain (.actor.team, $.time),
// and for a name read only through such chains, the second names (team).
// A template that passes the data itself anywhere ({{.}}, {{$}}, index .)
// may read any name, and gets them all; a name read whole ({{with .actor}})
// gets all its fields.
func summaryUses(t *template.Template) (names []string, sub map[string][]string) {
	used := map[string]bool{}
	// whole: namespaces read other than as .ns.field, which get every field
	whole := map[string]bool{}
	sub = map[string][]string{}
	chain := func(idents []string) {
		used[idents[0]] = true
		if len(idents) == 1 {
			whole[idents[0]] = true
		} else if !slices.Contains(sub[idents[0]], idents[1]) {
			sub[idents[0]] = append(sub[idents[0]], idents[1])
		}
	}
	all := false
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		if all || n == nil || reflect.ValueOf(n).IsNil() {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			for _, v := range n.Decl {
				walk(v)
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			chain(n.Ident)
		case *parse.VariableNode:
			if n.Ident[0] == "$" {
				if len(n.Ident) == 1 {
					all = true
				} else {
					chain(n.Ident[1:])
				}
			}
		case *parse.ChainNode:
			if f, ok := n.Node.(*parse.FieldNode); ok && len(n.Field) > 0 {
				chain(append(slices.Clone(f.Ident), n.Field...))
				return
			}
			walk(n.Node)
		case *parse.IfNode:
			walk(&n.BranchNode)
		case *parse.RangeNode:
			walk(&n.BranchNode)
		case *parse.WithNode:
			walk(&n.BranchNode)
		case *parse.BranchNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.TextNode, *parse.CommentNode, *parse.BoolNode, *parse.NumberNode, *parse.StringNode,
			*parse.NilNode, *parse.IdentifierNode, *parse.BreakNode, *parse.ContinueNode:
		default: // the data itself (DotNode), or a node this walk does not know
			all = true
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Tree.Root)
		}
	}
	for _, name := range summaryNames {
		if all || used[name] {
			names = append(names, name)
		}
	}
	for ns := range sub {
		if all || whole[ns] {
			delete(sub, ns)
		}
	}
	return names, sub
}
