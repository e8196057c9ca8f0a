package engine

import "math/bits"

// refTable maps 64-bit hashes to int32 refs (indexes into the caller's own
// arrays) in 8 bytes a slot: the hash's top 32 bits as a tag and the ref +
// 1 (0: empty). A tag that agrees is confirmed by the caller (against the
// id the ref leads to), so two keys never share an entry. Probing starts
// at the slot the tag scales to (any length: the table grows by half, not
// double, so it is on average fuller than a power-of-two one) and is
// linear; at most 4/5 full. The engine's customer index and open-ticket
// index each hold millions of keys for the engine's life, where a Go map
// would cost ~32 bytes an entry.
type refTable struct {
	slots []uint64
	n     int
}

// minRefSlots is the smallest table; a table never shrinks below it.
const minRefSlots = 1024

func (t *refTable) home(tag uint64) int {
	hi, _ := bits.Mul64(tag<<32, uint64(len(t.slots)))
	return int(hi)
}

// find returns the slot holding h whose ref is confirms, and the ref; or,
// if there is none, the empty slot where probing ended and -1.
func (t *refTable) find(h uint64, confirms func(ref int32) bool) (int, int32) {
	if t.n == 0 {
		return 0, -1
	}
	tag := h >> 32
	for i := t.home(tag); ; i++ {
		if i == len(t.slots) {
			i = 0
		}
		s := t.slots[i]
		if s == 0 {
			return i, -1
		}
		if s>>32 == tag {
			if ref := int32(uint32(s) - 1); confirms(ref) {
				return i, ref
			}
		}
	}
}

// slot is the content of a slot for h and ref.
func slot(h uint64, ref int32) uint64 { return h>>32<<32 | uint64(uint32(ref)+1) }

// replace sets the ref in slot i, which find returned for h.
func (t *refTable) replace(i int, h uint64, ref int32) { t.slots[i] = slot(h, ref) }

// insert adds h with ref; h must not be there.
func (t *refTable) insert(h uint64, ref int32) {
	if 5*(t.n+1) > 4*len(t.slots) {
		t.resize(max(minRefSlots, len(t.slots)*3/2))
	}
	t.put(slot(h, ref))
	t.n++
}

func (t *refTable) put(s uint64) {
	i := t.home(s >> 32)
	for t.slots[i] != 0 {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	t.slots[i] = s
}

// remove empties slot i, which find returned. The slots after it that
// probed past it move back, so lookups need no tombstones; a table under a
// quarter full is rebuilt at half full.
func (t *refTable) remove(i int) {
	for j := i; ; {
		if j++; j == len(t.slots) {
			j = 0
		}
		s := t.slots[j]
		if s == 0 {
			break
		}
		// The slot at j may fill the hole at i unless its home lies
		// cyclically within (i, j].
		k := t.home(s >> 32)
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			t.slots[i] = s
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
	if len(t.slots) > minRefSlots && 4*t.n < len(t.slots) {
		t.resize(max(minRefSlots, t.n*2))
	}
}

func (t *refTable) resize(size int) {
	old := t.slots
	t.slots = make([]uint64, size)
	for _, s := range old {
		if s != 0 {
			t.put(s)
		}
	}
}
