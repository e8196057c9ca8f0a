package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// Evaluator runs a pack inside one engine. It keeps the state the rules
// declare (windows, sequences, the actors' history), keyed by actor (or by
// team, vendor, site or customer where a rule asks). A rule runs at one
// stage only, so each stage's detector owns its rules' state outright: the
// two detectors share nothing mutable and may each be driven by its own
// goroutine, while one detector is not safe for concurrent use.
type Evaluator struct {
	stages [2]*stage // by Stage
}

// stage is the evaluator of one stage's rules, with everything they keep.
type stage struct {
	pack    *Pack
	s       Stage
	people  func(id string) *event.Person
	env     Env
	vm      vm.VM
	history bool // this stage keeps the actors' history
	// contract says some rule of the stage reads the actor's contract;
	// without, the Env has it only from an alert on (summaries, details
	// and keys may read anything).
	contract bool

	aggs []aggTable // by aggregate number (entry.agg); not per actor
	seqs []seqTable // by rule position
	// actorWin numbers the aggregates kept per actor (by aggregate
	// number), indexing actorState.counters or actorState.distincts by
	// their kind; counters and distincts are how many of each an actor has.
	actorWin  []int
	counters  int
	distincts int
	actors    engine.Actors[actorState]
	cur       *actorState // the actor of the event being evaluated
	// act and now are the event's action, as its bit, and its time in Unix
	// nanoseconds: every rule of the event reads them, and the action is
	// a string (a switch of comparisons to find its bit) and the time a
	// time.Time (a conversion).
	act          actionSet
	now          int64
	lastItem     string // the last value itemHash hashed, and its hash
	lastHash     uint64
	lastPart     string // the last part partHash hashed, and its hash
	lastPartHash uint64
	partHashed   bool
	first        time.Time // the earliest event time seen

	errors  map[string]int
	onError func(rule string, err error)
	scratch renderScratch
	// emitting is the rule whose alert is being emitted, and emittingCtx
	// what its summary needs; renderFn is e.renderEmitting, made once
	// because a method value allocates.
	emitting    *Rule
	emittingCtx alertContext
	renderFn    func() string
}

// NewEvaluator returns an evaluator of the pack. people looks up roster
// entries (for ticket.assignee_team and person(id)); it may be nil.
func NewEvaluator(p *Pack, people func(id string) *event.Person) *Evaluator {
	ev := &Evaluator{}
	for s := range ev.stages {
		ev.stages[s] = newStage(p, Stage(s), people)
	}
	return ev
}

func newStage(p *Pack, s Stage, people func(id string) *event.Person) *stage {
	e := &stage{
		pack:     p,
		s:        s,
		people:   people,
		history:  s == Immediate && p.history,
		aggs:     make([]aggTable, p.aggs),
		seqs:     make([]seqTable, len(p.rules)),
		actorWin: make([]int, p.aggs),
		errors:   map[string]int{},
	}
	n := 0 // the number of the rule's first aggregate
	for _, r := range p.rules {
		if r.Stage == s && r.readsContract {
			e.contract = true
		}
		for _, a := range r.aggs {
			switch {
			case r.Stage != s || !a.perActor():
				e.actorWin[n+a.slot] = -1
			case a.kind == aggDistinct:
				e.actorWin[n+a.slot] = e.distincts
				e.distincts++
			default:
				e.actorWin[n+a.slot] = e.counters
				e.counters++
			}
		}
		n += len(r.aggs)
	}
	e.renderFn = e.renderEmitting
	e.env.Person = func(id string) PersonEnv {
		if e.people == nil {
			return PersonEnv{ID: id}
		}
		return personEnv(id, e.people(id))
	}
	return e
}

// OnError sets a function told about every expression or template that
// failed at run time (a division by zero, say); the rule is then treated as
// not matching. Failures are counted either way (Errors). Each stage calls
// it from the goroutine driving that stage's detector.
func (e *Evaluator) OnError(fn func(rule string, err error)) {
	for _, s := range e.stages {
		s.onError = fn
	}
}

// Errors returns the run-time failures so far, by rule id. Call it when no
// detector is running.
func (e *Evaluator) Errors() map[string]int {
	out := map[string]int{}
	for _, s := range e.stages {
		for id, n := range s.errors {
			out[id] += n
		}
	}
	return out
}

// Immediate returns the detector of the rules that run as events arrive.
func (e *Evaluator) Immediate() engine.Detector { return e.stages[Immediate] }

