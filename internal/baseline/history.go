package baseline

import (
	"encoding/binary"
	"math"
	"slices"
)

// historyDays is how many active days of its own history an actor keeps per
// day feature: two working weeks, enough for a median that one odd day does
// not move, and small enough to stay within the memory budget.
const historyDays = 14

// dayRing is one day feature's own history: the last historyDays values of
// days the actor worked, each marked weekday or weekend.
type dayRing struct {
	v       [historyDays]float32
	weekend uint16 // bit i set: v[i] is a weekend day
	n, pos  uint8
}

func (r *dayRing) push(x float64, weekend bool) {
	r.v[r.pos] = float32(x)
	if weekend {
		r.weekend |= 1 << r.pos
	} else {
		r.weekend &^= 1 << r.pos
	}
	r.pos = (r.pos + 1) % historyDays
	if r.n < historyDays {
		r.n++
	}
}

// values appends the history to judge a day against. Seasonality by day of
// week where the data supports it: if at least minSame of the kept days are
// the same kind as this one (weekday or weekend), only those; otherwise all.
// seasonal reports which.
func (r *dayRing) values(dst []float64, weekend bool, minSame int) (_ []float64, seasonal bool) {
	same := 0
	for i := uint8(0); i < r.n; i++ {
		if (r.weekend>>i&1 == 1) == weekend {
			same++
		}
	}
	seasonal = same >= minSame && same < int(r.n)
	for i := uint8(0); i < r.n; i++ {
		if !seasonal || (r.weekend>>i&1 == 1) == weekend {
			dst = append(dst, float64(r.v[i]))
		}
	}
	return dst, seasonal
}

// hourDepth is how many past values an hour feature keeps per hour of day.
const hourDepth = 4

// hourRing is one hour-of-day slot of an hour feature's own history: the
// last hourDepth values seen in that hour of the day (counts, capped).
type hourRing struct {
	v      [hourDepth]uint16
	n, pos uint8
}

func (r *hourRing) push(x float64) {
	r.v[r.pos] = uint16(min(max(x, 0), 65535))
	r.pos = (r.pos + 1) % hourDepth
	if r.n < hourDepth {
		r.n++
	}
}

func (r *hourRing) values(dst []float64) []float64 {
	for i := uint8(0); i < r.n; i++ {
		dst = append(dst, float64(r.v[i]))
	}
	return dst
}

// hourSlot is one hour of day's ring of one hour feature.
type hourSlot struct {
	feat, hod uint8
	r         hourRing
}

// hourHistory is an actor's rings of the hour features, only for the hours
// of day it has worked: most actors work a third of them, and the ring of
// an hour never worked would be empty bytes kept for life.
type hourHistory []hourSlot

// ring returns the ring of hour feature f at hour of day hod, nil if none.
func (h hourHistory) ring(f, hod int) *hourRing {
	for k := range h {
		if int(h[k].feat) == f && int(h[k].hod) == hod {
			return &h[k].r
		}
	}
	return nil
}

// push adds x to the ring of hour feature f at hour of day hod, adding the
// ring in a slice of exactly one more (it happens a few times per actor).
func (h *hourHistory) push(f, hod int, x float64) {
	r := h.ring(f, hod)
	if r == nil {
		n := make(hourHistory, len(*h)+1)
		copy(n, *h)
		n[len(*h)] = hourSlot{feat: uint8(f), hod: uint8(hod)}
		*h = n
		r = &n[len(n)-1].r
	}
	r.push(x)
}

// recentSet remembers the last size values of something (IP addresses,
// devices, countries) by hash, to tell a new one.
type recentSet struct {
	h         [8]uint32
	pos, size uint8
}

// seen reports whether h was among the remembered values, and remembers it.
func (s *recentSet) seen(h uint32) bool {
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	if s.size == 0 {
		s.size = uint8(len(s.h))
	}
	for _, x := range s.h[:s.size] {
		if x == h {
			return true
		}
	}
	s.h[s.pos] = h
	s.pos = (s.pos + 1) % s.size
	return false
}

// fnv64 is FNV-1a: a fixed hash, so sets and their rare collisions are the
// same on every run.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// dayHistory is an actor's rings of every day feature, encoded: per ring a
// byte of n and pos, two bytes of weekend marks, and its n values as
// uvarints (a whole count in one or two bytes, any other value in five). It
// is decoded when the actor's day opens and re-encoded when it closes, once
// a day: most values are small counts, so it takes about half the memory
// of the rings, which every actor keeps for as long as it has state.
type dayHistory []byte

// decode appends the n rings of h (zero rings if h is empty) to dst.
func (h dayHistory) decode(dst []dayRing, n int) []dayRing {
	k := len(dst)
	dst = slices.Grow(dst, n)[:k+n]
	for i := range dst[k:] {
		r := &dst[k+i]
		if len(h) == 0 {
			*r = dayRing{}
			continue
		}
		r.n, r.pos = h[0]>>4, h[0]&15
		r.weekend = uint16(h[1]) | uint16(h[2])<<8
		h = h[3:]
		for j := range r.n {
			u := uint64(h[0])
			if u < 0x80 { // most values: a count below 64
				h = h[1:]
			} else {
				var w int
				u, w = binary.Uvarint(h)
				h = h[w:]
			}
			if u&1 == 0 {
				r.v[j] = float32(u >> 1)
			} else {
				r.v[j] = math.Float32frombits(uint32(u >> 1))
			}
		}
	}
	return dst
}

// encode appends the encoding of rs to dst.
func encodeDays(dst []byte, rs []dayRing) []byte {
	for i := range rs {
		r := &rs[i]
		dst = append(dst, r.n<<4|r.pos, byte(r.weekend), byte(r.weekend>>8))
		for _, v := range r.v[:r.n] {
			u := uint64(math.Float32bits(v))<<1 | 1
			if c := uint32(v); v < 1<<24 && math.Float32bits(float32(c)) == math.Float32bits(v) {
				u = uint64(c) << 1
			}
			dst = binary.AppendUvarint(dst, u)
		}
	}
	return dst
}
