package engine

import (
	"math/rand/v2"
	"testing"
)

// TestTicketIDs: entries read back as a map of them would, across merges
// of the pruned ones and rebuilds of the open ones.
func TestTicketIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ids, want := newTicketIDs(), map[uint64]ticketEntry{}
	var keys []uint64
	for step := range 200_000 {
		var h uint64
		if len(keys) == 0 || r.IntN(3) == 0 {
			h = r.Uint64()
			keys = append(keys, h)
		} else {
			h = keys[r.IntN(len(keys))]
		}
		var e ticketEntry
		if r.IntN(2) == 0 {
			e = liveEntry(int32(r.IntN(1000)))
		} else {
			e = ticketEntry(r.Uint64() | 1<<31) // a pruned entry: ref < 0
		}
		ids.set(h, e)
		want[h] = e
		q := keys[r.IntN(len(keys))]
		if got, ok := ids.get(q); !ok || got != want[q] {
			t.Fatalf("step %d: get(%x) = %x, %v, want %x", step, q, got, ok, want[q])
		}
		if _, ok := ids.get(r.Uint64()); ok {
			t.Fatalf("step %d: found a hash never set", step)
		}
	}
	for h, e := range want {
		if got, ok := ids.get(h); !ok || got != e {
			t.Fatalf("get(%x) = %x, %v, want %x", h, got, ok, e)
		}
	}
	if len(ids.keys) == 0 {
		t.Fatal("no merge happened")
	}
}
