package server

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/journal"
)

// The engine gives way while burstRequests batch requests are in progress
// and minYieldLag records wait for it, and not once its lag reaches
// maxEngineLag, until half of it is left.
func TestEngineYieldsToBurst(t *testing.T) {
	s := &Server{journal: new(journal.Journal)}
	var y yielder

	s.ingesting.Store(burstRequests - 1)
	runsOn(t, "a steady feed, no burst", func() { y.yield(s, time.Now()) })

	s.ingesting.Store(burstRequests)
	runsOn(t, "a burst the engine keeps up with", func() { y.yield(s, time.Now()) })

	s.queued.Store(minYieldLag)
	var ended atomic.Bool
	go func() {
		time.Sleep(20 * time.Millisecond)
		ended.Store(true)
		s.ingesting.Store(0)
	}()
	y.yield(s, time.Now())
	if !ended.Load() {
		t.Fatal("the engine went on during a burst")
	}

	s.ingesting.Store(burstRequests)
	s.queued.Store(maxEngineLag)
	runsOn(t, "far behind", func() { y.yield(s, time.Now()) })
	s.processed.Store(maxEngineLag / 4)
	runsOn(t, "still more than half behind", func() { y.yield(s, time.Now()) })
	if !y.catchUp {
		t.Fatal("the engine stopped catching up before half its lag was processed")
	}
	s.processed.Store(maxEngineLag*3/4 + 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		ended.Store(false)
		s.ingesting.Store(0)
	}()
	y.yield(s, time.Now())
	if ended.Load() {
		t.Fatal("the engine went on during a burst with little lag")
	}
}

// Records held since maxEngineYield ago are processed during a burst.
func TestEngineYieldBounded(t *testing.T) {
	s := &Server{journal: new(journal.Journal)}
	s.ingesting.Store(burstRequests)
	s.queued.Store(minYieldLag)
	var y yielder
	runsOn(t, "records held for maxEngineYield", func() { y.yield(s, time.Now().Add(-maxEngineYield)) })
}

// Without a journal the engine never holds up an acknowledgement, so it
// never gives way.
func TestEngineNoYieldWithoutJournal(t *testing.T) {
	s := &Server{}
	s.ingesting.Store(5)
	s.queued.Store(minYieldLag) // it would give way with a journal
	var y yielder
	runsOn(t, "no journal", func() { y.yield(s, time.Now()) })
}

// runsOn fails the test if yield, which should return at once, is still
// giving way after a generous bound (rather than hanging the test).
func runsOn(t *testing.T, what string, yield func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		yield()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the engine was still giving way after 10 s", what)
	}
}
