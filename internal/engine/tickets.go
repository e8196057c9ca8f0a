package engine

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/hashtable"
)

// Verdict classifies how the ticket queue explains one access.
type Verdict uint8

// Verdicts, best first. Match keeps the best verdict it finds.
const (
	// Justified: a ticket about this customer was assigned to this actor and
	// being worked on around the access (within the grace windows).
	Justified Verdict = iota
	// OtherSubject: the ticket the actor cited is theirs but about another
	// customer.
	OtherSubject
	// OtherAssignee: a ticket about this customer was being worked on, but by
	// someone else.
	OtherAssignee
	// NoTicket: nothing in the queue explains the access.
	NoTicket
)

func (v Verdict) String() string {
	switch v {
	case Justified:
		return "justified"
	case OtherSubject:
		return "other_subject"
	case OtherAssignee:
		return "other_assignee"
	}
	return "no_ticket"
}

// TicketMatch is the ticket index's answer for one access.
type TicketMatch struct {
	Verdict  Verdict
	Ticket   string // the ticket behind the verdict, if any
	Assignee string // its assignee at the time, for OtherAssignee
	Subject  string // its customer, for OtherSubject
	// Exists reports whether the ticket the event cited is known at all,
	// whatever its assignee, customer or state.
	CitedExists bool
	// CitedSubject is the customer the cited ticket is (or was) about.
	CitedSubject string
}

// ticketState is one change of a ticket, as the index keeps it: the index
// holds the history of every open ticket (4 changes each, hundreds of
// thousands of tickets in a large organisation), so a change holds no
// pointer and only what matching asks: an integer instant, its assignee's
// name number, whether it is worked on, and its customer's index (16
// bytes, was 40 with an interned string and a pointer).
type ticketState struct {
	at      int64  // Unix nanoseconds
	who     uint32 // the assignee's name number, | working if the status is one of event.TicketStatus.Working
	subject int32  // the customer's index, -1 for none
}

// working marks a ticketState.who whose status is being worked on.
const working = 1 << 31

func (s *ticketState) working() bool    { return s.who&working != 0 }
func (s *ticketState) assignee() uint32 { return s.who &^ working }

// subjectID returns the id of customer index i, "" for none.
func (x *Tickets) subjectID(i int32) string {
	if i < 0 {
		return ""
	}
	return x.cs.idOf(x.cs.at(i))
}

// ticket is an open ticket: one with a history, in Tickets.open. Each is
// an object of its own, so what a ticket costs ends when it is pruned
// (a slot array of values would stay as large as the most tickets ever
// open at once: the first day's, before any is pruned). Its 48 bytes hold
// no hash or slot number: pruning (once a ticket) hashes its id again and
// finds its slot in byID.
type ticket struct {
	id      string
	changes []ticketState // in time order; nil once pruned
	// The ticket is listed under each customer any of its changes names,
	// in a list per customer threaded through the tickets: cust is the
	// first customer's index + 1 (0: none) and next the next ticket's ref
	// + 1 in its list (0: the last); the rare further customers are in
	// Tickets.more.
	cust, next int32
}

// listing is a ticket's place in the list of one more customer.
type listing struct{ cust, next int32 } // as ticket.cust and ticket.next

// Tickets indexes ticket changes by ticket and by customer so the engine can
// ask, for any access, whether the work queue explains it. Changes may arrive
// slightly out of order; each ticket's history is kept sorted.
type Tickets struct {
	// byID holds every ticket ever seen, by a hash of its id: its history,
	// or once pruned what is left of it. Millions of tickets stay in it for
	// the engine's life, so a pruned entry is 8 bytes of key and 8 of value
	// (see ticketIDs), and a pruned ticket keeps no id string: two ids
	// whose 64-bit hashes agree are taken for one ticket (a change to one
	// continues the other's history, an event citing one finds the other). That happens with odds of about
	// n²/2⁶⁵ for n tickets (~3·10⁻⁷ for 3.3 million). The hash is fixed
	// (hashtable.String), not seeded per process, so a replay gives the
	// same answer every run, collision or not; it could be forced only by
	// whoever chooses the ticket system's ids.
	byID ticketIDs
	// closedAt holds the closing instants of pruned tickets that are not
	// a whole second within 1970-2106 (ticket systems export whole
	// seconds), by the hash of their id. An entry may outlive its ticket's
	// pruning (reopened since): only a pruned entry marked inexact reads
	// it, and marking writes it.
	closedAt map[uint64]int64
	// open holds the tickets with a history by ticketEntry.ref; the slots
	// of pruned ones are reused (free), and compacted once half are free.
	open []*ticket
	free []int32
	// more lists the customers after the first a ticket is listed under,
	// by its ref.
	more map[int32][]listing
	live int // tickets with a history (not pruned)
	cs   customers
	// names numbers assignees and customers' tiers and countries.
	names names
	// closing lists tickets as their last change leaves them solved or
	// closed, in arrival order, for Prune.
	closing []closeMark
}

