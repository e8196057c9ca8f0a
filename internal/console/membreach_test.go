package console

import (
	"context"
	"slices"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/event"
)

// memBreach reads a MemSource as the breach package reads the store, so
// the console's unit tests run the breach package's own code as the
// store-backed console does.
type memBreach struct{ m *MemSource }

func (m *MemSource) BreachSource() breach.Source { return memBreach{m} }

func (b memBreach) each(w breach.Window, keep func(*event.Event) bool, fn func(*event.Event) error) error {
	b.m.mu.RLock()
	evs := make([]event.Event, 0)
	for i := range b.m.events {
		if e := &b.m.events[i]; keep(e) && w.Contains(e.Time) {
			evs = append(evs, *e)
		}
	}
	b.m.mu.RUnlock()
	sortEvents(evs, false)
	for i := range evs {
		if err := fn(&evs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (b memBreach) EachActorEvent(_ context.Context, actor string, w breach.Window, fn func(*event.Event) error) error {
	return b.each(w, func(e *event.Event) bool { return e.Actor.ID == actor }, fn)
}

func (b memBreach) EachSubjectEvent(_ context.Context, subjects []string, w breach.Window, fn func(*event.Event) error) error {
	return b.each(w, func(e *event.Event) bool { return e.Subject != "" && slices.Contains(subjects, e.Subject) }, fn)
}

func (b memBreach) TicketChanges(_ context.Context, subjects, ids []string, fn func(*event.TicketChange) error) error {
	b.m.mu.RLock()
	var tcs []event.TicketChange
	for _, t := range b.m.tickets {
		if slices.Contains(subjects, t.Subject) || slices.Contains(ids, t.ID) {
			tcs = append(tcs, t)
		}
	}
	b.m.mu.RUnlock()
	slices.SortStableFunc(tcs, func(a, b event.TicketChange) int { return a.Time.Compare(b.Time) })
	for i := range tcs {
		if err := fn(&tcs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (b memBreach) People(ctx context.Context, fn func(*event.Person) error) error {
	ps, _ := b.m.People(ctx)
	for i := range ps {
		if err := fn(&ps[i]); err != nil {
			return err
		}
	}
	return nil
}

func (b memBreach) SubjectRecords(_ context.Context, ids []string) (map[string]*event.Subject, error) {
	b.m.mu.RLock()
	defer b.m.mu.RUnlock()
	out := map[string]*event.Subject{}
	for _, id := range ids {
		if s, ok := b.m.subjects[id]; ok {
			out[id] = &s
		}
	}
	return out, nil
}

// Reach counts exactly what the store counts: distinct customers named by
// any event.
func (b memBreach) Reach(_ context.Context, actors []string, w breach.Window) (map[string]int, int, error) {
	b.m.mu.RLock()
	defer b.m.mu.RUnlock()
	per, all := map[string]map[string]bool{}, map[string]bool{}
	for i := range b.m.events {
		e := &b.m.events[i]
		if e.Subject == "" || !w.Contains(e.Time) {
			continue
		}
		all[e.Subject] = true
		if slices.Contains(actors, e.Actor.ID) {
			if per[e.Actor.ID] == nil {
				per[e.Actor.ID] = map[string]bool{}
			}
			per[e.Actor.ID][e.Subject] = true
		}
	}
	out := map[string]int{}
	for a, s := range per {
		out[a] = len(s)
	}
	return out, len(all), nil
}

func (memBreach) Canaries(context.Context, []string) ([]breach.Canary, error) { return nil, nil }
