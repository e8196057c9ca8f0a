// Package hashtable is a map from 64-bit hashes to values, for the hot
// paths that look one up per event (the rules' distinct counts, the
// baselines' customers of the day). The caller has hashed its key already,
// so the table does not hash again: it spreads the key with one multiply
// (Fibonacci hashing) and probes linearly, which costs a fraction of a Go
// map's lookup.
package hashtable

import (
	"iter"
	"math/bits"
)

// Table maps hashes to values. Keys 0 and 1 are one key: 0 marks an empty
// slot. That is a collision like any other two values whose hashes agree,
// which a caller keying by hash accepts already. The zero Table is empty
// and ready to use; it is not safe for concurrent use.
type Table[V any] struct {
	slots []slot[V] // power-of-two length
	shift uint8     // 64 - log₂ len(slots)
	n     int
}

type slot[V any] struct {
	k uint64 // 0: empty
	v V
}

func key(k uint64) uint64 { return max(k, 1) }

// home is the slot where probing for k starts: the top bits of k times
// 2^64/phi, which spreads keys whose low bits agree.
func (t *Table[V]) home(k uint64) uint64 { return (k * 0x9e3779b97f4a7c15) >> t.shift }

// Len is the number of keys.
func (t *Table[V]) Len() int { return t.n }

// Get returns the value of k and whether it is there.
func (t *Table[V]) Get(k uint64) (V, bool) {
	var zero V
	if t.n == 0 {
		return zero, false
	}
	k = key(k)
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		switch t.slots[i].k {
		case k:
			return t.slots[i].v, true
		case 0:
			return zero, false
		}
	}
}

// Set sets the value of k.
func (t *Table[V]) Set(k uint64, v V) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	k = key(k)
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		switch t.slots[i].k {
		case k:
			t.slots[i].v = v
			return
		case 0:
			t.slots[i] = slot[V]{k, v}
			t.n++
			return
		}
	}
}

// Delete removes k. The entries after it that probed past its slot move
// back, so lookups need no tombstones.
func (t *Table[V]) Delete(k uint64) {
	if t.n == 0 {
		return
	}
	k = key(k)
	mask := uint64(len(t.slots) - 1)
	i := t.home(k)
	for t.slots[i].k != k {
		if t.slots[i].k == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.slots[j].k != 0; j = (j + 1) & mask {
		// The entry at j may fill the hole at i unless its home lies
		// cyclically within (i, j].
		h := t.home(t.slots[j].k)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot[V]{}
	t.n--
}

// Clear removes every key and keeps the memory, like clear on a map.
func (t *Table[V]) Clear() {
	clear(t.slots)
	t.n = 0
}

// All yields every key and its value, in no order (0 as 1). The table must
// not change during the iteration.
func (t *Table[V]) All() iter.Seq2[uint64, V] {
	return func(yield func(uint64, V) bool) {
		for _, s := range t.slots {
			if s.k != 0 && !yield(s.k, s.v) {
				return
			}
		}
	}
}

func (t *Table[V]) grow() {
	old := t.slots
	size := max(16, 2*len(old))
	t.slots = make([]slot[V], size)
	t.shift = uint8(65 - bits.Len(uint(size)))
	mask := uint64(size - 1)
	for _, s := range old {
		if s.k == 0 {
			continue
		}
		i := t.home(s.k)
		for t.slots[i].k != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
