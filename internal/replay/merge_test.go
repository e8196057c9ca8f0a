package replay

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// refMerge is the merge as it was before the streams kept in-order items
// in queues: every item through one heap. The merge must release items in
// exactly its order.
func refMerge(streams []*stream, lateness time.Duration) []string {
	m := merger{streams: streams, lateness: lateness}
	var out []string
	var last time.Time
	for {
		if len(m.q) > 0 && !m.q[0].t.After(m.watermark()) {
			it := m.q.pop()
			late := it.t.Before(last)
			if !late {
				last = it.t
			}
			out = append(out, describe(it, late))
			continue
		}
		s := m.behind()
		if s == nil {
			return out
		}
		it, ok, _ := s.pull()
		if !ok {
			continue
		}
		if it.t.After(s.maxSeen) {
			s.maxSeen, s.maxSec, s.maxNsec = it.t, it.sec, it.nsec // behind reads the instant
		}
		m.q.push(it)
	}
}

func describe(it item, late bool) string {
	return fmt.Sprintf("%d/%d/%d/%v", it.sec, it.kind, it.seq, late)
}

// fakeStreams makes two streams of items nearly in time order: some late
// by up to twice the lateness, some at the same instant.
func fakeStreams(rng *rand.Rand, n int, lateness time.Duration) []*stream {
	var out []*stream
	for _, k := range []kind{kindEvent, kindTicket} {
		s := newStream(k)
		s.ch = make(chan []item, n/7+2)
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var batch []item
		for i := 0; i < n; i++ {
			t0 = t0.Add(time.Duration(rng.IntN(20)) * time.Second)
			t := t0
			if rng.IntN(10) == 0 {
				t = t.Add(-time.Duration(rng.Int64N(int64(2 * lateness))))
			}
			batch = append(batch, item{t: t, sec: t.Unix(), nsec: int32(t.Nanosecond()), kind: k, seq: uint64(i + 1)})
			if len(batch) == 7 {
				s.ch <- batch
				batch = nil
			}
		}
		if len(batch) > 0 {
			s.ch <- batch
		}
		close(s.ch)
		s.free = make(chan []item, n/7+2)
		out = append(out, s)
	}
	return out
}

func TestMergeSameAsOneHeap(t *testing.T) {
	const lateness = 5 * time.Minute
	for seed := uint64(1); seed <= 20; seed++ {
		want := refMerge(fakeStreams(rand.New(rand.NewPCG(seed, 2)), 3000, lateness), lateness)
		m := merger{streams: fakeStreams(rand.New(rand.NewPCG(seed, 2)), 3000, lateness), lateness: lateness}
		var got []string
		for {
			it, ok, err := m.next(func(*event.RecordError) {})
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, describe(it, it.late))
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d items, want %d", seed, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("seed %d: item %d is %s, want %s", seed, i, got[i], want[i])
			}
		}
	}
}
