package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// maxCaseAlerts bounds how many alert ids one case lists; the count in its
// summary stays exact.
const maxCaseAlerts = 1000

// maxCaseRules bounds how many rules a case explains in its details; the
// rest still count in the summary's tally.
const maxCaseRules = 20

// caseAlert is what a case keeps of one contributing alert: enough to
// explain it without the event stream.
type caseAlert struct {
	id, rule string
	at       time.Time
	sev      finding.Severity
	risk     float64
	summary  string
	evidence []string
	subjects []string
	details  map[string]any
}

func newCaseAlert(f *finding.Finding) *caseAlert {
	return &caseAlert{
		id: f.ID, rule: f.Rule, at: f.Time, sev: f.Severity, risk: f.Risk,
		summary: f.Summary, evidence: owned(f.Evidence), subjects: owned(f.Subjects), details: f.Details,
	}
}

// owned copies a list of event ids or customer ids an alert remembered
// until a case: slices of the events would keep their decoded lines alive.
func owned(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.Clone(s)
	}
	return out
}

// ruleTally is one rule's part in a case: how often it fired, and its
// strongest and latest alert.
type ruleTally struct {
	rule      string
	n         int
	points    float64
	strongest *caseAlert
	latest    *caseAlert
}

// openCase is the state of an actor's open case.
type openCase struct {
	id      string
	opened  time.Time
	alerts  []string
	count   int
	written int // count at the last write
	sev     finding.Severity
	rules   []*ruleTally // in order of first appearance
}

func newCase(actor, alertID string, at time.Time, recent []*caseAlert) *openCase {
	c := &openCase{id: finding.ID("case", actor, alertID), opened: at}
	for _, ca := range recent {
		c.add(ca)
	}
	if len(recent) > 0 && recent[0].at.Before(c.opened) {
		c.opened = recent[0].at
	}
	return c
}

// add counts one more alert and reports whether it raised the severity.
func (c *openCase) add(ca *caseAlert) bool {
	if len(c.alerts) < maxCaseAlerts {
		c.alerts = append(c.alerts, ca.id)
	}
	c.count++
	raised := c.count > 1 && ca.sev.Rank() > c.sev.Rank()
	c.sev = finding.Max(c.sev, ca.sev)
	var t *ruleTally
	for _, r := range c.rules {
		if r.rule == ca.rule {
			t = r
			break
		}
	}
	if t == nil {
		t = &ruleTally{rule: ca.rule}
		c.rules = append(c.rules, t)
	}
	t.n++
	t.points += ca.risk
	if t.strongest == nil || ca.risk > t.strongest.risk || (ca.risk == t.strongest.risk && ca.sev.Rank() > t.strongest.sev.Rank()) {
		t.strongest = ca
	}
	t.latest = ca
	return raised
}

// ranked returns the case's rules, the most telling first: by severity of
// their strongest alert, then its risk, then first appearance.
func (c *openCase) ranked() []*ruleTally {
	rs := append([]*ruleTally(nil), c.rules...)
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i].strongest, rs[j].strongest
		if a.sev.Rank() != b.sev.Rank() {
			return a.sev.Rank() > b.sev.Rank()
		}
		return a.risk > b.risk
	})
	return rs
}

// summary is the case's plain explanation: the strongest evidence in its own
// words, up to two more kinds of evidence, then the tally.
func (c *openCase) summary(actor, who string) string {
	rs := c.ranked()
	var b strings.Builder
	lead := sentence(rs[0].strongest.summary)
	if !strings.HasPrefix(lead, actor) {
		b.WriteString(who)
		b.WriteString(": ")
	}
	b.WriteString(lead)
	b.WriteString(".")
	for i, r := range rs[1:] {
		if i == 2 {
			break
		}
		if i == 0 {
			b.WriteString(" Also: ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimPrefix(sentence(r.strongest.summary), who+" "))
	}
	if len(rs) > 1 {
		b.WriteString(".")
	}
	tally := make([]string, 0, len(c.rules))
	byCount := append([]*ruleTally(nil), c.rules...)
	sort.SliceStable(byCount, func(i, j int) bool { return byCount[i].n > byCount[j].n })
	for _, r := range byCount {
		tally = append(tally, fmt.Sprintf("%s ×%d", r.rule, r.n))
	}
	fmt.Fprintf(&b, " %d alert(s) since %s (%s).", c.count, c.opened.UTC().Format("2006-01-02 15:04 MST"), strings.Join(tally, ", "))
	return b.String()
}

// caseRule and caseContribution are the case details a console charts.
type caseRule struct {
	Rule   string  `json:"rule"`
	Alerts int     `json:"alerts"`
	Points float64 `json:"points"`         // risk points of its alerts, before decay and diminishing returns
	Risk   float64 `json:"risk,omitempty"` // its share of the actor's risk now, if the scorer says
}

type caseContribution struct {
	ID       string           `json:"id"`
	Rule     string           `json:"rule"`
	Time     time.Time        `json:"time"`
	Severity finding.Severity `json:"severity"`
	Risk     float64          `json:"risk"`
	Summary  string           `json:"summary"`
	Evidence []string         `json:"evidence,omitempty"`
	Subjects []string         `json:"subjects,omitempty"`
	Details  map[string]any   `json:"details,omitempty"`
}

func (c *openCase) details(parts []RiskPart) map[string]any {
	rs := c.ranked()
	if len(rs) > maxCaseRules {
		rs = rs[:maxCaseRules]
	}
	share := map[string]float64{}
	for _, p := range parts {
		share[p.Rule] = p.Risk
	}
	rules := make([]caseRule, len(rs))
	var contrib []caseContribution
	add := func(ca *caseAlert) {
		contrib = append(contrib, caseContribution{
			ID: ca.id, Rule: ca.rule, Time: ca.at.UTC(), Severity: ca.sev, Risk: ca.risk,
			Summary: ca.summary, Evidence: ca.evidence, Subjects: ca.subjects, Details: ca.details,
		})
	}
	for i, r := range rs {
		rules[i] = caseRule{Rule: r.rule, Alerts: r.n, Points: round1(r.points), Risk: round1(share[r.rule])}
		add(r.strongest)
		if r.latest != r.strongest {
			add(r.latest)
		}
	}
	return map[string]any{
		"opened":       c.opened.UTC(),
		"alerts_total": c.count,
		"rules":        rules,
		"contributing": contrib,
	}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// sentence trims a summary's final stop so summaries can be joined.
func sentence(s string) string { return strings.TrimRight(strings.TrimSpace(s), ".") }
