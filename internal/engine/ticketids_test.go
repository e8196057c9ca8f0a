package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/custos-io/custos/internal/hashtable"
)

// TestTicketIDs: entries read back as a map of them would, across merges
// of the pruned ones and growth and rebuilds of the open ones.
func TestTicketIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var byRef []string // the open tickets' ids, by ref
	ids, want := newTicketIDs(func(ref int32) string { return byRef[ref] }), map[uint64]ticketEntry{}
	var keys []string
	for step := range 200_000 {
		var id string
		if len(keys) == 0 || r.IntN(3) == 0 {
			id = fmt.Sprint("T-", r.Uint64())
			keys = append(keys, id)
		} else {
			id = keys[r.IntN(len(keys))]
		}
		h := hashtable.String(id)
		var e ticketEntry
		if r.IntN(2) == 0 {
			e = liveEntry(int32(len(byRef)))
			byRef = append(byRef, id)
		} else {
			e = ticketEntry(r.Uint64() | 1<<31) // a pruned entry: ref < 0
		}
		ids.set(h, e)
		want[h] = e
		q := hashtable.String(keys[r.IntN(len(keys))])
		if got, ok := ids.get(q); !ok || got != want[q] {
			t.Fatalf("step %d: get(%x) = %x, %v, want %x", step, q, got, ok, want[q])
		}
		if _, ok := ids.get(r.Uint64()); ok {
			t.Fatalf("step %d: found a hash never set", step)
		}
		if step == 150_000 { // most open tickets go: the open table shrinks
			size := len(ids.open.t.slots)
			defer func() {
				if len(ids.open.t.slots) >= size {
					t.Errorf("open table of %d slots, %d open, did not shrink", size, ids.open.t.n)
				}
			}()
			for h, e := range want {
				if e.ref() >= 0 && r.IntN(10) > 0 {
					e = ticketEntry(r.Uint64() | 1<<31)
					ids.set(h, e)
					want[h] = e
				}
			}
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
