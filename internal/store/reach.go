package store

import (
	"strconv"
	"strings"
)

// reachKey is one (actor, day, customer) an event stored in a batch has.
type reachKey struct {
	actor, subject string
	day            int64
}

type actorSubject struct{ actor, subject string }

type daySubject struct {
	day     int64
	subject string
}

// reachSeen remembers reach keys of events already committed, so a batch's
// key whose count cannot change is not searched for in the events again,
// nor counted. A key is added only after the transaction that stored its
// event committed, and events are never deleted, so every key here is
// true; a key missing from it is searched for as before, so it may forget
// at any time: it starts empty, and keeps two generations of at most
// reachSeenMax (actor, day, customer) keys each.
type reachSeen struct {
	cur, old *reachGen
}

// reachGen is one generation of reachSeen. The coarser keys of every
// (actor, day, customer) key it holds are in the same generation, so a key
// known at the finest level is known at every level.
type reachGen struct {
	actorDay map[reachKey]struct{}
	actor    map[actorSubject]struct{}
	day      map[daySubject]struct{}
	total    map[string]struct{}
}

// reachSeenMax bounds a generation: about 370 bytes a key at all four
// levels (measured: 93 MiB for two full generations of keys whose
// customers all differ, the worst case), so at most ~95 MiB for both.
const reachSeenMax = 1 << 17

func newReachGen() *reachGen {
	return &reachGen{
		actorDay: make(map[reachKey]struct{}, 1024),
		actor:    make(map[actorSubject]struct{}, 1024),
		day:      make(map[daySubject]struct{}, 1024),
		total:    make(map[string]struct{}, 1024),
	}
}

// known returns the flags of k: which of its counts cannot change.
func (r *reachSeen) known(k reachKey) int64 {
	var flags int64
	for _, g := range [2]*reachGen{r.cur, r.old} {
		if g == nil {
			continue
		}
		if _, ok := g.actorDay[k]; ok {
			return knownKey | knownActor | knownDay | knownTotal
		}
		if _, ok := g.actor[actorSubject{k.actor, k.subject}]; ok {
			flags |= knownActor
		}
		if _, ok := g.day[daySubject{k.day, k.subject}]; ok {
			flags |= knownDay
		}
		if _, ok := g.total[k.subject]; ok {
			flags |= knownTotal
		}
	}
	return flags
}

// batchKey is a reach key of a batch and the seq of one of its events.
type batchKey struct {
	reachKey
	seq int64
}

// reachKeys appends to keys the distinct reach keys of the stored events
// of recs (those with a Seq), deduplicated by in.
func reachKeys(keys []batchKey, in map[reachKey]struct{}, recs []Record) []batchKey {
	for i := range recs {
		r := &recs[i]
		if r.Seq == 0 || r.Event == nil || r.Event.Subject == "" {
			continue
		}
		k := reachKey{actor: r.Event.Actor.ID, subject: r.Event.Subject, day: r.Event.Time.UnixNano() / nsPerDay}
		if _, ok := in[k]; ok {
			continue
		}
		in[k] = struct{}{}
		keys = append(keys, batchKey{k, r.Seq})
	}
	return keys
}

const nsPerDay = 86400000000000

// Flags of a key in reachUpdates' JSON, bits known from reachSeen: the
// key's count, its actor's, its day's and the total cannot change.
const (
	knownKey = 1 << iota
	knownActor
	knownDay
	knownTotal
	knownAll  = knownKey | knownActor | knownDay | knownTotal
	knownBits = 4
)

// batchJSON is the keys whose counts may change as the flat JSON array of
// integers the reach updates read (reachUpdates): each key as the seq of
// one of its events shifted left by knownBits, or'ed with its flags.
// Integers, because SQLite extracts them from JSON far faster than strings
// or nested arrays. A key known at the finest level is left out (its
// coarser keys are known too, so it changes nothing); unknown has a bit
// for each level some key left in may change.
func (r *reachSeen) batchJSON(keys []batchKey) (batch string, unknown int64) {
	b := make([]byte, 0, len(keys)*8+2)
	b = append(b, '[')
	n := 0
	for _, k := range keys {
		flags := r.known(k.reachKey)
		if flags&knownKey != 0 {
			continue
		}
		unknown |= ^flags & knownAll
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = strconv.AppendInt(b, k.seq<<knownBits|flags, 10)
	}
	if n == 0 {
		return "", 0
	}
	return string(append(b, ']')), unknown
}

// add remembers keys, whose events are committed. The strings are copied:
// a record's may share the memory of its request.
func (r *reachSeen) add(keys []batchKey) {
	for _, bk := range keys {
		k := bk.reachKey
		if r.cur != nil {
			if _, ok := r.cur.actorDay[k]; ok {
				continue
			}
		}
		if r.cur == nil || len(r.cur.actorDay) >= reachSeenMax {
			r.old, r.cur = r.cur, newReachGen()
		}
		k.actor, k.subject = strings.Clone(k.actor), strings.Clone(k.subject)
		g := r.cur
		g.actorDay[k] = struct{}{}
		g.actor[actorSubject{k.actor, k.subject}] = struct{}{}
		g.day[daySubject{k.day, k.subject}] = struct{}{}
		g.total[k.subject] = struct{}{}
	}
}
