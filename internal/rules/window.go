package rules

import (
	"encoding/binary"
	"sort"

	"github.com/axiomhq/hyperloglog"

	"github.com/custos-io/custos/internal/hashtable"
)

// Sliding windows in event time, with memory bounded per window.
//
// A count or sum keeps each event's time exactly while the window holds at
// most exactEntries events, then switches to countBuckets buckets of
// window/countBuckets each: from then on an event up to one bucket older
// than the window may still be counted.
//
// A distinct count keeps every value's last time exactly up to
// exactDistinct live values, then switches to distinctBuckets HyperLogLog
// sketches (precision 12: about 1.6 % standard error) of window/
// distinctBuckets each, with the same one-bucket tolerance at the old edge.
// An estimate costs a pass over 4096 registers, so it is refreshed every
// estimateEvery insertions; in between the value is the last estimate plus
// the insertions since (an upper bound that runs ahead by at most that).
const (
	estimateEvery   = 32
	exactEntries    = 128
	countBuckets    = 64
	exactDistinct   = 1024
	distinctBuckets = 16
	hllPrecision    = 12
)

type tv struct{ t, v int64 }

type bucket struct{ idx, sum int64 }

// counter is a sliding count or sum. Times are Unix nanoseconds. It is
// kept small (48 bytes) because every actor holds several: the buckets of
// the rare approximate counter live behind a pointer.
type counter struct {
	exact  []tv // sorted by time, oldest first
	sum    int64
	latest int64
	ring   *bucketRing // non-nil once approximate
}

type bucketRing struct {
	width   int64
	buckets [countBuckets]bucket
}

func (c *counter) add(t, v, window int64) {
	if t > c.latest {
		c.latest = t
	}
	if c.ring != nil {
		c.ring.add(t, v)
		return
	}
	c.expire(c.latest, window)
	if t <= c.latest-window {
		return // older than the window already
	}
	n := len(c.exact)
	if n == 0 || t >= c.exact[n-1].t {
		c.exact = append(room(c.exact), tv{t, v})
	} else {
		i := sort.Search(n, func(i int) bool { return c.exact[i].t > t })
		c.exact = append(room(c.exact), tv{})
		copy(c.exact[i+1:], c.exact[i:])
		c.exact[i] = tv{t, v}
	}
	c.sum += v
	if len(c.exact) > exactEntries {
		c.toBuckets(window)
	}
}

func (c *counter) toBuckets(window int64) {
	c.ring = &bucketRing{width: max(window/countBuckets, 1)}
	for i := range c.ring.buckets {
		c.ring.buckets[i].idx = -1
	}
	for _, e := range c.exact {
		c.ring.add(e.t, e.v)
	}
	c.exact, c.sum = nil, 0
}

func (r *bucketRing) add(t, v int64) {
	idx := t / r.width
	b := &r.buckets[idx%countBuckets]
	switch {
	case b.idx == idx:
		b.sum += v
	case b.idx < idx:
		b.idx, b.sum = idx, v
	}
	// b.idx > idx: older than the ring holds; dropped
}

// expire drops the events at or before now-window. Most calls have none
// to drop: the test is inlined, the loop is not.
func (c *counter) expire(now, window int64) {
	if len(c.exact) > 0 && c.exact[0].t <= now-window {
		c.drop(now, window)
	}
}

func (c *counter) drop(now, window int64) {
	i := 0
	for i < len(c.exact) && c.exact[i].t <= now-window {
		c.sum -= c.exact[i].v
		i++
	}
	if i > 0 {
		c.exact = shrink(c.exact, i)
	}
}

// room returns s with capacity for one more element. Past a few it grows
// the array by a quarter, not append's double: every actor holds several
// windows of a few dozen entries, and doubling leaves a third of each
// unused on average.
func room[T any](s []T) []T {
	n := len(s)
	if n < cap(s) {
		return s
	}
	if n < 8 {
		return append(s, *new(T))[:n]
	}
	// Appended to nil, the array is rounded up to its size class, so the
	// capacity includes what the allocator would waste otherwise.
	ns := append([]T(nil), make([]T, n+n/4)...)
	copy(ns, s)
	return ns[:n]
}

