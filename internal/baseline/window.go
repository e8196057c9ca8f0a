package baseline

// keySet is a set of 64-bit hashes (the tickets an actor worked today):
// open addressing with linear probing, 8 bytes a slot where a table with
// values takes 16. Keys 0 and 1 are one key, like hashtable.Table's.
type keySet struct {
	slots []uint64 // power-of-two length; 0: empty
	shift uint8    // 64 - log2(len(slots))
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
	s.shift = uint8(64 - log2(size))
	s.n = 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}

func log2(n int) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}
