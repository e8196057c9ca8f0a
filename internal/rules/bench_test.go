package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// workload is a synthetic support floor for benchmarks: agents working
// tickets, with the mix of actions a console logs.
type workload struct {
	lines   [][]byte
	events  []event.Event
	people  []event.Person
	custs   []event.Subject
	tickets []event.TicketChange
	span    time.Duration
}

func newWorkload(nEvents int) *workload {
	r := rand.New(rand.NewPCG(1, 2))
	w := &workload{}
	teams := []string{"payments", "account-recovery", "kyc", "general"}
	for i := range 200 {
		role := "agent"
		switch i % 25 {
		case 0:
			role = "team_lead"
		case 1:
			role = "qa"
		case 2:
			role = "fraud_investigator"
		}
		w.people = append(w.people, event.Person{ID: fmt.Sprintf("a-%03d", i), Vendor: "bpo-north", Team: teams[i%len(teams)], Role: role, Status: event.Active})
	}
	for i := range 5000 {
		s := event.Subject{ID: fmt.Sprintf("c-%05d", i), Tier: "standard", BalanceUSD: float64(r.IntN(20000))}
		if i%50 == 0 {
			s.Tier, s.BalanceUSD = "vip", 500000+float64(r.IntN(3e6))
		}
		w.custs = append(w.custs, s)
	}
	t0 := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	at := t0
	type work struct {
		subject, ticket string
	}
	current := make([]work, len(w.people))
	for i := range nEvents {
		at = at.Add(time.Duration(200+r.IntN(400)) * time.Millisecond)
		a := r.IntN(len(w.people))
		p := &w.people[a]
		if current[a].subject == "" || r.IntN(8) == 0 {
			c := w.custs[r.IntN(len(w.custs))].ID
			tid := fmt.Sprintf("T-%d", i)
			current[a] = work{c, tid}
			w.tickets = append(w.tickets, event.TicketChange{Time: at.Add(-time.Minute), ID: tid, Subject: c, Assignee: p.ID, Status: event.TicketOpen})
		}
		ev := event.Event{
			ID: fmt.Sprintf("e-%d", i), Time: at,
			Actor:   event.Actor{ID: p.ID, Session: "s-" + p.ID, IP: "198.51.100.7", Device: "d-" + p.ID, Country: "PH"},
			Subject: current[a].subject, Ticket: current[a].ticket, Count: 1, App: "support-console",
		}
		switch x := r.IntN(100); {
		case x < 55:
			ev.Action, ev.Resource, ev.Fields, ev.DurationMS = event.View, "profile", []string{"name", "email"}, int64(5000+r.IntN(60000))
		case x < 65:
			ev.Action, ev.Subject, ev.Ticket, ev.Query, ev.Count = event.Search, "", "", "email:x@example.com", 1+r.IntN(5)
		case x < 77:
			ev.Action, ev.Resource, ev.Fields, ev.Reason = event.Reveal, "profile", []string{"phone"}, "customer call"
			if r.IntN(5) == 0 {
				ev.Fields = []string{"dob"}
			}
		case x < 87:
			ev.Action, ev.Resource = event.Update, "notes"
		case x < 92:
			ev.Action, ev.Subject, ev.Ticket = event.Login, "", ""
		case x < 95:
			ev.Action, ev.Subject, ev.Ticket = event.Logout, "", ""
		case x < 97:
			ev.Action, ev.Resource = event.Export, "transactions"
		case x < 99:
			ev.Action, ev.Verification = event.CredentialReset, "kba"
		default:
			ev.Action, ev.Verification = event.MFAReset, "id_document"
		}
		w.events = append(w.events, ev)
		w.lines = append(w.lines, wireLine(&ev))
	}
	w.span = at.Sub(t0) + time.Hour
	return w
}

// inputs gives each event the context the engine would: its actor's and
// customer's records and its ticket verdict.
func (w *workload) inputs() (map[string]*event.Person, []engine.Input) {
	people := map[string]*event.Person{}
	for i := range w.people {
		people[w.people[i].ID] = &w.people[i]
	}
	custs := map[string]*event.Subject{}
	for i := range w.custs {
		custs[w.custs[i].ID] = &w.custs[i]
	}
	tickets := engine.NewTickets()
	for i := range w.tickets {
		tickets.Apply(&w.tickets[i])
	}
	inputs := make([]engine.Input, len(w.events))
	for i := range w.events {
		ev := &w.events[i]
		in := engine.Input{Event: ev, Person: people[ev.Actor.ID], Subject: custs[ev.Subject]}
		if ev.Action.TouchesSubject() && ev.Subject != "" {
			m := tickets.Match(ev.Actor.ID, ev.Subject, ev.Ticket, ev.Time, testWindows)
			in.Ticket = &m
		}
		inputs[i] = in
	}
	return people, inputs
}

func wireLine(ev *event.Event) []byte {
	m := map[string]any{
		"id": ev.ID, "time": ev.Time.Format(time.RFC3339Nano), "action": ev.Action, "app": ev.App,
		"actor": map[string]any{"id": ev.Actor.ID, "session": ev.Actor.Session, "ip": ev.Actor.IP, "device": ev.Actor.Device, "country": ev.Actor.Country},
	}
	if ev.Subject != "" {
		m["subject"] = map[string]any{"id": ev.Subject}
	}
	for k, v := range map[string]string{"resource": ev.Resource, "ticket": ev.Ticket, "reason": ev.Reason, "query": ev.Query, "verification": ev.Verification} {
		if v != "" {
			m[k] = v
		}
	}
	if len(ev.Fields) > 0 {
		m["fields"] = ev.Fields
	}
	if ev.DurationMS > 0 {
		m["duration_ms"] = ev.DurationMS
	}
	b, _ := json.Marshal(m)
	return b
}

