package server

import "time"

// During an ingest burst (two or more batch requests in progress: clients
// wait on acknowledgements) the engine gives way, as the indexer does: the
// records are durable in the journal and the feed holds them, so the cores
// go to acknowledging them and the engine catches up when the burst ends.
// A steady feed (one request at a time, as at 50,000 records/s in 500-record
// requests) does not make a burst, so its event-to-finding latency stays.
// The engine stops giving way once maxEngineLag records wait for it (the
// feed's memory bound: past it the writer would wait for the engine, and
// acknowledgements with it) until half of them are processed, and after
// maxEngineYield of giving way without a pause in the burst, so findings
// are late by at most about that.
const (
	maxEngineLag   = maxFedInMemory
	maxEngineYield = time.Second
	// yieldEvery is how many feed items the engine processes between
	// looks at the burst.
	yieldEvery = 64
	// enginePoll is how often a yielding engine looks again.
	enginePoll = time.Millisecond
)

// yielder is the engine goroutine's state of giving way.
type yielder struct {
	since   time.Time // start of the current run of yielding; zero if none
	catchUp bool      // the lag reached maxEngineLag: run until half is left
}

// yield waits while the engine should give way to a burst.
func (y *yielder) yield(s *Server) {
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
		if s.ingesting.Load() < 2 {
			y.since = time.Time{}
			return
		}
		if y.catchUp {
			return
		}
		now := time.Now()
		if y.since.IsZero() {
			y.since = now
		} else if now.Sub(y.since) >= maxEngineYield {
			return
		}
		time.Sleep(enginePoll)
	}
}
