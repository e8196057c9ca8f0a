package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/custos-io/custos/internal/journal"
	"github.com/custos-io/custos/internal/store"
)

// Group commit. Ingest requests do not write to the store themselves: they
// hand their decoded records to the writer goroutine (owned by Run) and
// wait. The writer takes everything that queued up while its previous
// group ran. With an ingest journal (Options.Journal) it drops the
// duplicates (seen.go), appends the rest to the journal with one write and
// one fsync for the whole group, and answers the requests: the journal is
// the durability point. It then puts the group on the engine feed in
// journal order, so the engine does not wait for SQLite, and passes
// everything on to the indexer goroutine, which stores it in the SQLite
// store, one transaction per group, in the same order, and answers what was
// not answered yet (roster entries, customers, findings, barriers). Roster
// entries, customers and barriers take their place in the feed from the
// writer too, but the engine waits at each until the indexer has stored it
// (and everything before it): they are not journaled, and a barrier
// promises the store has caught up. If the engine falls maxFedInMemory
// records behind, the writer waits for it (the journal's records are not in
// the store yet, so they cannot be read back from it).
//
// Without a journal the writer only passes requests on, the indexer's
// commit (synchronous=FULL) is the durability point, so every request
// waits for it, and the indexer puts what it stored on the feed. The
// engine then never holds up a 2xx: if it falls far behind, the feed keeps
// only seq ranges and the engine reads those records back from the store.

// maxGroup bounds the records of one group commit, so one transaction
// does not hold the write lock (and every waiting request) for long. A
// group of 16,384 was ~0.3 s of one core for the indexer; at 4,096 its
// bursts are shorter and the serve bench's acknowledgement tail was lower
// for the same CPU.
const maxGroup = 4096

// maxFedInMemory is how many committed records the feed keeps decoded for
// the engine; past it, without a journal, records are left in the store and
// read back; with one, the writer waits for the engine.
const maxFedInMemory = 300_000

// maxUnindexed bounds the records acknowledged from the journal and not yet
// in the store, kept decoded in memory for the indexer: past it the writer
// waits for the indexer, so acknowledgements slow to the store's pace.
const maxUnindexed = 400_000

// While the writer acknowledges records (an ingest burst), the indexer
// leaves the acknowledged records waiting, so the acknowledgements and the
// engine get the cores: the journal already holds the records, and the
// store catches up when the burst ends. Findings wait too, up to
// maxFindingDelay, and are then stored in groups of their own (they reach
// the sinks from the store). The indexer stops deferring once a burst has
// left maxUnindexed/2 records unindexed (half the buffer stays for the
// burst), once records have waited maxRecordDelay (a steady feed keeps the
// writer busy too, and must not leave the store far behind), when a reader
// waits for the store (caughtUp), and for any item
// something waits on (a roster entry, customer record, barrier, or a
// request without a journal). Deferring moves work, it does not save any:
// past the buffer, ingest slows to the indexer's pace as before.
const (
	// writerIdle is how long after the writer last acknowledged records
	// the burst counts as over: longer than the gaps between journal
	// groups on a loaded machine (tens of ms in the serve bench).
	writerIdle = 100 * time.Millisecond
	// maxFindingDelay bounds how long a deferring indexer holds findings.
	maxFindingDelay = time.Second
	// maxRecordDelay bounds how long it holds acknowledged records: a
	// steady feed keeps the writer busy without ever filling half the
	// buffer, and would otherwise leave the store that far behind.
	maxRecordDelay = time.Second
	// indexDeferPoll is how often a deferring indexer looks again.
	indexDeferPoll = 2 * time.Millisecond
)

// commit is one request to the writer: records to append, a roster entry or
// customer record to put, findings to write, or (barrier) a mark to pass to
// the engine.
type commit struct {
	w       store.Write
	barrier chan struct{}
	done    chan error // buffered: the writer never waits on a handler

	// acked: the journal holds it and its request was answered; the
	// indexer only stores it, forgets its keys (seen) and releases the
	// journal up to pos.
	acked bool
	pos   journal.Pos

	// queued is when it was queued for the indexer.
	queued time.Time

	// stored, with a journal, is the engine feed's hold on a roster entry,
	// customer record or barrier: the writer fed it in journal order, and
	// the engine waits at it until the indexer sends whether the store
	// took it (a barrier: that everything before it is stored).
	stored chan bool
}

