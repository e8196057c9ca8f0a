package engine

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
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

type actorState struct {
	// id is an owned copy of the actor's id, the one its findings carry: a
	// sink that keeps it (replay's per-rule report) must not keep the
	// decoded line of the event it came from.
	id     string
	scorer Scorer
	// suppress lists the rules and keys whose repeats are dropped, and
	// until when; nil for most actors, a few entries for the rest, so a
	// list searched in full costs less than a map and its key strings.
	// An actor with more live suppressions than maxListed (one harvesting
	// customers) has them in suppressMany instead.
	suppress     []suppression
	suppressMany *suppressMap

	// recent holds the alerts since the last case that may still contribute
	// to one, a few per rule (see remember); nil for most actors.
	recent []*caseAlert
	c      *openCase // nil until a case opens
}

func (e *Engine) actor(id string) *actorState {
	st := e.actors[id]
	if st == nil {
		st = &actorState{id: strings.Clone(id), scorer: e.cfg.NewScorer()}
		e.actors[st.id] = st
	}
	return st
}

// Actors returns the number of actors with state.
func (e *Engine) Actors() int { return len(e.actors) }

// stageTime is when a detection at a stage could be known: the event's
// time, or the end of its grace window once settled; now without an event.
func (e *Engine) stageTime(ev *event.Event, settled bool, now time.Time) time.Time {
	if ev == nil {
		return now
	}
	if settled {
		return ev.Time.Add(e.cfg.Tickets.Grace)
	}
	return ev.Time
}