// ticketEntry is a ticket in byID. Its low 32 bits are ref: if ref >= 0,
// the ticket is open[ref]; else it was pruned, and the entry keeps what
// answers for an event that cites it: its customer's index ^ref-1 (-1 for
// none) and, in the high 32 bits, when it was last solved or closed, in
// Unix seconds (inexact: see closedAt).
type ticketEntry uint64

// inexact marks a closing instant kept in closedAt.
const inexact = math.MaxUint32

func (e ticketEntry) ref() int32 { return int32(uint32(e)) }

func liveEntry(ref int32) ticketEntry { return ticketEntry(uint32(ref)) }

// prunedEntry returns the entry of the ticket whose id hashes to h, pruned
// at at (Unix nanoseconds) about customer index c (-1 for none).
func (x *Tickets) prunedEntry(h uint64, c int32, at int64) ticketEntry {
	sec := uint64(inexact)
	if at >= 0 && at%1e9 == 0 && at/1e9 < inexact {
		sec = uint64(at / 1e9)
		if len(x.closedAt) > 0 {
			delete(x.closedAt, h)
		}
	} else {
		x.closedAt[h] = at
	}
	return ticketEntry(sec<<32 | uint64(uint32(^(c + 1))))
}

// closed returns when the pruned ticket whose id hashes to h, with entry
// e, was last solved or closed (Unix nanoseconds).
func (x *Tickets) closed(h uint64, e ticketEntry) int64 {
	if sec := uint64(e) >> 32; sec != inexact {
		return int64(sec) * 1e9
	}
	return x.closedAt[h]
}

// prunedCustomer returns the customer index a pruned entry names, -1 if
// none.
func prunedCustomer(e ticketEntry) int32 { return ^e.ref() - 1 }

func (x *Tickets) hash(id string) uint64 { return hashtable.String(id) }

type closeMark struct {
	t  *ticket
	at int64 // Unix nanoseconds of the change that closed it
}

// NewTickets returns an empty index.
func NewTickets() *Tickets {
	x := &Tickets{closedAt: map[uint64]int64{}, more: map[int32][]listing{}, names: newNames()}
	x.byID = newTicketIDs(func(ref int32) string { return x.open[ref].id })
	return x
}

// customer returns the entry of subject, creating it.
func (x *Tickets) customer(subject string) *customer { return x.cs.add(subject) }

// Len returns the number of tickets known.
func (x *Tickets) Len() int { return x.live }

