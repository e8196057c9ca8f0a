package engine

import "github.com/custos-io/custos/internal/event"

// pending is an access waiting for its grace window to end. A large
// organisation has hundreds of thousands at once in working hours, so it
// is kept to 64 bytes.
type pending struct {
	// dueSec and dueNsec are the end of the grace window, as integers so
	// the queue compares them without time.Time's methods.
	dueSec     int64
	dueNsec    int32
	actorIndex int32
	seq        uint64
	ev         *event.Event
	// The roster entry looked up on arrival, valid while roster is
	// unchanged, and the customer's entry (updated in place), nil if none.
	person   *event.Person
	roster   uint64
	customer *customer
	// customers is how many customers the index knew on arrival: if none
	// was added since (entries are never removed), an unknown customer is
	// still unknown without a lookup.
	customers int
}

// dueBefore reports whether p's grace window ends before t.
func (p *pending) dueBefore(t stamp) bool {
	return p.dueSec < t.sec || p.dueSec == t.sec && p.dueNsec < t.nsec
}

// pendingQueue holds accesses ordered by the end of their grace window, then
// by arrival, so settlement order is deterministic. Events arrive nearly in
// time order and every grace window is as long, so almost every access
// joins the back of a queue; one that ends before the last queued goes to
// a heap, and the next to settle is the earlier of the two heads.
type pendingQueue struct {
	fifo []pending
	head int
	late pendingHeap
}

// maxIdleFIFO is the most accesses' room the queue keeps while empty.
const maxIdleFIFO = 4096

// first returns the next access to settle, nil if none.
func (q *pendingQueue) first() *pending {
	var f *pending
	if q.head < len(q.fifo) {
		f = &q.fifo[q.head]
	}
	if len(q.late) > 0 && (f == nil || q.late[0].less(f)) {
		f = &q.late[0]
	}
	return f
}

func (q *pendingQueue) push(p pending) {
	if n := len(q.fifo); n == q.head || !p.less(&q.fifo[n-1]) {
		q.fifo = append(q.fifo, p)
		return
	}
	q.late.push(p)
}

// pop removes and returns the next access to settle; there must be one.
func (q *pendingQueue) pop() pending {
	if f := q.first(); len(q.late) > 0 && f == &q.late[0] {
		return q.late.pop()
	}
	p := q.fifo[q.head]
	q.fifo[q.head] = pending{}
	q.head++
	if q.head == len(q.fifo) {
		// Empty, as at night or the end of input: an array sized for the
		// busiest hour is not kept for the quiet ones.
		if cap(q.fifo) > maxIdleFIFO {
			q.fifo = nil
		}
		q.fifo, q.head = q.fifo[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.fifo) {
		n := copy(q.fifo, q.fifo[q.head:])
		clear(q.fifo[n:])
		q.fifo, q.head = q.fifo[:n], 0
	}
	return p
}

// pendingHeap is a binary min-heap of accesses in pendingQueue's order. It
// is typed rather than container/heap's so pushing and popping do not box,
// and it repeats replay's itemHeap rather than sharing a generic heap
// because a generic one calls less through a dictionary on every compare.
type pendingHeap []pending

func (a *pending) less(b *pending) bool {
	if a.dueSec != b.dueSec {
		return a.dueSec < b.dueSec
	}
	if a.dueNsec != b.dueNsec {
		return a.dueNsec < b.dueNsec
	}
	return a.seq < b.seq
}

func (q *pendingHeap) push(p pending) {
	*q = append(*q, p)
	h := *q
	for i := len(h) - 1; i > 0; {
		up := (i - 1) / 2
		if !h[i].less(&h[up]) {
			break
		}
		h[i], h[up] = h[up], h[i]
		i = up
	}
}

func (q *pendingHeap) pop() pending {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = pending{}
	h = h[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].less(&h[c]) {
			c = r
		}
		if !h[c].less(&h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	*q = h
	return top
}
