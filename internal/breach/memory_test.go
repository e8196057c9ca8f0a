package breach

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/custos-io/custos/internal/event"
)

// memory is an in-memory source with the store's semantics, for tests.
type memory struct {
	events   []*event.Event
	tickets  []*event.TicketChange
	people   []*event.Person
	subjects map[string]*event.Subject
	canaries map[string]Canary
}

func newMemory() *memory {
	return &memory{subjects: map[string]*event.Subject{}, canaries: map[string]Canary{}}
}

// loadDir reads a replay directory (FORMATS.md section 5).
func loadDir(t *testing.T, dir string) *memory {
	t.Helper()
	m := newMemory()
	read := func(name string, line func([]byte) error) {
		f, err := os.Open(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		err = event.Lines(f, func(n int, l []byte, _ bool) error {
			if err := line(l); err != nil {
				t.Logf("%s:%d: skipped: %v", name, n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	read("roster.ndjson", func(l []byte) error {
		p, err := event.DecodePerson(l)
		if err == nil {
			m.people = append(m.people, &p)
		}
		return err
	})
	read("subjects.ndjson", func(l []byte) error {
		s, err := event.DecodeSubject(l)
		if err == nil {
			m.subjects[s.ID] = &s
		}
		return err
	})
	read("tickets.ndjson", func(l []byte) error {
		tc, err := event.DecodeTicketChange(l)
		if err == nil {
			m.tickets = append(m.tickets, &tc)
		}
		return err
	})
	read("events.ndjson", func(l []byte) error {
		e, err := event.DecodeEvent(l)
		if err == nil {
			m.events = append(m.events, &e)
		}
		return err
	})
	return m
}

func (m *memory) EachActorEvent(ctx context.Context, actor string, w Window, fn func(*event.Event) error) error {
	var out []*event.Event
	for _, e := range m.events {
		if e.Actor.ID == actor && w.Contains(e.Time) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
	for _, e := range out {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (m *memory) EachSubjectEvent(ctx context.Context, subjects []string, w Window, fn func(*event.Event) error) error {
	// Reverse insertion order: callers must not rely on any order.
	for i := len(m.events) - 1; i >= 0; i-- {
		e := m.events[i]
		if e.Subject != "" && slices.Contains(subjects, e.Subject) && w.Contains(e.Time) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memory) TicketChanges(ctx context.Context, subjects, ids []string, fn func(*event.TicketChange) error) error {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, tc := range m.tickets {
		if tc.Subject != "" && slices.Contains(subjects, tc.Subject) {
			want[tc.ID] = true
		}
	}
	var out []*event.TicketChange
	for _, tc := range m.tickets {
		if want[tc.ID] {
			out = append(out, tc)
		}
	}
	slices.SortStableFunc(out, func(a, b *event.TicketChange) int { return a.Time.Compare(b.Time) })
	for _, tc := range out {
		if err := fn(tc); err != nil {
			return err
		}
	}
	return nil
}

func (m *memory) People(ctx context.Context, fn func(*event.Person) error) error {
	ps := slices.Clone(m.people)
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	for _, p := range ps {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (m *memory) SubjectRecords(ctx context.Context, ids []string) (map[string]*event.Subject, error) {
	out := map[string]*event.Subject{}
	for _, id := range ids {
		if s := m.subjects[id]; s != nil {
			out[id] = s
		}
	}
	return out, nil
}

// Reach counts exactly: the store may approximate, the tests must not.
func (m *memory) Reach(ctx context.Context, actors []string, w Window) (map[string]int, int, error) {
	per := map[string]map[string]bool{}
	all := map[string]bool{}
	for _, e := range m.events {
		if e.Subject == "" || !w.Contains(e.Time) {
			continue
		}
		all[e.Subject] = true
		if per[e.Actor.ID] == nil {
			per[e.Actor.ID] = map[string]bool{}
		}
		per[e.Actor.ID][e.Subject] = true
	}
	out := map[string]int{}
	for _, a := range actors {
		out[a] = len(per[a])
	}
	return out, len(all), nil
}

func (m *memory) PutCanaries(ctx context.Context, cs []Canary, subs []*event.Subject) error {
	for _, c := range cs {
		m.canaries[c.Subject] = c
	}
	for _, s := range subs {
		m.subjects[s.ID] = s
	}
	return nil
}

func (m *memory) Canaries(ctx context.Context, ids []string) ([]Canary, error) {
	var out []Canary
	if ids == nil {
		ids = sortedKeys(m.canaries)
	}
	for _, id := range ids {
		if c, ok := m.canaries[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}
