package console

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// MemSource is a Source in memory, fed like a replay sink (SetPerson,
// SetSubject, Ticket, Event) plus AddFinding. It serves tests and small
// demos; the embedded store serves production.
type MemSource struct {
	mu       sync.RWMutex
	people   map[string]event.Person
	subjects map[string]event.Subject
	tickets  []event.TicketChange
	events   []event.Event // in arrival order
	byID     map[string]int
	findings []finding.Finding
	fByID    map[string]int
}

// NewMemSource returns an empty MemSource.
func NewMemSource() *MemSource {
	return &MemSource{
		people:   map[string]event.Person{},
		subjects: map[string]event.Subject{},
		byID:     map[string]int{},
		fByID:    map[string]int{},
	}
}

// SetPerson adds or replaces a roster entry.
func (m *MemSource) SetPerson(p *event.Person) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.people[p.ID] = *p
}

// SetSubject adds or replaces a customer.
func (m *MemSource) SetSubject(s *event.Subject) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subjects[s.ID] = *s
}

// Ticket adds a ticket change.
func (m *MemSource) Ticket(tc *event.TicketChange) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tickets = append(m.tickets, *tc)
}

// Event adds an access event; a repeated id is ignored.
func (m *MemSource) Event(ev *event.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.byID[ev.ID]; dup {
		return
	}
	m.byID[ev.ID] = len(m.events)
	m.events = append(m.events, *ev)
}

// Flush does nothing; it completes the replay sink.
func (m *MemSource) Flush() {}

// AddFinding stores a finding; a case replaces its earlier version.
func (m *MemSource) AddFinding(f *finding.Finding) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.fByID[f.ID]; ok {
		if f.Kind == finding.KindCase {
			g := *f
			// Keep when the case first opened, as the store does.
			if _, ok := g.Details["opened"]; !ok {
				d := make(map[string]any, len(g.Details)+1)
				for k, v := range g.Details {
					d[k] = v
				}
				d["opened"] = caseOpened(&m.findings[i])
				g.Details = d
			}
			m.findings[i] = g
		}
		return
	}
	m.fByID[f.ID] = len(m.findings)
	m.findings = append(m.findings, *f)
}

func (m *MemSource) Cases(context.Context) ([]finding.Finding, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []finding.Finding
	for _, f := range m.findings {
		if f.Kind == finding.KindCase {
			out = append(out, f)
		}
	}
	return out, nil
}

func (m *MemSource) FindingsByID(_ context.Context, ids []string) ([]finding.Finding, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var idx []int
	for _, id := range ids {
		if i, ok := m.fByID[id]; ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx) // in the order first stored, as the store returns them
	idx = slices.Compact(idx)
	out := make([]finding.Finding, len(idx))
	for k, i := range idx {
		out[k] = m.findings[i]
	}
	return out, nil
}

