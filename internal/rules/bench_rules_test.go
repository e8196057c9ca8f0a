package rules

import (
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// BenchmarkPerRule runs the pack one rule at a time (and none, and all),
// to find the rule that costs the most. Each sub-benchmark reports the
// CPU time per event of a pass over a fresh evaluator.
func BenchmarkPerRule(b *testing.B) {
	full, err := Shipped()
	if err != nil {
		b.Fatal(err)
	}
	w := newWorkload(10000)
	people := map[string]*event.Person{}
	for i := range w.people {
		people[w.people[i].ID] = &w.people[i]
	}
	custs := map[string]*event.Subject{}
	for i := range w.custs {
		custs[w.custs[i].ID] = &w.custs[i]
	}
	tickets := engine.NewTickets()
	for i := range w.tickets {
		tickets.Apply(&w.tickets[i])
	}
	inputs := make([]engine.Input, len(w.events))
	for i := range w.events {
		ev := &w.events[i]
		in := engine.Input{Event: ev, Person: people[ev.Actor.ID], Subject: custs[ev.Subject]}
		if ev.Action.TouchesSubject() && ev.Subject != "" {
			m := tickets.Match(ev.Actor.ID, ev.Subject, ev.Ticket, ev.Time, testWindows)
			in.Ticket = &m
		}
		inputs[i] = in
	}
	packs := []*Pack{newPack(nil), full}
	names := []string{"none", "all"}
	for _, r := range full.Rules() {
		packs = append(packs, full.only(r))
		names = append(names, r.ID)
	}
	for i, p := range packs {
		b.Run(names[i], func(b *testing.B) {
			var cpu time.Duration
			for range b.N {
				e := NewEvaluator(p, func(id string) *event.Person { return people[id] })
				imm, settled := e.Immediate(), e.Settled()
				emit := func(engine.Alert) {}
				t0 := cpuTime()
				for k := range inputs {
					imm.Detect(&inputs[k], emit)
					settled.Detect(&inputs[k], emit)
				}
				cpu += cpuTime() - t0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(inputs)), "cpu-ns/event")
		})
	}
}
