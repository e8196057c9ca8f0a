package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// RiskConfig parameterises the default scorer: a sum of alert risk points
// that halves every HalfLife, opening a case at CaseThreshold or at once on a
// critical alert.
type RiskConfig struct {
	HalfLife      time.Duration `yaml:"half_life"`
	CaseThreshold float64       `yaml:"case_threshold"`
}

func (c RiskConfig) withDefaults() RiskConfig {
	if c.HalfLife <= 0 {
		c.HalfLife = 72 * time.Hour
	}
	if c.CaseThreshold <= 0 {
		c.CaseThreshold = 50
	}
	return c
}

type decayScorer struct {
	cfg  RiskConfig
	risk float64
	at   time.Time
}

func newDecayScorer(cfg RiskConfig) *decayScorer { return &decayScorer{cfg: cfg} }

func (s *decayScorer) Add(a *Alert, at time.Time) (float64, bool) {
	if !s.at.IsZero() && at.After(s.at) {
		s.risk *= math.Exp2(-float64(at.Sub(s.at)) / float64(s.cfg.HalfLife))
	}
	if at.After(s.at) {
		s.at = at
	}
	s.risk += a.Risk
	return s.risk, s.risk >= s.cfg.CaseThreshold || a.Severity == finding.Critical
}

// maxCaseAlerts bounds how many alert ids one case lists; the count in its
// summary stays exact.
const maxCaseAlerts = 1000

// recentAlerts bounds the alerts remembered before a case opens, which become
// the case's first contributing alerts.
const recentAlerts = 32

type recentAlert struct{ id, rule string }

type actorState struct {
	scorer   Scorer
	suppress map[string]time.Time // rule+key -> end of suppression
	pruneAt  int

	recent []recentAlert // alerts since the last case, newest last

	caseID      string
	caseOpened  time.Time
	caseAlerts  []string
	caseCount   int
	caseRules   map[string]int
	caseSev     finding.Severity
	caseWritten int // alert count at the last write
}

func (e *Engine) actor(id string) *actorState {
	st := e.actors[id]
	if st == nil {
		st = &actorState{scorer: e.cfg.NewScorer(), suppress: map[string]time.Time{}, pruneAt: 64}
		e.actors[id] = st
	}
	return st
}

// Actors returns the number of actors with state.
func (e *Engine) Actors() int { return len(e.actors) }

// stageTime is when a detection at the current stage could be known: the
// event's time, or the end of its grace window once settled.
func (e *Engine) stageTime() time.Time {
	if e.settling {
		return e.in.Event.Time.Add(e.cfg.Tickets.Grace)
	}
	return e.in.Event.Time
}

func (e *Engine) alert(a Alert) {
	ev := e.in.Event
	at := e.stageTime()
	st := e.actor(ev.Actor.ID)
	if a.SuppressFor > 0 {
		key := a.Rule + "\x00" + a.Key
		if until, ok := st.suppress[key]; ok && at.Before(until) {
			e.stats.Suppressed++
			return
		}
		st.suppress[key] = at.Add(a.SuppressFor)
		if len(st.suppress) >= st.pruneAt {
			for k, until := range st.suppress {
				if !at.Before(until) {
					delete(st.suppress, k)
				}
			}
			st.pruneAt = max(64, 2*len(st.suppress))
		}
	}
	if len(a.Evidence) == 0 {
		a.Evidence = []string{ev.ID}
	}
	f := &finding.Finding{
		Kind:     finding.KindAlert,
		ID:       finding.ID("al", a.Rule, ev.Actor.ID, a.Evidence[0], a.Key),
		Time:     at,
		Actor:    finding.ActorRef{ID: ev.Actor.ID},
		Rule:     a.Rule,
		Severity: a.Severity,
		Risk:     a.Risk,
		Subjects: a.Subjects,
		Evidence: a.Evidence,
		Summary:  a.Summary,
		Details:  a.Details,
	}
	e.stats.Alerts++
	e.emit(f)

	risk, open := st.scorer.Add(&a, at)
	if st.caseID == "" {
		st.recent = append(st.recent, recentAlert{f.ID, a.Rule})
		if len(st.recent) > recentAlerts {
			st.recent = st.recent[1:]
		}
		if !open {
			return
		}
		st.caseID = finding.ID("case", ev.Actor.ID, f.ID)
		st.caseOpened = at
		st.caseAlerts = make([]string, len(st.recent))
		st.caseRules = map[string]int{}
		for i, r := range st.recent {
			st.caseAlerts[i] = r.id
			st.caseRules[r.rule]++
		}
		st.caseCount = len(st.recent)
		st.recent = nil
		st.caseSev = a.Severity
		e.stats.Cases++
		e.writeCase(ev.Actor.ID, st, at, risk, f)
		return
	}
	if len(st.caseAlerts) < maxCaseAlerts {
		st.caseAlerts = append(st.caseAlerts, f.ID)
	}
	st.caseCount++
	st.caseRules[a.Rule]++
	raised := a.Severity.Rank() > st.caseSev.Rank()
	st.caseSev = finding.Max(st.caseSev, a.Severity)
	// Re-write a growing case when it becomes more severe or its evidence
	// doubles, so sinks see it grow without a line per alert.
	if raised || st.caseCount >= 2*st.caseWritten {
		e.stats.CaseUpdates++
		e.writeCase(ev.Actor.ID, st, at, risk, f)
	}
}

func (e *Engine) writeCase(actor string, st *actorState, at time.Time, risk float64, latest *finding.Finding) {
	st.caseWritten = st.caseCount
	e.emit(&finding.Finding{
		Kind:     finding.KindCase,
		ID:       st.caseID,
		Time:     at,
		Actor:    finding.ActorRef{ID: actor},
		Severity: st.caseSev,
		Risk:     math.Round(risk*10) / 10,
		Status:   "open",
		Alerts:   append([]string(nil), st.caseAlerts...),
		Summary:  caseSummary(actor, st, latest),
	})
}

func caseSummary(actor string, st *actorState, latest *finding.Finding) string {
	rules := make([]string, 0, len(st.caseRules))
	for r := range st.caseRules {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if st.caseRules[rules[i]] != st.caseRules[rules[j]] {
			return st.caseRules[rules[i]] > st.caseRules[rules[j]]
		}
		return rules[i] < rules[j]
	})
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = fmt.Sprintf("%s ×%d", r, st.caseRules[r])
	}
	return fmt.Sprintf("%s: %d alert(s) since %s (%s). Latest: %s",
		actor, st.caseCount, st.caseOpened.UTC().Format("2006-01-02 15:04 MST"), strings.Join(parts, ", "), latest.Summary)
}
