package engine

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// closer holds a conclusion about another actor until Flush, like a
// detector that closes periods.
type closer struct{ fired bool }

func (c *closer) Detect(in *Input, emit Emit) {}
func (c *closer) Flush(emit Emit) {
	c.fired = true
	emit(Alert{Rule: "anomaly:x", Severity: finding.High, Risk: 60, Actor: "bob", At: at(300),
		Evidence: []string{"e9"}, Summary: "Viewed 31 customers with no ticket", Details: map[string]any{"value": 31}})
}

func TestAlertForAnotherActorAtFlush(t *testing.T) {
	var r recorder
	c := &closer{}
	e := New(Config{Settled: []Detector{c}, Risk: RiskConfig{HalfLife: time.Hour, CaseThreshold: 50}, Describe: describe}, r.emit)
	e.SetPerson(&event.Person{ID: "bob", Vendor: "bpo-a", Team: "payments", Role: "agent"})
	e.Event(view(0, "e1", "ana", "c-1"))
	e.Flush()
	if !c.fired {
		t.Fatal("Flush did not reach the Flusher")
	}
	if len(r.got) != 2 {
		t.Fatalf("findings:\n%s", r.lines())
	}
	al, cs := r.got[0], r.got[1]
	if al.Actor.ID != "bob" || !al.Time.Equal(at(300)) || al.Evidence[0] != "e9" {
		t.Errorf("alert %+v: want bob's, at 05:00, with its own evidence", al)
	}
	if cs.Kind != finding.KindCase || cs.Actor.ID != "bob" {
		t.Fatalf("case %+v: want a case for bob", cs)
	}
	want := "bob (bpo-a payments agent): Viewed 31 customers with no ticket. 1 alert(s) since"
	if !strings.HasPrefix(cs.Summary, want) {
		t.Errorf("case summary %q, want it to start %q", cs.Summary, want)
	}
}

// TestCaseExplains: a case lists its contributing alerts with evidence and
// numbers, the strongest first, and its summary leads with the strongest.
func TestCaseExplains(t *testing.T) {
	var r recorder
	n := 0
	det := DetectorFunc(func(in *Input, emit Emit) {
		n++
		switch n {
		case 1, 2:
			emit(Alert{Rule: "no_ticket", Severity: finding.Medium, Risk: 10,
				Summary: "ana (bpo-a payments agent) viewed customer " + in.Event.Subject + " with no ticket"})
		case 3:
			emit(Alert{Rule: "anomaly:no_ticket_customers", Severity: finding.High, Risk: 40,
				Summary: "Viewed 31 customers with no ticket today, 9× the norm", Details: map[string]any{"value": 31, "norm": 3.4},
				Evidence: []string{"e1", "e2"}})
		}
	})
	e := New(Config{Immediate: []Detector{det}, Describe: describe}, r.emit)
	e.SetPerson(&event.Person{ID: "ana", Vendor: "bpo-a", Team: "payments", Role: "agent"})
	e.Event(view(0, "e1", "ana", "c-1"))
	e.Event(view(1, "e2", "ana", "c-2"))
	e.Event(view(2, "e3", "ana", "c-3"))
	var cs *finding.Finding
	for _, f := range r.got {
		if f.Kind == finding.KindCase {
			cs = f
		}
	}
	if cs == nil {
		t.Fatalf("no case:\n%s", r.lines())
	}
	want := "ana (bpo-a payments agent): Viewed 31 customers with no ticket today, 9× the norm. Also: viewed customer c-1 with no ticket. 3 alert(s) since 2026-03-03 01:00 UTC (no_ticket ×2, anomaly:no_ticket_customers ×1)."
	if cs.Summary != want {
		t.Errorf("summary\n %q\nwant\n %q", cs.Summary, want)
	}
	b, err := json.Marshal(cs.Details)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`"alerts_total":3`,
		`"rules":[{"rule":"anomaly:no_ticket_customers","alerts":1,"points":40},{"rule":"no_ticket","alerts":2,"points":20}]`,
		`"evidence":["e1","e2"]`, `"details":{"norm":3.4,"value":31}`,
	} {
		if !strings.Contains(string(b), s) {
			t.Errorf("details %s\nlack %s", b, s)
		}
	}
}

func TestRememberKeepsEachRulesLatest(t *testing.T) {
	st := &actorState{}
	h := stampOf(at(0))
	for i := range 30 {
		st.remember(caseAlertOf(&finding.Finding{ID: string(rune('a' + i%26)), Rule: "habit", Time: at(float64(i))}), h)
	}
	st.remember(caseAlertOf(&finding.Finding{ID: "anomaly", Rule: "anomaly:x", Time: at(31)}), h)
	for i := range 30 {
		st.remember(caseAlertOf(&finding.Finding{ID: "h", Rule: "habit", Time: at(float64(32 + i))}), h)
	}
	var rules []string
	for _, r := range st.recent {
		rules = append(rules, r.rule)
	}
	if len(st.recent) != recentPerRule+1 || !strings.Contains(strings.Join(rules, ","), "anomaly:x") {
		t.Errorf("recent rules %v: want the anomaly kept among %d habit alerts", rules, recentPerRule)
	}
	// Alerts older than the horizon go.
	st.remember(caseAlertOf(&finding.Finding{ID: "new", Rule: "other", Time: at(1000)}), stampOf(at(999)))
	if len(st.recent) != 1 {
		t.Errorf("%d recent alerts after the horizon moved, want 1", len(st.recent))
	}
}

