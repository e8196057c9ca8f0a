// Package server is `custos serve`: an HTTP API that ingests access events,
// ticket changes, roster entries and customer records into the store, feeds
// them to the same engine replay uses, and serves the findings.
//
// The order of things is what makes it safe. A batch is durable before its
// 2xx: appended to the ingest journal (with Options.Journal) or committed to
// the store (synchronous=FULL), by one writer goroutine that commits many
// requests together (commit.go), and, with the journal, puts them on the
// engine feed right after its fsync. An indexer goroutine stores the groups
// in the store in that same order (without a journal it is the one that
// feeds the engine, after each commit); on start, whatever the journal
// holds is stored first. One goroutine owns the engine; it writes the
// findings it emits back to the store, through the indexer. On start the engine is rebuilt by re-feeding the
// store in that order, and findings have content-derived ids, so a crash at
// any point loses nothing that was acknowledged: what the engine had not yet
// processed is processed on the next start, and findings it re-derives are
// written again idempotently.
package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/journal"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/store"
)

// Store is what the server needs of the store; *store.Store is one.
type Store interface {
	WriteGroup(ctx context.Context, ws []*store.Write) error
	WriteFindings(ctx context.Context, fs []*finding.Finding) error
	Findings(ctx context.Context, q store.FindingQuery) (store.FindingPage, error)
	People(ctx context.Context, fn func(*event.Person) error) error
	Subjects(ctx context.Context, fn func(*event.Subject) error) error
	Records(ctx context.Context, after int64, fn func(store.Record) error) error
	RecordsBetween(ctx context.Context, after, upto int64, fn func(store.Record) error) error
	Ping(ctx context.Context) error
	// Finding and ActionsFor show a finding's response actions.
	Finding(ctx context.Context, id string) (store.StoredFinding, bool, error)
	ActionsFor(ctx context.Context, findingIDs []string) ([]respond.Action, error)
}

// Engine is the detection engine the server feeds; *engine.Engine is one.
// The server never calls Flush: accesses still inside their ticket grace
// window stay pending until later records move event time past it, live or
// after a restart.
type Engine interface {
	SetPerson(*event.Person)
	SetSubject(*event.Subject)
	Ticket(*event.TicketChange)
	Event(*event.Event)
}

// Dispatcher delivers stored findings to the sinks (SIEM, syslog, HEC,
// webhooks) from the store's outbox; *sink.Dispatcher is one. Notify wakes it
// after findings are stored.
type Dispatcher interface {
	Run(ctx context.Context) error
	Notify()
}

// Lifecycle is the contract lifecycle check; *respond.Lifecycle is one. It
// returns the alerts to store for identities still active after their
// contract ended, at wall-clock time now.
type Lifecycle interface {
	Check(ctx context.Context, now time.Time) ([]*finding.Finding, error)
	CheckPerson(ctx context.Context, p *event.Person, now time.Time) ([]*finding.Finding, error)
}

// Options configures a Server.
type Options struct {
	// Token is the bearer token every /v1 request must carry.
	Token string
	// MaxBody is the largest request body accepted, in bytes.
	MaxBody int64
	// ShutdownTimeout bounds how long a stop waits for requests in flight.
	ShutdownTimeout time.Duration
	// ReadTimeout bounds how long a client may take to send one request,
	// headers and body: a stalled upload has its connection closed instead
	// of holding a goroutine and its buffers for ever. Zero is 1 minute.
	ReadTimeout time.Duration
	// NewEngine assembles the engine; it passes findings to emit.
	NewEngine func(emit func(*finding.Finding)) Engine
	// Sinks, if set, is run alongside the server and told whenever the
	// engine's findings are stored (and so in the outbox). Response actions
	// are among its consumers. If it reports lag (*sink.Dispatcher does),
	// /metrics shows it.
	Sinks Dispatcher
	// Lifecycle, if set, is checked when the server starts, every
	// LifecycleInterval after that, and for every roster entry written; the
	// alerts it returns are stored (and so reach the sinks) like the
	// engine's.
	Lifecycle         Lifecycle
	LifecycleInterval time.Duration
	// Clock is the wall clock of the lifecycle check; nil is the system's.
	Clock sink.Clock
	// Collectors are registered on the server's metrics registry besides
	// its own (response action counters, say).
	Collectors []prometheus.Collector
	// MetricsAuth makes /metrics require the bearer token like /v1.
	MetricsAuth bool
	Logger      *slog.Logger
	// Console, if set, is served at every path but /v1/, /healthz and
	// /metrics: the investigator console, with its own authentication.
	Console http.Handler
	// Journal, if set, is the directory of the ingest journal: a batch is
	// acknowledged once appended to it (one fsync for every request
	// waiting) and then fed to the engine, and the store catches up behind
	// it, at most maxUnindexed records behind. Without it a batch is acknowledged once committed to
	// the store. The store must then be able to tell a stored record
	// (store.Store.Stored), to count retries as duplicates.
	Journal string
	// Routes are more /v1 endpoints (net/http patterns such as
	// "GET /v1/exposure"), served behind the same token as the rest.
	Routes map[string]http.Handler
}

