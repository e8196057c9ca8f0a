package event

import (
	"encoding/binary"
	"math/bits"
	"reflect"
	"strings"
	"testing"
)

// slowEvent is the reference: encoding/json and the shared validation.
var slowEvent = DecodeEventJSON

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

var slowTicket = DecodeTicketChangeJSON

var ticketSeeds = []string{
	string(benchTicket),
	`{"time":"2026-03-01T14:19:47+02:00","id":"T-1","status":"open"}`,
	`  {"time":"2026-03-01T14:19:47Z","id":"T-1","status":"solved","x":{"y":[1,-2.5e3,null,true]}}  `,
	`{"time":null,"id":"T-1","status":"open"}`,
	`{"time":"","id":"T-1","status":"open"}`,
	`{"id":"T-1","status":"open"}`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-1","status":"reopened"}`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-1","status":"open","Status":"new"}`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-1","status":"open","status":null}`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-\u0031","status":"open"}`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-1","subject":"ç-1","status":"open"}`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-1","status":"open"},`,
	`{"time":"2026-03-01T14:19:47Z","id":"T-1","status":"open"`,
	`{"time":"2026-03-01T14:19:47Z","id":1,"status":"open"}`,
}

func TestFastTicketAgreesWithSlow(t *testing.T) {
	for _, s := range ticketSeeds {
		checkTicketAgree(t, []byte(s))
	}
	if _, ok := fastTicket(benchTicket); !ok {
		t.Error("the typical ticket change does not take the fast path")
	}
}

func FuzzDecodeTicketChange(f *testing.F) {
	for _, s := range ticketSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkTicketAgree(t, line) })
}

func checkTicketAgree(t *testing.T, line []byte) {
	t.Helper()
	want, werr := slowTicket(line)
	got, gerr := DecodeTicketChange(line)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: error %v, reference %v", line, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", line, got, want)
	}
}

var subjectSeeds = []string{
	`{"id":"c-000123","tier":"standard","balance_usd":1234.5,"country":"DE"}`,
	`{"id":"c-9","tier":"vip","balance_usd":2500000,"honeytoken":true}`,
	`  {"id":"c-9","balance_usd":-0,"honeytoken":false,"x":{"y":[1,-2.5e3,null,true]}}  `,
	`{"id":"c-9","balance_usd":1e999}`,
	`{"id":"c-9","balance_usd":-5}`,
	`{"id":"c-9","balance_usd":null}`,
	`{"id":"c-9","balance_usd":"5"}`,
	`{"id":"c-9","balance_usd":01}`,
	`{"id":"c-9","honeytoken":null}`,
	`{"id":"c-9","honeytoken":"true"}`,
	`{"id":"c-9","Tier":"vip"}`,
	`{"id":"c-9","id":""}`,
	`{"id":null}`,
	`{"tier":"vip"}`,
	`{"id":"c-\u0039"}`,
	`{"id":"ç-9","country":"FR"}`,
	`{"id":"c-9"},`,
	`{"id":"c-9"`,
	`{"id":9}`,
}

func TestFastSubjectAgreesWithSlow(t *testing.T) {
	for _, s := range subjectSeeds {
		checkSubjectAgree(t, []byte(s))
	}
	if _, ok := fastSubject([]byte(subjectSeeds[0])); !ok {
		t.Error("the typical customer record does not take the fast path")
	}
}

func FuzzDecodeSubject(f *testing.F) {
	for _, s := range subjectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkSubjectAgree(t, line) })
}

func checkSubjectAgree(t *testing.T, line []byte) {
	t.Helper()
	want, werr := DecodeSubjectJSON(line)
	got, gerr := DecodeSubject(line)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: error %v, reference %v", line, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", line, got, want)
	}
}

// The string scan works eight bytes at a time: a quote, an escape, a
// control byte or non-ASCII text at every offset of a word, and strings
// ending at every length, take the same path as encoding/json says.
func TestFastStringScanEveryOffset(t *testing.T) {
	for _, odd := range []string{`\"`, `\\`, `\n`, "\x01", "\x1f", "é", "\xff", "\u2028", ""} {
		for n := 0; n < 20; n++ {
			id := strings.Repeat("x", n) + odd + strings.Repeat("y", n%9)
			checkAgree(t, []byte(`{"id":"`+id+`","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`))
		}
	}
}

func TestSpecialFindsFirst(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			m := special(binary.LittleEndian.Uint64(w))
			want := c == '"' || c == '\\' || c < 0x20 || c >= 0x80
			if got := m != 0 && bits.TrailingZeros64(m)/8 == pos; got != want {
				t.Fatalf("byte %#x at %d: flagged first %v, want %v", c, pos, got, want)
			}
		}
	}
}
