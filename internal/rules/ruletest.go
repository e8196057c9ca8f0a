package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// testCase is one example inside a rule: context records, events, and
// whether the rule must alert on the last event.
type testCase struct {
	name      string
	line, col int
	match     bool
	summary   *string
	alerts    *int
	roster    []event.Person
	subjects  []event.Subject
	tickets   []event.TicketChange
	events    []event.Event
}

// tests decodes the rule's examples. Records are written as in the NDJSON
// files (FORMATS.md) with conveniences: an event's id defaults to e1, e2,
// ...; its actor and subject may be a bare id; the test's actor key fills
// in a missing actor; and repeat: {count, every, vary} expands one event
// or ticket change into many.
func (c *compiler) tests() {
	for i, t := range c.spec.Tests {
		path := fmt.Sprintf("tests[%d]", i)
		tc := testCase{name: t.Name, summary: t.Summary, alerts: t.Alerts}
		tc.line, tc.col = c.src.pos(path)
		if t.Name == "" {
			c.errorf(path+".name", "missing: say what the example shows")
			tc.name = fmt.Sprintf("#%d", i+1)
		}
		if t.Match == nil {
			c.errorf(path+".match", "missing: true if the rule must alert on the last event, false if it must not")
		} else {
			tc.match = *t.Match
		}
		if len(t.Events) == 0 {
			c.errorf(path+".events", "missing: at least one event; the last is the one the example is about")
		}
		if t.Summary != nil && !tc.match {
			c.errorf(path+".summary", "a must-not-match example has no summary to check")
		}
		for j, n := range t.Roster {
			p := fmt.Sprintf("%s.roster[%d]", path, j)
			if m := c.record(p, n); m != nil {
				if v, err := decodeRecord(m, event.DecodePerson); err != nil {
					c.errorf(p, "%v", err)
				} else {
					tc.roster = append(tc.roster, v)
				}
			}
		}
		for j, n := range t.Subjects {
			p := fmt.Sprintf("%s.subjects[%d]", path, j)
			if m := c.record(p, n); m != nil {
				if v, err := decodeRecord(m, event.DecodeSubject); err != nil {
					c.errorf(p, "%v", err)
				} else {
					tc.subjects = append(tc.subjects, v)
				}
			}
		}
		for j, n := range t.Tickets {
			p := fmt.Sprintf("%s.tickets[%d]", path, j)
			if m := c.record(p, n); m != nil {
				if v, err := expandTicket(m); err != nil {
					c.errorf(p, "%v", err)
				} else {
					tc.tickets = append(tc.tickets, v...)
				}
			}
		}
		for j, n := range t.Events {
			p := fmt.Sprintf("%s.events[%d]", path, j)
			m := c.record(p, n)
			if m == nil {
				continue
			}
			evs, err := expandEvent(m, t.Actor, len(tc.events))
			if err != nil {
				c.errorf(p, "%v", err)
				continue
			}
			tc.events = append(tc.events, evs...)
		}
		c.rule.tests = append(c.rule.tests, tc)
	}
}

func (c *compiler) record(path string, n ast.Node) map[string]any {
	var v any
	if err := yaml.NodeToValue(n, &v); err != nil {
		c.errorf(path, "%v", err)
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.errorf(path, "a record is a mapping of fields, got %T", v)
		return nil
	}
	return m
}

func decodeRecord[T any](m map[string]any, decode func([]byte) (T, error)) (T, error) {
	b, err := json.Marshal(m)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(b)
}

func expandEvent(m map[string]any, actor string, n int) ([]event.Event, error) {
	for _, k := range []string{"actor", "subject"} {
		if s, ok := m[k].(string); ok {
			m[k] = map[string]any{"id": s}
		}
	}
	if _, ok := m["actor"]; !ok && actor != "" {
		m["actor"] = map[string]any{"id": actor}
	}
	if _, ok := m["id"]; !ok {
		m["id"] = fmt.Sprintf("e%d", n+1)
	}
	return expand(m, event.DecodeEvent, map[string][]string{
		"id": {"id"}, "subject": {"subject", "id"}, "ticket": {"ticket"},
		"device": {"actor", "device"}, "ip": {"actor", "ip"}, "country": {"actor", "country"},
	})
}