// findingBatch is how many findings the engine goroutine collects before it
// writes them, if its queue does not run dry first.
const findingBatch = 512

// maxUnwritten bounds the findings kept while the store refuses writes;
// beyond it they are dropped from memory (a restart re-derives them).
const maxUnwritten = 100_000

// Server is the HTTP API and the engine goroutine behind it.
type Server struct {
	opts     Options
	store    Store
	log      *slog.Logger
	tokenSum [sha256.Size]byte
	clock    sink.Clock
	metrics  *metrics

	// ingestMu guards closing the commit queue: after closed, nothing is
	// sent on it.
	ingestMu sync.Mutex
	closed   bool
	commits  chan *commit // to the writer goroutine
	index    *indexQueue  // from the writer to the indexer
	feed     *feed        // from the indexer to the engine

	// With a journal: the journal (the writer's, and Run's once the writer
	// stopped), what is pending in it (seen), the journal position the
	// indexer has stored up to, and how many acknowledged records are not
	// in the store yet. indexBroken is set (by the indexer, when stopping)
	// if the store refused acknowledged records: the journal keeps them.
	journal     *journal.Journal
	seen        *seen
	indexedMu   sync.Mutex
	indexedPos  journal.Pos
	indexBroken bool
	// journaled and indexedRecs count the records acknowledged from the
	// journal and those of them in the store; indexTick is closed (and
	// replaced) after each group the indexer stores.
	journaled   atomic.Int64
	indexedRecs atomic.Int64
	indexTick   atomic.Pointer[chan struct{}]
	// readWaiters counts the queries waiting for the store to catch up.
	readWaiters atomic.Int32

	queued    atomic.Int64 // records handed to the engine queue since start
	processed atomic.Int64 // records the engine has processed since start
	// ingesting counts the batch requests being read, decoded or
	// journaled: burstRequests or more mean clients are waiting on
	// acknowledgements (a burst), and the engine gives way (burst.go).
	ingesting atomic.Int32
	// lineReaders are the buffers NDJSON bodies are read through: a
	// 256 KiB buffer allocated per request was a fifth of the bytes an
	// ingest burst allocated.
	lineReaders sync.Pool

	// indexGate, if set, holds the indexer before each group until it
	// can receive: tests use it to keep acknowledged records out of the
	// store.
	indexGate chan struct{}

	// testHook, if set, is told "request" when an ingest request starts
	// reading its body, "shutdown" when Run begins to stop and "lifecycle"
	// after each scheduled lifecycle check.
	testHook func(string)
}

// item is one unit of the engine feed: a roster entry, a customer record,
// a stored record, a range of stored records to read back (from..to), or a
// barrier that is closed once everything before it is processed and its
// findings are stored.
type item struct {
	person   *event.Person
	subject  *event.Subject
	rec      store.Record
	from, to int64
	barrier  chan struct{}
	// stored, if set, holds the engine at this item until the indexer
	// sends whether the store took it (commit.stored).
	stored chan bool
}

