package rules

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"text/template"
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
func render(t *template.Template, r *Rule, env *Env, ac *alertContext) (string, error) {
	data := envData(env, r.summaryNS)
	aggs := make(map[string]any, len(r.aggs))
	for _, a := range r.aggs {
		aggs[a.name] = *env.Agg.slot(a.slot)
	}
	data["agg"] = aggs
	data["rule"] = map[string]any{"id": r.ID, "title": r.Title, "severity": string(r.Severity), "risk": r.Risk}
	var seq []any
	if ac == nil {
		ac = &alertContext{}
	}
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
	data["seq"] = seq
	details := make(map[string]any, len(r.details))
	for _, d := range r.details {
		details[d.name] = ac.details[d.name]
	}
	data["details"] = details
	data["who"] = wording.Describe(env.Actor.ID, ac.person)
	data["verb"] = wording.Verb(event.Action(env.Action))
	data["cust"] = wording.Customer(env.Subject, ac.subject)
	what := ""
	if ac.ev != nil {
		what = wording.What(ac.ev)
	}
	data["what"] = what
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}

// envData mirrors the Env as nested maps under the expr names, so a
// template says {{.actor.team}} where an expression says actor.team. Only
// the namespaces the template names are built (ns): rendering happens on
// every alert, and building all of them would cost more than the rest.
func envData(env *Env, ns map[string]bool) map[string]any {
	v := reflect.ValueOf(env).Elem()
	m := structMap(v, ns)
	delete(m, "agg")
	delete(m, "person")
	return m
}

// namespaces lists the Env's nested parts a template text names.
func namespaces(text string) map[string]bool {
	ns := map[string]bool{}
	for _, n := range []string{"actor", "customer", "ticket", "history"} {
		if strings.Contains(text, "."+n) {
			ns[n] = true
		}
	}
	return ns
}

type fieldName struct {
	index int
	name  string
}

var fieldNames sync.Map // reflect.Type -> []fieldName

func structMap(v reflect.Value, ns map[string]bool) map[string]any {
	t := v.Type()
	var fs []fieldName
	if c, ok := fieldNames.Load(t); ok {
		fs = c.([]fieldName)
	} else {
		for i := range t.NumField() {
			if n := t.Field(i).Tag.Get("expr"); n != "" {
				fs = append(fs, fieldName{i, n})
			}
		}
		fieldNames.Store(t, fs)
	}
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		fv := v.Field(f.index)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[time.Time]() {
			if ns == nil || ns[f.name] {
				m[f.name] = structMap(fv, nil)
			}
			continue
		}
		m[f.name] = fv.Interface()
	}
	return m
}
