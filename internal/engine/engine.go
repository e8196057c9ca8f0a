// Package engine is Custos's event-time detection engine. It keeps the
// context (roster, customers, the ticket index) and per-actor state, runs the
// detectors on every access event, and turns their alerts into findings and
// cases. It never reads the wall clock: time is the time of the events it is
// given, so a replay and a live server given the same inputs agree.
//
// Detectors run at one of two stages. Immediate detectors see an event as it
// arrives. Settled detectors see it once event time has passed the ticket
// grace window, when the ticket index can say for certain whether the access
// was justified (a phone ticket is filed minutes after the first look).
package engine

import (
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// Input is what a detector sees: the event and its context.
type Input struct {
	Event  *event.Event
	Person *event.Person // the actor's roster entry; nil if not on the roster
	// Subject is the customer's record; nil if none or unknown. Like the
	// Input itself (and Ticket), it is reused after the call: a detector
	// copies what it keeps.
	Subject *event.Subject
	// Ticket is the ticket index's verdict; set only at the settled stage and
	// only for events that touch a customer. Like the Input itself, it is
	// reused after the call: a detector copies what it keeps.
	Ticket *TicketMatch
	// ActorIndex numbers the event's actor densely, from 0 in the order
	// the engine first heard of each (roster entries first), and never
	// changes for an actor: a detector may keep per-actor state in a slice
	// indexed by it instead of a map keyed by the actor's id.
	ActorIndex int
	// from is the engine that numbered ActorIndex, nil for an input built
	// by hand (Actors then checks the actor's id).
	from *Engine
}

// Alert is a detector's conclusion about one input. The engine fills in the
// identifier, time and actor.
type Alert struct {
	Rule     string
	Severity finding.Severity
	Risk     float64
	Subjects []string
	Evidence []string
	Summary  string
	// Render, if set and Summary is empty, writes the summary. It is valid
	// only until emit returns (the rules' Render reads the evaluator's
	// scratch state), so the engine calls it inside emit: the sequential
	// engine only for an alert that survives suppression, so a detector need
	// not format text that is then dropped; the concurrent pipeline on the
	// stage's goroutine for every alert, before suppression is known.
	Render  func() string
	Details map[string]any
	// Actor, if set, is the actor the alert is about; by default the actor
	// of the event being examined. Detectors that close a period for many
	// actors at once (baselines) name each actor here.
	Actor string
	// At, if set, is the event time the alert is dated; by default the time
	// the current stage could know it (the event time, or the end of its
	// ticket grace window once settled).
	At time.Time
	// SuppressFor drops a repeat of this rule for this actor and Key within
	// the duration after the last alert that was let through.
	SuppressFor time.Duration
	Key         string
}

// Emit receives alerts from a detector.
type Emit func(Alert)

// Detector examines inputs and emits alerts.
type Detector interface {
	Detect(in *Input, emit Emit)
}

// Flusher is implemented by detectors that hold conclusions until a period
// closes; the engine calls Flush at the end of input (Engine.Flush), after
// every pending access has settled, so the last partial period is judged too.
type Flusher interface {
	Flush(emit Emit)
}

// DetectorFunc adapts a function to Detector.
type DetectorFunc func(in *Input, emit Emit)

// Detect calls f.
func (f DetectorFunc) Detect(in *Input, emit Emit) { f(in, emit) }

// Scorer turns alerts into actor risk and decides when a case opens. The
// engine owns one per actor; see RiskConfig for the default.
type Scorer interface {
	// Add records an alert at time at and returns the actor's risk after it
	// and whether a case should open (or an open one be raised).
	Add(a *Alert, at time.Time) (risk float64, open bool)
}

// RiskPart is one rule's share of an actor's risk.
type RiskPart struct {
	Rule string  `json:"rule"`
	Risk float64 `json:"risk"`
}

// RiskExplainer is optionally implemented by a Scorer to say how the risk
// it last returned is made up, for case explanations. Parts are ordered
// (largest first) so findings stay deterministic.
type RiskExplainer interface {
	Parts() []RiskPart
}

// Config is the engine's configuration.
type Config struct {
	Tickets Windows
	// Immediate and Settled are the detectors of each stage, run in order.
	Immediate []Detector
	Settled   []Detector
	// NewScorer makes the risk state of one actor; nil uses the default
	// decaying sum of RiskConfig.
	NewScorer func() Scorer
	Risk      RiskConfig
	// Describe names an actor in case summaries from its roster entry (nil
	// if unknown): "a-ana (bpo-north payments agent)". Nil uses the id.
	Describe func(id string, p *event.Person) string
	// CaseWindow is how far back alerts that came before a case opened are
	// listed as its contributing alerts; zero means 7 days.
	CaseWindow time.Duration
	// Concurrent runs each detector stage on a goroutine of its own once
	// Start is called (see pipeline.go): the findings are the same, but
	// they come out in batches, up to a few thousand detector calls after
	// the input that caused them, and all of them by Flush. Each detector
	// is then called from one goroutine, not the caller's: detectors of
	// different stages must not share state, and what they look up (the
	// roster through Engine.Person) must be safe to read concurrently.
	// For batch work (replay); a live server wants each finding at once.
	Concurrent bool
}

// Stats counts what the engine has seen and concluded.
type Stats struct {
	Events, Tickets, Alerts, Suppressed, Cases, CaseUpdates int64
	Late                                                    int64 // events older than one already processed
}

// Engine is not safe for concurrent use; one goroutine owns it (and, with
// Config.Concurrent, the stage goroutines it starts).
type Engine struct {
	cfg      Config
	emit     func(*finding.Finding)
	people   map[string]*rosterEntry // read by detectors (Person): changed only by SetPerson
	unlisted map[string]int          // the ActorIndex of actors not on the roster
	tickets  *Tickets
	actors   map[string]*actorState
	pending  pendingQueue
	seq      uint64
	now      time.Time // the latest event time seen (watermark)
	stats    Stats
	in       Input       // reused per detector call
	alertFn  Emit        // e.alert, made once: a method value allocates
	match    TicketMatch // in.Ticket points here at the settled stage
	// subject is the customer's record in.Subject points to, filled from
	// its entry for each input (the pipeline's jobs copy it).
	subject  event.Subject
	settling bool // detectors now running are the settled stage
	// roster counts roster changes, so a pending access reuses the roster
	// entry looked up when it arrived unless the roster changed since.
	roster uint64
	// pruneAt is the event time of the next Tickets.Prune.
	pruneAt time.Time
	pipe    *pipeline // nil unless started concurrent
	// caseScratch is where a remembered alert is encoded (newCaseAlert).
	caseScratch []byte
}

// TicketRetention is how far behind the latest event time an access may
// arrive and still be judged against every ticket that could explain it.
// Tickets closed longer ago than this (plus the after-close window) are
// pruned from the index, which otherwise grows with every ticket ever seen;
// a later access is still judged, but only against the tickets kept (an
// event cited by id is still known). Replay sorts input within its lateness
// (minutes), so in practice nothing arrives this late.
const TicketRetention = 24 * time.Hour

// New returns an engine that passes every finding to emit, in order.
func New(cfg Config, emit func(*finding.Finding)) *Engine {
	if cfg.NewScorer == nil {
		rc := cfg.Risk.withDefaults()
		cfg.NewScorer = func() Scorer { return newDecayScorer(rc) }
	}
	if cfg.CaseWindow <= 0 {
		cfg.CaseWindow = 7 * 24 * time.Hour
	}
	e := &Engine{
		cfg:      cfg,
		emit:     emit,
		people:   map[string]*rosterEntry{},
		unlisted: map[string]int{},
		tickets:  NewTickets(),
		actors:   map[string]*actorState{},
	}
	e.alertFn = func(a Alert) { e.handle(a, e.in.Event, e.settling, e.now) }
	return e
}

// Stats returns the counts so far.
func (e *Engine) Stats() Stats { return e.stats }

// Tickets exposes the ticket index, read-only by convention.
func (e *Engine) Tickets() *Tickets { return e.tickets }

// Person returns the roster entry for id, or nil.
func (e *Engine) Person(id string) *event.Person {
	if r := e.people[id]; r != nil {
		return r.person
	}
	return nil
}

// rosterEntry is an actor on the roster: its entry and its ActorIndex.
type rosterEntry struct {
	person *event.Person
	index  int
}

// actorIndex returns the ActorIndex and roster entry (nil if none) of id.
func (e *Engine) actorIndex(id string) (int, *event.Person) {
	if r := e.people[id]; r != nil {
		return r.index, r.person
	}
	i, ok := e.unlisted[id]
	if !ok {
		i = len(e.people) + len(e.unlisted)
		e.unlisted[strings.Clone(id)] = i // owned: a slice of the event keeps its line alive
	}
	return i, nil
}

// SetPerson adds or replaces a roster entry. With the stages running
// concurrently it first waits for them: detectors look the roster up, and
// must see it as it was when their input arrived.
func (e *Engine) SetPerson(p *event.Person) {
	if e.pipe != nil {
		e.drain()
	}
	if r := e.people[p.ID]; r != nil {
		r.person = p
	} else {
		i, _ := e.actorIndex(p.ID)
		delete(e.unlisted, p.ID)
		e.people[p.ID] = &rosterEntry{person: p, index: i}
	}
	e.roster++
}

// SetSubject adds or replaces a customer record. The engine keeps only the
// fields detectors read, in the customer's entry (no pointer, no raw line):
// it holds every customer for its whole life, a million of them in a large
// organisation. Inputs get a copy made when they are filled, so an input
// handed out earlier stays as it was.
func (e *Engine) SetSubject(s *event.Subject) {
	e.tickets.set(e.tickets.customer(s.ID), s)
}

// Ticket applies a ticket change. Accesses whose grace window ended before it
// are settled first, so a ticket cannot justify an access retroactively
// beyond the window.
func (e *Engine) Ticket(tc *event.TicketChange) {
	e.advance(tc.Time)
	e.tickets.Apply(tc)
	e.stats.Tickets++
}

// Event runs the detectors on one access event.
func (e *Engine) Event(ev *event.Event) {
	if ev.Time.Before(e.now) {
		e.stats.Late++
	}
	e.advance(ev.Time)
	e.stats.Events++
	c := e.fill(ev)
	person := e.in.Person
	if e.pipe != nil {
		if len(e.cfg.Immediate) > 0 {
			e.add(0, &e.in, nil, false, false)
		}
	} else {
		for _, d := range e.cfg.Immediate {
			d.Detect(&e.in, e.alertFn)
		}
	}
	if len(e.cfg.Settled) > 0 {
		e.seq++
		due := ev.Time.Add(e.cfg.Tickets.Grace)
		e.pending.push(pending{dueSec: due.Unix(), dueNsec: int32(due.Nanosecond()), seq: e.seq, ev: ev,
			person: person, roster: e.roster, customer: c, customers: e.tickets.cs.Len(), actorIndex: int32(e.in.ActorIndex)})
	}
}

// Flush settles every pending access, as at the end of a replay.
func (e *Engine) Flush() {
	for e.pending.first() != nil {
		e.settle(e.pending.pop())
	}
	if e.pipe != nil {
		for i := range e.pipe.stages {
			e.add(i, &Input{Event: e.in.Event}, nil, true, true)
		}
		e.drain()
		return
	}
	e.settling = true
	for _, stage := range [][]Detector{e.cfg.Immediate, e.cfg.Settled} {
		for _, d := range stage {
			if f, ok := d.(Flusher); ok {
				f.Flush(e.alertFn)
			}
		}
	}
	e.settling = false
}

// advance moves the watermark to t and settles the accesses whose grace
// window closed strictly before it.
func (e *Engine) advance(t time.Time) {
	if t.After(e.now) {
		e.now = t
	}
	now := stampOf(e.now)
	for p := e.pending.first(); p != nil && p.dueBefore(now); p = e.pending.first() {
		e.settle(e.pending.pop())
	}
	// Only after settling: event time may jump a weekend ahead, and the
	// accesses it just settled still needed their tickets.
	if !e.now.Before(e.pruneAt) {
		e.tickets.Prune(e.now.Add(-TicketRetention - e.cfg.Tickets.AfterClose))
		e.pruneAt = e.now.Add(time.Hour)
	}
}

func (e *Engine) settle(p pending) {
	ev, c := p.ev, p.customer
	if c == nil && ev.Subject != "" && e.tickets.cs.Len() != p.customers {
		c = e.tickets.cs.find(ev.Subject) // it may have appeared since
	}
	var m *TicketMatch
	if ev.Action.TouchesSubject() && ev.Subject != "" {
		e.match = e.tickets.match(c, ev.Actor.ID, ev.Subject, ev.Ticket, ev.Time, e.cfg.Tickets)
		m = &e.match
	}
	person := p.person
	if p.roster != e.roster {
		person = e.Person(ev.Actor.ID)
	}
	e.in = Input{Event: ev, Person: person, Ticket: m, ActorIndex: int(p.actorIndex), from: e}
	if e.tickets.record(c, ev.Subject, &e.subject) {
		e.in.Subject = &e.subject
	}
	if e.pipe != nil {
		e.add(1, &e.in, m, true, false)
		return
	}
	e.settling = true
	for _, d := range e.cfg.Settled {
		d.Detect(&e.in, e.alertFn)
	}
	e.settling = false
}

// fill sets the input of the immediate stage and returns the customer's
// entry in the ticket index, nil if none.
func (e *Engine) fill(ev *event.Event) *customer {
	i, person := e.actorIndex(ev.Actor.ID)
	e.in = Input{Event: ev, Person: person, ActorIndex: i, from: e}
	if ev.Subject == "" {
		return nil
	}
	c := e.tickets.cs.find(ev.Subject)
	if e.tickets.record(c, ev.Subject, &e.subject) {
		e.in.Subject = &e.subject
	}
	return c
}