// Settled returns the detector of the rules that run once the ticket
// verdict is known.
func (e *Evaluator) Settled() engine.Detector { return e.stages[Settled] }

// Detect evaluates the stage's rules on one input.
func (e *stage) Detect(in *engine.Input, emit engine.Emit) { e.detect(in, emit) }

func (e *stage) detect(in *engine.Input, emit engine.Emit) {
	ev := in.Event
	ai := actionIndex(ev.Action)
	if ai < 0 {
		return
	}
	s := e.s
	entries := e.pack.index[s][ai]
	withHistory := e.history
	if len(entries) == 0 && !withHistory {
		return
	}
	e.act, e.now = 1<<ai, ev.Time.UnixNano()
	e.env.fill(in, e.contract)
	if s == Settled {
		e.env.fillTicket(in.Ticket, e.people)
	}
	st := e.actors.Get(in)
	if st == nil {
		st = &actorState{}
		if withHistory {
			st.hist = &history{}
		}
		e.actors.Put(in, st)
	}
	e.cur = st
	if withHistory {
		if e.first.IsZero() || ev.Time.Before(e.first) {
			e.first = ev.Time
		}
		h := st.hist
		x := sourcesOf(ev.Actor.Device, ev.Actor.Country, ev.Actor.IP)
		e.env.History = h.features(ev.Time, x)
		e.env.History.WatchedDays = daysSince(ev.Time, e.first)
		h.observe(ev.Time, x)
	}
	for i := range entries {
		e.run(&entries[i], in, emit)
	}
}

func (e *stage) run(en *entry, in *engine.Input, emit engine.Emit) {
	r, ev := en.r, in.Event
	if r.exc.first && e.excluded(r) {
		return
	}
	now := e.now
	// Only an event the condition may match needs the aggregates' values;
	// every event they count is added either way.
	final := en.tried && (r.cond.pre == nil || r.cond.pre.eval(&e.env))
	if final {
		for i, a := range r.aggs {
			*e.env.Agg.slot(a.slot) = e.aggregate(r, a, en.agg+i, true)
		}
	} else {
		// Nothing reads the aggregates' values: only those the event
		// adds to need visiting.
		for _, i := range en.feeds {
			e.aggregate(r, r.aggs[i], en.agg+i, false)
		}
	}
	final = final && e.testAfterPre(r, r.cond)
	var hits []seqHit
	if r.seq != nil {
		tbl := &e.seqs[en.pos]
		if final {
			hits = e.complete(r, tbl, ev, now)
		}
		e.advance(r, tbl, ev, now)
		if final && hits == nil {
			return
		}
	}
	if !final || (r.exc.lists && e.excluded(r)) {
		return
	}
	for _, w := range r.exc.when {
		if e.test(r, w) {
			return
		}
	}
	e.alert(r, in, hits, emit)
}

// excluded reports whether the actor is on one of the rule's allowlists.
func (e *stage) excluded(r *Rule) bool {
	a := &e.env.Actor
	x := &r.exc
	return (len(x.roles) > 0 && a.Role != "" && slices.Contains(x.roles, a.Role)) ||
		(len(x.teams) > 0 && a.Team != "" && slices.Contains(x.teams, a.Team)) ||
		(len(x.vendors) > 0 && a.Vendor != "" && slices.Contains(x.vendors, a.Vendor)) ||
		(len(x.actors) > 0 && slices.Contains(x.actors, a.ID))
}

func (e *stage) fail(r *Rule, err error) {
	e.errors[r.ID]++
	if e.onError != nil {
		e.onError(r.ID, err)
	}
}

// test evaluates a condition: its native guard first, the VM only if the
// guard passes and is not the whole condition.
func (e *stage) test(r *Rule, c *cond) bool {
	if c.guard != nil {
		if !c.guard.eval(&e.env) {
			return false
		}
		if c.exact {
			return true
		}
	}
	return e.bool(r, c.prog)
}

// testAfterPre is test for a condition whose pre has passed: only the
// conjuncts that read aggregates are left to evaluate natively.
func (e *stage) testAfterPre(r *Rule, c *cond) bool {
	if c.guard != nil {
		if c.post != nil && !c.post.eval(&e.env) {
			return false
		}
		if c.exact {
			return true
		}
	}
	return e.bool(r, c.prog)
}

func (e *stage) bool(r *Rule, p *vm.Program) bool {
	out, err := e.vm.Run(p, &e.env)
	if err != nil {
		e.fail(r, err)
		return false
	}
	b, _ := out.(bool)
	return b
}