// handle turns a detector's alert into a finding, subject to suppression,
// and adds it to the actor's risk and case. ev is the event the detector was
// looking at (nil if none), settled its stage, now the watermark then.
func (e *Engine) handle(a Alert, ev *event.Event, settled bool, now time.Time) {
	if a.Actor == "" {
		if ev == nil {
			return // nothing to attribute it to
		}
		a.Actor = ev.Actor.ID
	}
	at := a.At
	if at.IsZero() {
		at = e.stageTime(ev, settled, now)
	}
	st := e.actor(a.Actor)
	a.Actor = st.id
	if a.SuppressFor > 0 && st.suppressed(a.Rule, a.Key, stampOf(at), stampOf(at.Add(a.SuppressFor))) {
		e.stats.Suppressed++
		return
	}
	if a.Summary == "" && a.Render != nil {
		a.Summary = a.Render()
	}
	if len(a.Evidence) == 0 && ev != nil {
		a.Evidence = []string{ev.ID}
	}
	first := ""
	if len(a.Evidence) > 0 {
		first = a.Evidence[0]
	}
	f := &finding.Finding{
		Kind:     finding.KindAlert,
		ID:       finding.ID("al", a.Rule, a.Actor, first, a.Key),
		Time:     at,
		Actor:    finding.ActorRef{ID: a.Actor},
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
	ca, scratch := newCaseAlert(f, e.caseScratch)
	e.caseScratch = scratch
	if st.c == nil {
		st.remember(ca, stampOf(at.Add(-e.cfg.CaseWindow)))
		if !open {
			return
		}
		st.c = newCase(a.Actor, f.ID, at, st.recent)
		st.recent = nil
		e.stats.Cases++
		e.writeCase(a.Actor, st, at, risk)
		return
	}
	raised := st.c.add(ca)
	// Re-write a growing case when it becomes more severe or its evidence
	// doubles, so sinks see it grow without a line per alert.
	if raised || st.c.count >= 2*st.c.written {
		e.stats.CaseUpdates++
		e.writeCase(a.Actor, st, at, risk)
	}
}

// suppression drops an actor's alerts of rule and key until a time.
type suppression struct {
	suppressKey
	until stamp
}

type suppressKey struct {
	rule, key string // rule is the detector's string; key an owned copy
}

// maxListed is the most live suppressions an actor keeps in a list.
const maxListed = 32

// suppressed reports whether rule and key are suppressed at now; if not,
// it suppresses them until until. Which expired entries are still kept
// changes nothing but memory: they are dropped when the list would grow,
// or the map has doubled.
func (st *actorState) suppressed(rule, key string, now, until stamp) bool {
	if st.suppressMany != nil {
		return st.suppressedMany(rule, key, now, until)
	}
	for i := range st.suppress {
		s := &st.suppress[i]
		if s.rule == rule && s.key == key {
			if now.before(s.until) {
				return true
			}
			s.until = until
			return false
		}
	}
	if len(st.suppress) == cap(st.suppress) {
		st.suppress = slices.DeleteFunc(st.suppress, func(s suppression) bool { return !now.before(s.until) })
		if len(st.suppress) >= maxListed {
			st.suppressMany = &suppressMap{m: make(map[suppressKey]stamp, 2*len(st.suppress)), pruneAt: len(st.suppress)}
			for _, s := range st.suppress {
				st.suppressMany.m[s.suppressKey] = s.until
			}
			st.suppress = nil
			return st.suppressedMany(rule, key, now, until)
		}
	}
	st.suppress = append(st.suppress, suppression{suppressKey{rule, strings.Clone(key)}, until})
	return false
}

// suppressMap holds the suppressions of an actor with many.
type suppressMap struct {
	m       map[suppressKey]stamp
	pruneAt int // the map's size after its last pruning
}

func (st *actorState) suppressedMany(rule, key string, now, until stamp) bool {
	sm := st.suppressMany
	if u, ok := sm.m[suppressKey{rule, key}]; ok && now.before(u) {
		return true
	}
	// Cloned even to update an entry: the map stores the key it is given.
	sm.m[suppressKey{rule, strings.Clone(key)}] = until
	if len(sm.m) >= 2*sm.pruneAt {
		maps.DeleteFunc(sm.m, func(_ suppressKey, u stamp) bool { return !now.before(u) })
		sm.pruneAt = max(maxListed, len(sm.m))
	}
	return false
}

// stamp is an instant as two integers: half a time.Time's size, and no
// location pointer, in state kept per actor and per pending access.
type stamp struct {
	sec  int64
	nsec int32
}

func stampOf(t time.Time) stamp { return stamp{t.Unix(), int32(t.Nanosecond())} }

func (s stamp) before(t stamp) bool { return s.sec < t.sec || s.sec == t.sec && s.nsec < t.nsec }

func (s stamp) time() time.Time { return time.Unix(s.sec, int64(s.nsec)) }

// recentPerRule and recentMax bound the alerts an actor remembers before a
// case opens: the latest few of each rule, so a habitual low-risk rule cannot
// push out the one anomaly that explains the case.
const (
	recentPerRule = 4
	recentMax     = 16
)

// remember keeps ca among the actor's recent alerts, dropping those older
// than horizon, the oldest of ca's rule beyond recentPerRule, and the oldest
// overall beyond recentMax.
func (st *actorState) remember(ca *caseAlert, horizon stamp) {
	kept := st.recent[:0]
	same := 0
	for i := len(st.recent) - 1; i >= 0; i-- {
		if st.recent[i].rule == ca.rule {
			same++
		}
	}
	for _, r := range st.recent {
		switch {
		case r.at.before(horizon):
			continue
		case r.rule == ca.rule && same >= recentPerRule:
			same--
			continue
		}
		kept = append(kept, r)
	}
	clear(st.recent[len(kept):])
	st.recent = append(kept, ca)
	if n := len(st.recent) - recentMax; n > 0 {
		copy(st.recent, st.recent[n:])
		clear(st.recent[len(st.recent)-n:])
		st.recent = st.recent[:len(st.recent)-n]
	}
}

func (e *Engine) writeCase(actor string, st *actorState, at time.Time, risk float64) {
	c := st.c
	c.written = c.count
	var parts []RiskPart
	if x, ok := st.scorer.(RiskExplainer); ok {
		parts = x.Parts()
	}
	e.emit(&finding.Finding{
		Kind:     finding.KindCase,
		ID:       c.id,
		Time:     at,
		Actor:    finding.ActorRef{ID: actor},
		Severity: c.sev,
		Risk:     math.Round(risk*10) / 10,
		Status:   "open",
		Alerts:   append([]string(nil), c.alerts...),
		Summary:  c.summary(actor, e.describe(actor)),
		Details:  c.details(parts),
	})
}

// describe names an actor for a case summary, with Config.Describe if set.
func (e *Engine) describe(actor string) string {
	if e.cfg.Describe == nil {
		return actor
	}
	return e.cfg.Describe(actor, e.Person(actor))
}
