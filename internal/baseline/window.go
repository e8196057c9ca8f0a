package baseline

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/hashtable"
)

// keySet is a set of 64-bit hashes (the tickets an actor worked today):
// open addressing with linear probing, 8 bytes a slot where a table with
// values takes 16. Keys 0 and 1 are one key, like hashtable.Table's.
type keySet struct {
	slots []uint64 // power-of-two length; 0: empty
	shift uint8    // 64 - log₂ len(slots)
	n     int
}

// add adds k and reports whether it was new.
func (s *keySet) add(k uint64) bool {
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	k = max(k, 1)
	mask := uint64(len(s.slots) - 1)
	for i := (k * 0x9e3779b97f4a7c15) >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			s.n++
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	size := max(8, 2*len(old))
	s.slots = make([]uint64, size)
	s.shift = uint8(65 - bits.Len(uint(size)))
	s.n = 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}

// tablePool keeps the day tables of closed windows by size, so an actor
// opening a day gets tables the size its last day needed. Kept with its
// window, a table grew to the largest day any actor had; dropped with the
// day, every table was grown from empty again every day, and the garbage
// cost more than the lookups.
type tablePool struct {
	seen    [][]hashtable.Table[seen] // by sizeClass
	tickets [][]keySet
}

// sizeClass is log2 of the size of a table grown by n adds from minSize
// slots (both tables grow at three quarters full); 0 for none.
func sizeClass(n, minSize int) uint8 {
	if n == 0 {
		return 0
	}
	s := minSize
	for 4*n > 3*s {
		s *= 2
	}
	return uint8(bits.Len(uint(s)) - 1)
}

// take returns a pooled item of class c, or of the nearest class pooled, or
// the zero item (grown on use) if none is: the pool never holds more than
// the windows that have closed.
func take[T any](pool [][]T, c uint8) (T, uint8) {
	var zero T
	if c == 0 {
		return zero, 0
	}
	for d := 0; d < int(c)+len(pool); d++ {
		for _, k := range [2]int{int(c) + d, int(c) - d} {
			if k > 0 && k < len(pool) && len(pool[k]) > 0 {
				t := pool[k][len(pool[k])-1]
				pool[k] = pool[k][:len(pool[k])-1]
				return t, uint8(k)
			}
		}
	}
	return zero, 0
}

func put[T any](pool [][]T, c uint8, t T) [][]T {
	if c == 0 {
		return pool
	}
	for int(c) >= len(pool) {
		pool = append(pool, nil)
	}
	pool[c] = append(pool[c], t)
	return pool
}

// open gives w tables for an actor whose last day held these many.
func (p *tablePool) open(w *window, customers, tickets uint16) {
	w.seen, w.seenClass = take(p.seen, sizeClass(int(customers), 16))
	w.tickets, _ = take(p.tickets, sizeClass(int(tickets), 8))
}

// release takes w's tables back, cleared.
func (p *tablePool) release(w *window) {
	c := max(w.seenClass, sizeClass(w.seen.Len(), 16))
	w.seen.Clear()
	p.seen = put(p.seen, c, w.seen)
	clear(w.tickets.slots)
	w.tickets.n = 0
	p.tickets = put(p.tickets, uint8(bits.Len(uint(len(w.tickets.slots)))-1), w.tickets)
	w.seen, w.tickets, w.seenClass = hashtable.Table[seen]{}, keySet{}, 0
}

// sparse holds values of a few features: for what most windows never
// hold (scores of alerts, thresholds crossed), a slice header instead of a
// float per feature.
type sparse []featureValue

type featureValue struct {
	i int
	v float64
}

// get returns feature i's value, or none if it has none.
func (s sparse) get(i int, none float64) float64 {
	for _, e := range s {
		if e.i == i {
			return e.v
		}
	}
	return none
}

func (s *sparse) set(i int, v float64) {
	for k := range *s {
		if (*s)[k].i == i {
			(*s)[k].v = v
			return
		}
	}
	*s = append(*s, featureValue{i, v})
}

func (s *sparse) del(i int) {
	*s = slices.DeleteFunc(*s, func(e featureValue) bool { return e.i == i })
}

// evidenceList is the evidence events of one period: each event's id and
// subject once, back to back in buf behind the id's length as a uvarint,
// found by offset. Copies, since a slice of the event would keep its whole
// line alive; in one buffer reused from period to period, since an actor's
// first events of each hour are evidence, and a string apiece made one
// allocation per event. An alert copies its evidence out.
type evidenceList struct {
	buf []byte
	off []uint32
}

// add lists ev and returns its position.
func (l *evidenceList) add(ev *event.Event) int {
	l.off = append(l.off, uint32(len(l.buf)))
	l.buf = binary.AppendUvarint(l.buf, uint64(len(ev.ID)))
	l.buf = append(l.buf, ev.ID...)
	l.buf = append(l.buf, ev.Subject...)
	return len(l.off) - 1
}

// event returns the id and subject of the event at position k.
func (l *evidenceList) event(k int) (id, subject string) {
	b := l.buf[l.off[k]:]
	if k+1 < len(l.off) {
		b = l.buf[l.off[k]:l.off[k+1]]
	}
	n, w := binary.Uvarint(b)
	b = b[w:]
	return string(b[:n]), string(b[n:])
}

func (l *evidenceList) reset() {
	if cap(l.buf) > 4096 { // let an unusually long list go
		*l = evidenceList{}
	}
	l.buf, l.off = l.buf[:0], l.off[:0]
}

// evidence is where a feature's evidence is in its period's list of refs:
// the first evidenceK events that added to it. Positions fit a byte: a
// period lists at most evidenceK events per feature.
type evidence struct {
	n  uint8
	at [evidenceK]uint8
}

// own is the own history's norm of day feature i for today, and which days
// it was drawn from (0 all days, 1 weekdays, 2 weekends).
func (w *window) own(i int) (norm, uint8) {
	return norm{med: w.ownMed[i], mad: w.ownMad[i], n: int(w.ownN[i] >> 2)}, w.ownN[i] & 3
}
