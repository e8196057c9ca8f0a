package engine

import (
	"math/bits"
	"slices"

	"github.com/custos-io/custos/internal/hashtable"
)

// ticketIDs maps the hash of every ticket id ever seen to its ticketEntry.
// Open tickets are few and change often: a hash table (openIDs). Pruned ones are
// most tickets of a long run and change rarely (a late closing, a
// reopening): 16 bytes each in two arrays sorted by hash, found through a
// table of where each range of hashes starts, with the recently pruned in
// a hash table until there are enough to merge in. A Go map of every
// ticket cost ~27 bytes per entry. Hashes 0 and 1 are one (as in
// hashtable.Table).
type ticketIDs struct {
	open openIDs
	// keys and vals are the pruned entries merged so far, by key.
	keys []uint64
	vals []ticketEntry
	// start[k] is the first index of keys whose top bits are k, start[k+1]
	// the first past them (about four keys a range).
	start  []uint32
	shift  uint8 // 64 - log₂(len(start)-1)
	recent hashtable.Table[ticketEntry]
}

// newTicketIDs returns an empty table; idOf returns the id of the open
// ticket ref.
func newTicketIDs(idOf func(ref int32) string) ticketIDs {
	return ticketIDs{open: openIDs{idOf: idOf}, start: []uint32{0, 0, 0}, shift: 63}
}

// get returns the entry of hash h.
func (ids *ticketIDs) get(h uint64) (ticketEntry, bool) {
	h = max(h, 1)
	if _, ref := ids.open.find(h); ref >= 0 {
		return liveEntry(ref), true
	}
	if e, ok := ids.recent.Get(h); ok {
		return e, true
	}
	if i, ok := ids.find(h); ok {
		return ids.vals[i], true
	}
	return 0, false
}

// find returns the index of h in keys.
func (ids *ticketIDs) find(h uint64) (int, bool) {
	k := h >> ids.shift
	for i := ids.start[k]; i < ids.start[k+1]; i++ {
		if ids.keys[i] >= h {
			return int(i), ids.keys[i] == h
		}
	}
	return 0, false
}

// set sets the entry of hash h.
func (ids *ticketIDs) set(h uint64, e ticketEntry) {
	h = max(h, 1)
	if ref := e.ref(); ref >= 0 {
		ids.open.set(h, ref)
		return // a pruned entry it had stays behind, unread, until pruned again
	}
	ids.open.delete(h)
	if i, ok := ids.find(h); ok {
		ids.vals[i] = e
		return
	}
	ids.recent.Set(h, e)
	if ids.recent.Len() > max(8192, len(ids.keys)/8) {
		ids.merge()
	}
}

// merge moves recent into keys and vals.
func (ids *ticketIDs) merge() {
	add := make([]uint64, 0, ids.recent.Len())
	for k := range ids.recent.All() {
		add = append(add, k)
	}
	slices.Sort(add)
	n := len(ids.keys) + len(add)
	keys, vals := make([]uint64, n), make([]ticketEntry, n)
	old, oldVals := ids.keys, ids.vals
	o := 0
	for _, k := range add {
		// The merged keys below k, then k.
		i := 0
		for i < len(old) && old[i] < k {
			i++
		}
		o += copy(keys[o:], old[:i])
		copy(vals[o-i:], oldVals[:i])
		old, oldVals = old[i:], oldVals[i:]
		keys[o], _ = k, 0
		vals[o], _ = ids.recent.Get(k)
		o++
	}
	copy(keys[o:], old)
	copy(vals[o:], oldVals)
	ids.keys, ids.vals = keys, vals
	ids.recent.Clear()
	// About four keys a range: 2^b ranges for 4·2^b keys.
	b := max(1, bits.Len(uint(n/4)))
	ids.shift = uint8(64 - b)
	if len(ids.start) != 1<<b+1 {
		ids.start = make([]uint32, 1<<b+1)
	}
	k := 0
	for r := range ids.start {
		for k < n && keys[k]>>ids.shift < uint64(r) {
			k++
		}
		ids.start[r] = uint32(k)
	}
}

// openIDs maps the hash of each open ticket's id to its ref in a refTable
// (~12 bytes a ticket where a Go map cost ~32); a slot whose tag agrees is
// confirmed by hashing the ticket's id (each open ticket holds it anyway).
// The table is rebuilt once under a quarter full, as the first day's
// tickets are pruned.
type openIDs struct {
	t    refTable
	idOf func(ref int32) string
}

// find returns the slot of hash h and its ref, -1 if h is not there.
func (o *openIDs) find(h uint64) (int, int32) {
	return o.t.find(h, func(ref int32) bool { return max(hashtable.String(o.idOf(ref)), 1) == h })
}

// set sets the ref of hash h.
func (o *openIDs) set(h uint64, ref int32) {
	if i, old := o.find(h); old >= 0 {
		o.t.replace(i, h, ref)
		return
	}
	o.t.insert(h, ref)
}

// delete removes hash h, if there.
func (o *openIDs) delete(h uint64) {
	if i, ref := o.find(h); ref >= 0 {
		o.t.remove(i)
	}
}
