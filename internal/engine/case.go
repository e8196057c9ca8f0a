package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
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
// explain it without the event stream. Every actor that alerts remembers a
// few for a week, so it is compact: one string holds the alert's id, its
// summary, and its evidence, subjects and details encoded once as the case
// will render them (a details map costs ten times its JSON), and its time
// is two integers.
type caseAlert struct {
	rule string // the detector's string, shared
	sev  finding.Severity
	// text is id, summary, evidence, subjects, details, ending at ends.
	text string
	ends [4]uint32
	at   stamp
	risk float64
}

// newCaseAlert keeps what a case needs of f. It encodes in scratch, which
// may be nil, and returns it to be used again: the text is copied out at
// its exact size.
func newCaseAlert(f *finding.Finding, scratch []byte) (*caseAlert, []byte) {
	ca := &caseAlert{rule: f.Rule, sev: f.Severity, risk: f.Risk, at: stampOf(f.Time)}
	b := append(scratch[:0], f.ID...)
	ca.ends[0] = uint32(len(b))
	b = append(b, f.Summary...)
	ca.ends[1] = uint32(len(b))
	b = appendStrings(b, f.Evidence)
	ca.ends[2] = uint32(len(b))
	b = appendStrings(b, f.Subjects)
	ca.ends[3] = uint32(len(b))
	if len(f.Details) > 0 {
		// The alert's own line encodes the same map: if it cannot be
		// encoded, that line has already failed, and the case leaves the
		// details out.
		if d, ok := appendDetails(b, f.Details); ok {
			b = d
		} else if d, err := json.Marshal(f.Details); err == nil {
			b = append(b[:ca.ends[3]], d...)
		} else {
			b = b[:ca.ends[3]]
		}
	}
	ca.text = string(b)
	return ca, b
}

func (ca *caseAlert) id() string      { return ca.text[:ca.ends[0]] }
func (ca *caseAlert) summary() string { return ca.text[ca.ends[0]:ca.ends[1]] }

// raw returns the i-th encoded part after the summary (evidence, subjects,
// details), nil if empty so the case leaves it out.
func (ca *caseAlert) raw(i int) json.RawMessage {
	end := len(ca.text)
	if i < 2 {
		end = int(ca.ends[i+2])
	}
	if int(ca.ends[i+1]) == end {
		return nil
	}
	return json.RawMessage(ca.text[ca.ends[i+1]:end])
}

// appendDetails appends m as encoding/json renders it, without its
// reflection, for the values detectors put in details (strings, numbers,
// booleans, times, nested maps); ok is false if m holds another type, or a
// number or time encoding/json writes otherwise or refuses, and the caller
// asks encoding/json.
func appendDetails(b []byte, m map[string]any) (_ []byte, ok bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var room [16]string
	keys := room[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case float64:
			// encoding/json writes exponents outside [1e-6, 1e21) and
			// refuses NaN and infinities.
			if a := math.Abs(v); math.IsNaN(v) || a >= 1e21 || a != 0 && a < 1e-6 {
				return b, false
			}
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
		case time.Time:
			// Time.MarshalJSON refuses years past 9999 and zones of
			// seconds or a day.
			if _, off := v.Zone(); v.Year() < 0 || v.Year() > 9999 || off%60 != 0 || off <= -86400 || off >= 86400 {
				return b, false
			}
			b = append(v.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
		case map[string]any:
			if b, ok = appendDetails(b, v); !ok {
				return b, false
			}
		default:
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendString appends s as encoding/json renders a string.
func appendString(b []byte, s string) []byte {
	if !plainJSON(s) {
		q, _ := json.Marshal(s) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendStrings appends list as encoding/json renders a []string, nothing
// if it is empty (as omitempty leaves it out).
func appendStrings(b []byte, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// plainJSON reports whether encoding/json writes s between quotes as it
// is: printable ASCII that it neither escapes nor HTML-escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
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
	if len(recent) > 0 && recent[0].at.before(stampOf(c.opened)) {
		c.opened = recent[0].at.time()
	}
	return c
}

// add counts one more alert and reports whether it raised the severity.
func (c *openCase) add(ca *caseAlert) bool {
	if len(c.alerts) < maxCaseAlerts {
		c.alerts = append(c.alerts, strings.Clone(ca.id())) // not ca's whole text
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
	lead := sentence(rs[0].strongest.summary())
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
		b.WriteString(strings.TrimPrefix(sentence(r.strongest.summary()), who+" "))
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
	Evidence json.RawMessage  `json:"evidence,omitempty"`
	Subjects json.RawMessage  `json:"subjects,omitempty"`
	Details  json.RawMessage  `json:"details,omitempty"`
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
			ID: ca.id(), Rule: ca.rule, Time: ca.at.time().UTC(), Severity: ca.sev, Risk: ca.risk,
			Summary: ca.summary(), Evidence: ca.raw(0), Subjects: ca.raw(1), Details: ca.raw(2),
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
