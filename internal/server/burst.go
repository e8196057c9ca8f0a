package server

import "time"

// During an ingest burst (burstRequests or more batch requests in
// progress: clients wait on acknowledgements) the engine gives way, as the
// indexer does: the records are durable in the journal and the feed holds
// them, so the cores go to acknowledging them and the engine catches up
// when the burst ends. A steady feed in one stream sends its events and
// their ticket changes side by side, two requests at most (as at 50,000
// records/s in 500-record requests), so its event-to-finding latency
// stays; and the engine gives way only once minYieldLag records wait for
// it, so a feed it keeps up with is not held up when requests pile up for
// a moment (the indexer's commit taking a core, a collection). The engine
// stops giving way once maxEngineLag records wait for it (below the feed's
// memory bound, maxFedInMemory: past that the writer waits for the engine,
// and acknowledgements with it) until half of them are processed, and once
// the records it holds were queued maxEngineYield ago, so giving way makes
// a finding late by at most about that, however many clients send at
// once.
const (
	burstRequests = 3
	minYieldLag   = 20_000
	// maxEngineLag is below the feed's bound, so a far-behind engine
	// finishes the records it holds and takes the feed's before the
	// writer would have to wait for it.
	maxEngineLag   = 200_000
	maxEngineYield = time.Second
	// yieldEvery is how many feed items the engine processes between
	// looks at the burst.
	yieldEvery = 64
	// enginePoll is how often a yielding engine looks again.
	enginePoll = time.Millisecond
)

// yielder is the engine goroutine's state of giving way.
type yielder struct {
	catchUp bool // the lag reached maxEngineLag: run until half is left
}

// yield waits while the engine should give way to a burst; since is when
// the oldest record the engine holds was queued.
func (y *yielder) yield(s *Server, since time.Time) {
	if s.journal == nil {
		return // without a journal the store's commit acknowledges
	}
	for {
		lag := s.queued.Load() - s.processed.Load()
		switch {
		case lag >= maxEngineLag:
			y.catchUp = true
		case lag < maxEngineLag/2:
			y.catchUp = false
		}
		if y.catchUp || lag < minYieldLag || s.ingesting.Load() < burstRequests || time.Since(since) >= maxEngineYield {
			return
		}
		time.Sleep(enginePoll)
	}
}
