package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
)

var t0 = time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC)

func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

func change(min float64, id, subject, assignee string, st event.TicketStatus) *event.TicketChange {
	return &event.TicketChange{Time: at(min), ID: id, Subject: subject, Assignee: assignee, Status: st}
}

func TestTicketMatch(t *testing.T) {
	w := Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}
	x := NewTickets()
	for _, c := range []*event.TicketChange{
		change(0, "T-1", "c-1", "", event.TicketNew),
		change(2, "T-1", "c-1", "ana", event.TicketOpen),
		change(10, "T-1", "c-1", "ana", event.TicketSolved),
		// A phone ticket filed three minutes after the look at minute 20.
		change(23, "T-2", "c-2", "ana", event.TicketOpen),
		change(40, "T-2", "c-2", "ana", event.TicketClosed),
		// Someone else's ticket about c-3.
		change(5, "T-3", "c-3", "bob", event.TicketOpen),
		// A ticket assigned after being reassigned away from ana.
		change(0, "T-4", "c-4", "ana", event.TicketOpen),
		change(30, "T-4", "c-4", "bob", event.TicketOpen),
		// An email ticket waits unassigned, then a lead hands it to bob.
		change(0, "T-6", "c-6", "", event.TicketNew),
		change(4, "T-6", "c-6", "bob", event.TicketOpen),
		// Changes may arrive out of order; the history is kept sorted.
		change(200, "T-5", "c-5", "ana", event.TicketSolved),
		change(100, "T-5", "c-5", "ana", event.TicketOpen),
	} {
		x.Apply(c)
	}
	tests := []struct {
		name                   string
		actor, subject, cited  string
		min                    float64
		want                   Verdict
		wantTicket, wantAssign string
	}{
		{"assigned and open", "ana", "c-1", "T-1", 5, Justified, "T-1", ""},
		{"before assignment, within grace", "ana", "c-1", "", -10, Justified, "T-1", ""},
		{"phone ticket filed 3 min later", "ana", "c-2", "", 20, Justified, "T-2", ""},
		{"look 20 min before the phone ticket", "ana", "c-2", "", 7, NoTicket, "", ""},
		{"wrap-up 25 min after solved", "ana", "c-1", "", 35, Justified, "T-1", ""},
		{"45 min after solved", "ana", "c-1", "", 55, NoTicket, "", ""},
		{"someone else's ticket", "ana", "c-3", "", 6, OtherAssignee, "T-3", "bob"},
		{"cited own ticket about another customer", "ana", "c-9", "T-1", 5, OtherSubject, "T-1", ""},
		{"reassigned away, look long after", "ana", "c-4", "", 100, OtherAssignee, "T-4", "bob"},
		{"reassigned away, look before", "ana", "c-4", "", 20, Justified, "T-4", ""},
		{"out-of-order changes", "ana", "c-5", "", 150, Justified, "T-5", ""},
		{"out-of-order changes, after", "ana", "c-5", "", 240, NoTicket, "", ""},
		{"unknown customer", "ana", "c-404", "", 5, NoTicket, "", ""},
		{"names the assignee, not the unassigned state before", "ana", "c-6", "", 5, OtherAssignee, "T-6", "bob"},
		{"before assignment names who gets it", "ana", "c-6", "", 2, OtherAssignee, "T-6", "bob"},
		{"unknown cited ticket", "ana", "c-404", "T-404", 5, NoTicket, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := x.Match(tt.actor, tt.subject, tt.cited, at(tt.min), w)
			if m.Verdict != tt.want || m.Ticket != tt.wantTicket || m.Assignee != tt.wantAssign {
				t.Errorf("Match = %+v, want %v %q %q", m, tt.want, tt.wantTicket, tt.wantAssign)
			}
		})
	}
	if m := x.Match("qa", "c-1", "T-1", at(120), w); !m.CitedExists || m.CitedSubject != "c-1" {
		t.Errorf("cited ticket facts for a reviewer: %+v", m)
	}
}