// shrink drops the first i elements of s, in place, or into a smaller
// array when s would keep more than twice the capacity it needs: a burst
// leaves its capacity behind in every actor's windows otherwise.
func shrink[T any](s []T, i int) []T {
	n := len(s) - i
	if n == 0 {
		return nil
	}
	if c := cap(s); c > 16 && n <= c/4 {
		return append(make([]T, 0, 2*n), s[i:]...)
	}
	return append(s[:0], s[i:]...)
}

// value is the count or sum over (now-window, now].
func (c *counter) value(now, window int64) int64 {
	if now < c.latest {
		now = c.latest
	}
	if c.ring == nil {
		c.expire(now, window)
		return c.sum
	}
	// No bucket is later than now (it is at least c.latest, the latest
	// time added), and an unused one holds nothing: only the lower bound
	// needs testing.
	lo := (now - window) / c.ring.width
	var s int64
	for i := range c.ring.buckets {
		if b := &c.ring.buckets[i]; b.idx >= lo {
			s += b.sum
		}
	}
	return s
}

// smallDistinct is how many live values a distinct count keeps in a plain
// slice, ordered by time, before it needs a map: an agent's 24 hours hold
// a few dozen customers (p99 39 in a simulated organisation), a scan of
// the slice from its recent end finds a value seen again at once, and the
// slice costs 14 bytes a value where the map and its log cost ~80.
const smallDistinct = 64

// distinct is a sliding distinct count. Times are Unix nanoseconds. It is
// kept small (40 bytes) because every actor holds several: the map and
// sketches of the few large sets live behind a pointer.
type distinct struct {
	small  []smallEntry // (value, last time) while few; sorted by time, one entry a value
	latest int64
	large  *largeDistinct // non-nil once past smallDistinct
}

type largeDistinct struct {
	last  hashtable.Table[int64] // value -> last time seen
	order []tk                   // (time, value), sorted by time; may hold stale entries
	sk    *sketchRing            // non-nil once approximate; last and order are then empty
}

// Values are kept as 64-bit hashes (hashString): counts are exact up to
// a collision of two values' hashes, and a hash is what the sketches take.
type tk struct {
	t int64
	k uint64
}

// smallEntry is a small set's value, as its hash, and the low 48 bits of
// its last time: 14 bytes where a tk takes 16, a set of a few dozen
// values being most of what an actor keeps. The set's times all lie
// within its window before its latest time (distinct.latest), which gives
// back the high bits, exactly at any sub-second precision, for a window
// shorter than smallSpan (78 hours); a longer one keeps its values in the
// map from the first.
type smallEntry [14]byte // the time's low 48 bits, then the value, little-endian

const smallSpan = 1 << 48

func newSmallEntry(t int64, k uint64) (e smallEntry) {
	binary.LittleEndian.PutUint32(e[:4], uint32(t))
	binary.LittleEndian.PutUint16(e[4:6], uint16(t>>32))
	binary.LittleEndian.PutUint64(e[6:], k)
	return e
}

// key and at each read the entry with one load; at masks off the
// value's first 2 bytes.
func (e *smallEntry) key() uint64 { return binary.LittleEndian.Uint64(e[6:]) }

// at is the entry's time, given latest: a time no earlier than it, and
// less than smallSpan later.
func (e *smallEntry) at(latest int64) int64 {
	low := binary.LittleEndian.Uint64(e[:8])
	return latest - int64((uint64(latest)-low)&(smallSpan-1))
}

