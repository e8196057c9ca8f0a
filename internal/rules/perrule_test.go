package rules

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

func TestPerRuleCost(t *testing.T) {
	if os.Getenv("PERRULE") == "" {
		t.Skip()
	}
	full, _ := Shipped()
	w := newWorkload(20000)
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
	names := []string{"(none)", "(all)"}
	for _, r := range full.Rules() {
		packs = append(packs, full.only(r))
		names = append(names, r.ID)
	}
	for i, p := range packs {
		e := NewEvaluator(p, func(id string) *event.Person { return people[id] })
		imm, settled := e.Immediate(), e.Settled()
		emit := func(engine.Alert) {}
		t0 := cpuTime()
		for k := range inputs {
			imm.Detect(&inputs[k], emit)
			settled.Detect(&inputs[k], emit)
		}
		fmt.Printf("%-36s %6.0f ns/event\n", names[i], float64(cpuTime()-t0)/float64(len(inputs)))
	}
	_ = time.Second
}
