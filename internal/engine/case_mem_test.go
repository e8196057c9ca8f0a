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
