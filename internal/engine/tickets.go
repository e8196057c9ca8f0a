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
// lives as long as the engine and holds every change ever seen (4 per
// ticket, millions of tickets in a large organisation), so its strings are
// interned copies rather than slices of the decoded line (which would keep
// the whole line alive), its time is an integer instant, its customer the
// index's entry and of its status only what matching asks (40 bytes, was
// 56 with strings for both).
type ticketState struct {
	at       int64 // Unix nanoseconds
	assignee string
	subject  *customer // nil for none
	working  bool      // the status is one of event.TicketStatus.Working
}

// idOf returns c's id, "" for nil.
func (x *Tickets) idOf(c *customer) string {
	if c == nil {
		return ""
	}
	return x.cs.idOf(c)
}

type ticket struct {
	id      string
	changes []ticketState // in time order
	// customers are the entries the ticket is listed under in bySubject,
	// so a change checks its own ticket (almost always one customer)
	// rather than scanning the customer's whole ticket list, and pruning
	// finds them without a lookup.
	customers []*customer
	ref       int32 // its index in Tickets.open
	pruned    bool  // forgotten by Prune: a later change starts a new ticket
}

// Tickets indexes ticket changes by ticket and by customer so the engine can
// ask, for any access, whether the work queue explains it. Changes may arrive
// slightly out of order; each ticket's history is kept sorted.
type Tickets struct {
	// byID holds every ticket ever seen, by a hash of its id: its history,
	// or once pruned what is left of it. One map for both, never
	// shrinking, so a change finds its ticket or learns it is new in one
	// lookup and pruning rewrites an entry in place instead of moving it
	// between maps. Millions of tickets stay in it for the engine's life,
	// so an entry is 8 bytes of key and 8 of value, and a pruned ticket
	// keeps no id string: two ids whose 64-bit hashes agree are taken for
	// one ticket (a change to one continues the other's history, an event
	// citing one finds the other). That happens with odds of about
	// n²/2⁶⁵ for n tickets (~3·10⁻⁷ for 3.3 million). The hash is fixed
	// (hashtable.String), not seeded per process, so a replay gives the
	// same answer every run, collision or not; it could be forced only by
	// whoever chooses the ticket system's ids.
	byID map[uint64]ticketEntry
	// closedAt holds the closing instants of pruned tickets that are not
	// a whole second within 1970-2106 (ticket systems export whole
	// seconds), by the hash of their id. An entry may outlive its ticket's
	// pruning (reopened since): only a pruned entry marked inexact reads
	// it, and marking writes it.
	closedAt map[uint64]int64
	// open holds the tickets with a history by ticketEntry.ref; the slots
	// of pruned ones are reused (free).
	open []*ticket
	free []int32
	live int // tickets with a history (not pruned)
	cs   customers
	// names interns assignees and customers' tiers and countries.
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

// customer returns the customer a pruned entry names, nil if none.
func (x *Tickets) prunedCustomer(e ticketEntry) *customer {
	if i := ^e.ref() - 1; i >= 0 {
		return x.cs.at(i)
	}
	return nil
}

func (x *Tickets) hash(id string) uint64 { return hashtable.String(id) }

type closeMark struct {
	t  *ticket
	at int64 // Unix nanoseconds of the change that closed it
}

// NewTickets returns an empty index.
func NewTickets() *Tickets {
	return &Tickets{byID: map[uint64]ticketEntry{}, closedAt: map[uint64]int64{}, names: newNames()}
}

// intern returns an owned copy of s shared by every equal string interned.
func (x *Tickets) intern(s string) string { return x.names.list[x.names.id(s)] }

// customer returns the entry of subject, creating it.
func (x *Tickets) customer(subject string) *customer { return x.cs.add(subject) }

// Len returns the number of tickets known.
func (x *Tickets) Len() int { return x.live }

// Apply records one ticket change.
func (x *Tickets) Apply(tc *event.TicketChange) {
	at := tc.Time.UnixNano()
	h := x.hash(tc.ID)
	e, known := x.byID[h]
	var t *ticket
	if known && e.ref() >= 0 {
		t = x.open[e.ref()]
	}
	var inherited *customer
	if t == nil {
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
				c := x.prunedCustomer(e)
				if tc.Subject != "" && (c == nil || tc.Subject != x.cs.idOf(c)) { // usually the same customer: no lookup
					c = x.customer(tc.Subject)
				}
				i := int32(-1)
				if c != nil {
					i = c.index
				}
				x.byID[h] = x.prunedEntry(h, i, at)
				return
			}
			inherited = x.prunedCustomer(e) // reopened
		}
		// Most tickets see about four changes (new, open, solved, closed).
		// The id is an owned copy: a slice of the change would keep its
		// line alive.
		t = &ticket{id: strings.Clone(tc.ID), changes: make([]ticketState, 0, 4)}
		if n := len(x.free); n > 0 {
			t.ref = x.free[n-1]
			x.free = x.free[:n-1]
			x.open[t.ref] = t
		} else {
			t.ref = int32(len(x.open))
			x.open = append(x.open, t)
		}
		x.byID[h] = liveEntry(t.ref)
		x.live++
	}
	st := ticketState{at: at, working: tc.Status.Working()}
	subject := inherited
	if n := len(t.changes); n > 0 {
		prev := &t.changes[n-1]
		subject = prev.subject
		if prev.assignee == tc.Assignee {
			st.assignee = prev.assignee // most changes keep the assignee: no lookup
		}
	}
	if st.assignee == "" {
		st.assignee = x.intern(tc.Assignee)
	}
	// A change that names no customer keeps the one the ticket had; one
	// that names the same needs no lookup.
	if tc.Subject != "" && (subject == nil || x.cs.idOf(subject) != tc.Subject) {
		subject = x.listed(t, tc.Subject)
		if subject == nil {
			subject = x.customer(tc.Subject)
		}
	}
	if subject != nil && !slices.Contains(t.customers, subject) {
		subject.tickets = append(subject.tickets, t)
		t.customers = append(t.customers, subject)
	}
	st.subject = subject
	n := len(t.changes)
	if n == 0 || at >= t.changes[n-1].at {
		t.changes = append(t.changes, st)
	} else {
		i := sort.Search(n, func(i int) bool { return t.changes[i].at > at })
		t.changes = append(t.changes, ticketState{})
		copy(t.changes[i+1:], t.changes[i:])
		t.changes[i] = st
	}
	if last := &t.changes[len(t.changes)-1]; last.at == at && !last.working {
		x.closing = append(x.closing, closeMark{t: t, at: at})
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
		last := &t.changes[len(t.changes)-1]
		if t.pruned || last.at != m.at || last.working {
			continue // changed since: reopened, or pruned by an earlier mark
		}
		for _, c := range t.customers {
			if i := slices.Index(c.tickets, t); i >= 0 {
				c.tickets = slices.Delete(c.tickets, i, i+1)
			}
			if len(c.tickets) == 0 {
				c.tickets = nil // most customers: nothing open, no array kept
			}
		}
		t.pruned = true
		c := int32(-1)
		if last.subject != nil {
			c = last.subject.index
		}
		h := x.hash(t.id)
		x.byID[h] = x.prunedEntry(h, c, last.at)
		x.open[t.ref] = nil
		x.free = append(x.free, t.ref)
		x.live--
	}
	x.closing = slices.Delete(x.closing, 0, n)
}