// hashString is FNV-1a with a 64-bit finaliser (MurmurHash3's fmix64), so
// the bits HyperLogLog reads are well mixed. It is fixed, not seeded per
// process, so estimates and hence alerts repeat from run to run.
func hashString(s string) uint64 { return fmix64(fnv(fnvOffset, s)) }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv adds s to the FNV-1a state h.
func fnv(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// fnvAdd adds s and then a 0xff byte (never part of UTF-8) to the FNV-1a
// state h, so that a list of strings hashes apart from their concatenation.
func fnvAdd(h uint64, s string) uint64 { return (fnv(h, s) ^ 0xff) * fnvPrime }

// fmix64 is MurmurHash3's finaliser.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb93fe53cd5cc
	h ^= h >> 33
	return h
}

func (d *distinct) add(t int64, k uint64, window int64) {
	l := d.large
	if t > d.latest {
		if l == nil {
			// The slice's times are read against latest: they are
			// dropped before it moves a window or more away from them.
			if d.smallExpired(t, window) {
				d.dropSmall(t, window)
			}
		}
		d.latest = t
	}
	if l != nil && l.sk != nil {
		l.sk.add(t, k)
		return
	}
	if t <= d.latest-window {
		return
	}
	if l == nil {
		if d.addSmall(t, k, window) {
			return
		}
		l = d.toMap()
	}
	if prev, ok := l.last.Get(k); ok && prev >= t {
		return
	}
	l.last.Set(k, t)
	n := len(l.order)
	if n == 0 || t >= l.order[n-1].t {
		l.order = append(l.order, tk{t, k})
	} else {
		i := sort.Search(n, func(i int) bool { return l.order[i].t > t })
		l.order = append(l.order, tk{})
		copy(l.order[i+1:], l.order[i:])
		l.order[i] = tk{t, k}
	}
	l.expire(d.latest, window)
	if len(l.order) > 2*l.last.Len()+64 {
		l.compact()
	}
	if l.last.Len() > exactDistinct {
		l.toSketch(window)
	}
}

// addSmall adds the value to the slice, and reports false, changing
// nothing, if that would take the slice past smallDistinct values.
func (d *distinct) addSmall(t int64, k uint64, window int64) bool {
	if window >= smallSpan {
		return false
	}
	n := len(d.small)
	for i := n - 1; i >= 0; i-- {
		if d.small[i].key() != k {
			continue
		}
		if d.small[i].at(d.latest) >= t {
			return true
		}
		if i == n-1 {
			// Seen last, and seen again later: it stays last (a customer's
			// records opened one after another).
			d.small[i] = newSmallEntry(t, k)
			return true
		}
		copy(d.small[i:], d.small[i+1:])
		n--
		d.small = d.small[:n]
		break
	}
	if n == len(d.small) && n >= smallDistinct {
		return false
	}
	d.small = room(d.small)
	i := n
	if n > 0 && t < d.small[n-1].at(d.latest) {
		i = sort.Search(n, func(i int) bool { return d.small[i].at(d.latest) > t })
	}
	d.small = d.small[:n+1]
	copy(d.small[i+1:], d.small[i:n])
	d.small[i] = newSmallEntry(t, k)
	return true
}

// smallExpired reports whether the slice holds values last seen at or
// before now-window (now no earlier than latest), which dropSmall drops.
// Most events have none to drop: the test is inlined, the loop is not.
func (d *distinct) smallExpired(now, window int64) bool {
	return len(d.small) > 0 && d.small[0].at(d.latest) <= now-window
}

func (d *distinct) dropSmall(now, window int64) {
	i := 0
	for i < len(d.small) && d.small[i].at(d.latest) <= now-window {
		i++
	}
	if i > 0 {
		d.small = shrink(d.small, i)
	}
}

// toMap moves the slice's values to the map and its time-ordered log.
func (d *distinct) toMap() *largeDistinct {
	l := &largeDistinct{}
	for _, e := range d.small {
		t, k := e.at(d.latest), e.key()
		l.last.Set(k, t)
		l.order = append(l.order, tk{t, k})
	}
	d.small, d.large = nil, l
	return l
}