func (e *stage) str(r *Rule, p *vm.Program) (string, bool) {
	out, err := e.vm.Run(p, &e.env)
	if err != nil {
		e.fail(r, err)
		return "", false
	}
	s, _ := out.(string)
	return s, true
}

func (e *stage) strValue(r *Rule, v *value) (string, bool) {
	if v.acc != nil {
		return v.acc.str(&e.env), true
	}
	return e.str(r, v.prog)
}

func (e *stage) intValue(r *Rule, v *value) (int64, bool) {
	if v.acc != nil {
		return v.acc.int(&e.env), true
	}
	out, ok := e.value(r, v.prog)
	n, _ := out.(int)
	return int64(n), ok
}

func (e *stage) value(r *Rule, p *vm.Program) (any, bool) {
	out, err := e.vm.Run(p, &e.env)
	if err != nil {
		e.fail(r, err)
		return nil, false
	}
	return out, true
}

// actorState is what the evaluator keeps per actor: its history and the
// windows of the aggregates grouped by actor alone, found with one lookup
// per event. The windows are kept by kind, each only as large as its kind
// needs, and allocated at the first event that reaches one.
type actorState struct {
	hist      *history   // nil unless the stage keeps history
	counters  []counter  // by stage.actorWin; nil until used
	distincts []distinct // by stage.actorWin; nil until used
}

// groupKey identifies one window or sequence state inside a table: the
// partition (an actor, team, customer, ...) and the optional by value.
type groupKey struct{ part, by string }

// owned returns k with its own copies of its strings, for a key kept in a
// table: slices of an event would keep its whole decoded line alive.
func (k groupKey) owned() groupKey { return groupKey{strings.Clone(k.part), strings.Clone(k.by)} }

// aggTable holds the windows of one aggregate not kept per actor, by the
// 64-bit hash of their group (groupHash): no copies of the group's strings
// are kept, and a lookup hashes one integer. Only the map of the
// aggregate's kind is used.
type aggTable struct {
	counters  map[uint64]*counter
	distincts map[uint64]*distinct
	pruneAt   int
}

// groupHash is the hash of the event's group in the aggregate: its
// partition (an actor, team, customer, ...) and its by value. Two groups
// share a window only if their hashes collide, which a distinct count
// accepts of its values already.
func (e *stage) groupHash(r *Rule, a *aggregate) (uint64, bool) {
	h := uint64(fnvOffset)
	switch a.per {
	case perActor:
		h = e.partHash(e.env.Actor.ID)
	case perTeam:
		h = e.partHash(e.env.Actor.Team)
	case perVendor:
		h = e.partHash(e.env.Actor.Vendor)
	case perSite:
		h = e.partHash(e.env.Actor.Site)
	case perSubject:
		if e.env.Subject == "" {
			return 0, false
		}
		h = e.partHash(e.env.Subject)
	case perActorSubject:
		if e.env.Subject == "" {
			return 0, false
		}
		h = fnvAdd(fnvAdd(h, e.env.Actor.ID), e.env.Subject)
	}
	if a.by != nil {
		by, ok := e.strValue(r, a.by)
		if !ok {
			return 0, false
		}
		h = fnvAdd(h, by)
	}
	return fmix64(h), true
}

