// Package eval measures detection quality: it joins a replay's findings with
// the ground truth a simulation wrote (labels.json) and the roster, and
// reports per insider scenario and overall the recall, the precision at actor
// level, the false cases per 1,000 agents per week, the time to detect and
// the alert and case load per day.
package eval

import (
	"slices"
	"sort"
	"time"

	"github.com/custos-io/custos/internal/sim"
)

// Finding is what the evaluation needs of a finding (FORMATS.md section 6).
type Finding struct {
	Kind  string    `json:"kind"`
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	Rule  string    `json:"rule,omitempty"`
	// Subjects are an alert's customers; Alerts a case's alert ids.
	Subjects []string `json:"subjects,omitempty"`
	Alerts   []string `json:"alerts,omitempty"`
}

// Person is what the evaluation needs of a roster entry.
type Person struct {
	ID, Role, Team string
}

// Input is one evaluated run: a simulation's labels, its roster and the
// findings of a replay over it.
type Input struct {
	Name     string // e.g. the directory
	Labels   *sim.Labels
	Roster   []Person
	Findings []Finding
}

// Metrics are the figures of one run, one scenario, or several runs pooled.
type Metrics struct {
	Insiders int `json:"insiders"`
	Detected int `json:"detected"`
	// Recall is Detected / Insiders: insiders with a case at or after their
	// scenario's start.
	Recall float64 `json:"recall"`
	// OnTarget counts the detections whose case holds an alert, dated at or
	// after the start, naming one of the scenario's target customers: the
	// case is about the scenario, not a noise case that happened to grow.
	OnTarget int `json:"detected_on_target"`
	// ActorsWithCases counts actors with any case; TrueActors those of them
	// that are detected insiders. Precision is TrueActors / ActorsWithCases.
	ActorsWithCases int     `json:"actors_with_cases"`
	TrueActors      int     `json:"true_actors"`
	Precision       float64 `json:"precision"`
	// FalseCases are cases opened on actors who are not insiders, or on an
	// insider before its scenario started.
	FalseCases int `json:"false_cases"`
	// AgentWeeks is roster size × days / 7.
	AgentWeeks              float64 `json:"agent_weeks"`
	FalseCasesPer1kAgentWks float64 `json:"false_cases_per_1k_agent_weeks"`
	// Time to detect (case time - scenario start) over detected insiders,
	// in seconds; -1 when nothing was detected.
	MedianTTD float64 `json:"median_ttd_seconds"`
	WorstTTD  float64 `json:"worst_ttd_seconds"`
	Alerts    int     `json:"alerts"`
	Cases     int     `json:"cases"`
	Days      int     `json:"days"`
	// AlertsPerDay and CasesPerDay are the load on the analysts: alerts and
	// newly opened cases per simulated day.
	AlertsPerDay float64 `json:"alerts_per_day"`
	CasesPerDay  float64 `json:"cases_per_day"`

	ttds []float64
}

// ScenarioResult is one scenario's figures and what caught or missed it.
type ScenarioResult struct {
	Scenario  string  `json:"scenario"`
	Insiders  int     `json:"insiders"`
	Detected  int     `json:"detected"`
	Recall    float64 `json:"recall"`
	OnTarget  int     `json:"detected_on_target"`
	MedianTTD float64 `json:"median_ttd_seconds"`
	WorstTTD  float64 `json:"worst_ttd_seconds"`
	// CaughtBy counts the rules of the alerts, dated at or after the start,
	// in the case line that detected each insider.
	CaughtBy []Count `json:"caught_by,omitempty"`
	// Missed lists the undetected insiders (run name and actor).
	Missed []string `json:"missed,omitempty"`

	ttds []float64
}

// Count is a named count; Of, where given, is the population it is out of.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Of    int    `json:"of,omitempty"`
}

// InsiderResult is the outcome for one labelled insider.
type InsiderResult struct {
	Run      string    `json:"run"`
	Actor    string    `json:"actor"`
	Scenario string    `json:"scenario"`
	Start    time.Time `json:"start"`
	Detected bool      `json:"detected"`
	// DetectedAt is the first case line on the actor at or after Start.
	DetectedAt *time.Time `json:"detected_at,omitempty"`
	TTD        float64    `json:"ttd_seconds,omitempty"`
	OnTarget   bool       `json:"on_target,omitempty"`
	// PriorCase: the actor already had a case before the scenario started.
	PriorCase bool `json:"prior_case,omitempty"`
}

// RunResult is one run's overall figures.
type RunResult struct {
	Name string `json:"name"`
	Seed uint64 `json:"seed"`
	Metrics
}

