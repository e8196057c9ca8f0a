package rules

import (
	"sync"
	"testing"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// TestStagesRunApart drives the two stages' detectors from their own
// goroutines, as an engine may, and expects the alerts one goroutine
// driving both gives; under -race it also shows they share no state.
func TestStagesRunApart(t *testing.T) {
	p, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(10000)
	people, inputs := w.inputs()
	lookup := func(id string) *event.Person { return people[id] }
	count := func(d engine.Detector, out map[string]int) {
		for i := range inputs {
			in := inputs[i]
			d.Detect(&in, func(a engine.Alert) { out[a.Rule+" "+a.Render()]++ })
		}
	}
	together := [2]map[string]int{{}, {}}
	e := NewEvaluator(p, lookup)
	count(e.Immediate(), together[0])
	count(e.Settled(), together[1])

	apart := [2]map[string]int{{}, {}}
	e = NewEvaluator(p, lookup)
	var wg sync.WaitGroup
	for i, d := range []engine.Detector{e.Immediate(), e.Settled()} {
		wg.Go(func() { count(d, apart[i]) })
	}
	wg.Wait()
	if len(together[0])+len(together[1]) == 0 {
		t.Fatal("no alerts")
	}
	for i := range together {
		for k, n := range together[i] {
			if apart[i][k] != n {
				t.Errorf("stage %d: %q %d times apart, %d together", i, k, apart[i][k], n)
			}
		}
		if len(apart[i]) != len(together[i]) {
			t.Errorf("stage %d: %d distinct alerts apart, %d together", i, len(apart[i]), len(together[i]))
		}
	}
	if errs := e.Errors(); len(errs) > 0 {
		t.Errorf("run-time errors: %v", errs)
	}
}

// TestActionBitIsIndex: the evaluator takes an event's action bit from its
// index in the pack's action index.
func TestActionBitIsIndex(t *testing.T) {
	for _, a := range append(event.Actions, "unknown") {
		if i := actionIndex(a); (i < 0 && actionBit(a) != 0) || (i >= 0 && actionBit(a) != 1<<i) {
			t.Errorf("%s: index %d, bit %b", a, i, actionBit(a))
		}
	}
}
