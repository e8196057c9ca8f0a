// Package replay runs a directory of recorded inputs (FORMATS.md section 5)
// through the engine: roster and customers first, then ticket changes and
// access events merged by time, a ticket change before an event at the same
// instant. Records that arrive a little out of order are put back in order
// within a lateness window, so the result is the same as for sorted input.
package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// Sink receives what the replay feeds the engine. *engine.Engine is one.
type Sink interface {
	SetPerson(*event.Person)
	SetSubject(*event.Subject)
	Ticket(*event.TicketChange)
	Event(*event.Event)
	Flush()
}

// Options configures one replay.
type Options struct {
	Dir string
	// Lateness is how far out of time order a record may arrive and still be
	// put back in order. Records later than that are still processed, in
	// arrival order, and counted as late.
	Lateness time.Duration
	// Rejected is told about every invalid record; nil discards them (they
	// are still counted).
	Rejected func(*event.RecordError)
	// Progress, if set, is told the input files' total size once the streams
	// are open and returns a function the replay calls with the bytes read.
	Progress func(total int64) func(done int64)
}

// Counts summarises a replay's input.
type Counts struct {
	People, Subjects, Tickets, Events int64
	Rejected                          int64
	Late                              int64 // beyond the lateness window
}

// Run replays opts.Dir into sink.
func Run(ctx context.Context, opts Options, sink Sink) (Counts, error) {
	var c Counts
	reject := func(e *event.RecordError) {
		c.Rejected++
		if opts.Rejected != nil {
			opts.Rejected(e)
		}
	}
	if err := loadAll(opts.Dir, "roster", event.DecodePerson, func(p event.Person) error {
		c.People++
		sink.SetPerson(&p)
		return nil
	}, reject); err != nil {
		return c, err
	}
	if err := loadAll(opts.Dir, "subjects", event.DecodeSubject, func(s event.Subject) error {
		c.Subjects++
		sink.SetSubject(&s)
		return nil
	}, reject); err != nil {
		return c, err
	}

	evf, err := event.Open(opts.Dir, "events")
	if err != nil {
		return c, err
	}
	defer evf.Close()
	files := []*event.File{evf}
	tkf, err := event.Open(opts.Dir, "tickets")
	switch {
	case errors.Is(err, os.ErrNotExist):
		tkf = nil
	case err != nil:
		return c, err
	default:
		defer tkf.Close()
		files = append(files, tkf)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := []*stream{startStream(ctx, evf, kindEvent)}
	if tkf != nil {
		streams = append(streams, startStream(ctx, tkf, kindTicket))
	}
	var progress func(int64)
	if opts.Progress != nil {
		var total int64
		for _, f := range files {
			total += f.Size
		}
		progress = opts.Progress(total)
	}

	m := merger{streams: streams, lateness: opts.Lateness}
	var n int
	for {
		it, ok, err := m.next(reject)
		if err != nil {
			return c, err
		}
		if !ok {
			break
		}
		if it.late {
			c.Late++
		}
		switch it.kind {
		case kindTicket:
			c.Tickets++
			sink.Ticket(it.tc)
		case kindEvent:
			c.Events++
			sink.Event(it.ev)
		}
		if n++; n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return c, err
			}
			if progress != nil {
				var done int64
				for _, f := range files {
					done += f.Consumed()
				}
				progress(done)
			}
		}
	}
	// A cancelled context ends the streams early, which looks like their end.
	if err := ctx.Err(); err != nil {
		return c, err
	}
	sink.Flush()
	return c, nil
}