// Report is an evaluation of one or more runs; Overall and Scenarios pool
// every run (sums of counts, TTDs over all detected insiders).
type Report struct {
	Engine    string           `json:"engine"`
	Runs      []RunResult      `json:"runs"`
	Overall   Metrics          `json:"overall"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Insiders  []InsiderResult  `json:"insiders"`
	// FalseByTrap counts the actors with false cases by the benign trap or
	// role that works without tickets of its own ("none" if neither), out of
	// all actors with that trap or role: a trap many actors have is not
	// guilty because it shows up often.
	FalseByTrap []Count `json:"false_by_trap"`
	// FalseRules counts the rules of the alerts in false cases.
	FalseRules []Count `json:"false_rules"`
}

type caseInfo struct {
	id     string
	actor  string
	opened time.Time
	lines  []Finding // in input order
}

// Evaluate scores the runs and pools them. engine names what produced the
// findings, for the report.
func Evaluate(engine string, runs []Input) *Report {
	rep := &Report{Engine: engine}
	byScenario := map[string]*ScenarioResult{}
	caughtBy := map[string]map[string]int{}
	falseTrap := map[string]int{}
	trapOf := map[string]int{}
	falseRule := map[string]int{}
	var all Metrics
	for _, in := range runs {
		m := evaluateRun(in, rep, byScenario, caughtBy, falseTrap, trapOf, falseRule)
		rep.Runs = append(rep.Runs, RunResult{Name: in.Name, Seed: in.Labels.Seed, Metrics: m})
		all.add(&m)
	}
	all.finish()
	rep.Overall = all
	for _, name := range scenarioOrder(byScenario) {
		s := byScenario[name]
		s.Recall = ratio(s.Detected, s.Insiders)
		s.MedianTTD, s.WorstTTD = median(s.ttds), worst(s.ttds)
		s.CaughtBy = sortedCounts(caughtBy[name])
		rep.Scenarios = append(rep.Scenarios, *s)
	}
	rep.FalseByTrap = sortedCounts(falseTrap)
	for i := range rep.FalseByTrap {
		rep.FalseByTrap[i].Of = trapOf[rep.FalseByTrap[i].Name]
	}
	rep.FalseRules = sortedCounts(falseRule)
	return rep
}

func evaluateRun(in Input, rep *Report, byScenario map[string]*ScenarioResult, caughtBy map[string]map[string]int,
	falseTrap, trapOf, falseRule map[string]int) Metrics {
	l := in.Labels
	m := Metrics{Days: l.Days, Insiders: len(l.Insiders)}
	m.AgentWeeks = float64(len(in.Roster)) * float64(l.Days) / 7

	alertRule := map[string]string{}
	alertTime := map[string]time.Time{}
	alertSubjects := map[string][]string{}
	cases := map[string]*caseInfo{}
	var caseOrder []*caseInfo
	byActor := map[string][]*caseInfo{}
	for _, f := range in.Findings {
		switch f.Kind {
		case "alert":
			m.Alerts++
			alertRule[f.ID] = f.Rule
			alertTime[f.ID] = f.Time
			if len(f.Subjects) > 0 {
				alertSubjects[f.ID] = f.Subjects
			}
		case "case":
			c := cases[f.ID]
			if c == nil {
				c = &caseInfo{id: f.ID, actor: f.Actor, opened: f.Time}
				cases[f.ID] = c
				caseOrder = append(caseOrder, c)
				byActor[f.Actor] = append(byActor[f.Actor], c)
			}
			c.lines = append(c.lines, f)
		}
	}
	m.Cases = len(caseOrder)

	// An actor may carry several labels in hand-made inputs; the earliest
	// start decides what counts as a false case.
	starts := map[string]time.Time{}
	for _, ins := range l.Insiders {
		if s, ok := starts[ins.Actor]; !ok || ins.Start.Before(s) {
			starts[ins.Actor] = ins.Start
		}
	}
	detectedActor := map[string]bool{}
	for _, ins := range l.Insiders {
		s := byScenario[ins.Scenario]
		if s == nil {
			s = &ScenarioResult{Scenario: ins.Scenario}
			byScenario[ins.Scenario] = s
		}
		s.Insiders++
		res := InsiderResult{Run: in.Name, Actor: ins.Actor, Scenario: ins.Scenario, Start: ins.Start}
		var hit *Finding
		for _, c := range byActor[ins.Actor] {
			if c.opened.Before(ins.Start) {
				res.PriorCase = true
			}
			for i := range c.lines {
				f := &c.lines[i]
				if !f.Time.Before(ins.Start) && (hit == nil || f.Time.Before(hit.Time)) {
					hit = f
					break
				}
			}
		}
		if hit != nil {
			res.Detected = true
			at := hit.Time
			res.DetectedAt = &at
			res.TTD = at.Sub(ins.Start).Seconds()
			m.Detected++
			m.ttds = append(m.ttds, res.TTD)
			s.Detected++
			s.ttds = append(s.ttds, res.TTD)
			detectedActor[ins.Actor] = true
			if caughtBy[ins.Scenario] == nil {
				caughtBy[ins.Scenario] = map[string]int{}
			}
			for _, id := range hit.Alerts {
				if t, ok := alertTime[id]; ok && !t.Before(ins.Start) {
					caughtBy[ins.Scenario][alertRule[id]]++
					for _, c := range alertSubjects[id] {
						res.OnTarget = res.OnTarget || slices.Contains(ins.Targets, c)
					}
				}
			}
			if res.OnTarget {
				m.OnTarget++
				s.OnTarget++
			}
		} else {
			s.Missed = append(s.Missed, in.Name+":"+ins.Actor)
		}
		rep.Insiders = append(rep.Insiders, res)
	}

	people := map[string]Person{}
	for _, p := range in.Roster {
		people[p.ID] = p
	}
	traps := map[string][]string{}
	for _, b := range l.Benign {
		if !slices.Contains(traps[b.Actor], b.Trap) {
			traps[b.Actor] = append(traps[b.Actor], b.Trap)
		}
	}
	falseActors := map[string]bool{}
	for _, c := range caseOrder {
		s, insider := starts[c.actor]
		if insider && !c.opened.Before(s) {
			continue
		}
		m.FalseCases++
		for _, f := range c.lines {
			for _, id := range f.Alerts {
				if r, ok := alertRule[id]; ok && !c.opened.Before(alertTime[id]) {
					falseRule[r]++
				}
			}
			break // the first line lists the alerts that opened it
		}
		falseActors[c.actor] = true
	}
	m.ActorsWithCases = len(byActor)
	for a := range byActor {
		if detectedActor[a] {
			m.TrueActors++
		}
	}
	trapsOf := func(actor string) []string {
		ts := slices.Clone(traps[actor])
		switch role := people[actor].Role; role {
		case "qa", "fraud_investigator", "team_lead":
			ts = append(ts, "role:"+role)
		}
		if len(ts) == 0 {
			ts = []string{"none"}
		}
		return ts
	}
	for _, p := range in.Roster {
		if _, insider := starts[p.ID]; insider {
			continue
		}
		for _, t := range trapsOf(p.ID) {
			trapOf[t]++
		}
	}
	for _, a := range sortedKeys(falseActors) {
		if _, insider := starts[a]; insider {
			continue // an insider whose earlier case was noise
		}
		for _, t := range trapsOf(a) {
			falseTrap[t]++
		}
	}
	m.finish()
	return m
}

// add pools o into m.
func (m *Metrics) add(o *Metrics) {
	m.Insiders += o.Insiders
	m.Detected += o.Detected
	m.OnTarget += o.OnTarget
	m.ActorsWithCases += o.ActorsWithCases
	m.TrueActors += o.TrueActors
	m.FalseCases += o.FalseCases
	m.AgentWeeks += o.AgentWeeks
	m.Alerts += o.Alerts
	m.Cases += o.Cases
	m.Days += o.Days
	m.ttds = append(m.ttds, o.ttds...)
}

func (m *Metrics) finish() {
	m.Recall = ratio(m.Detected, m.Insiders)
	m.Precision = ratio(m.TrueActors, m.ActorsWithCases)
	if m.AgentWeeks > 0 {
		m.FalseCasesPer1kAgentWks = float64(m.FalseCases) / (m.AgentWeeks / 1000)
	}
	if m.Days > 0 {
		m.AlertsPerDay = float64(m.Alerts) / float64(m.Days)
		m.CasesPerDay = float64(m.Cases) / float64(m.Days)
	}
	m.MedianTTD, m.WorstTTD = median(m.ttds), worst(m.ttds)
}

// ratio is a/b, or 1 when there is nothing to find (b == 0): no insiders
// missed, no cases wrong.
func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func worst(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	return slices.Max(v)
}

func sortedCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Name: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// scenarioOrder lists the scenarios seen: the simulator's order first, then
// any others by name.
func scenarioOrder(m map[string]*ScenarioResult) []string {
	var out []string
	for _, n := range sim.ScenarioNames {
		if _, ok := m[n]; ok {
			out = append(out, n)
		}
	}
	var rest []string
	for n := range m {
		if !slices.Contains(sim.ScenarioNames, n) {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
