package rules

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// TestSummaryDataMirrorsEnv checks the hand-built template data against
// the Env's expr tags, so a field added to the Env cannot be forgotten.
func TestSummaryDataMirrorsEnv(t *testing.T) {
	var env Env
	fillDistinct(reflect.ValueOf(&env).Elem(), new(int))
	want := tagMap(reflect.ValueOf(env))
	delete(want, "person")
	delete(want, "agg")
	r := &Rule{}
	sc := &renderScratch{}
	for name, w := range want {
		if !slices.Contains(summaryNames, name) {
			t.Errorf("%s: not among summaryNames", name)
			continue
		}
		got := summaryValue(name, r, &env, &alertContext{}, sc)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %#v, want %#v", name, got, w)
		}
	}
}

// tagMap mirrors a struct as nested maps under its expr tags.
func tagMap(v reflect.Value) map[string]any {
	m := map[string]any{}
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("expr")
		if name == "" {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]() {
			m[name] = tagMap(f)
			continue
		}
		m[name] = f.Interface()
	}
	return m
}

// fillDistinct gives every field of v a value unlike the others.
func fillDistinct(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(int64(*n)*1000, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillDistinct(v.Field(i), n)
			}
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)) + string(rune('a'+*n/26)))
	case reflect.Int:
		v.SetInt(int64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(*n%2 == 0)
	case reflect.Slice:
		v.Set(reflect.ValueOf([]string{"f", "g"}))
	}
}

func TestSummaryUses(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
		sub  map[string][]string
	}{
		{"{{.who}} {{.actor.team}} {{with .ticket}}{{.id}}{{end}} {{.actor.id}}", []string{"id", "actor", "ticket", "who"},
			map[string][]string{"actor": {"team", "id"}}},
		{"{{$.time | date}} {{range .seq}}{{.step}}{{end}} {{$.customer.tier}}", []string{"time", "customer", "seq"},
			map[string][]string{"customer": {"tier"}}},
		{"{{(.actor).team}}", []string{"actor"}, map[string][]string{}},
		{"{{index . \"who\"}} {{.actor.team}}", summaryNames, map[string][]string{}},
		{"{{$x := $}}{{$x.who}}", summaryNames, map[string][]string{}},
	} {
		tt := template.Must(template.New("t").Funcs(templateFuncs).Parse(c.text))
		got, sub := summaryUses(tt)
		if !slices.Equal(got, c.want) || !reflect.DeepEqual(sub, c.sub) {
			t.Errorf("%s: got %v %v, want %v %v", c.text, got, sub, c.want, c.sub)
		}
	}
}

// A plain summary must read exactly as text/template renders it.
func TestPlainSummaryAsTemplate(t *testing.T) {
	p, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	var env Env
	fillDistinct(reflect.ValueOf(&env).Elem(), new(int))
	env.Actor.Name = "Ana  María\u00a0x" // spaces text/template output collapses
	ev := &event.Event{ID: env.ID, Resource: "profile", Fields: []string{"email", "phone"}}
	ac := &alertContext{ev: ev, person: &event.Person{ID: env.Actor.ID, Team: "payments", Role: "agent"},
		subject: &event.Subject{ID: env.Subject, Tier: "vip", BalanceUSD: 123456}}
	plain := 0
	for _, r := range p.Rules() {
		if r.plain == nil {
			continue
		}
		plain++
		viaTemplate := *r
		viaTemplate.plain = nil
		for i := range r.aggs {
			*env.Agg.slot(i) = 1000 * (i + 1)
		}
		want, err := render(r.summary, &viaTemplate, &env, ac, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := render(r.summary, r, &env, ac, nil); got != want {
			t.Errorf("%s:\n got %q\nwant %q", r.ID, got, want)
		}
	}
	if plain == 0 {
		t.Error("no shipped summary is plain")
	}
}

func TestCollapseSpace(t *testing.T) {
	for _, s := range []string{"", " ", "  ", " a  b\tc\n", "a", "a b", "a  b", "a b ", " a b", "a\tb", "a\n", "x\u00a0y  z", "\u2003a b ", "é b"} {
		if got, want := collapseSpace([]byte(s)), strings.Join(strings.Fields(s), " "); got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}
