package engine

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// The queue settles in (due, arrival) order whatever the arrival order:
// mostly in order, with some accesses that end earlier than those before.
func TestPendingQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var q pendingQueue
	var ref pendingHeap // the plain heap: the order to keep
	var seq uint64
	pop := func() {
		got, want := q.pop(), ref.pop()
		if got.seq != want.seq {
			t.Fatalf("popped seq %d (due %d), want seq %d (due %d)", got.seq, got.dueSec, want.seq, want.dueSec)
		}
	}
	at := base
	for i := 0; i < 20000; i++ {
		at = at.Add(time.Duration(r.IntN(3)) * time.Second)
		due := at
		if r.IntN(10) == 0 {
			due = due.Add(-time.Duration(r.IntN(600)) * time.Second) // late
		}
		seq++
		p := pending{dueSec: due.Unix(), dueNsec: int32(due.Nanosecond()), seq: seq}
		q.push(p)
		ref.push(p)
		for r.IntN(3) == 0 && len(ref) > 0 {
			pop()
		}
	}
	for len(ref) > 0 {
		pop()
	}
	if q.first() != nil {
		t.Fatal("queue not empty after every access settled")
	}
	if cap(q.fifo) > maxIdleFIFO {
		t.Errorf("the empty queue keeps room for %d accesses", cap(q.fifo))
	}
}

func TestPendingSize(t *testing.T) {
	if n := unsafe.Sizeof(pending{}); n > 64 {
		t.Errorf("pending is %d bytes, want at most 64: hundreds of thousands wait at once", n)
	}
}
