package engine

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// BenchmarkCaseMemory reports the live heap the engine keeps per alerting
// actor (B/actor): the alerts it remembers toward a case, suppression keys,
// risk and the open cases. The alerts are shaped like the rules' commonest
// (a sentence of ~170 bytes, one event, one customer, a one-entry details
// map, suppressed per customer for a day); one actor in fifty alerts often
// enough to open a case.
func BenchmarkCaseMemory(b *testing.B) {
	const actors, alerts = 20_000, 3
	rules := []string{"no_ticket", "ticket_not_theirs", "reset_high_balance"}
	det := DetectorFunc(func(in *Input, emit Emit) {
		ev := in.Event
		rule := rules[ev.Count%len(rules)]
		emit(Alert{Rule: rule, Severity: finding.Medium, Risk: 10, SuppressFor: 24 * time.Hour, Key: ev.Subject,
			Subjects: []string{ev.Subject},
			Details:  map[string]any{"verdict": rule},
			Render: func() string {
				return fmt.Sprintf("%s (bpo-north payments agent) viewed customer %s (standard, $%d): profile [name, email, phone] with no ticket about them assigned to %s",
					ev.Actor.ID, ev.Subject, 100+ev.Count, ev.Actor.ID)
			}})
	})
	evs := make([]event.Event, 0, actors*alerts)
	for i := range actors {
		n := alerts
		if i%50 == 0 {
			n = 12 // enough to open a case and grow it
		}
		for k := range n {
			evs = append(evs, event.Event{ID: fmt.Sprintf("e-%d-%d", i, k), Time: t0.Add(time.Duration(len(evs)) * time.Second),
				Actor: event.Actor{ID: fmt.Sprintf("a-%d", i)}, Action: event.View, Subject: fmt.Sprintf("c-%06d", (i*7+k)%200_000), Count: k})
		}
	}
	for range b.N {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		e := New(Config{Immediate: []Detector{det}}, func(*finding.Finding) {})
		for i := range evs {
			e.Event(&evs[i])
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-before)/actors, "B/actor")
		b.ReportMetric(float64(e.Stats().Cases), "cases")
		runtime.KeepAlive(e)
	}
}

// BenchmarkSuppressionManyKeys times one actor harvesting 20,000 customers
// in a day, each alert suppressed per customer: the actor's suppressions
// must not be searched in full on every alert.
func BenchmarkSuppressionManyKeys(b *testing.B) {
	const n = 20_000
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{ID: fmt.Sprintf("e-%d", i), Time: t0.Add(time.Duration(i) * time.Second), Actor: event.Actor{ID: "a-1"},
			Action: event.View, Subject: fmt.Sprintf("c-%06d", i)}
	}
	det := DetectorFunc(func(in *Input, emit Emit) {
		emit(Alert{Rule: "no_ticket", Severity: finding.Medium, Risk: 0.001, SuppressFor: 24 * time.Hour, Key: in.Event.Subject, Summary: "x"})
	})
	for range b.N {
		e := New(Config{Immediate: []Detector{det}, Risk: RiskConfig{CaseThreshold: 1e9}}, func(*finding.Finding) {})
		for i := range evs {
			e.Event(&evs[i])
		}
	}
}
