package rules

// lastTimes maps a value's hash to the last time it was seen: the distinct
// count's exact set. The keys are hashString's, already well mixed, so an
// open-addressed table with linear probing indexes by the key's low bits
// and needs no hashing of its own; it is several times quicker than a Go
// map here, where it is looked up on every event a distinct count takes.
type lastTimes struct {
	slots []tk // power-of-two length; k == 0 marks an empty slot
	n     int
}

// slotKey keeps 0 free to mark an empty slot: a value hashing to 0 shares
// the slot of one hashing to 1, a collision like any other (see tk).
func slotKey(k uint64) uint64 { return max(k, 1) }

func (m *lastTimes) len() int { return m.n }

func (m *lastTimes) get(k uint64) (int64, bool) {
	if m.n == 0 {
		return 0, false
	}
	k = slotKey(k)
	mask := uint64(len(m.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch m.slots[i].k {
		case k:
			return m.slots[i].t, true
		case 0:
			return 0, false
		}
	}
}

func (m *lastTimes) set(k uint64, t int64) {
	if 4*(m.n+1) > 3*len(m.slots) {
		m.grow()
	}
	k = slotKey(k)
	mask := uint64(len(m.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch m.slots[i].k {
		case k:
			m.slots[i].t = t
			return
		case 0:
			m.slots[i] = tk{t, k}
			m.n++
			return
		}
	}
}

// del removes k, shifting back the entries after it that probed past its
// slot, so lookups need no tombstones.
func (m *lastTimes) del(k uint64) {
	if m.n == 0 {
		return
	}
	k = slotKey(k)
	mask := uint64(len(m.slots) - 1)
	i := k & mask
	for m.slots[i].k != k {
		if m.slots[i].k == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; m.slots[j].k != 0; j = (j + 1) & mask {
		home := m.slots[j].k & mask
		// The entry at j may fill the hole at i unless its home lies
		// cyclically within (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			m.slots[i] = m.slots[j]
			i = j
		}
	}
	m.slots[i] = tk{}
	m.n--
}

func (m *lastTimes) grow() {
	old := m.slots
	m.slots = make([]tk, max(32, 2*len(old)))
	m.n = 0
	mask := uint64(len(m.slots) - 1)
	for _, e := range old {
		if e.k == 0 {
			continue
		}
		i := e.k & mask
		for m.slots[i].k != 0 {
			i = (i + 1) & mask
		}
		m.slots[i] = e
		m.n++
	}
}
