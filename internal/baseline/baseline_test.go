package baseline

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

// harness feeds a Detector settled inputs by hand.
type harness struct {
	d      *Detector
	people map[string]*event.Person
	alerts []engine.Alert
	n      int
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &harness{people: map[string]*event.Person{}}
	h.d = New(cfg, func(id string) *event.Person { return h.people[id] })
	return h
}

func (h *harness) emit(a engine.Alert) { h.alerts = append(h.alerts, a) }

// view feeds one settled view of customer subject by actor at t.
func (h *harness) view(t time.Time, actor, subject string, v engine.Verdict) {
	h.n++
	ev := &event.Event{ID: fmt.Sprintf("e%d", h.n), Time: t, Actor: event.Actor{ID: actor}, Action: event.View, Subject: subject}
	h.d.Detect(&engine.Input{Event: ev, Person: h.people[actor], Ticket: &engine.TicketMatch{Verdict: v}}, h.emit)
}

// day has every actor view 10 customers under tickets and noTicket[actor]
// (default 2) without, between 09:00 and 10:00.
func (h *harness) day(d int, actors []string, noTicket map[string]int) {
	base := day0.AddDate(0, 0, d).Add(9 * time.Hour)
	for i, a := range actors {
		for k := range 10 {
			h.view(base.Add(time.Duration(i*100+k)*time.Second), a, fmt.Sprintf("c-%d-%s-t%d", d, a, k), engine.Justified)
		}
		n, ok := noTicket[a]
		if !ok {
			n = 2
		}
		for k := range n {
			h.view(base.Add(time.Duration(i*100+50+k)*time.Second), a, fmt.Sprintf("c-%d-%s-n%d", d, a, k), engine.NoTicket)
		}
	}
}

func (h *harness) rule(name string) []engine.Alert {
	var out []engine.Alert
	for _, a := range h.alerts {
		if a.Rule == RulePrefix+name {
			out = append(out, a)
		}
	}
	return out
}

var team = []string{"a1", "a2", "a3", "a4", "a5"}

func teamHarness(t *testing.T) *harness {
	cfg := Defaults()
	cfg.MinHistory = 3
	cfg.Significance = 4 // the hand-computed figures below assume it
	h := newHarness(t, cfg)
	for _, id := range team {
		h.people[id] = &event.Person{ID: id, Vendor: "bpo-a", Team: "payments", Role: "agent"}
	}
	h.people["x"] = &event.Person{ID: "x", Vendor: "in-house", Team: "other", Role: "clock"}
	for d := range 3 {
		h.day(d, team, nil)
	}
	return h
}

// TestAnomalyAgainstOwnAndPeers checks an anomaly's numbers by hand: own
// history 2,2,2 (median 2, MAD 0) and peers 20,2,2,2,2 (median 2, MAD 0);
// the spread is the floor 1.5 (above sqrt(2)), so both scores are
// (20-2)/1.5 = 12, and the risk is 20 × 1 × min(12/4, 3) = 60.
func TestAnomalyAgainstOwnAndPeers(t *testing.T) {
	h := teamHarness(t)
	h.alerts = nil
	h.day(3, team, map[string]int{"a1": 20})
	h.view(day0.AddDate(0, 0, 3).Add(11*time.Hour), "x", "c-x", engine.Justified) // the watermark passes 10:00
	got := h.rule("no_ticket_customers")
	if len(got) != 1 {
		t.Fatalf("no_ticket_customers alerts: %+v, want one", got)
	}
	a := got[0]
	if a.Actor != "a1" || a.Severity != finding.High || a.Risk != 60 {
		t.Errorf("alert actor %s severity %s risk %v, want a1, high, 60", a.Actor, a.Severity, a.Risk)
	}
	d := a.Details
	own, peers := d["own"].(map[string]any), d["peers"].(map[string]any)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"value", d["value"], 20.0}, {"score", d["score"], 12.0}, {"norm", d["norm"], 2.0}, {"ratio", d["ratio"], 10.0},
		{"partial", d["partial"], true},
		{"own median", own["median"], 2.0}, {"own mad", own["mad"], 0.0}, {"own values", own["values"], 3},
		{"own score", own["score"], 12.0}, {"population factor", own["population_factor"], 1.0},
		{"peer median", peers["median"], 2.0}, {"peer size", peers["size"], 5}, {"peer group", peers["group"], "bpo-a payments agents"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	want := "Viewed 20 customers with no ticket on 2026-03-05 by 10:00 UTC, 10× the norm for bpo-a payments agents (2) and 10× its own usual (2)"
	if a.Summary != want {
		t.Errorf("summary\n %q\nwant\n %q", a.Summary, want)
	}
	if len(a.Evidence) != evidenceK || a.Evidence[0] == "" || len(a.Subjects) != evidenceK {
		t.Errorf("evidence %v subjects %v, want the first %d of each", a.Evidence, a.Subjects, evidenceK)
	}
	// Within the same day it does not fire again unless it doubles.
	h.view(day0.AddDate(0, 0, 3).Add(12*time.Hour), "x", "c-x", engine.Justified)
	if n := len(h.rule("no_ticket_customers")); n != 1 {
		t.Errorf("%d alerts after another checkpoint, want still 1", n)
	}
}