// listed returns the entry the ticket is listed under for subject, nil if
// none.
func (x *Tickets) listed(t *ticket, subject string) *customer {
	for _, c := range t.customers {
		if x.cs.idOf(c) == subject {
			return c
		}
	}
	return nil
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
	q := matchQuery{x: x, actor: actor, cited: cited, at: at.UnixNano(),
		lo: at.Add(-w.AfterClose).UnixNano(), hi: at.Add(w.Grace).UnixNano(), otherRank: -1}
	// A change is about subject if its entry is c; about "" if it names
	// none (no change lists the entry of "", if there is one).
	switch {
	case subject == "":
		q.subject = nil
	case c == nil:
		q.subject = &noCustomer
	default:
		q.subject = c
	}
	m := TicketMatch{Verdict: NoTicket}
	var citedT *ticket
	if cited != "" {
		// An access usually cites a ticket about its own customer: found
		// among the customer's few live tickets, it needs no lookup in the
		// map of every ticket ever seen (a live ticket listed under a
		// customer is the one byID holds for its id).
		if c != nil {
			for _, t := range c.tickets {
				if t.id == cited {
					citedT = t
					break
				}
			}
		}
		if citedT == nil {
			if e, ok := x.byID[x.hash(cited)]; ok && e.ref() >= 0 {
				citedT = x.open[e.ref()]
			} else if ok {
				m.CitedExists = true
				if c := x.prunedCustomer(e); c != nil {
					m.CitedSubject = x.cs.idOf(c)
				}
			}
		}
		if t := citedT; t != nil {
			m.CitedExists = true
			if s := t.changes[len(t.changes)-1].subject; s == c && s != nil {
				m.CitedSubject = subject // usually: no arena read
			} else {
				m.CitedSubject = x.idOf(s)
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
	for _, t := range c.tickets {
		if t == citedT || t.id == cited {
			continue
		}
		q.consider(t, &m)
		if m.Verdict == Justified {
			return m
		}
	}
	return m
}

// noCustomer stands for a customer the index does not know: no change is
// about it.
var noCustomer customer

type matchQuery struct {
	x            *Tickets
	actor, cited string
	subject      *customer // the access's customer: see match
	at, lo, hi   int64     // Unix nanoseconds
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
		if !c.working || end < q.lo {
			continue
		}
		switch {
		case c.assignee == q.actor && c.subject == q.subject:
			*m = TicketMatch{Verdict: Justified, Ticket: t.id, CitedExists: m.CitedExists, CitedSubject: m.CitedSubject}
			return
		case c.assignee == q.actor && t.id == q.cited && m.Verdict > OtherSubject:
			m.Verdict, m.Ticket, m.Subject, m.Assignee = OtherSubject, t.id, q.x.idOf(c.subject), ""
		case c.subject == q.subject && c.assignee != q.actor && m.Verdict >= OtherAssignee:
			rank := 0
			if c.assignee != "" {
				rank = 1
				if c.at <= q.at && end > q.at {
					rank = 2
				}
			}
			if rank > q.otherRank {
				q.otherRank = rank
				m.Verdict, m.Ticket, m.Assignee, m.Subject = OtherAssignee, t.id, c.assignee, ""
			}
		}
	}
}
