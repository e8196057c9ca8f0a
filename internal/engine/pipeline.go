package engine

import (
	"context"
	"fmt"
	"math"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// The concurrent pipeline (Config.Concurrent, Start): each detector stage
// runs on a goroutine of its own, fed in batches, while the engine's
// goroutine keeps the context, the ticket index, settlement, suppression,
// risk and cases. A replay is bound by one core otherwise: the detectors are
// most of its CPU. Detectors never see what the engine concluded from their
// alerts, so they can run ahead; their alerts come back tagged with the
// number of the detector call that raised them and are handled in exactly
// the order the sequential engine would have handled them, so findings are
// the same bytes.

const (
	// stageBatchJobs is how many detector calls go to a stage per channel
	// send: enough to make the hand-over cheap per call.
	stageBatchJobs = 1024
	// stageBatches bounds the batches of one stage that exist at once (in
	// flight, being filled, being handled), so memory stays bounded and the
	// engine cannot run unboundedly ahead of a slow stage.
	stageBatches = 6
)

// stageNames label the stage goroutines in CPU profiles.
var stageNames = [2]string{"immediate", "settled"}

// job is one detector call handed to a stage goroutine. It holds copies of
// everything the engine reuses or replaces: the input, the ticket verdict
// and the customer's record. Events and roster entries are not changed
// after they are given to the engine, so pointers to them are safe.
type job struct {
	seq      uint64
	in       Input
	match    TicketMatch
	hasMatch bool
	// subject is the input's customer record: the engine fills one record
	// for every input in turn.
	subject    event.Subject
	hasSubject bool
	// settled dates the job's alerts as the settled stage does (also for
	// flushes, as the sequential engine does).
	settled bool
	flush   bool      // call the stage's Flushers instead of Detect
	now     time.Time // the watermark when a flush was asked for
}

// stageAlert is an alert with what the engine needs of the call that
// raised it; the summary is already rendered (Render may only be valid
// during emit, on the detector's goroutine).
type stageAlert struct {
	seq     uint64
	a       Alert
	ev      *event.Event
	settled bool
	now     time.Time
}

type stageBatch struct {
	jobs   []job
	alerts []stageAlert
}

// stage is the engine's end of one stage goroutine.
type stage struct {
	in, out chan *stageBatch
	done    chan struct{} // closed when the goroutine has returned
	free    []*stageBatch
	made    int
	cur     *stageBatch // being filled
	sent    []uint64    // first job of each batch in flight, oldest first
	recv    *stageBatch // received, its alerts being handled
	pos     int
}

// low is the number of the stage's oldest call whose alerts are not yet
// handled, or MaxUint64 if there is none.
func (s *stage) low() uint64 {
	if s.recv != nil && s.pos < len(s.recv.alerts) {
		return s.recv.alerts[s.pos].seq
	}
	if len(s.sent) > 0 {
		return s.sent[0]
	}
	if s.cur != nil && len(s.cur.jobs) > 0 {
		return s.cur.jobs[0].seq
	}
	return math.MaxUint64
}

// pipeline is the engine's side of the stage goroutines.
type pipeline struct {
	stages [2]*stage // immediate, settled
	seq    uint64
	wg     sync.WaitGroup
	cancel context.CancelFunc
	mu     sync.Mutex
	err    error // why a stage stopped early, if it did
}

// Start runs the detector stages on goroutines of their own if
// Config.Concurrent is set; otherwise it does nothing and the engine stays
// sequential. The goroutines end when ctx is cancelled or on Close; Flush
// (and SetPerson, which changes what detectors may look up) waits for them
// to finish what they were given. Start must be called before the first
// input, once.
func (e *Engine) Start(ctx context.Context) {
	if !e.cfg.Concurrent || e.pipe != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &pipeline{cancel: cancel}
	for i, dets := range [][]Detector{e.cfg.Immediate, e.cfg.Settled} {
		s := &stage{
			in:   make(chan *stageBatch, stageBatches),
			out:  make(chan *stageBatch, stageBatches),
			done: make(chan struct{}),
		}
		p.stages[i] = s
		p.wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("stage", stageNames[i]), func(ctx context.Context) { p.run(ctx, s, dets) })
	}
	e.pipe = p
}

// Close stops the stage goroutines and waits for them. Call Flush first:
// calls not flushed are dropped. It returns why a stage stopped early, if
// one did (a cancelled context).
func (e *Engine) Close() error {
	p := e.pipe
	if p == nil {
		return nil
	}
	e.pipe = nil
	for _, s := range p.stages {
		close(s.in)
	}
	p.wg.Wait()
	p.cancel()
	return p.failure()
}

