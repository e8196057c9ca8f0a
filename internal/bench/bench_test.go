package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
	"github.com/custos-io/custos/internal/sim"
)

// TestRunSmall runs every stage on a small organisation and checks that the
// report has every figure the docs quote (no timing is asserted).
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates an organisation and starts two servers")
	}
	sc := sim.Default()
	sc.Agents, sc.Days, sc.Customers = 40, 3, 2000
	o := Options{Sim: sc, Config: config.Default(), ServeEvents: 2000, ServeBatch: 250, LatencyRate: 20000, LatencyEvents: 2000, Runs: 2}
	var sets, restores int
	o.ReplayGC = &GCPolicy{Note: "the test's policy", Set: func() func() {
		sets++
		return func() { restores++ }
	}}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sets != 2 || restores != 2 {
		t.Errorf("replay's collector policy set %d times and restored %d times, want once per round (2)", sets, restores)
	}
	names := map[string]Row{}
	for _, r := range rep.Rows {
		names[r.Name] = r
	}
	for _, want := range []string{"scan lines (events)", "decode events, encoding/json (1 core)", "decode events, fast path (1 core)", "replay: full pack + baselines"} {
		r, ok := names[want]
		if !ok {
			t.Fatalf("no row %q in %v", want, rep.Rows)
		}
		if r.Records == 0 {
			t.Errorf("%s: no records", want)
		}
	}
	if n := names["decode events, fast path (1 core)"].Records; n != names["replay: full pack + baselines"].Records {
		t.Errorf("replay saw %d events, decode %d", names["replay: full pack + baselines"].Records, n)
	}
	var serve []Row
	for _, r := range rep.Rows {
		if strings.HasPrefix(r.Name, "serve ingest") {
			serve = append(serve, r)
		}
	}
	// Events alone, then the same events with their ticket changes.
	if len(serve) != 2 || serve[0].Records != 2000 || serve[1].Records <= 2000 {
		t.Fatalf("serve ingest rows %+v, want 2000 events, then more records", serve)
	}
	if rep.MixP99 == 0 || rep.MixP99 < rep.MixP50 {
		t.Errorf("ack latency with tickets p50 %v p99 %v", rep.MixP50, rep.MixP99)
	}
	if rep.Findings == 0 || rep.Actors == 0 {
		t.Errorf("replay: %d findings, %d actors", rep.Findings, rep.Actors)
	}
	if rep.AckP99 == 0 || rep.AckP99 < rep.AckP50 {
		t.Errorf("ack latency p50 %v p99 %v", rep.AckP50, rep.AckP99)
	}
	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| replay: full pack + baselines |", "acknowledgement latency", "event-to-finding latency", "peak RSS", "ran 2 times", "collector policy the test's policy"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// BenchmarkEngine measures the engine alone, per access event, with the
// shipped rule pack and baselines on: a small simulated organisation is
// decoded into memory and merged by time once, and every iteration feeds
// all of it to a fresh engine. Ticket changes are fed too but not counted.
func BenchmarkEngine(b *testing.B) {
	sc := sim.Default()
	sc.Agents, sc.Days, sc.Customers = 60, 4, 5000
	if testing.Short() {
		sc.Agents, sc.Days = 30, 2
	}
	dir := b.TempDir()
	if _, err := sim.WriteDir(context.Background(), sc, dir, sim.Options{}); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	pack, err := cfg.Pack()
	if err != nil {
		b.Fatal(err)
	}
	var rec recorder
	if _, err := replay.Run(context.Background(), replay.Options{Dir: dir, Lateness: cfg.Replay.Lateness}, &rec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		eng := cfg.EngineWith(pack, func(*finding.Finding) {}, nil)
		rec.feed(eng)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rec.events), "ns/event")
	b.ReportMetric(float64(rec.events), "events/op")
}

// recorder keeps what a replay feeds, in order, to feed it again.
type recorder struct {
	people   []*event.Person
	subjects []*event.Subject
	steps    []step
	events   int
}

type step struct {
	ev *event.Event
	tc *event.TicketChange
}

func (r *recorder) SetPerson(p *event.Person)   { r.people = append(r.people, p) }
func (r *recorder) SetSubject(s *event.Subject) { r.subjects = append(r.subjects, s) }
func (r *recorder) Ticket(tc *event.TicketChange) {
	r.steps = append(r.steps, step{tc: tc})
}
func (r *recorder) Event(ev *event.Event) { r.steps = append(r.steps, step{ev: ev}); r.events++ }
func (r *recorder) Flush()                {}

func (r *recorder) feed(s replay.Sink) {
	for _, p := range r.people {
		s.SetPerson(p)
	}
	for _, c := range r.subjects {
		s.SetSubject(c)
	}
	for _, st := range r.steps {
		if st.ev != nil {
			s.Event(st.ev)
		} else {
			s.Ticket(st.tc)
		}
	}
	s.Flush()
}

// TestCombine checks that a report of several runs gives each figure's
// median, wall and CPU apart, and the wall range.
func TestCombine(t *testing.T) {
	run := func(wall, cpu, p99 time.Duration) *Report {
		return &Report{Rows: []Row{{Name: "replay", Records: 10, Wall: wall, CPU: cpu}}, AckP99: p99}
	}
	var r Report
	r.combine([]*Report{run(9*time.Second, 1*time.Second, 30), run(3*time.Second, 5*time.Second, 10), run(5*time.Second, 2*time.Second, 20)})
	row := r.Rows[0]
	if row.Wall != 5*time.Second || row.CPU != 2*time.Second || r.AckP99 != 20 {
		t.Errorf("medians: wall %v cpu %v p99 %v, want 5s 2s 20ns", row.Wall, row.CPU, r.AckP99)
	}
	if row.WallMin != 3*time.Second || row.WallMax != 9*time.Second || row.Runs != 3 || r.Runs != 3 {
		t.Errorf("spread %v-%v over %d runs, want 3s-9s over 3", row.WallMin, row.WallMax, row.Runs)
	}
}
