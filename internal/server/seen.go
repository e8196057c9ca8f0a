package server

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/store"
)

// seen answers "is this record a duplicate?" before a record reaches the
// store, for acknowledgements given at the journal: a Bloom filter of every
// record key stored or journaled since start (built from the store's
// records by the rebuild), the exact keys journaled and not yet in the
// store, and, when the filter says maybe, the store itself. The filter has
// no false negatives, and a key leaves pending only after its record is
// committed to the store, so a record that is in neither filter nor pending
// nor store is new. Only the writer goroutine calls check; done is called
// by the indexer once the store has the records, or by the writer when
// their journal append failed.
type seen struct {
	st interface {
		Stored(ctx context.Context, r store.Record) (bool, error)
	}
	filter bloom

	mu sync.Mutex
	// Journaled, not yet in the store, by the keys the store's unique
	// indexes have (no string built per record).
	events  map[string]struct{} // event ids
	tickets map[ticketKey]struct{}
}

// ticketKey is what makes a ticket change the same change: every field
// the store's unique key has. (An event's id makes it the same event.)
type ticketKey struct {
	id, subject, assignee string
	status                event.TicketStatus
	time                  int64
}

func keyOf(t *event.TicketChange) ticketKey {
	return ticketKey{id: t.ID, subject: t.Subject, assignee: t.Assignee, status: t.Status, time: t.Time.UnixNano()}
}

func newSeen(st interface {
	Stored(ctx context.Context, r store.Record) (bool, error)
}) *seen {
	// Sized for a burst's worth of pending keys, so the first burst
	// after a start does not spend its time growing the maps (6 % of the
	// serve bench's CPU to the last acknowledgement).
	return &seen{st: st, filter: newBloom(1 << 20),
		events: make(map[string]struct{}, maxUnindexed/2), tickets: make(map[ticketKey]struct{}, maxUnindexed/4)}
}

// hash is r's key's hash in the filter. An event and a ticket change may
// hash alike; the store tells them apart.
func (s *seen) hash(r *store.Record) uint64 {
	if r.Event != nil {
		return maphash.String(s.filter.seed, r.Event.ID)
	}
	t := r.Ticket
	var h maphash.Hash
	h.SetSeed(s.filter.seed)
	for _, f := range [...]string{t.ID, t.Subject, t.Assignee, string(t.Status)} {
		h.WriteString(f)
		h.WriteByte(0)
	}
	var ns [8]byte
	binary.LittleEndian.PutUint64(ns[:], uint64(t.Time.UnixNano()))
	h.Write(ns[:])
	return h.Sum64()
}

// pending reports whether r's key is pending; if add, it is from now on.
// The caller holds s.mu.
func (s *seen) pending(r *store.Record, add bool) bool {
	if r.Event != nil {
		_, ok := s.events[r.Event.ID]
		if !ok && add {
			s.events[r.Event.ID] = struct{}{}
		}
		return ok
	}
	k := keyOf(r.Ticket)
	_, ok := s.tickets[k]
	if !ok && add {
		s.tickets[k] = struct{}{}
	}
	return ok
}

// known adds a record stored before start.
func (s *seen) known(r *store.Record) { s.filter.add(s.hash(r)) }

// check reports whether r is a duplicate; if not, its key is pending from
// now on (journaled by the caller; done undoes it if that fails).
func (s *seen) check(ctx context.Context, r *store.Record) (dup bool, err error) {
	h := s.hash(r)
	maybe := s.filter.has(h)
	s.mu.Lock()
	if !maybe {
		// Not in the filter: new (every pending key is in it).
		dup = s.pending(r, true)
		s.mu.Unlock()
		s.filter.add(h)
		return dup, nil
	}
	if s.pending(r, false) {
		s.mu.Unlock()
		return true, nil
	}
	s.mu.Unlock()
	// The filter says maybe: a retry, or a false positive (about 1 in 100).
	// Keys leave pending only after the store has them, so if it is not
	// pending now and not in the store, it is new.
	stored, err := s.st.Stored(ctx, *r)
	if err != nil || stored {
		return stored, err
	}
	s.mu.Lock()
	s.pending(r, true)
	s.mu.Unlock()
	return false, nil
}

// done forgets the pending keys of recs: they are in the store, or their
// journal append failed.
func (s *seen) done(recs []store.Record) {
	s.mu.Lock()
	for i := range recs {
		if e := recs[i].Event; e != nil {
			delete(s.events, e.ID)
		} else {
			delete(s.tickets, keyOf(recs[i].Ticket))
		}
	}
	s.mu.Unlock()
}

// bloom is a blocked Bloom filter that grows: when the newest filter holds
// its capacity, a new one twice the size is added, so the false positive
// rate stays near 1 % per filter however many keys come. Each key sets 7
// bits in one 512-bit block, one cache line.
type bloom struct {
	seed    maphash.Seed
	filters []bloomFilter
}

type bloomFilter struct {
	blocks []uint64 // 8 words a block
	n, cap int
}

func newBloom(capacity int) bloom {
	return bloom{seed: maphash.MakeSeed(), filters: []bloomFilter{newFilter(capacity)}}
}

// 10 bits a key, 7 probes: about 1 % false positives.
func newFilter(capacity int) bloomFilter {
	blocks := (capacity*10 + 511) / 512
	return bloomFilter{blocks: make([]uint64, blocks*8), cap: capacity}
}

// add adds the key of hash h.
func (b *bloom) add(h uint64) {
	f := &b.filters[len(b.filters)-1]
	if f.n >= f.cap {
		b.filters = append(b.filters, newFilter(2*f.cap))
		f = &b.filters[len(b.filters)-1]
	}
	f.set(h)
	f.n++
}

// has reports whether the key of hash h may have been added.
func (b *bloom) has(h uint64) bool {
	for i := range b.filters {
		if b.filters[i].test(h) {
			return true
		}
	}
	return false
}

func (f *bloomFilter) probe(h uint64, fn func(word int, bit uint64) bool) bool {
	nb := uint64(len(f.blocks) / 8)
	block := int((h>>32)*nb>>32) * 8
	bits := h * 0x9e3779b97f4a7c15 // the bit positions, independent of the block
	for i := range 7 {
		bit := (bits >> (9 * i)) & 511
		if !fn(block+int(bit>>6), 1<<(bit&63)) {
			return false
		}
	}
	return true
}

func (f *bloomFilter) set(h uint64) {
	f.probe(h, func(w int, bit uint64) bool { f.blocks[w] |= bit; return true })
}

func (f *bloomFilter) test(h uint64) bool {
	return f.probe(h, func(w int, bit uint64) bool { return f.blocks[w]&bit != 0 })
}
