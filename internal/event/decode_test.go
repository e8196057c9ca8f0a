package event

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/golden"
)

func TestDecodeEventErrors(t *testing.T) {
	const ok = `"id":"e-1","time":"2026-03-03T01:00:00Z","actor":{"id":"a-1"}`
	tests := []struct {
		name, line, want string
	}{
		{"empty object", `{}`, "id: missing"},
		{"empty id", `{"id":"","time":"2026-03-03T01:00:00Z"}`, "id: missing"},
		{"no time", `{"id":"e-1","actor":{"id":"a"},"action":"login"}`, "time: missing"},
		{"bad time", `{"id":"e-1","time":"2026-03-03 01:00","actor":{"id":"a"},"action":"login"}`, `time: "2026-03-03 01:00" is not an RFC 3339 time with an offset`},
		{"time without offset", `{"id":"e-1","time":"2026-03-03T01:00:00","actor":{"id":"a"},"action":"login"}`, `time: "2026-03-03T01:00:00" is not an RFC 3339 time with an offset`},
		{"no actor", `{"id":"e-1","time":"2026-03-03T01:00:00Z","action":"login"}`, "actor.id: missing"},
		{"empty actor id", `{"id":"e-1","time":"2026-03-03T01:00:00Z","actor":{"id":""},"action":"login"}`, "actor.id: missing"},
		{"actor id wrong type", `{"id":"e-1","time":"2026-03-03T01:00:00Z","actor":{"id":7},"action":"login"}`, "actor.id: expected string, got JSON number"},
		{"no action", `{` + ok + `}`, "action: missing"},
		{"unknown action", `{` + ok + `,"action":"delete"}`, `action: unknown value "delete" (want one of login, logout, search, view, reveal, export, update, credential_reset, mfa_reset)`},
		{"view without subject", `{` + ok + `,"action":"view"}`, `subject.id: missing (required for action "view")`},
		{"reset without subject", `{` + ok + `,"action":"mfa_reset","subject":{}}`, `subject.id: missing (required for action "mfa_reset")`},
		{"single export without subject", `{` + ok + `,"action":"export"}`, `subject.id: missing (required for action "export")`},
		{"negative count", `{` + ok + `,"action":"search","count":-1}`, "count: must not be negative, got -1"},
		{"count wrong type", `{` + ok + `,"action":"search","count":"3"}`, "count: expected int, got JSON string"},
		{"negative dwell", `{` + ok + `,"action":"view","subject":{"id":"c"},"duration_ms":-5}`, "duration_ms: must not be negative, got -5"},
		{"fields not a list", `{` + ok + `,"action":"view","subject":{"id":"c"},"fields":"email"}`, "fields: expected []string, got JSON string"},
		{"bad result", `{` + ok + `,"action":"login","result":"maybe"}`, `result: unknown value "maybe" (want allowed or denied)`},
		{"not an object", `["e-1"]`, "not a JSON object"},
		{"truncated", `{"id":"e-1","time":`, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tt.line))
			if err == nil {
				t.Fatalf("DecodeEvent(%s) succeeded, want error %q", tt.line, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEventValid(t *testing.T) {
	line := `{"id":"e-9","time":"2026-03-03T09:25:00.5+08:00","actor":{"id":"a-1","ip":"203.0.113.5","country":"PH"},"action":"export","count":250,"result":"denied","duration_ms":1200,"unknown":{"kept":true}}`
	e, err := DecodeEvent([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 3, 1, 25, 0, 5e8, time.UTC)
	if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", e.Time, want)
	}
	if e.Count != 250 || !e.Denied || e.DurationMS != 1200 || e.Subject != "" || e.Actor.Country != "PH" {
		t.Errorf("decoded %+v", e)
	}
	if string(e.Raw) != line {
		t.Errorf("raw record not kept verbatim:\n got %s\nwant %s", e.Raw, line)
	}
	e2, _ := DecodeEvent([]byte(`{"id":"e","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"search"}`))
	if e2.Count != 1 {
		t.Errorf("count defaults to %d, want 1", e2.Count)
	}
}

func TestDecodePerson(t *testing.T) {
	p, err := DecodePerson([]byte(`{"id":"a-ben","contract_start":"2024-11-15","contract_end":"2026-03-02","role":"agent"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ContractEnd.Format(time.RFC3339Nano); got != "2026-03-02T23:59:59.999999999Z" {
		t.Errorf("contract_end date means the end of that day UTC, got %s", got)
	}
	if got := p.ContractStart.Format(time.RFC3339); got != "2024-11-15T00:00:00Z" {
		t.Errorf("contract_start = %s", got)
	}
	if p.Status != Active {
		t.Errorf("status defaults to %q, want active", p.Status)
	}
	p, err = DecodePerson([]byte(`{"id":"a","contract_end":"2026-03-02T18:00:00+02:00"}`))
	if err != nil || p.ContractEnd.Format(time.RFC3339) != "2026-03-02T16:00:00Z" {
		t.Errorf("contract_end time with offset: %v %v", p.ContractEnd, err)
	}
	for line, want := range map[string]string{
		`{"name":"x"}`:                             "id: missing",
		`{"id":"a","status":"fired"}`:              `status: unknown value "fired" (want active, suspended or terminated)`,
		`{"id":"a","contract_end":"soon"}`:         `contract_end: "soon" is not a date (YYYY-MM-DD) or RFC 3339 time`,
		`{"id":"a","contract_start":"2026-13-01"}`: `contract_start: "2026-13-01" is not a date`,
		`{"id":"a","contract_start":"2026-05-01","contract_end":"2026-01-01"}`: "contract_end: 2026-01-01 is before contract_start 2026-05-01",
	} {
		if _, err := DecodePerson([]byte(line)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("DecodePerson(%s) error = %v, want prefix %q", line, err, want)
		}
	}
}

func TestDecodeSubjectAndTicket(t *testing.T) {
	s, err := DecodeSubject([]byte(`{"id":"c-9","tier":"vip","balance_usd":2500000,"honeytoken":true}`))
	if err != nil || !s.Honeytoken || s.BalanceUSD != 2.5e6 {
		t.Errorf("subject %+v, %v", s, err)
	}
	for line, want := range map[string]string{
		`{"tier":"vip"}`:                   "id: missing",
		`{"id":"c","balance_usd":-1}`:      "balance_usd: must not be negative",
		`{"id":"c","balance_usd":"lots"}`:  "balance_usd: expected float64, got JSON string",
		`{"id":"c","honeytoken":"yes"}`:    "honeytoken: expected bool, got JSON string",
		`{"id":"c","tier":"vip"} trailing`: "invalid JSON",
	} {
		if _, err := DecodeSubject([]byte(line)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("DecodeSubject(%s) error = %v, want prefix %q", line, err, want)
		}
	}
	tc, err := DecodeTicketChange([]byte(`{"time":"2026-03-03T01:14:30+01:00","id":"T-1","subject":"c-1","assignee":"a","status":"open"}`))
	if err != nil || tc.Time.Format(time.RFC3339) != "2026-03-03T00:14:30Z" || tc.Status != TicketOpen {
		t.Errorf("ticket %+v, %v", tc, err)
	}
	for line, want := range map[string]string{
		`{"id":"T","status":"open"}`:                                   "time: missing",
		`{"time":"2026-03-03T01:00:00Z","status":"open"}`:              "id: missing",
		`{"time":"2026-03-03T01:00:00Z","id":"T"}`:                     "status: missing",
		`{"time":"2026-03-03T01:00:00Z","id":"T","status":"reopened"}`: `status: unknown value "reopened"`,
	} {
		if _, err := DecodeTicketChange([]byte(line)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("DecodeTicketChange(%s) error = %v, want prefix %q", line, err, want)
		}
	}
}

// TestDecodeFile checks that a file with bad records reports each with its
// line and field, and that every good record still counts: the golden file
// lists what a user sees.
func TestDecodeFile(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		src, err := os.ReadFile("testdata/mixed.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		name := "events.ndjson"
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(src)
			zw.Close()
			src, name = buf.Bytes(), "events.ndjson.gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(dir, "events")
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = Decode(f, "events.ndjson", DecodeEvent, func(e Event) error {
			fmt.Fprintf(&out, "ok %s %s %s\n", e.ID, e.Time.Format(time.RFC3339Nano), e.Action)
			return nil
		}, func(re *RecordError) { fmt.Fprintf(&out, "rejected %v\n", re) })
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "testdata/mixed.golden", out.Bytes())
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(t.TempDir(), "tickets")
	if err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no tickets.ndjson") {
		t.Fatalf("Open of a missing file: %v", err)
	}
}

func TestLinesTooLong(t *testing.T) {
	long := `{"id":"` + strings.Repeat("x", MaxLine+10) + `"}`
	in := "{\"a\":1}\n" + long + "\n{\"b\":2}\n"
	var got []string
	err := Lines(strings.NewReader(in), func(n int, line []byte, tooLong bool) error {
		got = append(got, fmt.Sprintf("%d:%v:%d", n, tooLong, min(len(line), 10)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "1:false:7 2:true:10 3:false:7"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}