// records reports whether c appends records (as opposed to a put, findings
// or a barrier).
func (c *commit) records() bool {
	return c.barrier == nil && c.w.Person == nil && c.w.Subject == nil && c.w.Findings == nil
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

// runWriter is the writer goroutine: it journals groups and passes them to
// the indexer until the commit queue is closed and drained, then closes the
// indexer's queue.
func (s *Server) runWriter() {
	defer s.index.close()
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
		if s.journal != nil {
			s.journalGroup(group)
		} else {
			for _, c := range group {
				s.index.push(c, false)
			}
		}
		clear(group)
	}
}

// runIndexer is the indexer goroutine: it stores groups until its queue is
// closed and drained, then closes the engine feed.
func (s *Server) runIndexer() {
	defer s.feed.close()
	var buf []*commit
	for {
		group, ok := s.index.take(buf)
		if !ok {
			return
		}
		if s.indexGate != nil {
			<-s.indexGate
		}
		s.indexGroup(group)
		if slices.ContainsFunc(group, func(c *commit) bool { return c.w.Findings != nil }) {
			s.feed.signal() // the engine collects the results
		}
		clear(group)
		buf = group[:0]
	}
}

// indexGroup stores a group in one transaction. If that fails and the
// group has more than one part, each part is tried alone, so one request's
// failure fails only that request. Records already acknowledged cannot
// fail: they are retried until stored (indexAcked).
func (s *Server) indexGroup(group []*commit) {
	ws := make([]*store.Write, 0, len(group))
	for _, c := range group {
		if c.barrier == nil && !(c.acked && s.indexBroken) {
			ws = append(ws, &c.w)
		}
	}
	if len(ws) > 0 {
		start := time.Now()
		err := s.store.WriteGroup(context.Background(), ws)
		s.metrics.observeStore(groupOp(ws), start)
		if err != nil && len(ws) > 1 {
			for _, c := range group {
				s.indexGroup([]*commit{c})
			}
			return
		}
		if err != nil {
			for _, c := range group {
				switch {
				case c.barrier != nil:
					s.indexed(c)
				case c.acked:
					s.indexAcked(c, err)
				default:
					if c.stored != nil {
						c.stored <- false
					}
					c.done <- err
				}
			}
			return
		}
	}
	for _, c := range group {
		s.indexed(c)
	}
}

// indexed hands a stored part of a group on: to the engine feed, to the
// journal's release point, and to its waiting request.
func (s *Server) indexed(c *commit) {
	if c.acked && s.indexBroken {
		return // kept in the journal for the next start
	}
	switch {
	case c.stored != nil:
		c.stored <- true // fed by the writer, held until now
	case c.barrier != nil:
		s.feed.push(item{barrier: c.barrier})
	case c.w.Person != nil:
		s.feed.push(item{person: c.w.Person})
	case c.w.Subject != nil:
		s.feed.push(item{subject: c.w.Subject})
	case c.w.Findings != nil:
	case c.acked:
		// Fed by the writer after the journal's fsync. The writer's
		// duplicate check is the store's, so it stores them all.
		if c.w.Stored != len(c.w.Recs) {
			s.log.Warn("the store counted as duplicates records the ingest journal had not; the engine saw them",
				"records", len(c.w.Recs), "stored", c.w.Stored)
		}
	default:
		s.feed.records(c.w.Recs, c.w.Stored)
	}
	if !c.acked {
		c.done <- nil
		return
	}
	s.seen.done(c.w.Recs)
	s.indexedMu.Lock()
	s.indexedPos = c.pos
	s.indexedMu.Unlock()
	s.indexedRecs.Add(int64(len(c.w.Recs)))
	next := make(chan struct{})
	close(*s.indexTick.Swap(&next))
}