func (m *MemSource) ActorFindings(_ context.Context, actor string, since time.Time) ([]finding.Finding, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []finding.Finding
	for _, f := range m.findings {
		if f.Actor.ID == actor && !f.Time.Before(since) {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func (m *MemSource) AlertCounts(_ context.Context, since time.Time) ([]AlertCount, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	type key struct{ actor, rule string }
	n := map[key]int{}
	for _, f := range m.findings {
		if f.Kind == finding.KindAlert && !f.Time.Before(since) {
			n[key{f.Actor.ID, f.Rule}]++
		}
	}
	out := make([]AlertCount, 0, len(n))
	for k, v := range n {
		out = append(out, AlertCount{Actor: k.actor, Rule: k.rule, N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Actor != out[j].Actor {
			return out[i].Actor < out[j].Actor
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}

func (m *MemSource) Events(_ context.Context, ids []string) ([]event.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var idx []int
	for _, id := range ids {
		if i, ok := m.byID[id]; ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	out := make([]event.Event, len(idx))
	for k, i := range idx {
		out[k] = m.events[i]
	}
	sortEvents(out, false)
	return out, nil
}

func (m *MemSource) ActorEvents(_ context.Context, actor string, from, until time.Time, limit int) ([]event.Event, error) {
	return m.select_(func(e *event.Event) bool { return e.Actor.ID == actor }, from, until, limit), nil
}

func (m *MemSource) SubjectEvents(_ context.Context, subject string, from, until time.Time, limit int) ([]event.Event, error) {
	return m.select_(func(e *event.Event) bool { return e.Subject == subject }, from, until, limit), nil
}

func (m *MemSource) select_(keep func(*event.Event) bool, from, until time.Time, limit int) []event.Event {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []event.Event
	for i := range m.events {
		e := &m.events[i]
		if keep(e) && inRange(e.Time, from, until) {
			out = append(out, *e)
		}
	}
	sortEvents(out, true)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (m *MemSource) Activity(_ context.Context, actors []string, from, until time.Time, bucket time.Duration) ([]Bucket, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	type key struct {
		actor string
		start int64
	}
	acc := map[key]*Bucket{}
	seen := map[key]map[string]bool{}
	want := map[string]bool{}
	for _, a := range actors {
		want[a] = true
	}
	for i := range m.events {
		e := &m.events[i]
		if !want[e.Actor.ID] || !inRange(e.Time, from, until) {
			continue
		}
		k := key{e.Actor.ID, e.Time.UnixNano() / int64(bucket) * int64(bucket)}
		b := acc[k]
		if b == nil {
			b = &Bucket{Actor: k.actor, Start: time.Unix(0, k.start).UTC()}
			acc[k] = b
			seen[k] = map[string]bool{}
		}
		countInto(b, e, seen[k])
	}
	out := make([]Bucket, 0, len(acc))
	for _, b := range acc {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Actor < out[j].Actor
	})
	return out, nil
}

// countInto adds one event to a bucket; seen holds the bucket's customers.
func countInto(b *Bucket, e *event.Event, seen map[string]bool) {
	b.Events++
	if e.Subject == "" {
		return
	}
	b.Accesses++
	if !seen[e.Subject] {
		seen[e.Subject] = true
		b.Customers++
	}
	if e.Action == event.Export || e.Action == event.Reveal {
		b.Bulk++
	}
	if e.Ticket == "" {
		b.NoTicket++
	}
}

func (m *MemSource) ActorSpans(context.Context) ([]ActorSpan, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	spans := map[string]*ActorSpan{}
	for i := range m.events {
		e := &m.events[i]
		s := spans[e.Actor.ID]
		if s == nil {
			s = &ActorSpan{Actor: e.Actor.ID, First: e.Time, Last: e.Time}
			spans[e.Actor.ID] = s
		}
		s.Events++
		if e.Time.Before(s.First) {
			s.First = e.Time
		}
		if e.Time.After(s.Last) {
			s.Last = e.Time
		}
	}
	out := make([]ActorSpan, 0, len(spans))
	for _, s := range spans {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Actor < out[j].Actor })
	return out, nil
}

func (m *MemSource) TicketChanges(_ context.Context, subjects []string) ([]event.TicketChange, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []event.TicketChange
	for _, t := range m.tickets {
		if slices.Contains(subjects, t.Subject) {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func (m *MemSource) People(context.Context) ([]event.Person, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]event.Person, 0, len(m.people))
	for _, p := range m.people {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *MemSource) Subject(_ context.Context, id string) (*event.Subject, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.subjects[id]
	if !ok {
		return nil, nil
	}
	return &s, nil
}

func inRange(t, from, until time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (until.IsZero() || t.Before(until))
}

// sortEvents orders events in arrival order by time, oldest first or
// newest first; events at the same instant keep arrival order (reversed
// for newest first), as the store orders them by ingest sequence.
func sortEvents(evs []event.Event, newestFirst bool) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	if newestFirst {
		slices.Reverse(evs)
	}
}
