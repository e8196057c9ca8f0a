package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// scriptSender accepts what its fail function lets through and remembers
// every accepted record.
type scriptSender struct {
	mu     sync.Mutex
	calls  int
	sizes  []int
	got    []Record
	fail   func(call int, recs []Record) (int, error)
	closed bool
}

func (s *scriptSender) Send(ctx context.Context, recs []Record) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.sizes = append(s.sizes, len(recs))
	n, err := len(recs), error(nil)
	if s.fail != nil {
		n, err = s.fail(s.calls, recs)
	}
	s.got = append(s.got, recs[:n]...)
	return n, err
}

func (s *scriptSender) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *scriptSender) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.got {
		out = append(out, r.Finding.ID)
	}
	return out
}

func (s *scriptSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func ids(fs []*finding.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func appendAll(t *testing.T, d *Dispatcher, fs []*finding.Finding) {
	t.Helper()
	for _, f := range fs {
		if err := d.Append(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeliversInOrderAndResumesFromCursorAfterRestart(t *testing.T) {
	ctx := context.Background()
	ob := &Mem{}
	fs := numbered(25)
	clock := newFakeClock()

	s1 := &scriptSender{}
	d1, err := NewDispatcher(ctx, ob, []Sink{{Name: "siem", BatchSize: 4, Sender: s1}}, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDispatcher(t, d1)
	appendAll(t, d1, fs[:15])
	eventually(t, "first 15 delivered", func() bool { return s1.count() == 15 })
	stop()
	if !s1.closed {
		t.Error("Run returned without closing the sender")
	}
	if got := s1.ids(); !slices.Equal(got, ids(fs[:15])) {
		t.Fatalf("delivered %v, want the first 15 in order", got)
	}
	for _, n := range s1.sizes {
		if n > 4 {
			t.Errorf("a batch of %d exceeds batch_size 4", n)
		}
	}

	// The engine keeps appending while no dispatcher runs.
	for _, f := range fs[15:] {
		if _, err := ob.Append(ctx, f, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s2 := &scriptSender{}
	d2, err := NewDispatcher(ctx, ob, []Sink{{Name: "siem", BatchSize: 4, Sender: s2}}, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, d2)
	eventually(t, "the rest delivered after restart", func() bool { return s2.count() == 10 })
	if got := s2.ids(); !slices.Equal(got, ids(fs[15:])) {
		t.Errorf("after restart delivered %v, want only the 10 not yet delivered", got)
	}
}

func TestBackoffIsExponentialWithFullJitterAndResets(t *testing.T) {
	run := func(seed uint64) []time.Duration {
		clock := newFakeClock()
		down := errors.New("connection refused")
		s := &scriptSender{fail: func(call int, recs []Record) (int, error) {
			// 12 failures, one success, then 3 failures, then success.
			if call <= 12 || call >= 14 && call <= 16 {
				return 0, down
			}
			return len(recs), nil
		}}
		retry := Retry{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
		d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{{Name: "s", BatchSize: 1, Retry: retry, Sender: s}},
			Options{Clock: clock, Rand: seeded(seed)})
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, d, numbered(2))
		stop := runDispatcher(t, d)
		eventually(t, "both delivered", func() bool { return s.count() == 2 })
		stop()
		return clock.Waits()
	}
	waits := run(42)
	if len(waits) != 15 {
		t.Fatalf("waited %d times, want one wait per failure (15): %v", len(waits), waits)
	}
	ceilings := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000, 5000}
	for i, c := range ceilings {
		if waits[i] < 0 || waits[i] > c*time.Millisecond {
			t.Errorf("wait %d = %s, outside full-jitter range [0, %dms]", i, waits[i], c)
		}
	}
	// After a success the ceiling starts over at Initial.
	for i, c := range []time.Duration{100, 200, 400} {
		if w := waits[12+i]; w > c*time.Millisecond {
			t.Errorf("wait %d after recovery = %s, want at most %dms (backoff reset)", i, w, c)
		}
	}
	// Jitter: not all waits at the ceiling, and the same seed repeats.
	distinct := map[time.Duration]bool{}
	for _, w := range waits[6:12] {
		distinct[w] = true
	}
	if len(distinct) < 2 {
		t.Errorf("waits at the cap are all %v: no jitter", waits[6:12])
	}
	if again := run(42); !slices.Equal(again, waits) {
		t.Errorf("same seed gave different waits:\n%v\n%v", waits, again)
	}
	if other := run(7); slices.Equal(other, waits) {
		t.Errorf("different seeds gave identical waits %v", waits)
	}
}

func TestRetryAfterIsHonouredUpToMax(t *testing.T) {
	clock := newFakeClock()
	s := &scriptSender{fail: func(call int, recs []Record) (int, error) {
		switch call {
		case 1:
			return 0, RetryAfter(errors.New("429"), 3*time.Second)
		case 2:
			return 0, RetryAfter(errors.New("503"), time.Hour)
		}
		return len(recs), nil
	}}
	d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{{Name: "s", Retry: Retry{Initial: time.Millisecond, Max: 10 * time.Second}, Sender: s}},
		Options{Clock: clock, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, d, numbered(1))
	stop := runDispatcher(t, d)
	eventually(t, "delivered", func() bool { return s.count() == 1 })
	stop()
	w := clock.Waits()
	if len(w) != 2 || w[0] < 3*time.Second || w[1] != 10*time.Second {
		t.Errorf("waits %v, want ≥3s (Retry-After) then 10s (Retry-After capped by max)", w)
	}
}

func TestPermanentRefusalDropsOnlyTheBadFinding(t *testing.T) {
	fs := numbered(10)
	bad := fs[6].ID
	s := &scriptSender{fail: func(call int, recs []Record) (int, error) {
		for i, r := range recs {
			if r.Finding.ID == bad {
				if i == 0 {
					return 0, Permanent(fmt.Errorf("400: %s malformed", bad))
				}
				// A batch receiver refuses the whole request.
				return 0, Permanent(errors.New("400: batch malformed"))
			}
		}
		return len(recs), nil
	}}
	lag := mustLag(t, deliverAll(t, Sink{Name: "s", BatchSize: 5, Sender: s}, fs, newFakeClock()))[0]
	want := slices.Delete(ids(fs), 6, 7)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want all but %s", got, bad)
	}
	if lag.Dropped != 1 {
		t.Errorf("Dropped = %d, want 1", lag.Dropped)
	}
}

func TestFilterSkipsButAdvancesCursor(t *testing.T) {
	fs := numbered(30)
	fs = append(fs, sampleCase("al-0001"))
	s := &scriptSender{}
	filter := Filter{Kinds: []finding.Kind{finding.KindAlert}, MinSeverity: finding.High, Rules: []string{"anomaly:*", "honeytoken_access"}}
	deliverAll(t, Sink{Name: "s", BatchSize: 7, Filter: filter, Sender: s}, fs, newFakeClock())
	var want []string
	for _, f := range fs {
		if f.Kind == finding.KindAlert && f.Severity.Rank() >= finding.High.Rank() && f.Rule != "no_ticket" {
			want = append(want, f.ID)
		}
	}
	if len(want) == 0 {
		t.Fatal("test data has nothing passing the filter")
	}
	if got := s.ids(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func TestLagWhileReceiverIsDown(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	up := false
	s := &scriptSender{fail: func(call int, recs []Record) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			return 0, errors.New("connection refused")
		}
		return len(recs), nil
	}}
	// Nanosecond backoff keeps the fake clock (nearly) still while the
	// sink retries.
	tiny := Retry{Initial: time.Nanosecond, Max: time.Nanosecond}
	d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{{Name: "down", Retry: tiny, Sender: s}},
		Options{Clock: clock, Rand: seeded(3)})
	if err != nil {
		t.Fatal(err)
	}
	fs := numbered(3)
	if err := d.Append(context.Background(), fs[0]); err != nil {
		t.Fatal(err)
	}
	first := clock.Now()
	clock.Advance(time.Hour)
	appendAll(t, d, fs[1:])
	stop := runDispatcher(t, d)
	eventually(t, "failures counted", func() bool { return mustLag(t, d)[0].Failures >= 3 })
	l := mustLag(t, d)[0]
	if l.Behind != 3 || l.Delivered != 0 {
		t.Errorf("Behind %d Delivered %d, want 3 and 0", l.Behind, l.Delivered)
	}
	if age := clock.Now().Sub(first); l.Oldest < time.Hour || l.Oldest > age {
		t.Errorf("Oldest = %s, want the age of the first finding (≥1h)", l.Oldest)
	}
	if l.LastError != "connection refused" {
		t.Errorf("LastError = %q", l.LastError)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	eventually(t, "caught up", func() bool { return mustLag(t, d)[0].Behind == 0 })
	stop()
	if l := mustLag(t, d)[0]; l.Oldest != 0 || l.Delivered != 3 {
		t.Errorf("after recovery Oldest %s Delivered %d, want 0 and 3", l.Oldest, l.Delivered)
	}
}

func TestNewSinkStartsAtEndUnlessEarliest(t *testing.T) {
	ctx := context.Background()
	ob := &Mem{}
	clock := newFakeClock()
	for _, f := range numbered(5) {
		if _, err := ob.Append(ctx, f, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	latest, earliest := &scriptSender{}, &scriptSender{}
	d, err := NewDispatcher(ctx, ob, []Sink{
		{Name: "new-latest", StartAtEnd: true, Sender: latest},
		{Name: "new-earliest", Sender: earliest},
	}, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	// The cursor is saved at construction: findings appended before Run
	// still reach the latest-starting sink.
	extra := numbered(6)[5]
	appendAll(t, d, []*finding.Finding{extra})
	runDispatcher(t, d)
	eventually(t, "earliest backfilled", func() bool { return earliest.count() == 6 })
	eventually(t, "latest got the new one", func() bool { return latest.count() == 1 })
	if got := latest.ids(); got[0] != extra.ID {
		t.Errorf("latest-starting sink got %v, want only %s", got, extra.ID)
	}
}

func TestOutboxRevisionsCountRewritesOfACase(t *testing.T) {
	ctx := context.Background()
	ob := &Mem{}
	var revs []int
	var seqs []int64
	add := func(f *finding.Finding) {
		r, err := ob.Append(ctx, f, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		revs, seqs = append(revs, r.Revision), append(seqs, r.Seq)
	}
	c := sampleCase("al-1")
	add(c)
	add(sampleCase("al-1", "al-2"))
	add(sampleCase("al-1", "al-2", "al-3"))
	add(numbered(1)[0])
	if !slices.Equal(revs, []int{0, 1, 2, 0}) {
		t.Errorf("revisions %v, want 0 1 2 for the growing case then 0 for a new alert", revs)
	}
	// The engine rebuilt after a restart emits the same findings again: the
	// outbox keeps one record of each.
	add(sampleCase("al-1", "al-2"))
	add(numbered(1)[0])
	if revs[4] != 1 || seqs[4] != seqs[1] || seqs[5] != seqs[3] {
		t.Errorf("re-appending identical findings gave seq %v revisions %v, want the existing records", seqs, revs)
	}
	if last, _ := ob.Last(ctx); last != 4 {
		t.Errorf("outbox holds %d records, want 4", last)
	}
	if got := DeliveryID(&Record{Finding: c, Revision: 2}); got != c.ID+".2" {
		t.Errorf("DeliveryID = %q", got)
	}
}

func TestDispatcherRejectsBadSinkLists(t *testing.T) {
	s := &scriptSender{}
	for name, sinks := range map[string][]Sink{
		"no name":   {{Sender: s}},
		"duplicate": {{Name: "a", Sender: s}, {Name: "a", Sender: s}},
		"no sender": {{Name: "a"}},
	} {
		if _, err := NewDispatcher(context.Background(), &Mem{}, sinks, Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func mustLag(t *testing.T, d *Dispatcher) []Lag {
	t.Helper()
	l, err := d.Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPollFindsAppendsMadeBehindTheDispatchersBack(t *testing.T) {
	ob := &Mem{}
	s := &scriptSender{}
	d, err := NewDispatcher(context.Background(), ob, []Sink{{Name: "s", Sender: s}}, Options{Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, d)
	// Another writer of the same store: no Notify reaches the dispatcher.
	for _, f := range numbered(3) {
		if _, err := ob.Append(context.Background(), f, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "polled and delivered", func() bool { return s.count() == 3 })
}