// TestTicketPrune checks that pruning forgets only what cannot matter: a
// ticket closed before the horizon stops being listed for its customer but
// is still known when cited, a late change older than its closing is
// ignored, and a reopened ticket keeps its customer.
func TestTicketPrune(t *testing.T) {
	w := Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}
	x := NewTickets()
	for _, c := range []*event.TicketChange{
		change(0, "T-1", "c-1", "ana", event.TicketOpen),
		change(10, "T-1", "c-1", "ana", event.TicketClosed),
		change(0, "T-2", "c-1", "bob", event.TicketOpen), // still being worked
		change(0, "T-3", "c-3", "ana", event.TicketOpen),
		change(20, "T-3", "c-3", "ana", event.TicketSolved),
		change(30, "T-3", "c-3", "ana", event.TicketOpen), // reopened: kept
	} {
		x.Apply(c)
	}
	x.Prune(at(15))
	if x.Len() != 2 {
		t.Fatalf("%d tickets after pruning, want 2 (T-2, T-3)", x.Len())
	}
	m := x.Match("ana", "c-1", "T-1", at(200), w)
	if m.Verdict != OtherAssignee || m.Ticket != "T-2" || !m.CitedExists || m.CitedSubject != "c-1" {
		t.Errorf("access citing pruned T-1: %+v, want other_assignee via T-2, cited T-1 known for c-1", m)
	}
	if m := x.Match("ana", "c-3", "", at(200), w); m.Verdict != Justified || m.Ticket != "T-3" {
		t.Errorf("reopened T-3 was pruned: %+v", m)
	}
	// A change older than T-1's closing is ignored; a newer one reopens it
	// for the same customer.
	x.Apply(change(5, "T-1", "", "ana", event.TicketOpen))
	if x.Len() != 2 {
		t.Fatalf("a late change brought back pruned T-1")
	}
	x.Apply(change(200, "T-1", "", "ana", event.TicketClosed)) // closed days after solved
	if x.Len() != 2 {
		t.Fatalf("closing pruned T-1 brought its history back: %d tickets", x.Len())
	}
	if m := x.Match("bob", "c-9", "T-1", at(250), w); !m.CitedExists || m.CitedSubject != "c-1" {
		t.Errorf("citing pruned, closed T-1: %+v, want known, for c-1", m)
	}
	x.Apply(change(300, "T-1", "", "ana", event.TicketOpen))
	if m := x.Match("ana", "c-1", "", at(301), w); m.Verdict != Justified || m.Ticket != "T-1" {
		t.Errorf("reopened T-1: %+v, want justified for c-1", m)
	}
}

// TestTicketPruneSubSecond checks that a pruned ticket closed at an instant
// that is not a whole second still orders later changes to the nanosecond.
func TestTicketPruneSubSecond(t *testing.T) {
	x := NewTickets()
	closedAt := at(10).Add(300 * time.Millisecond)
	x.Apply(change(0, "T-1", "c-1", "ana", event.TicketOpen))
	x.Apply(&event.TicketChange{Time: closedAt, ID: "T-1", Subject: "c-1", Assignee: "ana", Status: event.TicketClosed})
	x.Prune(at(15))
	if x.Len() != 0 {
		t.Fatalf("%d tickets after pruning, want 0", x.Len())
	}
	x.Apply(&event.TicketChange{Time: closedAt.Add(-time.Nanosecond), ID: "T-1", Status: event.TicketOpen})
	if x.Len() != 0 {
		t.Fatalf("a change a nanosecond older than the closing brought back pruned T-1")
	}
	x.Apply(&event.TicketChange{Time: closedAt, ID: "T-1", Status: event.TicketOpen})
	if x.Len() != 1 {
		t.Fatalf("a change at the closing instant did not reopen T-1")
	}
}

// TestTicketsConsistent drives the index through enough tickets, customer
// changes and prunes to merge pruned entries and compact open slots many
// times, and checks after each prune that every open ticket is where its
// id's entry says and listed, once and in order, under each customer its
// changes name, and that no list holds anything else.
func TestTicketsConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := NewTickets()
	statuses := []event.TicketStatus{event.TicketNew, event.TicketOpen, event.TicketPending, event.TicketSolved, event.TicketClosed}
	now := 0.0
	for step := range 90_000 {
		now += r.Float64() * 0.2
		// A third of the time tickets open, a third they close (the open
		// ones go: slots to compact), a third both.
		st := statuses[r.IntN(len(statuses))]
		switch step / 30_000 {
		case 0:
			st = statuses[r.IntN(3)]
		case 1:
			st = statuses[3+r.IntN(2)]
		}
		tc := change(now-r.Float64()*r.Float64()*30, fmt.Sprint("T-", r.IntN(20_000)), "", fmt.Sprint("a-", r.IntN(5)), st)
		if r.IntN(5) > 0 {
			tc.Subject = fmt.Sprint("c-", r.IntN(3000))
		}
		x.Apply(tc)
		if step%500 == 0 {
			x.Prune(at(now - 60))
			checkTickets(t, x)
		}
	}
	if len(x.byID.keys) == 0 {
		t.Fatal("pruned entries never merged")
	}
}

func checkTickets(t *testing.T, x *Tickets) {
	t.Helper()
	listed := map[[2]int32]bool{} // ref, customer index
	open := 0
	for ref, tk := range x.open {
		if tk == nil {
			continue
		}
		open++
		if e, ok := x.byID.get(x.hash(tk.id)); !ok || e != liveEntry(int32(ref)) {
			t.Fatalf("open ticket %s at %d: entry %x, %v", tk.id, ref, e, ok)
		}
		for _, c := range tk.changes {
			if c.subject >= 0 {
				listed[[2]int32{int32(ref), c.subject}] = true
			}
		}
	}
	if open != x.Len() {
		t.Fatalf("%d open tickets, Len %d", open, x.Len())
	}
	n := 0
	for i := range int32(x.cs.Len()) {
		c := x.cs.at(i)
		last := int32(0)
		for r := c.head; r != 0; r = x.nextIn(r-1, i) {
			if !listed[[2]int32{r - 1, i}] {
				t.Fatalf("customer %d lists ticket %d, which never named it", i, r-1)
			}
			delete(listed, [2]int32{r - 1, i})
			last = r
			n++
		}
		if c.tail != last {
			t.Fatalf("customer %d: tail %d, last %d", i, c.tail, last)
		}
	}
	if len(listed) > 0 {
		t.Fatalf("%d listings missing from customers' lists", len(listed))
	}
}