// BenchmarkDecode is the yardstick: decoding one access event.
func BenchmarkDecode(b *testing.B) {
	w := newWorkload(10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := event.DecodeEvent(w.lines[i%len(w.lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPack is the cost of the whole shipped pack per event: both
// stages of the evaluator, given each event's context and ticket verdict
// as the engine would. It must stay below half of BenchmarkDecode.
func BenchmarkPack(b *testing.B) {
	run, done := packRunner(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		run(i)
	}
	b.StopTimer()
	done(b.N)
}

// packRunner prepares the shipped pack and a workload with each event's
// context, and returns a function running event i through both stages.
func packRunner(b *testing.B) (run func(i int), done func(n int)) {
	p, err := Shipped()
	if err != nil {
		b.Fatal(err)
	}
	w := newWorkload(10000)
	people, inputs := w.inputs()
	e := NewEvaluator(p, func(id string) *event.Person { return people[id] })
	imm, settled := e.Immediate(), e.Settled()
	var alerts int
	byRule := map[string]int{}
	emit := func(a engine.Alert) {
		alerts++
		byRule[a.Rule]++
		if testing.Verbose() && byRule[a.Rule] < 4 {
			b.Logf("%s %v %s", a.Rule, a.Details, a.Render())
		}
	}
	base := make([]time.Time, len(w.events))
	for i := range w.events {
		base[i] = w.events[i].Time
	}
	run = func(i int) {
		k := i % len(inputs)
		if k == 0 && i > 0 {
			// next pass: move the stream on in time so windows keep sliding
			shift := time.Duration(i/len(inputs)) * w.span
			for j := range w.events {
				w.events[j].Time = base[j].Add(shift)
			}
		}
		in := inputs[k]
		imm.Detect(&in, emit)
		settled.Detect(&in, emit)
	}
	done = func(n int) {
		if errs := e.Errors(); len(errs) > 0 {
			b.Fatalf("run-time errors: %v", errs)
		}
		b.ReportMetric(float64(alerts)/float64(n)*1000, "alerts/1k-events")
		if testing.Verbose() {
			b.Logf("alerts by rule: %v", byRule)
		}
	}
	return run, done
}

// BenchmarkPackVsDecode alternates blocks of decoding (event.DecodeEvent),
// running the pack, and decoding with plain encoding/json, on the same
// events, and reports the ratios of the CPU time each took (the process's,
// from getrusage), which a busy machine disturbs less than separate
// wall-clock benchmarks. The budget is a ratio below 0.5.
func BenchmarkPackVsDecode(b *testing.B) {
	run, done := packRunner(b)
	w := newWorkload(10000)
	var tPack, tDecode, tJSON time.Duration
	// The quickest block of each is the least disturbed by other work.
	minPack, minDecode, minJSON := time.Duration(1<<62), time.Duration(1<<62), time.Duration(1<<62)
	b.ResetTimer()
	for i := 0; i < b.N; i += 2000 {
		n := min(2000, b.N-i)
		t0 := cpuTime()
		for j := i; j < i+n; j++ {
			if _, err := event.DecodeEvent(w.lines[j%len(w.lines)]); err != nil {
				b.Fatal(err)
			}
		}
		t1 := cpuTime()
		for j := i; j < i+n; j++ {
			run(j)
		}
		t2 := cpuTime()
		for j := i; j < i+n; j++ {
			if _, err := event.DecodeEventJSON(w.lines[j%len(w.lines)]); err != nil {
				b.Fatal(err)
			}
		}
		t3 := cpuTime()
		tDecode += t1 - t0
		tPack += t2 - t1
		tJSON += t3 - t2
		if n == 2000 {
			minDecode, minPack, minJSON = min(minDecode, t1-t0), min(minPack, t2-t1), min(minJSON, t3-t2)
		}
	}
	b.StopTimer()
	done(b.N)
	b.ReportMetric(float64(tPack)/float64(tDecode), "pack/decode")
	b.ReportMetric(float64(tPack)/float64(tJSON), "pack/encoding-json")
	b.ReportMetric(float64(tPack.Nanoseconds())/float64(b.N), "pack-ns/event")
	b.ReportMetric(float64(tDecode.Nanoseconds())/float64(b.N), "decode-ns/event")
	b.ReportMetric(float64(tJSON.Nanoseconds())/float64(b.N), "encoding-json-ns/event")
	if minPack < 1<<62 {
		b.ReportMetric(float64(minPack)/float64(minDecode), "pack/decode-best")
		b.ReportMetric(float64(minPack)/float64(minJSON), "pack/encoding-json-best")
	}
}

// BenchmarkEngine runs the whole engine (ticket index, grace queue,
// suppression, risk, cases) with and without the pack, for context.
func BenchmarkEngine(b *testing.B) {
	full, err := Shipped()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pack *Pack
	}{{"pack", full}, {"no_rules", newPack(nil)}} {
		b.Run(c.name, func(b *testing.B) {
			w := newWorkload(10000)
			eng, _ := newEngine(c.pack, func(*finding.Finding) {})
			for i := range w.people {
				eng.SetPerson(&w.people[i])
			}
			for i := range w.custs {
				eng.SetSubject(&w.custs[i])
			}
			for i := range w.tickets {
				eng.Ticket(&w.tickets[i])
			}
			base := make([]time.Time, len(w.events))
			for i := range w.events {
				base[i] = w.events[i].Time
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % len(w.events)
				if k == 0 && i > 0 {
					shift := time.Duration(i/len(w.events)) * w.span
					for j := range w.events {
						w.events[j].Time = base[j].Add(shift)
					}
				}
				ev := w.events[k]
				eng.Event(&ev)
			}
			eng.Flush()
		})
	}
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
