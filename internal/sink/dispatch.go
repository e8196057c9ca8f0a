package sink

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// Clock is the dispatcher's view of time, injected so tests never sleep.
type Clock interface {
	Now() time.Time
	// After is time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options tune a Dispatcher; the zero value is the production setting.
type Options struct {
	Clock  Clock
	Logger *slog.Logger
	// Rand returns the jitter source of one sink. Nil seeds each sink from
	// the clock and its name.
	Rand func(sink string) *rand.Rand
	// Poll makes idle sinks look at the outbox this often even without a
	// wake-up, for findings appended behind the Dispatcher's back (another
	// process on the same store). Zero relies on Append and Notify alone.
	Poll time.Duration
}

// DefaultBatchSize is the batch size of a sink that sets none.
const DefaultBatchSize = 100

// Dispatcher runs the sinks: one goroutine each, owned by Run.
type Dispatcher struct {
	outbox  Outbox
	clock   Clock
	poll    time.Duration
	log     *slog.Logger
	workers []*worker
	ran     atomic.Bool
}

// worker delivers the outbox to one sink.
type worker struct {
	d      *Dispatcher
	sink   Sink
	rng    *rand.Rand
	wake   chan struct{}
	log    *slog.Logger
	cursor atomic.Int64

	delivered, failures, dropped atomic.Int64
	mu                           sync.Mutex
	lastErr                      string
	lastErrAt                    time.Time
}

// NewDispatcher prepares the sinks and makes sure each has a durable cursor,
// so that findings appended from now on reach every sink even if it has never
// run before. Call it before the engine starts emitting.
func NewDispatcher(ctx context.Context, outbox Outbox, sinks []Sink, opts Options) (*Dispatcher, error) {
	d := &Dispatcher{outbox: outbox, clock: opts.Clock, log: opts.Logger, poll: opts.Poll}
	if d.clock == nil {
		d.clock = SystemClock{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, s := range sinks {
		switch {
		case s.Name == "":
			return nil, errors.New("sink: a sink needs a name (it keys its cursor)")
		case seen[s.Name]:
			return nil, fmt.Errorf("sink %q: name used twice", s.Name)
		case s.Sender == nil:
			return nil, fmt.Errorf("sink %q: no sender", s.Name)
		}
		seen[s.Name] = true
		if s.BatchSize <= 0 {
			s.BatchSize = DefaultBatchSize
		}
		if s.Retry.Initial <= 0 {
			s.Retry.Initial = DefaultRetry.Initial
		}
		if s.Retry.Max < s.Retry.Initial {
			s.Retry.Max = max(DefaultRetry.Max, s.Retry.Initial)
		}
		w := &worker{d: d, sink: s, wake: make(chan struct{}, 1), log: d.log.With("sink", s.Name)}
		if opts.Rand != nil {
			w.rng = opts.Rand(s.Name)
		} else {
			h := fnv.New64a()
			h.Write([]byte(s.Name))
			w.rng = rand.New(rand.NewPCG(uint64(d.clock.Now().UnixNano()), h.Sum64()))
		}
		seq, ok, err := outbox.Cursor(ctx, s.Name)
		if err != nil {
			return nil, fmt.Errorf("sink %q: loading cursor: %w", s.Name, err)
		}
		if !ok {
			if s.StartAtEnd {
				if seq, err = outbox.Last(ctx); err != nil {
					return nil, fmt.Errorf("sink %q: reading outbox end: %w", s.Name, err)
				}
			}
			if err := outbox.SetCursor(ctx, s.Name, seq); err != nil {
				return nil, fmt.Errorf("sink %q: saving first cursor: %w", s.Name, err)
			}
		}
		w.cursor.Store(seq)
		d.workers = append(d.workers, w)
	}
	return d, nil
}

// Append puts a finding in the outbox and wakes the sinks. It does not wait
// for any delivery: the engine calls it on its own path.
func (d *Dispatcher) Append(ctx context.Context, f *finding.Finding) error {
	if _, err := d.outbox.Append(ctx, f, d.clock.Now()); err != nil {
		return fmt.Errorf("outbox: appending finding %s: %w", f.ID, err)
	}
	d.Notify()
	return nil
}

// Notify wakes the sinks after something appended to the outbox directly.
func (d *Dispatcher) Notify() {
	for _, w := range d.workers {
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Run delivers until ctx ends, then closes the senders. It may be called
// once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.ran.Swap(true) {
		return errors.New("sink: dispatcher already ran")
	}
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	var errs []error
	for _, w := range d.workers {
		if err := w.sink.Sender.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sink %q: closing: %w", w.sink.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Lag is how far one sink is behind the outbox, and how it has fared.
type Lag struct {
	Sink   string
	Cursor int64
	// Behind counts the records appended after the cursor, including those
	// the sink's filter will skip.
	Behind int64
	// Oldest is the age of the oldest record after the cursor; zero when
	// the sink is caught up.
	Oldest time.Duration
	// Delivered and Dropped count records since the dispatcher started;
	// Failures counts failed sends.
	Delivered, Dropped, Failures int64
	LastError                    string
	LastErrorAt                  time.Time
}

// Lag reports every sink's lag, in configuration order.
func (d *Dispatcher) Lag(ctx context.Context) ([]Lag, error) {
	last, err := d.outbox.Last(ctx)
	if err != nil {
		return nil, fmt.Errorf("outbox: reading end: %w", err)
	}
	now := d.clock.Now()
	out := make([]Lag, 0, len(d.workers))
	for _, w := range d.workers {
		l := Lag{
			Sink:      w.sink.Name,
			Cursor:    w.cursor.Load(),
			Delivered: w.delivered.Load(),
			Dropped:   w.dropped.Load(),
			Failures:  w.failures.Load(),
		}
		l.Behind = max(last-l.Cursor, 0)
		if l.Behind > 0 {
			recs, err := d.outbox.After(ctx, l.Cursor, 1)
			if err != nil {
				return nil, fmt.Errorf("outbox: reading after %d: %w", l.Cursor, err)
			}
			if len(recs) > 0 {
				l.Oldest = max(now.Sub(recs[0].Added), 0)
			}
		}
		w.mu.Lock()
		l.LastError, l.LastErrorAt = w.lastErr, w.lastErrAt
		w.mu.Unlock()
		out = append(out, l)
	}
	return out, nil
}

func (w *worker) run(ctx context.Context) {
	var readFailures int
	for ctx.Err() == nil {
		recs, err := w.d.outbox.After(ctx, w.cursor.Load(), w.sink.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.noteFailure(fmt.Errorf("reading outbox: %w", err))
			w.log.Error("sink: reading outbox", "err", err)
			if !w.sleep(ctx, w.backoff(readFailures, err)) {
				return
			}
			readFailures++
			continue
		}
		readFailures = 0
		if len(recs) == 0 {
			var tick <-chan time.Time
			if w.d.poll > 0 {
				tick = w.d.clock.After(w.d.poll)
			}
			select {
			case <-w.wake:
			case <-tick:
			case <-ctx.Done():
				return
			}
			continue
		}
		matched := recs[:0:0]
		for _, r := range recs {
			if w.sink.Filter.Match(r.Finding) {
				matched = append(matched, r)
			}
		}
		if !w.deliver(ctx, matched) {
			return
		}
		// Records the filter skipped after the last delivered one are done
		// too.
		w.advance(ctx, recs[len(recs)-1].Seq)
	}
}

// deliver sends recs until all are accepted or dropped; false means ctx
// ended first.
func (w *worker) deliver(ctx context.Context, recs []Record) bool {
	failures := 0
	single := false // isolating a record the receiver refuses
	for len(recs) > 0 {
		chunk := recs
		if single {
			chunk = recs[:1]
		}
		n, err := w.sink.Sender.Send(ctx, chunk)
		if err == nil {
			n = len(chunk)
		}
		n = min(max(n, 0), len(chunk))
		if n > 0 {
			w.delivered.Add(int64(n))
			w.advance(ctx, chunk[n-1].Seq)
			recs = recs[n:]
			if failures > 0 {
				w.log.Info("sink: delivering again", "failures", failures)
			}
			failures = 0
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return false
		}
		if IsPermanent(err) {
			if len(chunk)-n > 1 {
				single = true
				continue
			}
			r := recs[0]
			w.dropped.Add(1)
			w.noteFailure(err)
			w.log.Error("sink: receiver refused a finding; dropping it", "finding", r.Finding.ID, "seq", r.Seq, "err", err)
			w.advance(ctx, r.Seq)
			recs = recs[1:]
			continue
		}
		w.failures.Add(1)
		w.noteFailure(err)
		if failures == 0 {
			w.log.Warn("sink: delivery failed; retrying with backoff", "pending", len(recs), "err", err)
		} else {
			w.log.Debug("sink: delivery failed again", "failures", failures+1, "err", err)
		}
		if !w.sleep(ctx, w.backoff(failures, err)) {
			return false
		}
		failures++
	}
	return true
}

// backoff is the wait after the n-th consecutive failure (from 0): full
// jitter below the exponential ceiling, but at least what the receiver asked
// for with Retry-After (itself capped by Retry.Max).
func (w *worker) backoff(n int, err error) time.Duration {
	d := time.Duration(w.rng.Int64N(int64(w.sink.Retry.ceiling(n)) + 1))
	var ra *retryAfterError
	if errors.As(err, &ra) {
		d = max(d, min(ra.after, w.sink.Retry.Max))
	}
	return d
}

func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-w.d.clock.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// advance moves the cursor to seq and saves it. A failed save is logged and
// tolerated: the records would be delivered again after a restart, which
// at-least-once allows.
func (w *worker) advance(ctx context.Context, seq int64) {
	if seq <= w.cursor.Load() {
		return
	}
	w.cursor.Store(seq)
	// Save even when ctx was just cancelled: the receiver has the records.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.d.outbox.SetCursor(sctx, w.sink.Name, seq); err != nil {
		w.log.Error("sink: saving cursor", "seq", seq, "err", err)
	}
}

func (w *worker) noteFailure(err error) {
	w.mu.Lock()
	w.lastErr, w.lastErrAt = err.Error(), w.d.clock.Now()
	w.mu.Unlock()
}