// New returns a server over st. Call Run to serve.
func New(opts Options, st Store) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("server: no API token")
	}
	if opts.MaxBody <= 0 {
		return nil, fmt.Errorf("server: max body must be positive, got %d", opts.MaxBody)
	}
	if opts.NewEngine == nil {
		return nil, errors.New("server: no engine")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = time.Minute
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.Lifecycle != nil && opts.LifecycleInterval <= 0 {
		return nil, fmt.Errorf("server: lifecycle interval must be positive, got %s", opts.LifecycleInterval)
	}
	s := &Server{
		opts:     opts,
		store:    st,
		log:      opts.Logger,
		tokenSum: sha256.Sum256([]byte(opts.Token)),
		clock:    opts.Clock,
		commits:  make(chan *commit, 1024),
	}
	s.index = newIndexQueue(func() bool { return s.readWaiters.Load() > 0 })
	tick := make(chan struct{})
	s.indexTick.Store(&tick)
	if opts.Journal != "" {
		lookup, ok := st.(interface {
			Stored(ctx context.Context, r store.Record) (bool, error)
		})
		if !ok {
			return nil, fmt.Errorf("server: an ingest journal needs a store that tells stored records; %T does not", st)
		}
		s.seen = newSeen(lookup)
	}
	s.feed = newFeed(func(n int64) { s.queued.Add(n) })
	s.lineReaders.New = func() any { return bufio.NewReaderSize(nil, event.LineBuffer) }
	if s.clock == nil {
		s.clock = sink.SystemClock{}
	}
	var err error
	if s.metrics, err = newMetrics(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) hook(what string) {
	if s.testHook != nil {
		s.testHook(what)
	}
}

// Run rebuilds the engine from the store, serves on ln until ctx is done,
// and then stops gracefully: it stops accepting connections, lets requests
// in flight finish, drains the engine queue and writes the last findings.
// The caller closes the store after Run returns.
func (s *Server) Run(ctx context.Context, ln net.Listener) (err error) {
	// The sinks start first, so a backlog left in the outbox goes out while
	// the engine is rebuilt, and stop last, after the final findings.
	if s.opts.Sinks != nil {
		sctx, stop := context.WithCancel(context.Background())
		sinksDone := make(chan error, 1)
		go func() { sinksDone <- s.opts.Sinks.Run(sctx) }()
		defer func() {
			stop()
			if serr := <-sinksDone; serr != nil {
				err = errors.Join(err, fmt.Errorf("server: sinks: %w", serr))
			}
		}()
	}
	if s.opts.Journal != "" {
		j, err := journal.Open(s.opts.Journal)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: %w", err)
		}
		if err := s.recoverJournal(ctx, j); err != nil {
			j.Close()
			ln.Close()
			return err
		}
		s.journal = j
		defer func() {
			// Everything acknowledged is in the store unless the store
			// refused it; then the journal keeps it for the next start.
			if !s.indexBroken {
				if jerr := j.Reset(); jerr != nil {
					err = errors.Join(err, fmt.Errorf("server: %w", jerr))
				}
			}
			if jerr := j.Close(); jerr != nil {
				err = errors.Join(err, fmt.Errorf("server: %w", jerr))
			}
		}()
	}
	l := &loop{store: s.store, log: s.log, sinks: s.opts.Sinks, metrics: s.metrics}
	l.eng = s.opts.NewEngine(func(f *finding.Finding) { l.pending = append(l.pending, f) })
	if err := s.rebuild(ctx, l); err != nil {
		ln.Close()
		if ctx.Err() != nil {
			s.log.Info("stopped while rebuilding the engine; nothing was accepted")
			return nil
		}
		return err
	}

	l.live = true
	l.send = s.sendFindings
	engineDone := make(chan error, 1)
	go func() { engineDone <- s.runEngine(l) }()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.runWriter()
	}()
	indexerDone := make(chan struct{})
	go func() {
		defer close(indexerDone)
		s.runIndexer()
	}()

	// The lifecycle check writes to the store directly, not through the
	// engine, so it may stop at any point before Run returns.
	if s.opts.Lifecycle != nil {
		lctx, stop := context.WithCancel(ctx)
		lifecycleDone := make(chan struct{})
		go func() {
			defer close(lifecycleDone)
			s.runLifecycle(lctx)
		}()
		defer func() {
			stop()
			<-lifecycleDone
		}()
	}

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(10*time.Second, s.opts.ReadTimeout),
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String())

	select {
	case <-ctx.Done():
		s.log.Info("shutting down: finishing requests in flight")
	case err = <-serveErr:
		err = fmt.Errorf("server: serving on %s: %w", ln.Addr(), err)
	}
	s.hook("shutdown")
	// From here the writer no longer waits for the indexer to make room:
	// a store refusing writes must not hold the shutdown.
	s.index.stop()
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	if serr := srv.Shutdown(sctx); serr != nil {
		s.log.Warn("requests still running after the shutdown timeout; closing their connections",
			"timeout", s.opts.ShutdownTimeout, "err", serr)
		srv.Close()
	}
	cancel()

	// A handler past the timeout may still be running; it finds the queue
	// closed and fails its request without storing anything. The writer
	// journals what was handed to it and closes the indexer's queue; the
	// indexer stores everything, then closes the engine feed.
	s.ingestMu.Lock()
	s.closed = true
	close(s.commits)
	s.ingestMu.Unlock()
	<-writerDone
	<-indexerDone
	s.log.Info("draining the engine queue")
	if eerr := <-engineDone; eerr != nil {
		err = errors.Join(err, eerr)
	}
	s.log.Info("stopped", "processed", s.processed.Load())
	return err
}

