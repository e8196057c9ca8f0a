// Package risk turns alerts into an actor's risk and decides when a case
// opens. Risk decays with a half-life, a signal that repeats earns less each
// time (an agent's habit is not mounting evidence), and distinct kinds of
// evidence coinciding weigh more than any one alone. It plugs into the engine
// as its Scorer.
package risk

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/finding"
)

// Config parameterises the scorer. See docs/detection.md for how the
// defaults were chosen.
type Config struct {
	// HalfLife: an alert's points halve every HalfLife of event time.
	HalfLife time.Duration `yaml:"half_life"`
	// CaseThreshold: a case opens when the actor's risk reaches it. A
	// critical alert opens one at once.
	CaseThreshold float64 `yaml:"case_threshold"`
	// Repeat is the diminishing return of one signal: an alert counts
	// Repeat^n of its points, n being the (decayed) number of earlier alerts
	// of the same rule. 1 disables it.
	Repeat float64 `yaml:"repeat"`
	// DiversityBonus multiplies risk by 1 + DiversityBonus × (kinds − 1)
	// when several kinds of evidence coincide.
	DiversityBonus float64 `yaml:"diversity_bonus"`
	// MaxKinds caps the kinds the bonus counts.
	MaxKinds int `yaml:"max_kinds"`
	// MinKindRisk is the risk a kind of evidence must hold to count as one.
	MinKindRisk float64 `yaml:"min_kind_risk"`
	// Weights multiply a rule's risk points; a key ending in * matches every
	// rule with that prefix ("anomaly:*"), the longest match winning.
	Weights map[string]float64 `yaml:"weights"`
	// Kinds names the kind of evidence of a rule, for rules that say the same
	// thing in different words; by default each rule is its own kind. Keys
	// may end in * like Weights.
	Kinds map[string]string `yaml:"kinds"`
}

// Defaults returns the shipped configuration.
func Defaults() Config {
	return Config{
		HalfLife:       72 * time.Hour,
		CaseThreshold:  50,
		Repeat:         0.7,
		DiversityBonus: 0.25,
		MaxKinds:       4,
		MinKindRisk:    15,
		// Rules that fire on most benign actors (measured on the simulator:
		// an unexplained lookup, a reset after a contact change on the
		// account-recovery desk, a high-value customer on the VIP desk) count
		// little and never make a kind of evidence on their own; the
		// baseline says when they are unusual for this actor.
		Weights: map[string]float64{
			"no_ticket":                 0.3,
			"ticket_not_theirs":         0.3,
			"contact_change_then_reset": 0.1,
			"new_device_then_views":     0.25,
			"reset_high_balance":        0.2,
			"high_value_targeting":      0.15,
			"long_dwell_no_work":        0.5,
			"off_shift_activity":        0.5,
			// Never seen on a benign actor, and the insider needs to be found
			// at the first one: one alert opens a case.
			"reset_without_verification": 2,
			"sensitive_reveal_no_reason": 2,
		},
		// Rules and anomalies that say the same thing in different words.
		Kinds: map[string]string{
			"no_ticket":                        "unjustified_access",
			"ticket_not_theirs":                "unjustified_access",
			"unticketed_customers_24h":         "unjustified_access",
			"anomaly:no_ticket_customers":      "unjustified_access",
			"anomaly:views":                    "volume",
			"anomaly:customers":                "volume",
			"anomaly:customers_per_hour":       "volume",
			"anomaly:customers_per_ticket":     "volume",
			"anomaly:active_hours":             "volume",
			"view_burst_10m":                   "volume",
			"view_burst_1h":                    "volume",
			"anomaly:no_ticket_high_value":     "high_value_targeting",
			"anomaly:high_value_share":         "high_value_targeting",
			"high_value_targeting":             "high_value_targeting",
			"anomaly:identity_customers":       "sensitive_data",
			"anomaly:reveals":                  "sensitive_data",
			"anomaly:fields_per_customer":      "sensitive_data",
			"sensitive_reveal_no_reason":       "sensitive_data",
			"sensitive_reveal_above_team_norm": "sensitive_data",
			"anomaly:new_ips":                  "new_source",
			"anomaly:new_devices":              "new_source",
			"anomaly:new_countries":            "new_source",
			"new_device_then_views":            "new_source",
			"anomaly:dwell_seconds":            "dwell",
			"anomaly:long_dwell_views":         "dwell",
			"long_dwell_no_work":               "dwell",
			"anomaly:others_tickets_customers": "others_tickets",
			"anomaly:resets":                   "resets",
			"contact_change_then_reset":        "resets",
			"reset_high_balance":               "resets",
			"reset_without_verification":       "resets",
			"anomaly:exported_records":         "export",
			"bulk_export":                      "export",
		},
	}
}

