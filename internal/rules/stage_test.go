package rules

import (
	"sync"
	"testing"
	"testing/fstest"

	"github.com/expr-lang/expr/parser"

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

// A stage none of whose expressions reads the actor's contract leaves it
// out of the Env until an alert; the alert's key, details and summary
// still see it.
func TestContractFilledForAlert(t *testing.T) {
	for src, want := range map[string]bool{
		`actor.tenure_days >= 30`:                  true,
		`actor.after_contract || !denied`:          true,
		`actor["contract_end"] != actor.role`:      true,
		`actor[action] == ""`:                      true,
		`len(actor) > 0`:                           true,
		`$env.actor.before_contract`:               true,
		`actor.role == "qa" && actor.team != ""`:   false,
		`person(actor.id).contract_start != time`:  false,
		`ticket.verdict == "no_ticket" && !denied`: false,
	} {
		tree, err := parser.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := readsContract(tree.Node); got != want {
			t.Errorf("%s: readsContract %v, want %v", src, got, want)
		}
	}
	const rule = `id: late_look
title: t
description: d
severity: high
risk: 30
actions: [view]
condition: ticket.verdict == "no_ticket" && actor.role != "qa"
suppress:
  for: 1h
  key: 'string(actor.after_contract)'
details:
  tenure: actor.tenure_days
summary: "{{.actor.id}} looked {{printf \"%.0f\" .actor.tenure_days}} days in, after the end {{.actor.after_contract}} ({{.details.tenure}})"
tests:
  - name: a look after the contract ended
    match: true
    roster:
      - {id: a-ben, role: agent, contract_start: 2026-01-01, contract_end: 2026-03-01}
    events:
      - {time: 2026-03-03T00:00:00Z, actor: a-ben, action: view, subject: c-1}
    summary: a-ben looked 61 days in, after the end true (61)
  - name: a look inside it
    match: true
    roster:
      - {id: a-ben, role: agent, contract_start: 2026-01-01, contract_end: 2026-04-01}
    events:
      - {time: 2026-03-03T00:00:00Z, actor: a-ben, action: view, subject: c-1}
    summary: a-ben looked 61 days in, after the end false (61)
`
	p, err := Load(fstest.MapFS{"late.yaml": {Data: []byte(rule)}}, "rules")
	if err != nil {
		t.Fatal(err)
	}
	if s := NewEvaluator(p, nil).stages[Settled]; s.contract {
		t.Error("the settled stage fills the contract for every event; no condition reads it")
	}
	for _, r := range p.Test(testWindows) {
		if r.Err != nil {
			t.Error(r)
		}
	}
	if s := NewEvaluator(mustShipped(t), nil).stages[Immediate]; !s.contract {
		t.Error("the shipped pack's immediate stage reads the contract (access_outside_contract)")
	}
}

func mustShipped(t *testing.T) *Pack {
	p, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
