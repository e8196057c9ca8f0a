package console

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// maxBreachEvents bounds the events one actor or customer contributes to a
// breach query answered from a Source; a query that reaches it says so.
const maxBreachEvents = 200_000

// SourceBreach answers exposure and attribution from a Source's events. It
// is the default until a dedicated implementation is configured.
type SourceBreach struct{ Src Source }

// Exposure lists, per actor and customer, what was seen.
func (b SourceBreach) Exposure(ctx context.Context, q ExposureQuery) ([]ExposureRow, error) {
	var out []ExposureRow
	for _, actor := range q.Actors {
		evs, err := b.Src.ActorEvents(ctx, actor, q.From, q.Until, maxBreachEvents)
		if err != nil {
			return nil, err
		}
		if len(evs) == maxBreachEvents {
			return nil, fmt.Errorf("exposure of %s: more than %d events; narrow the dates", actor, maxBreachEvents)
		}
		rows := map[string]*ExposureRow{}
		for i := range evs {
			e := &evs[i]
			if e.Subject == "" || e.Denied {
				continue
			}
			r := rows[e.Subject]
			if r == nil {
				r = &ExposureRow{Subject: e.Subject, Actor: actor, First: e.Time, Last: e.Time}
				rows[e.Subject] = r
			}
			r.Events++
			r.Fields = addAll(r.Fields, e.Fields...)
			if e.Resource != "" {
				r.Resources = addAll(r.Resources, e.Resource)
			}
			r.Actions = addAll(r.Actions, string(e.Action))
			if e.Time.Before(r.First) {
				r.First = e.Time
			}
			if e.Time.After(r.Last) {
				r.Last = e.Time
			}
		}
		for _, r := range rows {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Actor < out[j].Actor
	})
	return out, nil
}

// Attribution ranks the actors who touched the customers, those who saw
// most of them first.
func (b SourceBreach) Attribution(ctx context.Context, q AttributionQuery) ([]AttributionRow, error) {
	type acc struct {
		row  AttributionRow
		seen map[string]bool
	}
	actors := map[string]*acc{}
	for _, s := range q.Subjects {
		evs, err := b.Src.SubjectEvents(ctx, s, q.From, q.Until, maxBreachEvents)
		if err != nil {
			return nil, err
		}
		for i := range evs {
			e := &evs[i]
			if e.Denied || !e.Action.TouchesSubject() {
				continue
			}
			a := actors[e.Actor.ID]
			if a == nil {
				a = &acc{row: AttributionRow{Actor: e.Actor.ID, Of: len(q.Subjects), First: e.Time, Last: e.Time}, seen: map[string]bool{}}
				actors[e.Actor.ID] = a
			}
			a.seen[s] = true
			a.row.Events++
			if e.Time.Before(a.row.First) {
				a.row.First = e.Time
			}
			if e.Time.After(a.row.Last) {
				a.row.Last = e.Time
			}
		}
	}
	out := make([]AttributionRow, 0, len(actors))
	for _, a := range actors {
		a.row.Seen = len(a.seen)
		for _, s := range q.Subjects {
			if !a.seen[s] {
				a.row.Missing = append(a.row.Missing, s)
			}
		}
		out = append(out, a.row)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seen != out[j].Seen {
			return out[i].Seen > out[j].Seen
		}
		if out[i].Events != out[j].Events {
			return out[i].Events > out[j].Events
		}
		return out[i].Actor < out[j].Actor
	})
	return out, nil
}

func addAll(xs []string, ys ...string) []string {
	for _, y := range ys {
		if !slices.Contains(xs, y) {
			xs = append(xs, y)
		}
	}
	return xs
}

// vendorActors returns the roster ids of a vendor ("" = in-house).
func vendorActors(people []event.Person, vendor string) []string {
	var ids []string
	for _, p := range people {
		if p.Vendor == vendor {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// parseDay reads a date (2026-03-01) or an RFC 3339 time; empty is zero.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2026-03-01) or time (2026-03-01T14:00:00Z)", s)
	}
	return t.UTC(), nil
}
