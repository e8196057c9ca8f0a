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

	s.ingesting.Store(burstRequests - 1) // a steady feed, no burst
	y.yield(s, time.Now())

	s.ingesting.Store(burstRequests)
	y.yield(s, time.Now()) // a burst, but the engine keeps up: runs

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
	y.yield(s, time.Now()) // far behind: runs
	s.processed.Store(maxEngineLag / 4)
	y.yield(s, time.Now()) // still more than half behind: runs on
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
	y.yield(s, time.Now().Add(-maxEngineYield))
}

// Without a journal the engine never holds up an acknowledgement, so it
// never gives way.
func TestEngineNoYieldWithoutJournal(t *testing.T) {
	s := &Server{}
	s.ingesting.Store(5)
	var y yielder
	y.yield(s, time.Now())
}