// aggregate adds the event to the aggregate if it counts, and returns the
// aggregate's value for the event's group if read is set (0 otherwise).
// n is the aggregate's number in the pack (entry.agg plus its position).
func (e *stage) aggregate(r *Rule, a *aggregate, n int, read bool) int {
	feeds, now := a.actions&e.act != 0, e.now
	if !feeds && !read {
		return 0
	}
	// An event the filter leaves out of a window nothing reads needs no
	// window found (a hash and a map lookup for a team's). Only a filter
	// evaluated natively goes first: it cannot fail, so no error is
	// counted for an event whose group does not exist.
	passed := false
	if !read && a.where != nil && a.where.exact {
		if !e.test(r, a.where) {
			return 0
		}
		passed = true
	}
	var c *counter
	var d *distinct
	var k uint64
	ok := true
	t := &e.aggs[n]
	if a.perActor() {
		st, i := e.cur, e.actorWin[n]
		if a.kind == aggDistinct {
			if st.distincts == nil {
				st.distincts = make([]distinct, e.distincts)
			}
			d = &st.distincts[i]
		} else {
			if st.counters == nil {
				st.counters = make([]counter, e.counters)
			}
			c = &st.counters[i]
		}
	} else {
		if k, ok = e.groupHash(r, a); !ok {
			return 0
		}
		if a.kind == aggDistinct {
			d = t.distincts[k]
		} else {
			c = t.counters[k]
		}
	}
	window := int64(a.window)
	if feeds && (passed || a.where == nil || e.test(r, a.where)) {
		var item string
		var amount int64 = 1
		if a.of != nil {
			switch a.kind {
			case aggDistinct:
				if item, ok = e.strValue(r, a.of); !ok || item == "" {
					goto read // nothing to count
				}
			case aggSum:
				if amount, ok = e.intValue(r, a.of); !ok {
					goto read
				}
			}
		}
		if a.kind == aggDistinct {
			if d == nil {
				d = newWindow(&t.distincts, &t.pruneAt, k, now-window, func(d *distinct) int64 { return d.latest })
			}
			d.add(now, e.itemHash(item), window)
		} else {
			if c == nil {
				c = newWindow(&t.counters, &t.pruneAt, k, now-window, func(c *counter) int64 { return c.latest })
			}
			c.add(now, amount, window)
		}
	}
read:
	if !read {
		return 0
	}
	if a.kind == aggDistinct {
		if d == nil {
			return 0
		}
		return int(d.value(now, window))
	}
	if c == nil {
		return 0
	}
	return int(c.value(now, window))
}

// perActor reports whether the aggregate's windows are kept in the actors'
// state, found with the one lookup per event, rather than in its table.
func (a *aggregate) perActor() bool { return a.per == perActor && a.by == nil }

// partHash is fnvAdd(fnvOffset, part), remembering the last part: the
// aggregates kept by team mostly hash the same team one after another.
func (e *stage) partHash(part string) uint64 {
	if part != e.lastPart || !e.partHashed {
		e.lastPart, e.lastPartHash, e.partHashed = part, fnvAdd(fnvOffset, part), true
	}
	return e.lastPartHash
}

// itemHash is hashString(item), remembering the last item (so a stage
// holds at most one event's line): the distinct counts of one rule, and
// of several, mostly count the event's customer.
func (e *stage) itemHash(item string) uint64 {
	if item != e.lastItem {
		e.lastItem, e.lastHash = item, hashString(item)
	}
	return e.lastHash
}

// newWindow adds an empty window for group k to a table's map and
// returns it. When the map has doubled since it was last pruned it first
// drops the windows with nothing left in them (none later than cutoff), so
// a table holds only the groups active within the window.
func newWindow[W any](m *map[uint64]*W, pruneAt *int, k uint64, cutoff int64, latest func(*W) int64) *W {
	if *m == nil {
		*m, *pruneAt = map[uint64]*W{}, 1024
	}
	if len(*m) >= *pruneAt {
		for k, w := range *m {
			if latest(w) <= cutoff {
				delete(*m, k)
			}
		}
		*pruneAt = max(1024, 2*len(*m))
	}
	w := new(W)
	(*m)[k] = w
	return w
}

// seqState is one key's progress through a sequence: for each earlier step,
// the most recent partial match that reached it.
type seqState struct {
	reached []partial
	latest  int64
}

type partial struct {
	start int64 // time of the first step
	hits  []seqHit
}

type seqTable struct {
	m       map[groupKey]*seqState
	pruneAt int
}

func (e *stage) seqKey(q *sequence) (groupKey, bool) {
	switch q.per {
	case perSubject:
		return groupKey{part: e.env.Subject}, e.env.Subject != ""
	case perActorSubject:
		return groupKey{part: e.env.Actor.ID, by: e.env.Subject}, e.env.Subject != ""
	}
	return groupKey{part: e.env.Actor.ID}, true
}

// complete returns the earlier steps if the event, which matched the rule's
// condition, completes the sequence within its time.
func (e *stage) complete(r *Rule, t *seqTable, ev *event.Event, now int64) []seqHit {
	q := r.seq
	k, ok := e.seqKey(q)
	if !ok {
		return nil
	}
	st := t.m[k]
	if st == nil {
		return nil
	}
	p := st.reached[len(q.steps)-1]
	if p.hits == nil || p.start <= now-int64(q.within) || p.hits[len(p.hits)-1].at.UnixNano() > now {
		return nil
	}
	return p.hits
}

