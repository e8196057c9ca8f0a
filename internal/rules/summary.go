package rules

import (
	"bytes"
	"fmt"
	"reflect"
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
	data := sc.reuse(&sc.data, len(r.summaryUses))
	for _, name := range r.summaryUses {
		data[name] = summaryValue(name, r, env, ac, sc)
	}
	b := &sc.out
	b.Reset()
	if err := t.Execute(b, data); err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
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
		return actorData(&env.Actor, sc.reuse(&sc.actor, 24))
	case "customer":
		c := &env.Customer
		m := sc.reuse(&sc.customer, 6)
		m["id"], m["known"], m["tier"], m["balance_usd"], m["country"], m["honeytoken"] = c.ID, c.Known, c.Tier, c.BalanceUSD, c.Country, c.Honeytoken
		return m
	case "ticket":
		t := &env.Ticket
		m := sc.reuse(&sc.ticket, 8)
		m["cited"], m["verdict"], m["id"], m["assignee"], m["assignee_team"] = t.Cited, t.Verdict, t.ID, t.Assignee, t.AssigneeTeam
		m["subject"], m["cited_exists"], m["cited_subject"] = t.Subject, t.CitedExists, t.CitedSubject
		return m
	case "history":
		h := &env.History
		m := sc.reuse(&sc.history, 9)
		m["events"], m["days_active"], m["first_seen"], m["idle_days"], m["new_device"] = h.Events, h.DaysActive, h.FirstSeen, h.IdleDays, h.NewDevice
		m["new_country"], m["new_ip"], m["hour_share"], m["watched_days"] = h.NewCountry, h.NewIP, h.HourShare, h.WatchedDays
		return m
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

func actorData(a *ActorEnv, m map[string]any) map[string]any {
	m["id"], m["session"], m["ip"], m["device"], m["country"] = a.ID, a.Session, a.IP, a.Device, a.Country
	m["on_roster"], m["name"], m["vendor"], m["team"], m["role"], m["site"] = a.OnRoster, a.Name, a.Vendor, a.Team, a.Role, a.Site
	m["site_country"], m["status"], m["manager"], m["contract_start"], m["contract_end"] = a.SiteCountry, a.Status, a.Manager, a.ContractStart, a.ContractEnd
	m["before_contract"], m["after_contract"], m["tenure_days"] = a.BeforeContract, a.AfterContract, a.TenureDays
	return m
}

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
// text reads: the first name of every field chain (.actor.team, $.time).
// A template that passes the data itself anywhere ({{.}}, {{$}}, index .)
// may read any name, and gets them all.
func summaryUses(t *template.Template) []string {
	used := map[string]bool{}
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
			used[n.Ident[0]] = true
		case *parse.VariableNode:
			if n.Ident[0] == "$" {
				if len(n.Ident) == 1 {
					all = true
				} else {
					used[n.Ident[1]] = true
				}
			}
		case *parse.ChainNode:
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
	var out []string
	for _, name := range summaryNames {
		if all || used[name] {
			out = append(out, name)
		}
	}
	return out
}