// Apply records one ticket change.
func (x *Tickets) Apply(tc *event.TicketChange) {
	at := tc.Time.UnixNano()
	h := x.hash(tc.ID)
	e, known := x.byID.get(h)
	ref := int32(-1)
	if known && e.ref() >= 0 {
		ref = e.ref()
	}
	subject := int32(-1)
	if ref < 0 {
		if known {
			if at < x.closed(h, e) {
				// Older than a history that was pruned for being out of
				// every window: it could not change any verdict.
				return
			}
			if !tc.Status.Working() {
				// Solved or closed again (a solved ticket is closed days
				// later): it still explains no access, so only the pruned
				// entry moves on, instead of a history made to be pruned.
				i := prunedCustomer(e)
				if tc.Subject != "" && (i < 0 || tc.Subject != x.subjectID(i)) { // usually the same customer: no lookup
					i = x.customer(tc.Subject).index
				}
				x.byID.set(h, x.prunedEntry(h, i, at))
				return
			}
			subject = prunedCustomer(e) // reopened
		}
		ref = x.openTicket(tc.ID, h)
	}
	t := x.open[ref]
	st := ticketState{at: at}
	same := false
	if n := len(t.changes); n > 0 {
		prev := &t.changes[n-1]
		subject = prev.subject
		st.who = prev.assignee()
		same = x.names.list[st.who] == tc.Assignee // most changes keep the assignee: no lookup
	}
	if !same {
		st.who = x.names.id(tc.Assignee)
	}
	if tc.Status.Working() {
		st.who |= working
	}
	// A change that names no customer keeps the one the ticket had; one
	// that names the same needs no lookup.
	if tc.Subject != "" && (subject < 0 || x.subjectID(subject) != tc.Subject) {
		subject = x.listed(ref, tc.Subject)
		if subject < 0 {
			subject = x.customer(tc.Subject).index
		}
	}
	if subject >= 0 && !x.listedUnder(ref, subject) {
		x.list(ref, subject)
	}
	st.subject = subject
	n := len(t.changes)
	if n == cap(t.changes) {
		// Most tickets see two to five changes (new, open, solved,
		// closed; a pending or a reassignment between): room for two
		// more at a time, each size a size class of its own (3, 5, 7
		// changes: 48, 80, 112 bytes), where doubling would give a
		// five-change history eight.
		c := make([]ticketState, n, n+max(2, n/2))
		copy(c, t.changes)
		t.changes = c
	}
	if n == 0 || at >= t.changes[n-1].at {
		t.changes = append(t.changes, st)
	} else {
		i := sort.Search(n, func(i int) bool { return t.changes[i].at > at })
		t.changes = append(t.changes, ticketState{})
		copy(t.changes[i+1:], t.changes[i:])
		t.changes[i] = st
	}
	if last := &t.changes[len(t.changes)-1]; last.at == at && !last.working() {
		x.closing = append(x.closing, closeMark{t: t, at: at})
	}
}

// openTicket gives the ticket id, whose id hashes to h, a slot in open and
// returns its ref.
func (x *Tickets) openTicket(id string, h uint64) int32 {
	// The id is an owned copy: a slice of the change would keep its line
	// alive.
	t := &ticket{id: strings.Clone(id), changes: make([]ticketState, 0, 3)}
	var ref int32
	if n := len(x.free); n > 0 {
		ref = x.free[n-1]
		x.free = x.free[:n-1]
		x.open[ref] = t
	} else {
		ref = int32(len(x.open))
		x.open = append(x.open, t)
	}
	x.byID.set(h, liveEntry(ref))
	x.live++
	return ref
}

// nextIn returns the ticket after open[ref] in the list of customer index
// c, as ref + 1 (0: none).
func (x *Tickets) nextIn(ref, c int32) int32 {
	if t := x.open[ref]; t.cust == c+1 {
		return t.next
	}
	for _, l := range x.more[ref] {
		if l.cust == c+1 {
			return l.next
		}
	}
	panic("engine: a ticket's listing is missing")
}

// setNext sets the ticket after open[ref] in the list of customer index c
// to next (a ref + 1, 0: none).
func (x *Tickets) setNext(ref, c, next int32) {
	if t := x.open[ref]; t.cust == c+1 {
		t.next = next
		return
	}
	ls := x.more[ref]
	for i := range ls {
		if ls[i].cust == c+1 {
			ls[i].next = next
			return
		}
	}
}

// listedUnder reports whether open[ref] is listed under customer index c.
func (x *Tickets) listedUnder(ref, c int32) bool {
	if x.open[ref].cust == c+1 {
		return true
	}
	for _, l := range x.more[ref] {
		if l.cust == c+1 {
			return true
		}
	}
	return false
}

// listed returns the index of the customer with id subject open[ref] is
// listed under, -1 if none.
func (x *Tickets) listed(ref int32, subject string) int32 {
	t := x.open[ref]
	if t.cust != 0 && x.subjectID(t.cust-1) == subject {
		return t.cust - 1
	}
	for _, l := range x.more[ref] {
		if x.subjectID(l.cust-1) == subject {
			return l.cust - 1
		}
	}
	return -1
}

// list appends open[ref] to the list of customer index c.
func (x *Tickets) list(ref, c int32) {
	if t := x.open[ref]; t.cust == 0 {
		t.cust, t.next = c+1, 0
	} else {
		x.more[ref] = append(x.more[ref], listing{cust: c + 1})
	}
	cu := x.cs.at(c)
	if cu.tail == 0 {
		cu.head = ref + 1
	} else {
		x.setNext(cu.tail-1, c, ref+1)
	}
	cu.tail = ref + 1
}