// loadAll decodes DIR/NAME.ndjson(.gz) completely; a missing file is fine.
func loadAll[T any](dir, name string, decode func([]byte) (T, error), ok func(T) error, bad func(*event.RecordError)) error {
	f, err := event.Open(dir, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := event.Decode(f, f.Name, decode, ok, bad); err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	return nil
}

type kind uint8

// Ticket changes sort before events at the same instant.
const (
	kindTicket kind = iota
	kindEvent
)

type item struct {
	t time.Time
	// sec and nsec are t's instant, taken on the decoding goroutine so the
	// merge heap compares integers rather than time.Time values.
	sec  int64
	nsec int32
	kind kind
	seq  uint64
	late bool
	ev   *event.Event
	tc   *event.TicketChange
	bad  *event.RecordError
}

const batchSize = 512

// streamBatches is how many batches a stream has: enough for the decoder
// to run ahead of the merge while the merge holds one.
const streamBatches = 8

// slabSize is how many records are allocated together: one allocation per
// slab rather than per record. A slab lives until its last record is let
// go; records leave the engine soon after their grace window.
const slabSize = 128

// slab hands out records allocated slabSize at a time.
type slab[T any] []T

// next returns the record take hands out next, to be filled in
// place.
func (s *slab[T]) next() *T {
	if len(*s) == 0 {
		*s = make([]T, slabSize)
	}
	return &(*s)[0]
}

// take hands out the record next returned.
func (s *slab[T]) take() { *s = (*s)[1:] }

// stream decodes one file on its own goroutine, so decoding overlaps with
// the engine, and hands items over in batches in file order. The merge
// gives each batch back once it has copied its items, to be filled again.
type stream struct {
	ch      chan []item
	free    chan []item
	errc    chan error
	buf     []item
	held    []item // the batch buf is in, to give back
	done    bool
	maxSeen time.Time
	// maxSec and maxNsec are maxSeen's instant; wmSec and wmNsec, once
	// seen, are maxSeen less the merge's lateness: the merge compares
	// integers per item and subtracts the lateness only when maxSeen moves.
	maxSec, wmSec   int64
	maxNsec, wmNsec int32
	seen            bool
	kind            kind
	// fifo holds the items pulled but not yet released that are in order
	// (not before the one pulled before them); the rest go to the merge's
	// heap. Files are nearly always in order, and a queue is cheaper than
	// a heap.
	fifo     []item
	head     int
	tailSec  int64
	tailNsec int32
}

func newStream(k kind) *stream {
	var zero time.Time
	return &stream{ch: make(chan []item, streamBatches), free: make(chan []item, streamBatches), errc: make(chan error, 1),
		kind: k, tailSec: math.MinInt64, maxSec: zero.Unix()}
}

func startStream(ctx context.Context, f *event.File, k kind) *stream {
	s := newStream(k)
	for range streamBatches {
		s.free <- make([]item, 0, batchSize)
	}
	go func() {
		defer close(s.ch)
		batch := <-s.free
		var seq uint64
		send := func() bool {
			select {
			case s.ch <- batch:
			case <-ctx.Done():
				return false
			}
			select {
			case batch = <-s.free:
				return true
			case <-ctx.Done():
				return false
			}
		}
		push := func(it item) error {
			seq++
			it.seq, it.kind = seq, k
			it.sec, it.nsec = it.t.Unix(), int32(it.t.Nanosecond())
			batch = append(batch, it)
			if len(batch) == batchSize && !send() {
				return ctx.Err()
			}
			return nil
		}
		bad := func(e *event.RecordError) { _ = push(item{bad: e}) }
		var err error
		if k == kindEvent {
			var events slab[event.Event]
			err = event.DecodeTo(f, f.Name, event.DecodeEventTo, events.next, func(e *event.Event) error {
				events.take()
				return push(item{t: e.Time, ev: e})
			}, bad)
		} else {
			var changes slab[event.TicketChange]
			err = event.DecodeTo(f, f.Name, event.DecodeTicketChangeTo, changes.next, func(tc *event.TicketChange) error {
				changes.take()
				return push(item{t: tc.Time, tc: tc})
			}, bad)
		}
		if err == nil && len(batch) > 0 {
			send()
		}
		if err != nil && ctx.Err() == nil {
			s.errc <- fmt.Errorf("%s: %w", f.Name, err)
		}
	}()
	return s
}

// pull returns the stream's next item; ok is false at its end.
func (s *stream) pull() (item, bool, error) {
	for len(s.buf) == 0 {
		if s.held != nil {
			clear(s.held)
			s.free <- s.held[:0] // never blocks: free holds every batch there is
			s.held = nil
		}
		b, open := <-s.ch
		if !open {
			s.done = true
			select {
			case err := <-s.errc:
				return item{}, false, err
			default:
				return item{}, false, nil
			}
		}
		s.buf, s.held = b, b
	}
	it := s.buf[0]
	s.buf = s.buf[1:]
	return it, true, nil
}

type merger struct {
	streams  []*stream
	lateness time.Duration
	q        itemHeap
	// lastSec and lastNsec are the instant of the last item released, or
	// of the zero time before the first.
	lastSec  int64
	lastNsec int32
	started  bool
}

// next returns the next item in merged time order. It reads from the stream
// that is furthest behind, and releases the earliest buffered item once every
// unfinished stream has read past its time plus the lateness window.
func (m *merger) next(bad func(*event.RecordError)) (item, bool, error) {
	for {
		if it, ok := m.release(); ok {
			if !m.started {
				var zero time.Time
				m.lastSec, m.started = zero.Unix(), true
			}
			if it.sec < m.lastSec || (it.sec == m.lastSec && it.nsec < m.lastNsec) {
				it.late = true
			} else {
				m.lastSec, m.lastNsec = it.sec, it.nsec
			}
			return it, true, nil
		}
		s := m.behind()
		if s == nil {
			return item{}, false, nil
		}
		it, ok, err := s.pull()
		if err != nil {
			return item{}, false, err
		}
		if !ok {
			continue
		}
		if it.bad != nil {
			bad(it.bad)
			continue
		}
		if it.sec > s.maxSec || (it.sec == s.maxSec && it.nsec > s.maxNsec) {
			s.maxSeen, s.maxSec, s.maxNsec = it.t, it.sec, it.nsec
			s.seen = false
		}
		if !s.seen {
			w := s.maxSeen.Add(-m.lateness)
			s.wmSec, s.wmNsec, s.seen = w.Unix(), int32(w.Nanosecond()), true
		}
		if it.sec > s.tailSec || (it.sec == s.tailSec && it.nsec >= s.tailNsec) {
			// In order within its file: kind and seq make it sort after
			// the items queued before it.
			s.fifo = append(s.fifo, it)
			s.tailSec, s.tailNsec = it.sec, it.nsec
		} else {
			m.q.push(it)
		}
	}
}

// release takes the earliest buffered item if its time has passed the
// watermark: the earliest of the streams' queue heads and the heap's top.
func (m *merger) release() (item, bool) {
	var min *item
	var from *stream
	for _, s := range m.streams {
		if s.head < len(s.fifo) {
			if h := &s.fifo[s.head]; min == nil || h.less(min) {
				min, from = h, s
			}
		}
	}
	if len(m.q) > 0 && (min == nil || m.q[0].less(min)) {
		min, from = &m.q[0], nil
	}
	if min == nil {
		return item{}, false
	}
	if sec, nsec := m.watermarkInstant(); min.sec > sec || (min.sec == sec && min.nsec > nsec) {
		return item{}, false
	}
	if from == nil {
		return m.q.pop(), true
	}
	it := *min
	*min = item{}
	from.head++
	if from.head == len(from.fifo) {
		from.fifo, from.head = from.fifo[:0], 0
	} else if from.head >= 1024 && from.head*2 >= len(from.fifo) {
		n := copy(from.fifo, from.fifo[from.head:])
		clear(from.fifo[n:])
		from.fifo, from.head = from.fifo[:n], 0
	}
	return it, true
}

func (m *merger) behind() *stream {
	var b *stream
	for _, s := range m.streams {
		if !s.done && (b == nil || s.maxSec < b.maxSec || (s.maxSec == b.maxSec && s.maxNsec < b.maxNsec)) {
			b = s
		}
	}
	return b
}

var endOfTime = time.Unix(1<<62, 0)

// watermarkInstant is watermark's instant, from what next keeps of each
// stream.
func (m *merger) watermarkInstant() (int64, int32) {
	sec, nsec := endOfTime.Unix(), int32(0)
	for _, s := range m.streams {
		if s.done {
			continue
		}
		ssec, snsec := s.wmSec, s.wmNsec
		if !s.seen { // nothing read from it yet
			w := s.maxSeen.Add(-m.lateness)
			ssec, snsec = w.Unix(), int32(w.Nanosecond())
		}
		if ssec < sec || (ssec == sec && snsec < nsec) {
			sec, nsec = ssec, snsec
		}
	}
	return sec, nsec
}

// watermark is the time up to which every unfinished stream has been read,
// less the lateness: no item still to come is earlier, unless late.
func (m *merger) watermark() time.Time {
	w := endOfTime
	for _, s := range m.streams {
		if !s.done {
			if t := s.maxSeen.Add(-m.lateness); t.Before(w) {
				w = t
			}
		}
	}
	return w
}

// itemHeap is a binary min-heap of items by time, ticket changes before
// events at the same instant, then file order. Typed rather than
// container/heap's so pushing and popping do not box.
type itemHeap []item

func (a *item) less(b *item) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}

func (h *itemHeap) push(it item) {
	*h = append(*h, it)
	q := *h
	for i := len(q) - 1; i > 0; {
		up := (i - 1) / 2
		if !q[i].less(&q[up]) {
			break
		}
		q[i], q[up] = q[up], q[i]
		i = up
	}
}

func (h *itemHeap) pop() item {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = item{}
	q = q[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && q[r].less(&q[c]) {
			c = r
		}
		if !q[c].less(&q[i]) {
			break
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
	*h = q
	return top
}
