package risk

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/finding"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func add(t *testing.T, s engine.Scorer, rule string, pts float64, at time.Time) (float64, bool) {
	t.Helper()
	return s.Add(&engine.Alert{Rule: rule, Risk: pts, Severity: finding.Medium}, at)
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %.10g, want %.10g", what, got, want)
	}
}

func TestRepeatsDiminish(t *testing.T) {
	s := New(Defaults()).NewScorer()
	r, _ := add(t, s, "burst", 10, t0)
	near(t, "first", r, 10)
	r, _ = add(t, s, "burst", 10, t0)
	near(t, "second", r, 17) // 10 + 10×0.7
	r, open := add(t, s, "burst", 10, t0)
	near(t, "third", r, 21.9) // + 10×0.49
	if open {
		t.Error("three repeats of one low-risk signal opened a case")
	}
	// However long it goes on, one 10-point signal stays under 10/(1-0.7).
	for range 200 {
		r, open = add(t, s, "burst", 10, t0)
	}
	if r > 10/0.3+1e-9 || open {
		t.Errorf("200 repeats: risk %v open %v, want at most 33.3 and no case", r, open)
	}
}

func TestDecay(t *testing.T) {
	s := New(Defaults()).NewScorer()
	add(t, s, "a", 40, t0)
	r, _ := add(t, s, "b", 0, t0.Add(72*time.Hour))
	near(t, "after one half-life", r, 20)
	r, _ = add(t, s, "b", 0, t0.Add(144*time.Hour))
	near(t, "after two half-lives", r, 10)
}

func TestRepeatCountDecays(t *testing.T) {
	s := New(Defaults()).NewScorer()
	add(t, s, "burst", 10, t0)
	// One half-life later the first alert is worth 5 and counts as half a
	// repeat, so the second earns 10 × 0.7^0.5.
	r, _ := add(t, s, "burst", 10, t0.Add(72*time.Hour))
	near(t, "second after a half-life", r, 5+10*math.Sqrt(0.7))
}

func TestDiversityBonus(t *testing.T) {
	s := New(Defaults()).NewScorer()
	add(t, s, "anomaly:no_ticket_customers", 20, t0)
	r, open := add(t, s, "anomaly:identity_customers", 20, t0)
	near(t, "two kinds", r, 50) // 40 × 1.25
	if !open {
		t.Error("two kinds of evidence reaching the threshold did not open a case")
	}
	parts := s.(engine.RiskExplainer).Parts()
	if len(parts) != 2 || parts[0].Rule != "anomaly:identity_customers" || parts[0].Risk != 25 || parts[1].Risk != 25 {
		t.Errorf("parts = %+v, want both rules at 25, by name on a tie", parts)
	}

	// A kind under MinKindRisk does not count.
	s = New(Defaults()).NewScorer()
	add(t, s, "x", 40, t0)
	r, _ = add(t, s, "y", 14, t0)
	near(t, "small second kind", r, 54)
}

func TestKindsGroupRules(t *testing.T) {
	c := Defaults()
	c.Weights = nil
	s := New(c).NewScorer()
	add(t, s, "no_ticket", 20, t0)
	r, open := add(t, s, "ticket_not_theirs", 20, t0)
	near(t, "same kind", r, 34) // 20 + 20×0.7, no bonus: both say "unjustified access"
	if open {
		t.Error("one kind of evidence in two rules opened a case")
	}
}

func TestCriticalOpensAtOnce(t *testing.T) {
	s := New(Defaults()).NewScorer()
	r, open := s.Add(&engine.Alert{Rule: "honeytoken_access", Risk: 1, Severity: finding.Critical}, t0)
	if !open || r != 1 {
		t.Errorf("critical alert: risk %v open %v, want 1 and open", r, open)
	}
}

func TestWeights(t *testing.T) {
	c := Defaults()
	c.Weights = map[string]float64{"anomaly:*": 2, "anomaly:resets": 0.5, "anom*": 100}
	s := New(c).NewScorer()
	r, _ := add(t, s, "anomaly:views", 10, t0)
	near(t, "prefix weight", r, 20)
	s = New(c).NewScorer()
	r, _ = add(t, s, "anomaly:resets", 10, t0)
	near(t, "exact weight beats prefix", r, 5)
	s = New(c).NewScorer()
	r, _ = add(t, s, "ticket_not_theirs", 10, t0)
	near(t, "unweighted", r, 10)
	s = New(Defaults()).NewScorer()
	r, _ = add(t, s, "no_ticket", 10, t0)
	near(t, "shipped no_ticket weight", r, 3)
}

func TestOlderAlertDoesNotRewind(t *testing.T) {
	s := New(Defaults()).NewScorer()
	add(t, s, "a", 40, t0.Add(72*time.Hour))
	r, _ := add(t, s, "b", 0, t0)
	near(t, "late alert", r, 40)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.HalfLife = 0 }, "risk.half_life"},
		{func(c *Config) { c.CaseThreshold = -1 }, "risk.case_threshold"},
		{func(c *Config) { c.Repeat = 1.5 }, "risk.repeat"},
		{func(c *Config) { c.DiversityBonus = -1 }, "risk.diversity_bonus"},
		{func(c *Config) { c.MaxKinds = 0 }, "risk.max_kinds"},
		{func(c *Config) { c.Weights = map[string]float64{"x": -1} }, "risk.weights.x"},
	} {
		c := Defaults()
		tc.set(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tc.want)
		}
	}
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