// TestEveryoneBusier: a day when the whole team does ten times as much raises
// no one, though each is far above its own history.
func TestEveryoneBusier(t *testing.T) {
	h := teamHarness(t)
	h.alerts = nil
	h.day(3, team, map[string]int{"a1": 20, "a2": 20, "a3": 21, "a4": 19, "a5": 20})
	h.d.Flush(h.emit)
	if len(h.alerts) != 0 {
		t.Fatalf("a population-wide shift raised alerts: %v", h.alerts[0].Summary)
	}
}

// TestNewHireJudgedByPeers: with no history of its own, an actor is judged
// against its peers from the first day, and only against them.
func TestNewHireJudgedByPeers(t *testing.T) {
	h := teamHarness(t)
	h.alerts = nil
	h.people["n1"] = &event.Person{ID: "n1", Vendor: "bpo-a", Team: "payments", Role: "agent"}
	h.day(3, append(team, "n1"), map[string]int{"n1": 15})
	h.d.Flush(h.emit)
	got := h.rule("no_ticket_customers")
	if len(got) != 1 || got[0].Actor != "n1" {
		t.Fatalf("alerts %+v, want one for n1", got)
	}
	if _, ok := got[0].Details["own"]; ok || got[0].Details["partial"] != false {
		t.Errorf("details %v: want no own history and a closed day", got[0].Details)
	}
	// Its group's usual day (2, from the days before) stands in for the
	// history it does not have.
	if u, ok := got[0].Details["peers_usual"].(map[string]any); !ok || u["median"] != 2.0 {
		t.Errorf("details %v: want the peers' usual day (median 2)", got[0].Details)
	}
	if !strings.HasPrefix(got[0].Summary, "Viewed 15 customers with no ticket on 2026-03-05, 7.5× the norm") {
		t.Errorf("summary %q", got[0].Summary)
	}
	// And a new hire like its peers raises nothing.
	h = teamHarness(t)
	h.alerts = nil
	h.people["n1"] = &event.Person{ID: "n1", Vendor: "bpo-a", Team: "payments", Role: "agent"}
	h.day(3, append(team, "n1"), nil)
	h.d.Flush(h.emit)
	if len(h.alerts) != 0 {
		t.Errorf("a new hire like its peers raised %s", h.alerts[0].Summary)
	}
}

