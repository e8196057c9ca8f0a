package rules

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// memoryUse feeds actors × days of a typical agent's day through both
// stages of the shipped pack (40 customers viewed, some revealed, updated
// or exported, a few without a ticket, a login and a logout) and measures
// with runtime.MemStats the heap the evaluator keeps per actor at the end,
// its last day's windows open, as a replay holds it at the end of input.
func memoryUse(tb testing.TB, actors, days int) float64 {
	p, err := Shipped()
	if err != nil {
		tb.Fatal(err)
	}
	people := map[string]*event.Person{}
	ids := make([]string, actors)
	for i := range ids {
		ids[i] = fmt.Sprintf("a-%05d", i)
		people[ids[i]] = &event.Person{ID: ids[i], Vendor: fmt.Sprintf("v%d", i%3), Team: fmt.Sprintf("t%d", i%7), Role: "agent"}
	}
	subjects := make([]event.Subject, 5000)
	for i := range subjects {
		subjects[i] = event.Subject{ID: fmt.Sprintf("c-%05d", i), Tier: "standard", BalanceUSD: float64(i * 7 % 20000)}
		if i%50 == 0 {
			subjects[i].Tier = "vip"
		}
	}
	emit := func(engine.Alert) {}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	e := NewEvaluator(p, func(id string) *event.Person { return people[id] })
	imm, settled := e.Immediate(), e.Settled()
	n := 0
	for day := range days {
		base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).AddDate(0, 0, day)
		for k := range 84 {
			for i, id := range ids {
				n++
				ev := &event.Event{ID: fmt.Sprintf("e%d", n), Time: base.Add(time.Duration(k) * 5 * time.Minute),
					Actor: event.Actor{ID: id, IP: "10.0.0.1", Device: "d-" + id, Country: "PH"}, Action: event.View,
					Subject: subjects[(i*40+k/2+day*7)%len(subjects)].ID, Resource: "profile", Fields: []string{"name", "email"}, DurationMS: 20000, Count: 1}
				switch k % 12 {
				case 0:
					ev.Action, ev.Subject = event.Login, ""
				case 3, 7:
					ev.Action, ev.Fields = event.Reveal, []string{"dob"}
				case 5, 9:
					ev.Action, ev.Resource = event.Update, "notes"
				case 11:
					ev.Action, ev.Resource, ev.Count = event.Export, "transactions", 30
				}
				in := &engine.Input{Event: ev, Person: people[id]}
				if ev.Subject != "" {
					s := &subjects[(i*40+k/2+day*7)%len(subjects)]
					in.Subject = s
					v := engine.Justified
					if k%13 == 0 {
						v = engine.NoTicket
					}
					in.Ticket = &engine.TicketMatch{Verdict: v, Ticket: fmt.Sprintf("T-%d-%d", i, k/2)}
				}
				imm.Detect(in, emit)
				settled.Detect(in, emit)
			}
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	runtime.KeepAlive(people)
	runtime.KeepAlive(subjects)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(actors)
}

// BenchmarkMemoryPerActor reports the heap the evaluator keeps per actor
// (B/actor) for 10,000 actors after 2 days, the last one's windows open.
func BenchmarkMemoryPerActor(b *testing.B) {
	var perActor float64
	for range b.N {
		perActor = memoryUse(b, 10000, 2)
	}
	b.ReportMetric(perActor, "B/actor")
}