// maxReadWait bounds how long a query waits for the store to catch up with
// the journal; past it, it answers from what is stored. A waiting query
// ends the indexer's deferral at once, and a full buffer (maxUnindexed
// records) takes the indexer ~9 s on the 2-core bench machine (~22 us a
// record), so the bound leaves room for that rather than answering without
// what its client had acknowledged.
const maxReadWait = 15 * time.Second

// caughtUp waits until the store holds every record acknowledged before
// the call, so a query sees what its client had acknowledged (read your
// writes), or until maxReadWait or ctx ends.
func (s *Server) caughtUp(ctx context.Context) {
	target := s.journaled.Load()
	if s.indexedRecs.Load() >= target {
		return
	}
	timeout := time.NewTimer(maxReadWait)
	defer timeout.Stop()
	s.readWaiters.Add(1) // the indexer stops deferring
	defer s.readWaiters.Add(-1)
	for {
		tick := *s.indexTick.Load()
		if s.indexedRecs.Load() >= target {
			return
		}
		select {
		case <-tick:
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// indexAcked retries storing acknowledged records, which the journal
// holds, until the store takes them: later records must not overtake them
// (the engine's order is the store's). Once the server is stopping it gives
// up after a few attempts; the journal keeps them and the next start
// stores them.
func (s *Server) indexAcked(c *commit, err error) {
	for attempt := 1; ; attempt++ {
		if s.index.isStopping() && attempt > 3 {
			s.log.Error("the store refuses acknowledged records; the ingest journal keeps them and the next start stores them",
				"records", len(c.w.Recs), "err", err)
			s.indexBroken = true
			return
		}
		s.log.Warn("storing acknowledged records from the ingest journal; retrying", "records", len(c.w.Recs), "attempt", attempt, "err", err)
		time.Sleep(min(time.Duration(attempt)*100*time.Millisecond, 5*time.Second))
		start := time.Now()
		err = s.store.WriteGroup(context.Background(), []*store.Write{&c.w})
		s.metrics.observeStore(opAppend, start)
		if err == nil {
			s.indexed(c)
			return
		}
	}
}

// indexQueue is the work between the writer and the indexer, in order.
type indexQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	items   []*commit
	records int // records of acknowledged items waiting
	closed  bool
	// stopping: the server is stopping; push no longer waits for room,
	// so a store that refuses every write cannot hold the shutdown.
	stopping bool
	// busy is when the writer last passed on acknowledged records;
	// hurry, if set, reports that someone waits for the store.
	busy  time.Time
	hurry func() bool
}

func newIndexQueue(hurry func() bool) *indexQueue {
	q := &indexQueue{hurry: hurry}
	q.cond.L = &q.mu
	return q
}

// deferring reports whether the indexer should leave the waiting records
// for now (see writerIdle). The caller holds q.mu.
func (q *indexQueue) deferring(now time.Time) bool {
	if q.closed || q.stopping || q.records >= maxUnindexed/2 || now.Sub(q.busy) >= writerIdle {
		return false
	}
	if q.hurry != nil && q.hurry() {
		return false
	}
	for _, c := range q.items {
		if !(c.acked || c.w.Findings != nil) {
			return false
		}
		if c.w.Findings == nil && now.Sub(c.queued) >= maxRecordDelay {
			return false
		}
	}
	return true
}

// push queues c for the indexer. If wait, it first waits while
// maxUnindexed acknowledged records are waiting. It fails once the queue
// is closed.
//
// Findings go ahead of the records waiting: the engine waits for their
// commit, and behind a backlog of records it would stall and add the
// backlog to every finding's latency. Their order among themselves stays
// (the engine writes one batch at a time), and nothing else depends on
// when they are stored relative to records.
func (q *indexQueue) push(c *commit, wait bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for wait && q.records >= maxUnindexed && !q.closed && !q.stopping {
		q.cond.Wait()
	}
	if q.closed {
		return errClosed
	}
	c.queued = time.Now()
	if c.w.Findings != nil {
		i := 0
		for i < len(q.items) && q.items[i].w.Findings != nil {
			i++
		}
		q.items = slices.Insert(q.items, i, c)
	} else {
		q.items = append(q.items, c)
	}
	if c.acked {
		q.records += len(c.w.Recs)
		q.busy = time.Now()
	}
	q.cond.Broadcast()
	return nil
}

// take waits for work and returns up to maxGroup records of it (at least
// one item); ok is false once the queue is closed and empty.
func (q *indexQueue) take(buf []*commit) (items []*commit, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	deferring := false
	for {
		if len(q.items) == 0 {
			if q.closed {
				return nil, false
			}
			q.cond.Wait()
			continue
		}
		now := time.Now()
		if deferring = q.deferring(now); !deferring {
			break
		}
		if first := q.items[0]; first.w.Findings != nil && now.Sub(first.queued) >= maxFindingDelay {
			break
		}
		q.mu.Unlock()
		time.Sleep(indexDeferPoll)
		q.mu.Lock()
	}
	n, recs := 0, 0
	for n < len(q.items) && (n == 0 || recs < maxGroup) && !(deferring && q.items[n].w.Findings == nil) {
		c := q.items[n]
		recs += len(c.w.Recs) + len(c.w.Findings)
		if c.acked {
			q.records -= len(c.w.Recs)
		}
		n++
	}
	items = append(buf[:0], q.items[:n]...)
	q.items = append(q.items[:0], q.items[n:]...)
	q.cond.Broadcast()
	return items, true
}

func (q *indexQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// stop marks the server stopping.
func (q *indexQueue) stop() {
	q.mu.Lock()
	q.stopping = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *indexQueue) isStopping() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stopping
}

// feed is the committed work waiting for the engine, in commit order: the
// writer's (journal order) with a journal, the indexer's without.
type feed struct {
	mu       sync.Mutex
	room     sync.Cond // signalled when the engine takes the items
	items    []item
	since    time.Time // when the first of items was queued
	inMemory int       // records in items kept decoded
	closed   bool      // no more pushes
	wake     chan struct{}
	queued   func(int64)
	// limit is how many records the feed keeps decoded (maxFedInMemory).
	limit int
	// full, if set, is called when journaled waits for room (tests).
	full func()
}

func newFeed(queued func(int64)) *feed {
	f := &feed{wake: make(chan struct{}, 1), queued: queued, limit: maxFedInMemory}
	f.room.L = &f.mu
	return f
}

func (f *feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) push(it item) {
	f.mu.Lock()
	f.mark()
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
	f.mark()
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

// journaled adds records the journal holds and the store does not yet, in
// journal order. They cannot be read back from the store, so past the
// limit the writer waits for the engine to take what is queued: a slow
// engine slows acknowledgements instead of growing the feed.
func (f *feed) journaled(recs []store.Record) {
	f.mu.Lock()
	if f.inMemory > 0 && f.inMemory+len(recs) > f.limit && f.full != nil {
		f.full()
	}
	for f.inMemory > 0 && f.inMemory+len(recs) > f.limit && !f.closed {
		f.room.Wait()
	}
	f.mark()
	for _, r := range recs {
		f.items = append(f.items, item{rec: r})
	}
	f.inMemory += len(recs)
	f.mu.Unlock()
	f.queued(int64(len(recs)))
	f.signal()
}

// mark notes when the feed, empty, gets its first item. The caller holds
// f.mu.
func (f *feed) mark() {
	if len(f.items) == 0 {
		f.since = time.Now()
	}
}

// take waits for work and returns all of it, and when the first of it was
// queued; ok is false once the feed is closed and empty. Woken with no
// work (signal), it returns none.
func (f *feed) take(buf []item) (items []item, since time.Time, ok bool) {
	for woken := false; ; woken = true {
		f.mu.Lock()
		if len(f.items) > 0 {
			since = f.since
			items, f.items = f.items, buf[:0]
			f.inMemory = 0
			f.mu.Unlock()
			f.room.Broadcast()
			return items, since, true
		}
		closed := f.closed
		f.mu.Unlock()
		if closed {
			return nil, time.Time{}, false
		}
		if woken {
			return buf[:0], time.Time{}, true
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
	f.room.Broadcast()
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