// expire drops values last seen at or before now-window.
func (l *largeDistinct) expire(now, window int64) {
	i := 0
	for i < len(l.order) && l.order[i].t <= now-window {
		if e := l.order[i]; l.lastAt(e.k) == e.t {
			l.last.Delete(e.k)
		}
		i++
	}
	if i > 0 {
		l.order = append(l.order[:0], l.order[i:]...)
	}
}

// compact removes entries superseded by a later sighting of their value.
func (l *largeDistinct) compact() {
	j := 0
	for _, e := range l.order {
		if l.lastAt(e.k) == e.t {
			l.order[j] = e
			j++
		}
	}
	clear(l.order[j:])
	l.order = l.order[:j]
}

func (l *largeDistinct) toSketch(window int64) {
	sk := newSketchRing(window)
	for _, e := range l.order {
		if l.lastAt(e.k) == e.t {
			sk.add(e.t, e.k)
		}
	}
	*l = largeDistinct{sk: sk}
}

func (d *distinct) value(now, window int64) int64 {
	if now < d.latest {
		now = d.latest
	}
	l := d.large
	if l == nil {
		if d.smallExpired(now, window) {
			d.dropSmall(now, window)
		}
		return int64(len(d.small))
	}
	if l.sk != nil {
		return l.sk.value(now)
	}
	l.expire(now, window)
	return int64(l.last.Len())
}

// lastAt is the value's last time, 0 if it is not in the set (as a Go map
// reads a missing key).
func (l *largeDistinct) lastAt(k uint64) int64 {
	t, _ := l.last.Get(k)
	return t
}

// sketchRing is a ring of HyperLogLog sketches, one per window/
// distinctBuckets, and their union over the live buckets.
type sketchRing struct {
	width    int64
	idx      [distinctBuckets]int64
	buckets  [distinctBuckets]*hyperloglog.Sketch
	union    *hyperloglog.Sketch
	dirty    bool  // union must be rebuilt (a bucket expired)
	pending  int64 // insertions since the last estimate
	estimate int64
}

func newSketch() *hyperloglog.Sketch {
	s, err := hyperloglog.NewSketch(hllPrecision, true)
	if err != nil {
		panic(err) // the precision is a constant in range
	}
	return s
}

func newSketchRing(window int64) *sketchRing {
	r := &sketchRing{width: max(window/distinctBuckets, 1), union: newSketch()}
	for i := range r.idx {
		r.idx[i] = -1
	}
	return r
}

func (r *sketchRing) add(t int64, k uint64) {
	idx := t / r.width
	i := idx % distinctBuckets
	switch {
	case r.idx[i] > idx:
		return // older than the ring holds
	case r.idx[i] < idx:
		if r.buckets[i] != nil && r.idx[i] >= 0 {
			r.dirty = true
		}
		r.idx[i] = idx
		if r.buckets[i] == nil {
			r.buckets[i] = newSketch()
		} else {
			r.buckets[i].Reset()
		}
	}
	r.buckets[i].InsertHash(k)
	if !r.dirty {
		r.union.InsertHash(k)
	}
	r.pending++
}

func (r *sketchRing) value(now int64) int64 {
	lo := now/r.width - distinctBuckets + 1
	for i, idx := range r.idx {
		if idx >= 0 && idx < lo {
			r.idx[i] = -1
			r.buckets[i].Reset()
			r.dirty = true
		}
	}
	if r.dirty {
		r.union.Reset()
		for i, b := range r.buckets {
			if b != nil && r.idx[i] >= 0 {
				_ = r.union.Merge(b) // same precision by construction
			}
		}
		r.dirty = false
		r.pending = estimateEvery
	}
	if r.pending >= estimateEvery {
		r.estimate = int64(r.union.Estimate())
		r.pending = 0
	}
	return r.estimate + r.pending
}
