package event

import (
	"reflect"
	"testing"
)

// slowEvent is the reference: encoding/json and the shared validation.
func slowEvent(line []byte) (Event, error) {
	var w wireEvent
	if err := unmarshal(line, &w); err != nil {
		return Event{}, err
	}
	f := w.flat()
	return f.validate(line)
}

var fastSeeds = []string{
	string(benchLine),
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`,
	`  {"id":"e","time":"2026-03-03T01:00:00+08:00","actor":{"id":"a","x":[1,{"y":null}]},"action":"export","count":3,"extra":-1.5e3}  `,
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"view","subject":{"id":"c","tier":"vip"},"fields":[],"query":"naïve ünïcode"}`,
	`{"ID":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`,
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login","id":"f"}`,
	`{"id":"e\"x","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`,
	`{"id":"e","time":null,"actor":{"id":"a"},"action":"login"}`,
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"search","count":01}`,
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"search","count":1.0}`,
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"} x`,
	`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login",}`,
	`{}`, `[]`, `{"a":tru}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`,
}

func TestFastAgreesWithSlow(t *testing.T) {
	for _, s := range fastSeeds {
		checkAgree(t, []byte(s))
	}
	if _, ok := fastEvent(benchLine); !ok {
		t.Error("the typical event does not take the fast path")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkAgree(t, line) })
}

// checkAgree: whenever the fast path accepts a record, it decodes exactly what
// encoding/json decodes; and DecodeEvent always says what the slow path says.
func checkAgree(t *testing.T, line []byte) {
	t.Helper()
	want, werr := slowEvent(line)
	got, gerr := DecodeEvent(line)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: error %v, reference %v", line, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", line, got, want)
	}
}