// advance records the event against the sequence's earlier steps. Later
// steps go first so one event never advances two steps.
func (e *stage) advance(r *Rule, t *seqTable, ev *event.Event, now int64) {
	q := r.seq
	var k groupKey
	keyed := false
	for i := len(q.steps) - 1; i >= 0; i-- {
		s := &q.steps[i]
		if s.actions&e.act == 0 {
			continue
		}
		if !keyed {
			var ok bool
			if k, ok = e.seqKey(q); !ok {
				return
			}
			keyed = true
		}
		st := t.m[k]
		if i > 0 {
			if st == nil {
				continue
			}
			prev := st.reached[i-1]
			if prev.hits == nil || prev.start <= now-int64(q.within) {
				continue
			}
		}
		if s.where != nil && !e.test(r, s.where) {
			continue
		}
		if st == nil {
			if t.m == nil {
				t.m, t.pruneAt = map[groupKey]*seqState{}, 1024
			}
			if len(t.m) >= t.pruneAt {
				t.prune(q, now)
			}
			st = &seqState{reached: make([]partial, len(q.steps))}
			t.m[k.owned()] = st
		}
		hit := newSeqHit(s.name, ev)
		if i == 0 {
			st.reached[0] = partial{start: now, hits: []seqHit{hit}}
		} else {
			prev := st.reached[i-1]
			hits := append(slices.Clip(prev.hits), hit)
			st.reached[i] = partial{start: prev.start, hits: hits}
		}
		st.latest = max(st.latest, now)
	}
}

// newSeqHit is the step's hit by the event, with owned copies of its
// strings: a partial match may wait days, and slices of the event would
// keep its whole line alive. The copies share one array, allocated once.
func newSeqHit(step string, ev *event.Event) seqHit {
	parts := [...]string{ev.ID, ev.Actor.ID, ev.Subject, ev.Actor.Device, ev.Actor.Country, ev.Actor.IP}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range parts {
		b.WriteString(p)
	}
	all := b.String()
	for i, p := range parts {
		parts[i], all = all[:len(p)], all[len(p):]
	}
	return seqHit{step: step, event: parts[0], actor: parts[1], subject: parts[2],
		device: parts[3], country: parts[4], ip: parts[5], at: ev.Time}
}

func (t *seqTable) prune(q *sequence, now int64) {
	for k, st := range t.m {
		if st.latest <= now-int64(q.within) {
			delete(t.m, k)
		}
	}
	t.pruneAt = max(1024, 2*len(t.m))
}

func (e *stage) alert(r *Rule, in *engine.Input, hits []seqHit, emit engine.Emit) {
	ev := in.Event
	if !e.contract {
		e.env.fillContract(ev.Time, in.Person)
	}
	a := engine.Alert{Rule: r.ID, Severity: r.Severity, Risk: r.Risk, SuppressFor: r.suppressFor}
	if ev.Subject != "" {
		a.Subjects = []string{ev.Subject}
	}
	if len(hits) > 0 {
		a.Evidence = make([]string, 0, len(hits)+1)
		a.Evidence = append(a.Evidence, ev.ID)
		for _, h := range hits {
			a.Evidence = append(a.Evidence, h.event)
			if h.subject != "" && !slices.Contains(a.Subjects, h.subject) {
				a.Subjects = append(a.Subjects, h.subject)
			}
		}
	}
	if r.suppressKey != nil {
		a.Key, _ = e.strValue(r, r.suppressKey)
	}
	if len(r.aggs)+len(r.details) > 0 {
		a.Details = make(map[string]any, len(r.aggs)+len(r.details))
		for _, g := range r.aggs {
			a.Details[g.name] = *e.env.Agg.slot(g.slot)
		}
		for _, d := range r.details {
			if v, ok := e.value(r, d.prog); ok {
				a.Details[d.name] = v
			}
		}
	}
	// The engine renders the summary only if the alert is not suppressed,
	// during emit, while the Env still describes this event: Render is
	// valid only until emit returns.
	e.emitting, e.emittingCtx = r, alertContext{ev: ev, person: in.Person, subject: in.Subject, seq: hits, details: a.Details}
	a.Render = e.renderFn
	emit(a)
	e.emitting, e.emittingCtx = nil, alertContext{}
}

// renderEmitting renders the summary of the alert being emitted.
func (e *stage) renderEmitting() string {
	r, ac := e.emitting, &e.emittingCtx
	if r == nil {
		panic("rules: Alert.Render called after emit returned")
	}
	s, err := render(r.summary, r, &e.env, ac, &e.scratch)
	if err != nil {
		e.fail(r, fmt.Errorf("summary: %w", err))
		s = fmt.Sprintf("%s: %s (%s)", r.ID, r.Title, ac.ev.Actor.ID)
	}
	return s
}