// TestHistoryKeepsAnomaliesAtTheThreshold: an insider who keeps going is not
// learned as normal. Day 3's 20 enters the history as the threshold it
// crossed: max(own 2 + 4×1.5, peers 2 + 4×1.5) = 8.
func TestHistoryKeepsAnomaliesAtTheThreshold(t *testing.T) {
	h := teamHarness(t)
	h.day(3, team, map[string]int{"a1": 20})
	h.d.Flush(h.emit)
	a := h.d.actors.ByID("a1")
	i := h.d.index("no_ticket_customers")
	xs, _ := a.hist.decode(nil, h.d.nDay)[i].values(nil, false, 1)
	if math.Abs(maxOf(xs)-8) > 1e-6 || len(xs) != 4 {
		t.Errorf("history %v, want 2,2,2 and the threshold 8", xs)
	}
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// TestLateEventLeftOut: an event of a day already closed changes nothing.
func TestLateEventLeftOut(t *testing.T) {
	h := teamHarness(t)
	h.view(day0.Add(9*time.Hour), "a1", "c-late", engine.NoTicket)
	if h.d.Stats().Late != 1 {
		t.Errorf("late = %d, want 1", h.d.Stats().Late)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Significance = 0 }, "baseline.significance"},
		{func(c *Config) { c.MinHistory = 99 }, "baseline.min_history"},
		{func(c *Config) { c.MinPeers = 1 }, "baseline.min_peers"},
		{func(c *Config) { c.PeerGroups = [][]string{{"team", "shoe"}} }, `unknown attribute "shoe"`},
		{func(c *Config) { c.Features = map[string]FeatureConfig{"nope": {}} }, `unknown feature "nope"`},
		{func(c *Config) { c.MaxRiskFactor = 0.5 }, "baseline.max_risk_factor"},
	} {
		c := Defaults()
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tc.want)
		}
	}
}

// TestFeatureOverrides: a disabled feature raises nothing; a feature's own
// significance replaces the global one.
func TestFeatureOverrides(t *testing.T) {
	cfg := Defaults()
	cfg.Features = map[string]FeatureConfig{"no_ticket_customers": {Disabled: true}}
	d := New(cfg, func(string) *event.Person { return nil })
	if d.index("no_ticket_customers") >= 0 {
		t.Error("a disabled feature is still computed")
	}
	cfg.Features = map[string]FeatureConfig{"reveals": {Significance: 9, Weight: 2}}
	d = New(cfg, func(string) *event.Person { return nil })
	if f := d.feats[d.index("reveals")]; f.sig != 9 || f.Weight != 2 {
		t.Errorf("reveals: significance %v weight %v, want 9 and 2", f.sig, f.Weight)
	}
}

// TestHourFeatureBySeasonalSlot: the hour feature is judged against the same
// hour of the day in the actor's own history (12 customers at 09:00 on each
// of three days) and its peers in that same hour: 52 − 12 over the spread
// max(MAD 0, 2, √12) gives 40/√12 ≈ 11.547.
func TestHourFeatureBySeasonalSlot(t *testing.T) {
	h := teamHarness(t)
	h.alerts = nil
	h.day(3, team, nil)
	base := day0.AddDate(0, 0, 3).Add(9*time.Hour + 30*time.Minute)
	for k := range 40 {
		h.view(base.Add(time.Duration(k)*time.Second), "a1", fmt.Sprintf("c-extra-%d", k), engine.Justified)
	}
	h.view(day0.AddDate(0, 0, 3).Add(11*time.Hour), "x", "c-x", engine.Justified)
	got := h.rule("customers_per_hour")
	if len(got) != 1 || got[0].Actor != "a1" {
		t.Fatalf("customers_per_hour alerts %+v, want one for a1", got)
	}
	d := got[0].Details
	own := d["own"].(map[string]any)
	if d["period"] != "hour" || d["value"] != 52.0 || own["seasonal"] != "hour 09" || own["values"] != 3 || d["score"] != 11.547 {
		t.Errorf("details %v", d)
	}
	if want := "Viewed 52 customers in one hour between 09:00 and 10:00 UTC on 2026-03-05"; !strings.HasPrefix(got[0].Summary, want) {
		t.Errorf("summary %q, want it to start %q", got[0].Summary, want)
	}
}
