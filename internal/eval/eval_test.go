package eval

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/golden"
	"github.com/custos-io/custos/internal/sim"
)

func tinyInput(t *testing.T, name string) Input {
	t.Helper()
	labels, roster, err := LoadRun("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := ReadFindingsFile("testdata/tiny/findings.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return Input{Name: name, Labels: labels, Roster: roster, Findings: fs}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The tiny case, worked by hand (testdata/tiny):
//   - a-1 (bribed, start 03-03 10:00) gets case-1 at 11:00: detected, TTD 1 h,
//     caught by two no_ticket alerts, which name customers outside its targets
//     (c-7, c-8): detected, but not on target.
//   - a-2 (honeytoken, start 03-04 12:00) had case-2 since 03-02 09:00 (a false
//     case: opened before the start); it is raised at 12:05: detected, TTD
//     5 min, caught by honeytoken_access (al-3 predates the start), which
//     names the decoy c-9, a target: on target.
//   - a-3 (collusion) has no case: missed.
//   - a-5 (travel) gets case-3: a false case. a-4 has an alert, no case.
//
// recall 2/3; precision 2 of 3 actors with cases; false cases 2 over 7 agents
// × 7 days = 7 agent-weeks = 285.7 per 1,000 agent-weeks; TTD median
// (3600+300)/2 = 1950 s, worst 3600 s; 6 alerts and 3 cases over 7 days.
func TestTinyByHand(t *testing.T) {
	r := Evaluate("test", []Input{tinyInput(t, "tiny")})
	o := r.Overall
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"insiders", float64(o.Insiders), 3},
		{"detected", float64(o.Detected), 2},
		{"detected on target", float64(o.OnTarget), 1},
		{"recall", o.Recall, 2.0 / 3},
		{"actors with cases", float64(o.ActorsWithCases), 3},
		{"true actors", float64(o.TrueActors), 2},
		{"precision", o.Precision, 2.0 / 3},
		{"false cases", float64(o.FalseCases), 2},
		{"agent-weeks", o.AgentWeeks, 7},
		{"false per 1k agent-weeks", o.FalseCasesPer1kAgentWks, 2 / 0.007},
		{"median TTD", o.MedianTTD, 1950},
		{"worst TTD", o.WorstTTD, 3600},
		{"alerts", float64(o.Alerts), 6},
		{"cases", float64(o.Cases), 3},
		{"alerts per day", o.AlertsPerDay, 6.0 / 7},
		{"cases per day", o.CasesPerDay, 3.0 / 7},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	want := map[string]struct {
		detected int
		ttd      float64
		caught   string
		missed   string
	}{
		"bribed_agent": {1, 3600, "no_ticket ×2", ""},
		"honeytoken":   {1, 300, "honeytoken_access ×1", ""},
		"collusion":    {0, -1, "", "tiny:a-3"},
	}
	if len(r.Scenarios) != 3 || r.Scenarios[0].Scenario != "bribed_agent" || r.Scenarios[2].Scenario != "collusion" {
		t.Fatalf("scenarios %+v, want bribed_agent, honeytoken, collusion in the simulator's order", r.Scenarios)
	}
	for _, s := range r.Scenarios {
		w := want[s.Scenario]
		if s.Insiders != 1 || s.Detected != w.detected || !near(s.MedianTTD, w.ttd) || counts(s.CaughtBy, 0) != w.caught || strings.Join(s.Missed, ",") != w.missed {
			t.Errorf("%s: %+v, want %+v", s.Scenario, s, w)
		}
	}
	if got := counts(r.FalseByTrap, 0); got != "travel 1/1" {
		t.Errorf("false cases by trap: %s, want travel 1/1 (a-2's early case is on an insider)", got)
	}
	if got := counts(r.FalseRules, 0); got != "no_ticket ×2" {
		t.Errorf("rules opening false cases: %s", got)
	}
	for _, in := range r.Insiders {
		if in.Actor == "a-2" && !in.PriorCase {
			t.Error("a-2 had a case before its scenario started; PriorCase not set")
		}
	}
}

func TestPoolingRuns(t *testing.T) {
	one := Evaluate("test", []Input{tinyInput(t, "a")}).Overall
	two := Evaluate("test", []Input{tinyInput(t, "a"), tinyInput(t, "b")})
	o := two.Overall
	if o.Insiders != 2*one.Insiders || o.FalseCases != 2*one.FalseCases || o.Days != 2*one.Days {
		t.Errorf("pooled counts %+v are not twice %+v", o, one)
	}
	if !near(o.Recall, one.Recall) || !near(o.FalseCasesPer1kAgentWks, one.FalseCasesPer1kAgentWks) || !near(o.AlertsPerDay, one.AlertsPerDay) || !near(o.MedianTTD, one.MedianTTD) {
		t.Errorf("pooling the same run twice changed the rates: %+v vs %+v", o, one)
	}
	if len(two.Runs) != 2 || two.Scenarios[2].Missed[1] != "b:a-3" {
		t.Errorf("runs %d, missed %v", len(two.Runs), two.Scenarios[2].Missed)
	}
}

func TestGoldenReports(t *testing.T) {
	r := Evaluate("test", []Input{tinyInput(t, "tiny")})
	for _, g := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"tiny.txt", func(b *bytes.Buffer) error { return r.WriteText(b) }},
		{"tiny.md", func(b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{"tiny.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
	} {
		var b bytes.Buffer
		if err := g.write(&b); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", g.file), b.Bytes())
	}
}

func TestReadFindingsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"kind":"case","id":"c","time":"2026-03-02T00:00:00Z","actor":{"id":"a"}}` + "\n" + `{"kind":"alert","id":"x","actor":{"id":"a"}}`, "f.ndjson:2: time: missing"},
		{`{"kind":"thing","id":"x","time":"2026-03-02T00:00:00Z","actor":{"id":"a"}}`, `f.ndjson:1: kind: unknown value "thing"`},
		{`{"kind":"alert","id":"x","time":"yesterday","actor":{"id":"a"}}`, "f.ndjson:1: time:"},
		{`{"kind":"alert","time":"2026-03-02T00:00:00Z","actor":{"id":"a"}}`, "f.ndjson:1: id: missing"},
		{`not json`, "f.ndjson:1: invalid JSON"},
	} {
		_, err := ReadFindings(strings.NewReader(c.in), "f.ndjson")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		sec  float64
		want string
	}{{-1, "-"}, {0, "0s"}, {59, "59s"}, {60, "1m"}, {3599, "59m"}, {3660, "1h01m"}, {90000, "1d1h"}} {
		if got := Duration(c.sec); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.sec, got, c.want)
		}
	}
}

// baselineRun feeds views to the comparison engine: none is justified by a
// ticket, so each is an alert once its grace window has passed.
func baselineRun(t *testing.T, b Baseline, views []time.Time) []Finding {
	t.Helper()
	var c Collect
	eng := b.Engine(engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}, c.Emit)
	eng.SetPerson(&event.Person{ID: "a-1", Role: "fraud_investigator"})
	for i, at := range views {
		eng.Event(&event.Event{ID: "e" + string(rune('a'+i)), Time: at, Actor: event.Actor{ID: "a-1"}, Action: event.View, Subject: "c-1"})
	}
	eng.Flush()
	return c.Findings
}

func kinds(fs []Finding) (alerts, cases int, rules map[string]int) {
	rules = map[string]int{}
	for _, f := range fs {
		if f.Kind == "alert" {
			alerts++
			rules[f.Rule]++
		} else {
			cases++
		}
	}
	return
}

func TestBaselineOpensCaseOnAlertsPerDay(t *testing.T) {
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var four, five, split []time.Time
	for i := range 5 {
		at := day.Add(time.Duration(i) * 10 * time.Minute)
		five = append(five, at)
		if i < 4 {
			four = append(four, at)
		}
	}
	// Three one day, three the next: never five in one UTC day.
	for i := range 6 {
		split = append(split, day.Add(time.Duration(i/3)*24*time.Hour+time.Duration(i%3)*time.Minute))
	}
	b := Baseline{ViewsPerHour: 1000, AlertsPerCase: 5}
	for _, c := range []struct {
		name          string
		views         []time.Time
		alerts, case_ int
	}{{"four", four, 4, 0}, {"five", five, 5, 1}, {"split over two days", split, 6, 0}} {
		a, k, rules := kinds(baselineRun(t, b, c.views))
		// The naive rules exempt nobody: the fraud investigator alerts too.
		if a != c.alerts || k != c.case_ || rules[RuleNaiveNoTicket] != c.alerts {
			t.Errorf("%s: %d alerts (%v), %d case lines; want %d and %d", c.name, a, rules, k, c.alerts, c.case_)
		}
	}
}

func TestBaselineVolume(t *testing.T) {
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var views []time.Time
	for i := range 7 { // 09:00, 09:10 .. 09:50, then 10:00: six in the 09:00 hour
		views = append(views, day.Add(time.Duration(i)*10*time.Minute))
	}
	_, _, rules := kinds(baselineRun(t, Baseline{ViewsPerHour: 5, AlertsPerCase: 100}, views))
	if rules[RuleNaiveVolume] != 1 {
		t.Errorf("volume alerts %d, want 1 (six views in the 09:00 hour over a limit of five)", rules[RuleNaiveVolume])
	}
	_, _, rules = kinds(baselineRun(t, Baseline{ViewsPerHour: 6, AlertsPerCase: 100}, views))
	if rules[RuleNaiveVolume] != 0 {
		t.Errorf("volume alerts %d at a limit of six, want 0", rules[RuleNaiveVolume])
	}
}

// TestSimulatedEndToEnd simulates a small organisation with the scenarios
// the built-in detections must catch and evaluates it.
func TestSimulatedEndToEnd(t *testing.T) {
	c := sim.Default()
	c.Agents, c.Days, c.Customers, c.TicketsPerDay = 40, 12, 5000, 10
	c.Traps.PanicDay = 0
	c.Insiders.None()
	c.Insiders.Honeytoken.Count, c.Insiders.AfterContract.Count = 1, 1
	for _, s := range []*sim.Scenario{&c.Insiders.Honeytoken, &c.Insiders.AfterContract} {
		s.FirstDay, s.LastDay = 5, 9
	}
	dir := t.TempDir()
	if _, err := sim.WriteDir(context.Background(), c, dir, sim.Options{Gzip: true}); err != nil {
		t.Fatal(err)
	}
	labels, roster, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(roster) != 40 || len(labels.Insiders) != 2 {
		t.Fatalf("%d people, %d insiders", len(roster), len(labels.Insiders))
	}
	cfg := config.Default()
	pack, err := cfg.Pack()
	if err != nil {
		t.Fatal(err)
	}
	fs, counts, err := Replay(context.Background(), dir, cfg.Replay.Lateness, func(emit func(*finding.Finding)) *engine.Engine { return cfg.BatchEngineWith(pack, emit, nil) })
	if err != nil {
		t.Fatal(err)
	}
	if counts.Rejected != 0 || counts.Late != 0 || counts.Events == 0 {
		t.Fatalf("replay counts %+v: the simulation must replay cleanly", counts)
	}
	r := Evaluate("custos", []Input{{Name: "sim", Labels: labels, Roster: roster, Findings: fs}})
	for _, s := range r.Scenarios {
		// Both fire on the first malicious event, before any grace window.
		if s.Detected != 1 || s.WorstTTD > 600 {
			t.Errorf("%s: detected %d, worst TTD %s; the built-in detections catch it at once", s.Scenario, s.Detected, Duration(s.WorstTTD))
		}
	}
	base, _, err := Replay(context.Background(), dir, cfg.Replay.Lateness, func(emit func(*finding.Finding)) *engine.Engine {
		return DefaultBaseline().Engine(engine.Windows{Grace: cfg.Tickets.Grace, AfterClose: cfg.Tickets.AfterClose}, emit)
	})
	if err != nil {
		t.Fatal(err)
	}
	br := Evaluate("baseline", []Input{{Name: "sim", Labels: labels, Roster: roster, Findings: base}})
	if br.Overall.Alerts <= r.Overall.Alerts {
		t.Errorf("the naive baseline raised %d alerts, Custos %d: the baseline should be noisier", br.Overall.Alerts, r.Overall.Alerts)
	}
}
