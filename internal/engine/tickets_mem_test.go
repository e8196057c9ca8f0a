package engine

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// BenchmarkTicketsMemory reports the live heap the ticket index holds per
// ticket once its tickets are pruned (B/ticket), the state a large
// organisation's index is mostly in, and per customer record (B/customer).
// Pruning runs as event time advances, as in the engine, so the lists that
// only hold tickets until they are pruned stay short.
func BenchmarkTicketsMemory(b *testing.B) {
	const tickets, customers = 200_000, 60_000
	for range b.N {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		e := New(Config{}, nil)
		for i := range customers {
			e.SetSubject(&event.Subject{ID: fmt.Sprintf("c-%07d", i), Tier: "standard", Country: "PL", BalanceUSD: float64(i)})
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		withCustomers := ms.HeapAlloc
		for i := range tickets {
			id, subject := fmt.Sprintf("T-%09d", i), fmt.Sprintf("c-%07d", i%customers)
			for k, st := range []event.TicketStatus{event.TicketNew, event.TicketOpen, event.TicketSolved, event.TicketClosed} {
				e.tickets.Apply(&event.TicketChange{Time: t0.Add(time.Duration(i)*time.Second + time.Duration(k)*time.Minute),
					ID: id, Subject: subject, Assignee: fmt.Sprintf("a-%d", i%500), Status: st})
			}
			if i%1000 == 0 { // as the engine prunes: as event time advances
				e.tickets.Prune(t0.Add(time.Duration(i)*time.Second - time.Hour))
			}
		}
		e.tickets.Prune(t0.Add(time.Duration(tickets)*time.Second + time.Hour))
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-withCustomers)/tickets, "B/ticket")
		b.ReportMetric(float64(withCustomers-before)/customers, "B/customer")
		runtime.KeepAlive(e)
	}
}

// BenchmarkTicketsApply times the index's work per ticket: four changes,
// an access about its customer citing it, and pruning as time advances.
func BenchmarkTicketsApply(b *testing.B) {
	const tickets, customers = 100_000, 30_000
	w := Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}
	changes := make([]event.TicketChange, 0, 4*tickets)
	ids, subjects := make([]string, tickets), make([]string, tickets)
	for i := range tickets {
		ids[i], subjects[i] = fmt.Sprintf("T-%09d", i), fmt.Sprintf("c-%07d", i%customers)
		for k, st := range []event.TicketStatus{event.TicketNew, event.TicketOpen, event.TicketSolved, event.TicketClosed} {
			changes = append(changes, event.TicketChange{Time: t0.Add(time.Duration(i)*time.Second + time.Duration(k)*time.Minute),
				ID: ids[i], Subject: subjects[i], Assignee: fmt.Sprintf("a-%d", i%500), Status: st})
		}
	}
	b.ResetTimer()
	for range b.N {
		x := NewTickets()
		for i := range tickets {
			for k := range 4 {
				x.Apply(&changes[4*i+k])
			}
			x.Match("a-1", subjects[i], ids[i], t0.Add(time.Duration(i)*time.Second+2*time.Minute), w)
			if i%1000 == 0 {
				x.Prune(t0.Add(time.Duration(i)*time.Second - time.Hour))
			}
		}
	}
}