// Validate reports the first setting that cannot work, naming its key.
func (c *Config) Validate() error {
	switch {
	case c.HalfLife <= 0:
		return fmt.Errorf("risk.half_life must be positive, got %s", c.HalfLife)
	case c.CaseThreshold <= 0:
		return fmt.Errorf("risk.case_threshold must be positive, got %v", c.CaseThreshold)
	case c.Repeat <= 0 || c.Repeat > 1:
		return fmt.Errorf("risk.repeat must be in (0, 1], got %v", c.Repeat)
	case c.DiversityBonus < 0:
		return fmt.Errorf("risk.diversity_bonus must not be negative, got %v", c.DiversityBonus)
	case c.MaxKinds < 1:
		return fmt.Errorf("risk.max_kinds must be at least 1, got %d", c.MaxKinds)
	case c.MinKindRisk < 0:
		return fmt.Errorf("risk.min_kind_risk must not be negative, got %v", c.MinKindRisk)
	}
	for k, w := range c.Weights {
		if w < 0 || math.IsNaN(w) {
			return fmt.Errorf("risk.weights.%s must not be negative, got %v", k, w)
		}
	}
	return nil
}

// Engine returns the engine's view of the basic settings, for code that
// only needs the half-life and threshold.
func (c Config) Engine() engine.RiskConfig {
	return engine.RiskConfig{HalfLife: c.HalfLife, CaseThreshold: c.CaseThreshold}
}

// pattern is a key of Weights or Kinds, exact or a prefix.
type pattern[T any] struct {
	exact  map[string]T
	prefix []string // longest first
	byPre  map[string]T
}

func compile[T any](m map[string]T) pattern[T] {
	p := pattern[T]{exact: map[string]T{}, byPre: map[string]T{}}
	for k, v := range m {
		if pre, ok := strings.CutSuffix(k, "*"); ok {
			p.prefix = append(p.prefix, pre)
			p.byPre[pre] = v
		} else {
			p.exact[k] = v
		}
	}
	sort.Slice(p.prefix, func(i, j int) bool {
		if len(p.prefix[i]) != len(p.prefix[j]) {
			return len(p.prefix[i]) > len(p.prefix[j])
		}
		return p.prefix[i] < p.prefix[j]
	})
	return p
}

func (p *pattern[T]) lookup(rule string) (T, bool) {
	if v, ok := p.exact[rule]; ok {
		return v, true
	}
	for _, pre := range p.prefix {
		if strings.HasPrefix(rule, pre) {
			return p.byPre[pre], true
		}
	}
	var zero T
	return zero, false
}

// Model is a compiled configuration; it makes one Scorer per actor.
type Model struct {
	cfg     Config
	weights pattern[float64]
	kinds   pattern[string]
}

// New compiles cfg. Call Validate first; New does not check.
func New(cfg Config) *Model {
	return &Model{cfg: cfg, weights: compile(cfg.Weights), kinds: compile(cfg.Kinds)}
}

// NewScorer returns a fresh actor's scorer; it is engine.Config.NewScorer.
func (m *Model) NewScorer() engine.Scorer { return &Scorer{m: m} }

// signal is one rule's decayed contribution and decayed alert count.
type signal struct {
	rule, kind string
	risk, n    float64
}

