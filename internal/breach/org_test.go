package breach

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// org builds a hand-made support history whose answers are known: agents
// work tickets (a ticket opened and assigned, one justified view, solved),
// and the test adds insiders who look at customers with no ticket.
type org struct {
	m      *memory
	rng    *rand.Rand
	start  time.Time
	custs  []string
	nextID int
}

func newOrg(seed uint64, customers int) *org {
	o := &org{m: newMemory(), rng: rand.New(rand.NewPCG(seed, 7)), start: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)}
	for i := range customers {
		id := fmt.Sprintf("c-%05d", i)
		o.custs = append(o.custs, id)
		o.m.subjects[id] = &event.Subject{ID: id, Tier: "standard"}
	}
	return o
}

func (o *org) person(id, team string) {
	o.m.people = append(o.m.people, &event.Person{ID: id, Name: "Agent " + id, Vendor: "bpo", Team: team, Role: "agent", Site: "manila", Status: event.Active})
}

func (o *org) at(day int, minute int) time.Time {
	return o.start.Add(time.Duration(day)*24*time.Hour + time.Duration(minute)*time.Minute)
}

func (o *org) view(actor, cust, ticket string, at time.Time, resource string, fields ...string) {
	o.nextID++
	o.m.events = append(o.m.events, &event.Event{ID: fmt.Sprintf("e-%06d", o.nextID), Time: at, Actor: event.Actor{ID: actor},
		Action: event.View, Subject: cust, Ticket: ticket, Resource: resource, Fields: fields})
}

// work has actor handle perDay tickets a day for days days: each ticket is
// opened and assigned, its customer viewed under it, and solved.
func (o *org) work(actor string, days, perDay int) {
	for d := range days {
		for k := range perDay {
			c := o.custs[o.rng.IntN(len(o.custs))]
			minute := k * 480 / perDay
			t := fmt.Sprintf("T-%s-%d-%d", actor, d, k)
			o.m.tickets = append(o.m.tickets,
				&event.TicketChange{Time: o.at(d, minute), ID: t, Subject: c, Assignee: actor, Status: event.TicketOpen},
				&event.TicketChange{Time: o.at(d, minute+2), ID: t, Subject: c, Assignee: actor, Status: event.TicketSolved})
			o.view(actor, c, t, o.at(d, minute+1), "profile", "name", "email")
		}
	}
}

// harvest has actor look at customers with no ticket, from day on, a few
// a day, identity documents included.
func (o *org) harvest(actor string, day int, custs []string) {
	for i, c := range custs {
		o.view(actor, c, "", o.at(day+i/10, 500+i%10), "kyc_document", "name", "dob", "document_number")
	}
}

// pick returns n distinct customers not in avoid.
func (o *org) pick(n int, avoid map[string]bool) []string {
	var out []string
	for len(out) < n {
		c := o.custs[o.rng.IntN(len(o.custs))]
		if !avoid[c] {
			avoid[c] = true
			out = append(out, c)
		}
	}
	return out
}
