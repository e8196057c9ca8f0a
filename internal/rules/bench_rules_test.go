package rules

import (
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// BenchmarkPerRule runs the pack one rule at a time (and none, and all),
// to find the rule that costs the most. Each sub-benchmark reports the
// CPU time per event of a pass over a fresh evaluator.
func BenchmarkPerRule(b *testing.B) {
	full, err := Shipped()
	if err != nil {
		b.Fatal(err)
	}
	people, inputs := newWorkload(10000).inputs()
	packs := []*Pack{newPack(nil), full}
	names := []string{"none", "all"}
	for _, r := range full.Rules() {
		packs = append(packs, full.only(r))
		names = append(names, r.ID)
	}
	for i, p := range packs {
		b.Run(names[i], func(b *testing.B) {
			var cpu time.Duration
			for range b.N {
				e := NewEvaluator(p, func(id string) *event.Person { return people[id] })
				imm, settled := e.Immediate(), e.Settled()
				emit := func(engine.Alert) {}
				t0 := cpuTime()
				for k := range inputs {
					imm.Detect(&inputs[k], emit)
					settled.Detect(&inputs[k], emit)
				}
				cpu += cpuTime() - t0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(inputs)), "cpu-ns/event")
		})
	}
}