func describe(id string, p *event.Person) string {
	if p == nil {
		return id
	}
	return id + " (" + p.Vendor + " " + p.Team + " " + p.Role + ")"
}

// TestFindingActorOwned: a finding names its actor with the engine's owned
// copy of the id, never a slice of the event's line, which a sink keeping
// the id (replay's per-rule report) would keep alive.
func TestFindingActorOwned(t *testing.T) {
	var r recorder
	det := DetectorFunc(func(in *Input, emit Emit) {
		emit(Alert{Rule: "r", Severity: finding.Low, Risk: 1, Summary: "x"})
	})
	e := New(Config{Immediate: []Detector{det}}, r.emit)
	line := `{"id":"e1","actor":{"id":"ana"}}`
	ev := view(0, "e1", line[26:29], "c-1")
	e.Event(ev)
	if len(r.got) != 1 || r.got[0].Actor.ID != "ana" {
		t.Fatalf("findings:\n%s", r.lines())
	}
	if unsafe.StringData(r.got[0].Actor.ID) == unsafe.StringData(ev.Actor.ID) {
		t.Error("the alert's actor id is the event's bytes")
	}
}

// TestAppendDetailsAsEncodingJSON: details are encoded without reflection
// to exactly encoding/json's bytes, or left to it.
func TestAppendDetailsAsEncodingJSON(t *testing.T) {
	east := time.FixedZone("x", 5*3600+30*60)
	odd := time.FixedZone("y", 17)
	maps := []map[string]any{
		{"verdict": "no_ticket"},
		{"unticketed_24h": 20, "n": int64(-3), "ok": true, "no": false, "none": nil},
		{"feature": "no_ticket_customers", "from": t0, "to": t0.Add(1500 * time.Millisecond).In(east), "partial": true,
			"peers": map[string]any{"group": "bpo-north payments agents", "mad": 0.0, "median": 0.5, "score": 7.333, "size": 309},
			"empty": map[string]any{}, "nilmap": map[string]any(nil)},
		{"html": "<b>&</b>", "quote": `a "b" \c`, "ctl": "tab\there", "utf8": "zażółć", "bad": "\xff", "sep": "\u2028", "del": "\x7f"},
		{"f": 0.0, "neg": -0.0, "tiny": 1e-6, "big": 1e20, "frac": 123456.789, "third": 1.0 / 3, "k": "v", "<key>": 1},
		{"exp": 1e21},         // encoding/json writes an exponent
		{"small": 1e-7},       // likewise
		{"odd": t0.In(odd)},   // Time.MarshalJSON refuses it
		{"list": []any{1, 2}}, // not a type appendDetails knows
		{"f32": float32(1.5)},
	}
	for _, m := range maps {
		want, werr := json.Marshal(m)
		got, ok := appendDetails([]byte("x"), m)
		if !ok {
			continue // the caller asks encoding/json
		}
		if werr != nil || string(got) != "x"+string(want) {
			t.Errorf("appendDetails(%v)\n %s\nwant\n x%s (%v)", m, got, want, werr)
		}
	}
	for _, m := range maps[:5] {
		if _, ok := appendDetails(nil, m); !ok {
			t.Errorf("appendDetails(%v) fell back to encoding/json", m)
		}
	}
}

func caseAlertOf(f *finding.Finding) *caseAlert {
	ca, _ := newCaseAlert(f, nil)
	return ca
}

// TestSuppressionStaysLive: one new key a minute, each suppressed for a
// while. Expired suppressions are dropped rather than kept growing; an
// actor with more live ones than a list holds keeps them in a map; either
// way a key is suppressed while live, and let through once after.
func TestSuppressionStaysLive(t *testing.T) {
	for _, c := range []struct {
		keys, live int
		many       bool
	}{{100, 10, false}, {1000, 100, true}} {
		st := &actorState{}
		for i := range c.keys {
			now, until := stampOf(at(float64(i))), stampOf(at(float64(i+c.live)))
			if st.suppressed("r", strconv.Itoa(i), now, until) {
				t.Fatalf("key %d suppressed on its first alert", i)
			}
			if i > 0 && !st.suppressed("r", strconv.Itoa(i-1), now, until) {
				t.Fatalf("key %d let through while suppressed", i-1)
			}
		}
		if c.many != (st.suppressMany != nil) || cap(st.suppress) > 4*c.live || c.many && len(st.suppressMany.m) > 4*c.live {
			t.Errorf("%d live suppressions kept as %d listed, map %v", c.live, cap(st.suppress), st.suppressMany)
		}
		end := float64(c.keys)
		if st.suppressed("r", "5", stampOf(at(end)), stampOf(at(end+10))) || !st.suppressed("r", "5", stampOf(at(end+1)), stampOf(at(end+11))) {
			t.Errorf("%d keys: an expired key was not let through once, then suppressed again", c.keys)
		}
	}
}
