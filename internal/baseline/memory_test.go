package baseline

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// memoryUse feeds actors × days of a typical agent's day (40 customers, a
// few without tickets, logins from one IP and device) and measures with
// runtime.MemStats the heap the detector keeps: per actor once its days are
// closed (the lasting history), and per actor while a day is open (the
// window state on top of it).
func memoryUse(actors, days int) (lasting, window float64) {
	people := map[string]*event.Person{}
	ids := make([]string, actors)
	for i := range ids {
		ids[i] = fmt.Sprintf("a-%05d", i)
		people[ids[i]] = &event.Person{ID: ids[i], Vendor: fmt.Sprintf("v%d", i%3), Team: fmt.Sprintf("t%d", i%7), Role: "agent"}
	}
	subjects := make([]string, 5000)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("c-%05d", i)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	d := New(Defaults(), func(id string) *event.Person { return people[id] })
	emit := func(engine.Alert) {}
	n := 0
	feed := func(day int) {
		base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).AddDate(0, 0, day)
		for k := range 40 {
			for i, id := range ids {
				n++
				ev := &event.Event{ID: fmt.Sprintf("e%d", n), Time: base.Add(time.Duration(k) * 6 * time.Minute),
					Actor: event.Actor{ID: id, IP: "10.0.0.1", Device: "d-" + id, Country: "PH"}, Action: event.View,
					Subject: subjects[(i*40+k+day*7)%len(subjects)], Fields: []string{"name", "email"}, DurationMS: 20000}
				v := engine.Justified
				if k%13 == 0 {
					v = engine.NoTicket
				}
				d.Detect(&engine.Input{Event: ev, Person: people[id], Ticket: &engine.TicketMatch{Verdict: v, Ticket: fmt.Sprintf("T-%d-%d", i, k/2)}}, emit)
			}
		}
	}
	for day := range days {
		feed(day)
	}
	d.Flush(emit)
	d.free = nil // the pooled windows are window state, measured next
	var closed runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&closed)
	feed(days)
	var open runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&open)
	runtime.KeepAlive(d)
	runtime.KeepAlive(people)
	lasting = float64(int64(closed.HeapAlloc)-int64(before.HeapAlloc)) / float64(actors)
	window = float64(int64(open.HeapAlloc)-int64(closed.HeapAlloc)) / float64(actors)
	return lasting, window
}

// TestMemoryPerActor holds the design budget: under 2 KiB of lasting state
// per actor (its window state while active comes on top and is bounded by
// maxSeen and evidenceK).
func TestMemoryPerActor(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	lasting, window := memoryUse(1000, 6)
	t.Logf("lasting %.0f B/actor, window %.0f B/active actor", lasting, window)
	if lasting > 2048 {
		t.Errorf("lasting state %.0f B per actor, budget 2048", lasting)
	}
}

// BenchmarkMemoryPerActor reports the lasting state per actor and the window
// state per active actor (B/actor, B/window) for 10,000 actors and 15 days.
func BenchmarkMemoryPerActor(b *testing.B) {
	var lasting, window float64
	for range b.N {
		lasting, window = memoryUse(10000, 15)
	}
	b.ReportMetric(lasting, "B/actor")
	b.ReportMetric(window, "B/window")
}

// BenchmarkDetect is the baseline's cost per settled event, period closes
// included: 400 agents, 120 accesses each a day.
func BenchmarkDetect(b *testing.B) {
	const actors = 400
	people := map[string]*event.Person{}
	evs := make([]engine.Input, 0, actors*120)
	for i := range actors {
		id := fmt.Sprintf("a-%04d", i)
		people[id] = &event.Person{ID: id, Vendor: "v", Team: fmt.Sprintf("t%d", i%8), Role: "agent"}
	}
	d := New(Defaults(), func(id string) *event.Person { return people[id] })
	emit := func(engine.Alert) {}
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for k := range 120 {
		for i := range actors {
			id := fmt.Sprintf("a-%04d", i)
			evs = append(evs, engine.Input{
				Event:  &event.Event{ID: fmt.Sprintf("e%d-%d", k, i), Actor: event.Actor{ID: id, IP: "10.0.0.1"}, Action: event.View, Subject: fmt.Sprintf("c-%d", (i*120+k)%9000), Fields: []string{"name"}},
				Person: people[id], Ticket: &engine.TicketMatch{Verdict: engine.Justified, Ticket: "T"},
			})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		for i := range evs {
			in := &evs[i]
			// Spread each pass over one day so hours and days close as in
			// real traffic.
			in.Event.Time = base.Add(time.Duration(i) * 24 * time.Hour / time.Duration(len(evs)))
			d.Detect(in, emit)
			if n++; n == b.N {
				break
			}
		}
		base = base.Add(24 * time.Hour)
	}
}