// unlist removes open[ref] from the list of customer index c.
func (x *Tickets) unlist(ref, c int32) {
	cu := x.cs.at(c)
	next := x.nextIn(ref, c)
	if cu.head == ref+1 {
		cu.head = next
	} else {
		prev := cu.head - 1
		for x.nextIn(prev, c) != ref+1 {
			prev = x.nextIn(prev, c) - 1
		}
		x.setNext(prev, c, next)
		if cu.tail == ref+1 {
			cu.tail = prev + 1
		}
		return
	}
	if cu.tail == ref+1 {
		cu.tail = 0
	}
}

// Prune forgets the history of tickets solved or closed before horizon and
// not reopened since: no access at or after horizon+AfterClose can be
// explained by them (their working states all ended before), so they only
// cost memory, a few hundred bytes a ticket for as long as the engine
// lives. A pruned ticket keeps its customer and closing time, so an event
// that cites it still finds it (TicketMatch.CitedExists, CitedSubject) and
// a late change older than its closing is ignored rather than taken for a
// new ticket. The engine calls it as event time advances; the other users
// of the index (breach questions, the console) never do.
func (x *Tickets) Prune(horizon time.Time) {
	h := horizon.UnixNano()
	n := 0
	for ; n < len(x.closing) && x.closing[n].at < h; n++ {
		m := x.closing[n]
		t := m.t
		if t.changes == nil {
			continue // pruned by an earlier mark
		}
		last := t.changes[len(t.changes)-1]
		if last.at != m.at || last.working() {
			continue // changed since: reopened
		}
		h := x.hash(t.id)
		e, _ := x.byID.get(h)
		ref := e.ref()
		if t.cust != 0 {
			x.unlist(ref, t.cust-1)
		}
		if ls, ok := x.more[ref]; ok {
			for _, l := range ls {
				x.unlist(ref, l.cust-1)
			}
			delete(x.more, ref)
		}
		x.byID.set(h, x.prunedEntry(h, last.subject, last.at))
		t.changes = nil
		x.open[ref] = nil
		x.free = append(x.free, ref)
		x.live--
	}
	x.closing = slices.Delete(x.closing, 0, n)
	// The first day fills the list before anything is old enough to go:
	// its array would stay that large.
	if c := cap(x.closing); c > 1024 && len(x.closing) < c/2 {
		x.closing = slices.Clone(x.closing)
	}
	if len(x.free) > 4096 && len(x.free) > len(x.open)/2 {
		x.compact()
	}
}

// compact moves the tickets of the highest slots of open into its free
// ones, so open holds the tickets open now and no more slots (the most
// open at once, the first day's, is several times as many).
func (x *Tickets) compact() {
	slices.Sort(x.free)
	hi := int32(len(x.open) - 1)
	for _, b := range x.free {
		for hi > b && x.open[hi] == nil {
			hi--
		}
		if hi <= b {
			break
		}
		x.move(hi, b)
		hi--
	}
	x.open, x.free = slices.Clone(x.open[:x.live]), nil
}

// move moves open[a] to the free slot b.
func (x *Tickets) move(a, b int32) {
	t := x.open[a]
	if t.cust != 0 {
		x.relist(t.cust-1, a, b)
	}
	if ls, ok := x.more[a]; ok {
		for _, l := range ls {
			x.relist(l.cust-1, a, b)
		}
		delete(x.more, a)
		x.more[b] = ls
	}
	x.byID.set(x.hash(t.id), liveEntry(b)) // while open[a] still holds t: the table confirms a by its id
	x.open[b], x.open[a] = t, nil
}

// relist makes the list of customer index c, which holds ref a, hold b.
func (x *Tickets) relist(c, a, b int32) {
	cu := x.cs.at(c)
	if cu.head == a+1 {
		cu.head = b + 1
	} else {
		prev := cu.head - 1
		for x.nextIn(prev, c) != a+1 {
			prev = x.nextIn(prev, c) - 1
		}
		x.setNext(prev, c, b+1)
	}
	if cu.tail == a+1 {
		cu.tail = b + 1
	}
}

// Windows are the tolerances of ticket matching.
type Windows struct {
	// Grace accepts a ticket that starts being worked up to this long after
	// the access: phone calls are looked up first and filed minutes later.
	Grace time.Duration
	// AfterClose accepts an access up to this long after the ticket was
	// solved or closed (wrap-up notes, a last check).
	AfterClose time.Duration
}

