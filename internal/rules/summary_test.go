package rules

import (
	"reflect"
	"slices"
	"testing"
	"text/template"
	"time"
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
