package hashtable

// String is a fixed 64-bit hash of an id (an IP address, a device, a
// customer, a ticket) read eight bytes at a time: four to eight times
// fewer steps than FNV's byte at a time. Fixed, not seeded per process, so
// that sets keyed by it, and their rare collisions, are the same on every
// run: replay output must not depend on a random seed. It is not keyed, so
// whoever controls ids could craft two that collide; the callers accept
// that, as they accept chance collisions (about n²/2⁶⁵ among n ids).
func String(s string) uint64 {
	h := uint64(len(s)) * 0x9e3779b97f4a7c15
	for len(s) > 8 {
		h = (h ^ le64(s)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
		s = s[8:]
	}
	// The last 1 to 8 bytes as one word; two reads that overlap when
	// fewer, which the length, hashed first, tells apart.
	var w uint64
	switch n := len(s); {
	case n == 8:
		w = le64(s)
	case n >= 4:
		w = uint64(le32(s)) | uint64(le32(s[n-4:]))<<32
	case n > 0:
		w = uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16
	}
	h = (h ^ w) * 0xbf58476d1ce4e5b9
	h ^= h >> 29
	h *= 0x94d049bb133111eb
	return h ^ h>>32
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
