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
	}{
		{"{{.who}} {{.actor.team}} {{with .ticket}}{{.id}}{{end}}", []string{"id", "actor", "ticket", "who"}},
		{"{{$.time | date}} {{range .seq}}{{.step}}{{end}}", []string{"time", "seq"}},
		{"{{index . \"who\"}}", summaryNames},
		{"{{$x := $}}{{$x.who}}", summaryNames},
	} {
		tt := template.Must(template.New("t").Funcs(templateFuncs).Parse(c.text))
		if got := summaryUses(tt); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.text, got, c.want)
		}
	}
}