// errClosed fails ingest requests that arrive after the queue closed.
var errClosed = errors.New("server is shutting down")

// ingest stores recs and hands the stored ones to the engine, in the
// store's order, and returns how many were stored (the rest were already
// stored).
func (s *Server) ingest(ctx context.Context, recs []store.Record) (int, error) {
	c := &commit{w: store.Write{Recs: recs}}
	if err := s.submit(c); err != nil {
		return 0, err
	}
	return c.w.Stored, nil
}

// IngestEvents stores access events and hands them to the engine, as POST
// /v1/events does; the console feeds its own audit through it.
func (s *Server) IngestEvents(ctx context.Context, evs []event.Event) (int, error) {
	recs := make([]store.Record, len(evs))
	for i := range evs {
		recs[i].Event = &evs[i]
	}
	return s.ingest(ctx, recs)
}

// put stores a roster entry or a customer record and hands it to the
// engine; a roster entry is then checked against its contract.
func (s *Server) put(ctx context.Context, it item) (created bool, err error) {
	ctx = context.WithoutCancel(ctx)
	if created, err = s.putLocked(ctx, it); err != nil {
		return false, err
	}
	if it.person != nil {
		s.checkPerson(ctx, it.person)
	}
	return created, nil
}

func (s *Server) putLocked(ctx context.Context, it item) (created bool, err error) {
	c := &commit{w: store.Write{Person: it.person, Subject: it.subject}}
	if err := s.submit(c); err != nil {
		return false, err
	}
	return c.w.Created, nil
}

// PutPerson writes a roster entry exactly as PUT /v1/roster/{id} does: to
// the store, then to the engine in order with the events, then through the
// lifecycle check. The suspend response action writes through it.
func (s *Server) PutPerson(ctx context.Context, p *event.Person) error {
	if _, err := s.put(ctx, item{person: p}); err != nil {
		return fmt.Errorf("server: writing roster entry %s: %w", p.ID, err)
	}
	return nil
}

// sendFindings hands the engine's findings to the indexer's next group
// commit, so they share its fsync and do not hold the store's write lock
// against ingest on their own, and returns where the commit's result
// arrives. Once the indexer has stopped (shutdown), they are written
// directly.
func (s *Server) sendFindings(fs []*finding.Finding) <-chan error {
	c := &commit{w: store.Write{Findings: fs}, done: make(chan error, 1)}
	if err := s.index.push(c, false); err != nil {
		c.done <- s.store.WriteFindings(context.Background(), fs)
	}
	return c.done
}

// flight is one send of findings to the group commit.
type flight struct {
	fs   []*finding.Finding
	done <-chan error
}