func expandTicket(m map[string]any) ([]event.TicketChange, error) {
	return expand(m, event.DecodeTicketChange, map[string][]string{
		"id": {"id"}, "subject": {"subject"}, "assignee": {"assignee"},
	})
}

// expand decodes a record, first expanding repeat: {count, every, vary}
// into count records, every apart, the vary fields suffixed -1, -2, ...
// (ids always are).
func expand[T any](m map[string]any, decode func([]byte) (T, error), varies map[string][]string) ([]T, error) {
	rep, hasRep := m["repeat"]
	delete(m, "repeat")
	if !hasRep {
		v, err := decodeRecord(m, decode)
		if err != nil {
			return nil, err
		}
		return []T{v}, nil
	}
	r, ok := rep.(map[string]any)
	if !ok {
		return nil, errors.New("repeat: want {count: N, every: DURATION, vary: [field, ...]}")
	}
	for k := range r {
		switch k {
		case "count", "every", "vary":
		default:
			return nil, fmt.Errorf("repeat: unknown field %q (want count, every, vary)", k)
		}
	}
	count := toInt(r["count"])
	if count < 1 || count > 10000 {
		return nil, fmt.Errorf("repeat.count: want 1 to 10000, got %v", r["count"])
	}
	var every time.Duration
	if s, ok := r["every"].(string); ok {
		d, err := parseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("repeat.every: %v", err)
		}
		every = d
	} else if r["every"] != nil {
		return nil, errors.New("repeat.every: want a duration like 30s")
	}
	names := make([]string, 0, len(varies))
	for k := range varies {
		names = append(names, k)
	}
	sort.Strings(names)
	paths := [][]string{{"id"}}
	if vs, ok := r["vary"].([]any); ok {
		for _, v := range vs {
			s, _ := v.(string)
			p, ok := varies[s]
			if !ok {
				return nil, fmt.Errorf("repeat.vary: %v is not one of %s", v, strings.Join(names, ", "))
			}
			if s != "id" {
				paths = append(paths, p)
			}
		}
	}
	ts, _ := m["time"].(string)
	t0, err := event.ParseTime("time", ts)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, count)
	for i := range count {
		c := cloneMap(m)
		c["time"] = t0.Add(time.Duration(i) * every).Format(time.RFC3339Nano)
		for _, p := range paths {
			suffix(c, p, fmt.Sprintf("-%d", i+1))
		}
		v, err := decodeRecord(c, decode)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		c[k] = v
	}
	return c
}

// suffix appends s to the string at path in m, if there is one.
func suffix(m map[string]any, path []string, s string) {
	for len(path) > 1 {
		sub, ok := m[path[0]].(map[string]any)
		if !ok {
			return
		}
		m, path = sub, path[1:]
	}
	if v, ok := m[path[0]].(string); ok {
		m[path[0]] = v + s
	}
}

// TestResult is the outcome of one example of one rule.
type TestResult struct {
	Rule, File string
	Test       string
	Line, Col  int
	Match      bool
	// Err says why the example failed; nil if it passed.
	Err error
}

func (t TestResult) String() string {
	where := t.File
	if t.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", t.File, t.Line, t.Col)
	}
	if t.Err == nil {
		return fmt.Sprintf("ok   %s: %s: %s", where, t.Rule, t.Test)
	}
	return fmt.Sprintf("FAIL %s: %s: %s: %v", where, t.Rule, t.Test, t.Err)
}

// Test runs every rule's examples through a real engine, each example on
// its own with only its rule, with the given ticket windows.
func (p *Pack) Test(w engine.Windows) []TestResult {
	var out []TestResult
	for _, r := range p.rules {
		for i := range r.tests {
			tc := &r.tests[i]
			out = append(out, TestResult{Rule: r.ID, File: r.File, Test: tc.name, Line: tc.line, Col: tc.col, Match: tc.match,
				Err: p.only(r).runTest(r, tc, w)})
		}
	}
	return out
}