func (p *pipeline) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *pipeline) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// run is one stage goroutine: it calls the stage's detectors on each job
// of each batch, in order, and sends the batch back with the alerts.
func (p *pipeline) run(ctx context.Context, s *stage, dets []Detector) {
	defer p.wg.Done()
	defer close(s.done)
	var b *stageBatch
	var j *job
	emit := func(a Alert) {
		if a.Summary == "" && a.Render != nil {
			a.Summary = a.Render()
		}
		a.Render = nil
		b.alerts = append(b.alerts, stageAlert{seq: j.seq, a: a, ev: j.in.Event, settled: j.settled, now: j.now})
	}
	defer func() {
		if v := recover(); v != nil {
			p.fail(fmt.Errorf("engine: detector panicked: %v", v))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			p.fail(ctx.Err())
			return
		case nb, ok := <-s.in:
			if !ok {
				if err := ctx.Err(); err != nil {
					p.fail(err)
				}
				return
			}
			b = nb
			for i := range b.jobs {
				j = &b.jobs[i]
				if j.hasMatch {
					j.in.Ticket = &j.match
				}
				if j.hasSubject {
					j.in.Subject = &j.subject
				}
				for _, d := range dets {
					if !j.flush {
						d.Detect(&j.in, emit)
					} else if f, ok := d.(Flusher); ok {
						f.Flush(emit)
					}
				}
			}
			s.out <- b // never blocks: out holds every batch there is
		}
	}
}

// add hands one detector call to stage i: the input, and the ticket
// verdict if m is set; a flush calls the stage's Flushers at the watermark
// instead. The job is written straight into its batch (a job built by the
// caller was copied twice more, ~180 bytes each).
func (e *Engine) add(i int, in *Input, m *TicketMatch, settled, flush bool) {
	p := e.pipe
	s := p.stages[i]
	if s.cur == nil {
		for len(s.free) == 0 && s.made == stageBatches {
			if !e.step(true) {
				return // a stage stopped early; Close says why
			}
		}
		if n := len(s.free); n > 0 {
			s.cur = s.free[n-1]
			s.free = s.free[:n-1]
		} else {
			s.cur = &stageBatch{jobs: make([]job, 0, stageBatchJobs)}
			s.made++
		}
	}
	p.seq++
	b := s.cur
	b.jobs = b.jobs[:len(b.jobs)+1] // a slot cleared when its batch was released
	j := &b.jobs[len(b.jobs)-1]
	j.seq, j.in, j.settled, j.flush = p.seq, *in, settled, flush
	if m != nil {
		j.in.Ticket, j.match, j.hasMatch = nil, *m, true
	}
	if j.in.Subject != nil {
		j.subject, j.hasSubject, j.in.Subject = *j.in.Subject, true, nil
	}
	if flush {
		j.now = e.now
	}
	if len(b.jobs) == stageBatchJobs {
		send(s)
		for e.step(false) {
		}
	}
}

func send(s *stage) {
	s.sent = append(s.sent, s.cur.jobs[0].seq)
	s.in <- s.cur // never blocks: in holds every batch there is
	s.cur = nil
}

// step handles the next alert in call order, or receives the batch that
// may hold it. Without block it does only what needs no waiting. It
// reports whether it did anything.
func (e *Engine) step(block bool) bool {
	p := e.pipe
	a, b := p.stages[0], p.stages[1]
	s, other := a, b
	if b.low() < a.low() {
		s, other = b, a
	}
	if s.low() == math.MaxUint64 {
		return false
	}
	if s.recv != nil && s.pos < len(s.recv.alerts) {
		// Handle every alert of s that comes before the other stage's next.
		limit := other.low()
		for s.pos < len(s.recv.alerts) && s.recv.alerts[s.pos].seq < limit {
			sa := &s.recv.alerts[s.pos]
			s.pos++
			e.handle(sa.a, sa.ev, sa.settled, sa.now)
			*sa = stageAlert{}
		}
		e.release(s)
		return true
	}
	if len(s.sent) == 0 {
		send(s) // the call waited for is in the batch being filled
	}
	var got *stageBatch
	if block {
		select {
		case got = <-s.out:
		case <-s.done:
			select {
			case got = <-s.out:
			default:
				return false
			}
		}
	} else {
		select {
		case got = <-s.out:
		default:
			return false
		}
	}
	s.sent = s.sent[1:]
	s.recv, s.pos = got, 0
	e.release(s)
	return true
}

// release returns a received batch whose alerts are all handled.
func (e *Engine) release(s *stage) {
	if s.recv == nil || s.pos < len(s.recv.alerts) {
		return
	}
	b := s.recv
	clear(b.jobs)
	b.jobs = b.jobs[:0]
	b.alerts = b.alerts[:0]
	s.free = append(s.free, b)
	s.recv, s.pos = nil, 0
}

// drain hands every call given so far to the stages and handles all their
// alerts.
func (e *Engine) drain() {
	for e.step(true) {
	}
}