// sync waits until everything committed before it is processed and its
// findings are stored. Tests use it instead of sleeping.
func (s *Server) sync(ctx context.Context) error {
	done := make(chan struct{})
	if err := s.submit(&commit{barrier: done}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop is the engine and what it has emitted but not yet stored; only the
// goroutine running rebuild and then runEngine touches it.
type loop struct {
	eng     Engine
	pending []*finding.Finding
	store   Store
	// send, if set, hands findings to the group commit instead of
	// store.WriteFindings (once live) and returns where its result
	// arrives; inflight are the sends not yet collected.
	send     func([]*finding.Finding) <-chan error
	inflight []flight
	sinks    Dispatcher // nil without sinks
	log      *slog.Logger
	metrics  *metrics
	written  int64
	live     bool // the rebuild is over: count findings
}

// feed gives one item to the engine. A panic in a detector is logged and
// the item skipped: the record is stored and re-fed on every start, so
// crashing on it would crash every start.
func (l *loop) feed(it item) {
	start := time.Now()
	defer func() { l.metrics.engine.Observe(time.Since(start).Seconds()) }()
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("the engine failed on a record; skipped", "panic", fmt.Sprint(p), "record", it.describe(),
				"stack", string(debug.Stack()))
		}
	}()
	switch {
	case it.person != nil:
		l.eng.SetPerson(it.person)
	case it.subject != nil:
		l.eng.SetSubject(it.subject)
	case it.rec.Event != nil:
		l.eng.Event(it.rec.Event)
	case it.rec.Ticket != nil:
		l.eng.Ticket(it.rec.Ticket)
	}
}

func (it item) describe() string {
	switch {
	case it.person != nil:
		return "roster entry " + it.person.ID
	case it.subject != nil:
		return "customer " + it.subject.ID
	case it.rec.Event != nil:
		return "event " + it.rec.Event.ID + it.seq()
	case it.rec.Ticket != nil:
		return "ticket change " + it.rec.Ticket.ID + it.seq()
	}
	return "empty item"
}

// seq names a stored record's seq; records fed from the journal have none
// yet.
func (it item) seq() string {
	if it.rec.Seq == 0 {
		return " (journaled)"
	}
	return fmt.Sprintf(" (seq %d)", it.rec.Seq)
}

// flush writes the pending findings. Once live it only hands them to the
// indexer's next group (send) and goes on: waiting for that commit would
// hold the engine behind the indexer's backlog. Results of earlier sends
// are collected first. On failure findings are kept for the next attempt,
// up to maxUnwritten.
func (l *loop) flush() error {
	err := l.collect(false)
	if len(l.pending) == 0 {
		return err
	}
	if l.send != nil {
		l.inflight = append(l.inflight, flight{fs: l.pending, done: l.send(l.pending)})
		l.pending = nil // the flight holds them
		return err
	}
	start := time.Now()
	werr := l.store.WriteFindings(context.Background(), l.pending)
	l.metrics.observeStore(opFindings, start)
	if werr != nil {
		l.keep(werr)
		return errors.Join(err, werr)
	}
	l.stored(l.pending)
	clear(l.pending)
	l.pending = l.pending[:0]
	return err
}

// settle flushes and waits until every finding sent is stored or back in
// pending.
func (l *loop) settle() error {
	err := l.flush()
	return errors.Join(err, l.collect(true))
}

// collect takes the results of the findings sent: those stored are
// counted and announced, those refused go back to pending. If wait, it
// waits for all of them.
func (l *loop) collect(wait bool) error {
	var errs []error
	n := 0
	for _, f := range l.inflight {
		var err error
		if wait {
			err = <-f.done
		} else {
			select {
			case err = <-f.done:
			default:
				l.inflight[n] = f
				n++
				continue
			}
		}
		if err != nil {
			l.pending = append(l.pending, f.fs...)
			l.keep(err)
			errs = append(errs, err)
		} else {
			l.stored(f.fs)
		}
	}
	clear(l.inflight[n:])
	l.inflight = l.inflight[:n]
	return errors.Join(errs...)
}

