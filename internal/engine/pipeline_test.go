package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// countingDetector is stateful, as real detectors are: it counts what it
// saw per actor, fires on every third event of an actor, and on Flush names
// each actor it saw. It must only ever be called from one goroutine.
type countingDetector struct {
	rule    string
	people  func(string) *event.Person
	seen    map[string]int
	order   []string
	checkIn bool // detectors of the settled stage see a ticket verdict
}

func (d *countingDetector) Detect(in *Input, emit Emit) {
	ev := in.Event
	if d.checkIn && ev.Subject != "" && in.Ticket == nil {
		panic("settled input without a ticket verdict")
	}
	if d.seen[ev.Actor.ID] == 0 {
		d.order = append(d.order, ev.Actor.ID)
	}
	d.seen[ev.Actor.ID]++
	n := d.seen[ev.Actor.ID]
	team := ""
	if p := d.people(ev.Actor.ID); p != nil {
		team = p.Team
	}
	verdict := ""
	if in.Ticket != nil {
		verdict = in.Ticket.Verdict.String()
	}
	if n%3 == 0 {
		emit(Alert{Rule: d.rule, Severity: finding.Medium, Risk: 12, SuppressFor: 20 * time.Minute, Key: ev.Subject,
			Render: func() string { return fmt.Sprintf("%s %s %d %s %s", d.rule, ev.ID, n, team, verdict) }})
	}
	if n%7 == 0 {
		// An alert about someone else, dated explicitly.
		emit(Alert{Rule: d.rule + "-other", Severity: finding.High, Risk: 30, Actor: "ghost", At: ev.Time.Add(-time.Minute), Summary: "s"})
	}
}

func (d *countingDetector) Flush(emit Emit) {
	for _, a := range d.order {
		emit(Alert{Rule: d.rule + "-flush", Severity: finding.Low, Risk: 1, Actor: a, Summary: fmt.Sprint(d.seen[a])})
	}
	emit(Alert{Rule: d.rule + "-last", Severity: finding.Low, Risk: 1, Summary: "default actor and time"})
}

func pipelineEngine(concurrent bool, emit func(*finding.Finding)) *Engine {
	var e *Engine
	people := func(id string) *event.Person { return e.Person(id) }
	e = New(Config{
		Tickets:    Windows{Grace: 15 * time.Minute, AfterClose: time.Hour},
		Immediate:  []Detector{&countingDetector{rule: "imm", people: people, seen: map[string]int{}}},
		Settled:    []Detector{&countingDetector{rule: "set", people: people, seen: map[string]int{}, checkIn: true}},
		Concurrent: concurrent,
		Risk:       RiskConfig{CaseThreshold: 60},
	}, emit)
	return e
}

// feedRandom gives the engine a reproducible mix of roster changes, ticket
// changes and events, enough to fill many batches of both stages.
func feedRandom(e *Engine, seed uint64, n int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	actors := []string{"ana", "bob", "cid", "dee", "eve", "fay", "gus"}
	for i, a := range actors {
		e.SetPerson(&event.Person{ID: a, Team: fmt.Sprint("t", i%3)})
	}
	for i := 0; i < 20; i++ {
		e.SetSubject(&event.Subject{ID: fmt.Sprint("c-", i)})
	}
	t := 0.0
	for i := 0; i < n; i++ {
		t += rng.Float64() * 0.5
		a := actors[rng.IntN(len(actors))]
		switch r := rng.IntN(100); {
		case r < 1:
			e.SetPerson(&event.Person{ID: a, Team: fmt.Sprint("t", i)})
		case r < 25:
			e.Ticket(change(t, fmt.Sprint("T-", rng.IntN(50)), fmt.Sprint("c-", rng.IntN(20)), a, event.TicketOpen))
		default:
			ev := view(t, fmt.Sprint("e", i), a, fmt.Sprint("c-", rng.IntN(20)))
			if r < 30 {
				ev.Subject = ""
			}
			e.Event(ev)
		}
	}
	e.Flush()
}

func findingsJSON(t *testing.T, fs []*finding.Finding) string {
	t.Helper()
	var b strings.Builder
	for _, f := range fs {
		line, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// The concurrent pipeline gives the same findings, in the same order, as
// the sequential engine.
func TestConcurrentSameAsSequential(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		var seq, con recorder
		s := pipelineEngine(false, seq.emit)
		s.Start(context.Background()) // not concurrent: does nothing
		feedRandom(s, seed, 20000)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		c := pipelineEngine(true, con.emit)
		c.Start(context.Background())
		feedRandom(c, seed, 20000)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if len(seq.got) < 1000 {
			t.Fatalf("seed %d: only %d findings: the test exercises too little", seed, len(seq.got))
		}
		if a, b := findingsJSON(t, seq.got), findingsJSON(t, con.got); a != b {
			t.Fatalf("seed %d: concurrent findings differ from sequential (%d vs %d findings)", seed, len(seq.got), len(con.got))
		}
		if s.Stats() != c.Stats() {
			t.Errorf("seed %d: stats %+v, concurrent %+v", seed, s.Stats(), c.Stats())
		}
	}
}

// Close stops the stage goroutines even when the context is cancelled
// mid-run, and says why.
func TestConcurrentCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := pipelineEngine(true, func(*finding.Finding) {})
	e.Start(ctx)
	for i := 0; i < 5000; i++ {
		e.Event(view(float64(i), fmt.Sprint("e", i), "ana", "c-1"))
	}
	cancel()
	for i := 5000; i < 20000; i++ {
		e.Event(view(float64(i), fmt.Sprint("e", i), "ana", "c-1"))
	}
	e.Flush()
	if err := e.Close(); err == nil {
		t.Error("Close after a cancelled context returned no error")
	}
}