// Scorer is one actor's risk.
type Scorer struct {
	m    *Model
	sigs []signal
	at   time.Time
	mult float64 // diversity multiplier at the last Add
}

// Add records an alert at time at.
func (s *Scorer) Add(a *engine.Alert, at time.Time) (float64, bool) {
	s.decay(at)
	w := 1.0
	if v, ok := s.m.weights.lookup(a.Rule); ok {
		w = v
	}
	i := s.find(a.Rule)
	sg := &s.sigs[i]
	sg.risk += a.Risk * w * math.Pow(s.m.cfg.Repeat, sg.n)
	sg.n++
	r := s.Risk()
	return r, r >= s.m.cfg.CaseThreshold || a.Severity == finding.Critical
}

func (s *Scorer) find(rule string) int {
	for i := range s.sigs {
		if s.sigs[i].rule == rule {
			return i
		}
	}
	kind := rule
	if k, ok := s.m.kinds.lookup(rule); ok {
		kind = k
	}
	s.sigs = append(s.sigs, signal{rule: rule, kind: kind})
	return len(s.sigs) - 1
}

// decay ages every signal to at and forgets those that no longer matter. An
// alert older than the last one is counted at the last one's time.
func (s *Scorer) decay(at time.Time) {
	if !s.at.IsZero() && at.After(s.at) {
		f := math.Exp2(-float64(at.Sub(s.at)) / float64(s.m.cfg.HalfLife))
		kept := s.sigs[:0]
		for _, sg := range s.sigs {
			sg.risk *= f
			sg.n *= f
			if sg.risk >= 0.01 || sg.n >= 0.01 {
				kept = append(kept, sg)
			}
		}
		clear(s.sigs[len(kept):])
		s.sigs = kept
	}
	if at.After(s.at) {
		s.at = at
	}
}

// Risk returns the actor's risk as of the last Add: the sum of its signals
// times the diversity multiplier.
func (s *Scorer) Risk() float64 {
	var sum float64
	for i := range s.sigs {
		sum += s.effective(i)
	}
	s.mult = s.multiplier()
	return sum * s.mult
}

// effective is signal i's risk after the diminishing returns among the
// rules of its kind: rules that say the same thing in different words (more
// views, more customers) add up like repeats of one, the strongest counting
// fully and the k-th next Repeat^k of its risk.
func (s *Scorer) effective(i int) float64 {
	sg := &s.sigs[i]
	rank := 0
	for j := range s.sigs {
		o := &s.sigs[j]
		if j != i && o.kind == sg.kind && (o.risk > sg.risk || (o.risk == sg.risk && j < i)) {
			rank++
		}
	}
	if rank == 0 {
		return sg.risk
	}
	return sg.risk * math.Pow(s.m.cfg.Repeat, float64(rank))
}

// multiplier counts the kinds of evidence holding at least MinKindRisk.
func (s *Scorer) multiplier() float64 {
	var kinds int
	for i, sg := range s.sigs {
		seen := false
		for _, p := range s.sigs[:i] {
			if p.kind == sg.kind {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		var k float64
		for j := i; j < len(s.sigs); j++ {
			if s.sigs[j].kind == sg.kind {
				k += s.effective(j)
			}
		}
		if k >= s.m.cfg.MinKindRisk {
			kinds++
		}
	}
	kinds = min(kinds, s.m.cfg.MaxKinds)
	if kinds <= 1 {
		return 1
	}
	return 1 + s.m.cfg.DiversityBonus*float64(kinds-1)
}

// Parts says how the risk of the last Add is made up, largest first.
func (s *Scorer) Parts() []engine.RiskPart {
	ps := make([]engine.RiskPart, 0, len(s.sigs))
	for i, sg := range s.sigs {
		ps = append(ps, engine.RiskPart{Rule: sg.rule, Risk: math.Round(s.effective(i)*s.mult*10) / 10})
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Risk != ps[j].Risk {
			return ps[i].Risk > ps[j].Risk
		}
		return ps[i].Rule < ps[j].Rule
	})
	return ps
}