// keep keeps the pending findings a write refused for the next attempt,
// up to maxUnwritten.
func (l *loop) keep(err error) {
	if len(l.pending) > maxUnwritten {
		l.log.Error("dropping unwritten findings from memory; they are re-derived on the next start",
			"findings", len(l.pending), "err", err)
		clear(l.pending)
		l.pending = l.pending[:0]
	}
}

// stored counts and announces findings the store took.
func (l *loop) stored(fs []*finding.Finding) {
	l.written += int64(len(fs))
	if l.live {
		l.metrics.countFindings(fs)
	}
	if l.sinks != nil {
		l.sinks.Notify()
	}
}

// rebuild re-feeds the engine everything stored: the latest roster and
// customers, then ticket changes and events in ingest order. Findings it
// re-derives are written again; those already stored are left as they are.
func (s *Server) rebuild(ctx context.Context, l *loop) error {
	start := time.Now()
	var people, subjects, tickets, events int64
	if err := s.store.People(ctx, func(p *event.Person) error {
		l.eng.SetPerson(p)
		people++
		return nil
	}); err != nil {
		return fmt.Errorf("server: rebuilding the engine: %w", err)
	}
	if err := s.store.Subjects(ctx, func(c *event.Subject) error {
		l.eng.SetSubject(c)
		subjects++
		return nil
	}); err != nil {
		return fmt.Errorf("server: rebuilding the engine: %w", err)
	}
	err := s.store.Records(ctx, 0, func(r store.Record) error {
		if s.seen != nil {
			s.seen.known(&r)
		}
		l.feed(item{rec: r})
		if r.Event != nil {
			events++
		} else {
			tickets++
		}
		if len(l.pending) >= findingBatch {
			return l.flush()
		}
		if (events+tickets)&4095 == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err == nil {
		err = l.flush()
	}
	if err != nil {
		return fmt.Errorf("server: rebuilding the engine: %w", err)
	}
	s.log.Info("engine rebuilt from the store", "people", people, "subjects", subjects,
		"ticket_changes", tickets, "events", events, "findings", l.written, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// awaitStored waits until the indexer has stored a held item and reports
// whether the store took it. Findings pending meanwhile are sent first:
// the wait can be the indexer's whole backlog.
func (s *Server) awaitStored(l *loop, stored chan bool) bool {
	select {
	case ok := <-stored:
		return ok
	default:
	}
	if err := l.flush(); err != nil {
		s.log.Error("writing findings; will retry", "findings", len(l.pending), "err", err)
	}
	return <-stored
}

// runEngine is the engine goroutine: it processes the feed until it is
// closed and drained, sending findings to the group commit whenever the
// feed runs dry or a batch has collected. The indexer wakes it after
// storing findings, so it announces them (sinks, metrics) while idle too.
func (s *Server) runEngine(l *loop) error {
	var buf []item
	var y yielder
	for {
		items, since, ok := s.feed.take(buf)
		if !ok {
			break
		}
		for i := range items {
			if i%yieldEvery == 0 {
				y.yield(s, since)
			}
			it := &items[i]
			if it.stored != nil && !s.awaitStored(l, it.stored) {
				// The store refused it and its request failed; it was
				// counted as queued all the same.
				if it.barrier == nil {
					s.processed.Add(1)
				}
				continue
			}
			switch {
			case it.barrier != nil:
				if err := l.settle(); err != nil {
					s.log.Error("writing findings; will retry", "findings", len(l.pending), "err", err)
				}
				close(it.barrier)
				continue
			case it.to != 0:
				s.processed.Add(s.readBack(l, it.from, it.to))
				continue
			}
			l.feed(*it)
			s.processed.Add(1)
			if len(l.pending) >= findingBatch {
				if err := l.flush(); err != nil {
					s.log.Error("writing findings; will retry", "findings", len(l.pending), "err", err)
				}
			}
		}
		clear(items)
		buf = items[:0]
		if !s.feed.pending() {
			if err := l.flush(); err != nil {
				s.log.Error("writing findings; will retry", "findings", len(l.pending), "err", err)
			}
		}
	}
	if err := l.settle(); err != nil {
		return fmt.Errorf("server: writing the last %d findings (a restart re-derives them): %w", len(l.pending), err)
	}
	return nil
}
