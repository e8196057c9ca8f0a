package server

import (
	"context"
	"hash/maphash"
	"strconv"
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
	// Journaled, not yet in the store: events by id (their key as it
	// is, no string built per record), ticket changes by ticketKey.
	events  map[string]struct{}
	tickets map[string]struct{}
}

func newSeen(st interface {
	Stored(ctx context.Context, r store.Record) (bool, error)
}) *seen {
	// Sized for a burst's worth of pending keys, so the first burst
	// after a start does not spend its time growing the maps (6 % of the
	// serve bench's CPU to the last acknowledgement).
	return &seen{st: st, filter: newBloom(1 << 20),
		events: make(map[string]struct{}, maxUnindexed/2), tickets: make(map[string]struct{}, maxUnindexed/4)}
}

// ticketKey is what makes a ticket change the same change: every field
// the store's unique key has. (An event's id makes it the same event.)
func ticketKey(t *event.TicketChange) string {
	return "t" + t.ID + "\x00" + strconv.FormatInt(t.Time.UnixNano(), 36) + "\x00" + string(t.Status) +
		"\x00" + t.Assignee + "\x00" + t.Subject
}

// pendingSet is the map of r's kind and r's key in it. An event id and a
// ticket key may hash alike in the filter; the store tells them apart.
func (s *seen) pendingSet(r *store.Record) (map[string]struct{}, string) {
	if r.Event != nil {
		return s.events, r.Event.ID
	}
	return s.tickets, ticketKey(r.Ticket)
}

// known adds a record stored before start.
func (s *seen) known(r *store.Record) {
	_, key := s.pendingSet(r)
	s.filter.add(s.filter.hash(key))
}

// check reports whether r is a duplicate; if not, its key is pending from
// now on (journaled by the caller; done undoes it if that fails).
func (s *seen) check(ctx context.Context, r *store.Record) (dup bool, err error) {
	set, key := s.pendingSet(r)
	h := s.filter.hash(key)
	maybe := s.filter.has(h)
	s.mu.Lock()
	if _, ok := set[key]; ok {
		s.mu.Unlock()
		return true, nil
	}
	if !maybe {
		set[key] = struct{}{}
		s.mu.Unlock()
		s.filter.add(h)
		return false, nil
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
	set[key] = struct{}{}
	s.mu.Unlock()
	return false, nil
}

// done forgets the pending keys of recs: they are in the store, or their
// journal append failed.
func (s *seen) done(recs []store.Record) {
	s.mu.Lock()
	for i := range recs {
		set, key := s.pendingSet(&recs[i])
		delete(set, key)
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

func (b *bloom) hash(key string) uint64 { return maphash.String(b.seed, key) }

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