// Match answers: is there a ticket about subject, assigned to actor, being
// worked on around at? cited is the ticket the event named, if any.
func (x *Tickets) Match(actor, subject, cited string, at time.Time, w Windows) TicketMatch {
	return x.match(x.cs.find(subject), actor, subject, cited, at, w)
}

// match is Match given subject's entry (nil if it has none).
func (x *Tickets) match(c *customer, actor, subject, cited string, at time.Time, w Windows) TicketMatch {
	q := matchQuery{x: x, cited: cited, at: at.UnixNano(),
		lo: at.Add(-w.AfterClose).UnixNano(), hi: at.Add(w.Grace).UnixNano(), otherRank: -1}
	// A change is about subject if it names c's index; about "" if it
	// names none (no change names the entry of "", if there is one).
	switch {
	case subject == "":
		q.subject = -1
	case c == nil:
		q.subject = -2 // unknown: no change names it
	default:
		q.subject = c.index
	}
	// Likewise a change is assigned to actor if it names actor's number.
	if n, ok := x.names.ids[actor]; ok || actor == "" {
		q.actor = n
	} else {
		q.actor = working - 1 // never assigned: no change names it
	}
	m := TicketMatch{Verdict: NoTicket}
	cref := int32(-1)
	if cited != "" {
		// An access usually cites a ticket about its own customer: found
		// among the customer's few live tickets, it needs no lookup in the
		// map of every ticket ever seen (a live ticket listed under a
		// customer is the one byID holds for its id).
		if c != nil {
			for r := c.head; r != 0; r = x.nextIn(r-1, c.index) {
				if x.open[r-1].id == cited {
					cref = r - 1
					break
				}
			}
		}
		if cref < 0 {
			if e, ok := x.byID.get(x.hash(cited)); ok && e.ref() >= 0 {
				cref = e.ref()
			} else if ok {
				m.CitedExists = true
				m.CitedSubject = x.subjectID(prunedCustomer(e))
			}
		}
		if cref >= 0 {
			t := x.open[cref]
			m.CitedExists = true
			if s := t.changes[len(t.changes)-1].subject; s == q.subject && s >= 0 {
				m.CitedSubject = subject // usually: no arena read
			} else {
				m.CitedSubject = x.subjectID(s)
			}
			q.consider(t, &m)
			if m.Verdict == Justified {
				return m
			}
		}
	}
	if c == nil {
		return m
	}
	for r := c.head; r != 0; r = x.nextIn(r-1, c.index) {
		t := x.open[r-1]
		if r-1 == cref || t.id == cited {
			continue
		}
		q.consider(t, &m)
		if m.Verdict == Justified {
			return m
		}
	}
	return m
}

type matchQuery struct {
	x     *Tickets
	cited string
	// actor and subject are the access's actor's name number and
	// customer's index (see match).
	actor   uint32
	subject int32
	at      int64 // Unix nanoseconds
	lo, hi  int64
	// Of several other-assignee states, name the one that says the most:
	// assigned to someone at the access itself, then assigned to someone
	// within the windows, then unassigned (an email ticket waits unassigned
	// as "new" minutes before a lead hands it out). otherRank is the rank
	// of the one named so far, -1 for none.
	otherRank int
}

// consider improves m with what ticket t says about the access.
func (q *matchQuery) consider(t *ticket, m *TicketMatch) {
	for i := range t.changes {
		c := &t.changes[i]
		if c.at > q.hi {
			break
		}
		end := int64(math.MaxInt64)
		if i+1 < len(t.changes) {
			end = t.changes[i+1].at
		}
		if !c.working() || end < q.lo {
			continue
		}
		who := c.assignee()
		switch {
		case who == q.actor && c.subject == q.subject:
			*m = TicketMatch{Verdict: Justified, Ticket: t.id, CitedExists: m.CitedExists, CitedSubject: m.CitedSubject}
			return
		case who == q.actor && t.id == q.cited && m.Verdict > OtherSubject:
			m.Verdict, m.Ticket, m.Subject, m.Assignee = OtherSubject, t.id, q.x.subjectID(c.subject), ""
		case c.subject == q.subject && who != q.actor && m.Verdict >= OtherAssignee:
			rank := 0
			if who != 0 {
				rank = 1
				if c.at <= q.at && end > q.at {
					rank = 2
				}
			}
			if rank > q.otherRank {
				q.otherRank = rank
				m.Verdict, m.Ticket, m.Assignee, m.Subject = OtherAssignee, t.id, q.x.names.list[who], ""
			}
		}
	}
}