func (p *Pack) runTest(r *Rule, tc *testCase, w engine.Windows) error {
	var alerts []*finding.Finding
	var eng *engine.Engine
	ev := NewEvaluator(p, func(id string) *event.Person { return eng.Person(id) })
	var runErrs []string
	ev.OnError(func(_ string, err error) { runErrs = append(runErrs, err.Error()) })
	cfg := engine.Config{Tickets: w}
	imm, settled := p.Stages()
	if imm {
		cfg.Immediate = []engine.Detector{ev.Immediate()}
	}
	if settled {
		cfg.Settled = []engine.Detector{ev.Settled()}
	}
	eng = engine.New(cfg, func(f *finding.Finding) {
		if f.Kind == finding.KindAlert && f.Rule == r.ID {
			alerts = append(alerts, f)
		}
	})
	for i := range tc.roster {
		eng.SetPerson(&tc.roster[i])
	}
	for i := range tc.subjects {
		eng.SetSubject(&tc.subjects[i])
	}
	// Merge as a replay does: by time, a ticket change before an event at
	// the same instant.
	type item struct {
		at time.Time
		tc *event.TicketChange
		ev *event.Event
	}
	var items []item
	for i := range tc.tickets {
		items = append(items, item{at: tc.tickets[i].Time, tc: &tc.tickets[i]})
	}
	for i := range tc.events {
		items = append(items, item{at: tc.events[i].Time, ev: &tc.events[i]})
	}
	sort.SliceStable(items, func(i, j int) bool {
		if !items[i].at.Equal(items[j].at) {
			return items[i].at.Before(items[j].at)
		}
		return items[i].tc != nil && items[j].tc == nil
	})
	for _, it := range items {
		if it.tc != nil {
			eng.Ticket(it.tc)
		} else {
			eng.Event(it.ev)
		}
	}
	eng.Flush()

	if len(runErrs) > 0 {
		return fmt.Errorf("run-time error: %s", strings.Join(runErrs, "; "))
	}
	last := tc.events[len(tc.events)-1].ID
	var onLast []*finding.Finding
	for _, a := range alerts {
		if len(a.Evidence) > 0 && a.Evidence[0] == last {
			onLast = append(onLast, a)
		}
	}
	switch {
	case tc.match && len(onLast) == 0:
		msg := fmt.Sprintf("must match, but the rule did not alert on the last event %s", last)
		if len(alerts) > 0 {
			msg += fmt.Sprintf(" (it alerted on %s instead)", alerts[0].Evidence[0])
		}
		return errors.New(msg)
	case !tc.match && len(onLast) > 0:
		return fmt.Errorf("must not match, but the rule alerted on the last event %s: %s", last, onLast[0].Summary)
	}
	if tc.summary != nil && onLast[0].Summary != strings.TrimSpace(*tc.summary) {
		return fmt.Errorf("summary\n  got:  %s\n  want: %s", onLast[0].Summary, strings.TrimSpace(*tc.summary))
	}
	if tc.alerts != nil && len(alerts) != *tc.alerts {
		return fmt.Errorf("want %d alert(s) in all, got %d", *tc.alerts, len(alerts))
	}
	return nil
}

// Lint loads the rule files of fsys like Load and also holds them to the
// pack's own standard: every rule has at least one must-match and one
// must-not-match example. It returns every problem found.
func Lint(fsys fs.FS, prefix string) Errors {
	rs, errs := compileFS(fsys, prefix)
	for _, r := range rs {
		var yes, no bool
		for _, t := range r.tests {
			yes = yes || t.match
			no = no || !t.match
		}
		if !yes {
			errs = append(errs, Error{File: r.File, Line: r.Line, Col: r.Col, Path: "tests", Msg: "no must-match example (match: true)"})
		}
		if !no {
			errs = append(errs, Error{File: r.File, Line: r.Line, Col: r.Col, Path: "tests", Msg: "no must-not-match example (match: false)"})
		}
	}
	errs.sort()
	return errs
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case uint64:
		return int(min(n, 1<<31))
	case float64:
		if n == float64(int(n)) {
			return int(n)
		}
	}
	return -1
}
