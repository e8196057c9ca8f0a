package server

import (
	"context"
	"sync"
	"time"

	"github.com/custos-io/custos/internal/store"
)

// Group commit. Ingest requests do not write to the store themselves: they
// hand their decoded records to one writer goroutine (owned by Run) and
// wait. The writer takes everything that queued up while its previous
// commit ran and stores it in one transaction, so one fsync
// (synchronous=FULL) is shared by every request in the group; then it puts
// the group's stored records on the engine feed, in seq order, and
// answers the requests. The engine never holds up a 2xx: it reads the feed
// at its own pace, and if it falls far behind, the feed keeps only seq
// ranges and the engine reads those records back from the store.

// maxGroup bounds the records of one group commit, so one transaction
// does not hold the write lock (and every waiting request) for long.
const maxGroup = 16384

// maxFedInMemory is how many committed records the feed keeps decoded for
// the engine; past it, records are left in the store and read back.
const maxFedInMemory = 100_000

// commit is one request to the writer: records to append, a roster entry or
// customer record to put, or (barrier) a mark to pass to the engine.
type commit struct {
	w       store.Write
	barrier chan struct{}
	done    chan error // buffered: the writer never waits on a handler
}

// submit hands c to the writer and waits for its commit. Once handed over
// it is committed (or fails) regardless of ctx: a client going away must not
// leave records stored but unanswered-for in the engine.
func (s *Server) submit(c *commit) error {
	c.done = make(chan error, 1)
	s.ingestMu.Lock()
	if s.closed {
		s.ingestMu.Unlock()
		return errClosed
	}
	s.commits <- c
	s.ingestMu.Unlock()
	return <-c.done
}

// runWriter is the writer goroutine: it commits groups until the commit
// queue is closed and drained, then closes the feed.
func (s *Server) runWriter() {
	defer s.feed.close()
	group := make([]*commit, 0, 64)
	for c := range s.commits {
		group = append(group[:0], c)
		n := len(c.w.Recs) + len(c.w.Findings)
	more:
		for n < maxGroup {
			select {
			case c, ok := <-s.commits:
				if !ok {
					break more
				}
				group = append(group, c)
				n += len(c.w.Recs) + len(c.w.Findings)
			default:
				break more
			}
		}
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup stores a group in one transaction. If that fails and the
// group has more than one part, each part is tried alone, so one request's
// failure fails only that request.
func (s *Server) commitGroup(group []*commit) {
	ws := make([]*store.Write, 0, len(group))
	for _, c := range group {
		if c.barrier == nil {
			ws = append(ws, &c.w)
		}
	}
	if len(ws) > 0 {
		start := time.Now()
		err := s.store.WriteGroup(context.Background(), ws)
		s.metrics.observeStore(groupOp(ws), start)
		if err != nil && len(ws) > 1 {
			for _, c := range group {
				if c.barrier == nil {
					s.commitGroup([]*commit{c})
				} else {
					s.feed.push(item{barrier: c.barrier})
					c.done <- nil
				}
			}
			return
		}
		if err != nil {
			for _, c := range group {
				if c.barrier != nil {
					s.feed.push(item{barrier: c.barrier})
					c.done <- nil
				} else {
					c.done <- err
				}
			}
			return
		}
	}
	for _, c := range group {
		switch {
		case c.barrier != nil:
			s.feed.push(item{barrier: c.barrier})
		case c.w.Person != nil:
			s.feed.push(item{person: c.w.Person})
		case c.w.Subject != nil:
			s.feed.push(item{subject: c.w.Subject})
		case c.w.Findings != nil:
		default:
			s.feed.records(c.w.Recs, c.w.Stored)
		}
		c.done <- nil
	}
}

// feed is the committed work waiting for the engine, in commit order.
type feed struct {
	mu       sync.Mutex
	items    []item
	inMemory int  // records in items kept decoded
	closed   bool // no more pushes
	wake     chan struct{}
	queued   func(int64)
	// limit is how many records the feed keeps decoded (maxFedInMemory).
	limit int
}

func newFeed(queued func(int64)) *feed {
	return &feed{wake: make(chan struct{}, 1), queued: queued, limit: maxFedInMemory}
}

func (f *feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) push(it item) {
	f.mu.Lock()
	f.items = append(f.items, it)
	f.mu.Unlock()
	if it.person != nil || it.subject != nil {
		f.queued(1)
	}
	f.signal()
}

// records adds the stored ones of recs (stored of them have a Seq). Past
// maxFedInMemory only their seq range is kept: the engine reads them back.
func (f *feed) records(recs []store.Record, stored int) {
	if stored == 0 {
		return
	}
	f.mu.Lock()
	if f.inMemory+stored <= f.limit {
		for _, r := range recs {
			if r.Seq != 0 {
				f.items = append(f.items, item{rec: r})
			}
		}
		f.inMemory += stored
	} else {
		// The seqs of one append are consecutive, and no other writer
		// can take seqs inside them.
		var from, to int64
		for _, r := range recs {
			if r.Seq != 0 {
				if from == 0 {
					from = r.Seq
				}
				to = r.Seq
			}
		}
		if k := len(f.items) - 1; k >= 0 && f.items[k].to != 0 && f.items[k].to+1 == from {
			f.items[k].to = to
		} else {
			f.items = append(f.items, item{from: from, to: to})
		}
	}
	f.mu.Unlock()
	f.queued(int64(stored))
	f.signal()
}

// take waits for work and returns all of it; ok is false once the feed is
// closed and empty.
func (f *feed) take(buf []item) (items []item, ok bool) {
	for {
		f.mu.Lock()
		if len(f.items) > 0 {
			items, f.items = f.items, buf[:0]
			f.inMemory = 0
			f.mu.Unlock()
			return items, true
		}
		closed := f.closed
		f.mu.Unlock()
		if closed {
			return nil, false
		}
		<-f.wake
	}
}

// pending reports whether work is waiting.
func (f *feed) pending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.items) > 0
}

func (f *feed) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.signal()
}

// readBack feeds the engine the records stored with seqs from..to. A read
// that fails is retried from the last record fed; if it keeps failing the
// rest of the range waits for the next start, whose rebuild re-feeds
// everything stored.
func (s *Server) readBack(l *loop, from, to int64) int64 {
	var n int64
	after := from - 1
	for attempt := 1; ; attempt++ {
		err := s.store.RecordsBetween(context.Background(), after, to, func(r store.Record) error {
			l.feed(item{rec: r})
			after = r.Seq
			n++
			if len(l.pending) >= findingBatch {
				if err := l.flush(); err != nil {
					s.log.Error("writing findings; will retry", "findings", len(l.pending), "err", err)
				}
			}
			return nil
		})
		if err == nil {
			return n
		}
		if attempt == 3 {
			s.log.Error("the engine skips records it cannot read back from the store; a restart processes them",
				"after_seq", after, "to_seq", to, "err", err)
			return n
		}
		s.log.Warn("reading records back from the store for the engine; retrying", "after_seq", after, "to_seq", to, "err", err)
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

// groupOp is the store operation a group commit is counted as: a group of
// only roster entries or only customer records as that, else an append.
func groupOp(ws []*store.Write) string {
	op := opAppend
	for i, w := range ws {
		o := opAppend
		switch {
		case w.Person != nil:
			o = opPerson
		case w.Subject != nil:
			o = opSubject
		case w.Findings != nil:
			o = opFindings
		}
		if i > 0 && o != op {
			return opAppend
		}
		op = o
	}
	return op
}
