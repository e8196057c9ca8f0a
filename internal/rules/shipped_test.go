package rules

import (
	"strings"
	"testing"
	"testing/fstest"

	shipped "github.com/custos-io/custos/rules"
)

func TestShippedPackLintsClean(t *testing.T) {
	if errs := Lint(shipped.FS, "rules"); len(errs) > 0 {
		t.Fatalf("the shipped pack has problems:\n%v", errs)
	}
}

// Every shipped rule passes its own examples, and has both kinds.
func TestShippedPackExamples(t *testing.T) {
	p, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	yes, no := map[string]int{}, map[string]int{}
	for _, r := range p.Test(testWindows) {
		if r.Err != nil {
			t.Error(r)
		}
		if r.Match {
			yes[r.Rule]++
		} else {
			no[r.Rule]++
		}
	}
	for _, r := range p.Rules() {
		if yes[r.ID] == 0 || no[r.ID] == 0 {
			t.Errorf("%s: %d must-match and %d must-not-match examples; want at least one of each", r.ID, yes[r.ID], no[r.ID])
		}
	}
}

// The three detections that used to be built in keep their ids.
func TestShippedPackKeepsBuiltInIDs(t *testing.T) {
	p, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"honeytoken_access", "access_outside_contract", "no_ticket", "ticket_not_theirs"} {
		if p.Rule(id) == nil {
			t.Errorf("no rule %s", id)
		}
	}
}

const brokenExamples = `id: reset_unverified
title: Reset with no verification
description: d
severity: high
risk: 30
actions: [credential_reset, mfa_reset]
condition: verification in ["", "none"]
summary: "{{.actor.id}} reset {{.subject}} unverified"
tests:
  - name: a verified reset claimed to match
    match: true
    events:
      - {time: 2026-03-03T02:41:10Z, actor: a-ben, action: mfa_reset, subject: c-1, verification: callback}
  - name: an unverified reset claimed not to match
    match: false
    events:
      - {time: 2026-03-03T02:41:10Z, actor: a-ben, action: mfa_reset, subject: c-1, verification: none}
  - name: the wrong summary
    match: true
    events:
      - {time: 2026-03-03T02:41:10Z, actor: a-ben, action: mfa_reset, subject: c-1}
    summary: a-ben reset c-1
  - name: a correct example
    match: true
    events:
      - {time: 2026-03-03T02:41:10Z, actor: a-ben, action: mfa_reset, subject: c-1}
    summary: a-ben reset c-1 unverified
`

// A deliberately wrong example fails, naming the rule, the example and
// why; a right one beside it still passes.
func TestBrokenExampleFails(t *testing.T) {
	p, err := Load(fstest.MapFS{"reset.yaml": {Data: []byte(brokenExamples)}}, "rules")
	if err != nil {
		t.Fatal(err)
	}
	res := p.Test(testWindows)
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	wants := []string{
		"FAIL rules/reset.yaml:10:5: reset_unverified: a verified reset claimed to match: must match, but the rule did not alert on the last event e1",
		"FAIL rules/reset.yaml:14:5: reset_unverified: an unverified reset claimed not to match: must not match, but the rule alerted on the last event e1: a-ben reset c-1 unverified",
		"FAIL rules/reset.yaml:18:5: reset_unverified: the wrong summary: summary\n  got:  a-ben reset c-1 unverified\n  want: a-ben reset c-1",
		"ok   rules/reset.yaml:23:5: reset_unverified: a correct example",
	}
	for i, want := range wants {
		if got := res[i].String(); got != want {
			t.Errorf("result %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

// An expression that fails at run time fails its example instead of
// passing silently, and the evaluator counts it.
func TestRunTimeErrorFailsExample(t *testing.T) {
	src := strings.Replace(brokenExamples, `condition: verification in ["", "none"]`, `condition: 10 % (count - 1) == 0`, 1)
	p, err := Load(fstest.MapFS{"reset.yaml": {Data: []byte(src)}}, "rules")
	if err != nil {
		t.Fatal(err)
	}
	res := p.Test(testWindows)
	if res[3].Err == nil || !strings.Contains(res[3].Err.Error(), "run-time error") || !strings.Contains(res[3].Err.Error(), "divide by zero") {
		t.Errorf("got %v, want a run-time error", res[3].Err)
	}
}

func TestWithout(t *testing.T) {
	p, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Without("no_ticket", "view_burst_1h")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Rules()) != len(p.Rules())-2 || q.Rule("no_ticket") != nil || p.Rule("no_ticket") == nil {
		t.Errorf("Without: %d rules from %d", len(q.Rules()), len(p.Rules()))
	}
	if _, err := p.Without("no_tikcet"); err == nil || !strings.Contains(err.Error(), "no rule no_tikcet") {
		t.Errorf("unknown id: %v", err)
	}
}

// person(id) reads anyone's roster entry, here the ticket assignee's.
func TestPersonFunction(t *testing.T) {
	src := `id: assignee_on_leave
title: Ticket of someone suspended
description: d
severity: low
risk: 1
condition: ticket.verdict == "other_assignee" && person(ticket.assignee).status == "suspended"
summary: "{{.actor.id}} worked a ticket of {{.ticket.assignee}}"
tests:
  - name: the assignee is suspended
    match: true
    roster:
      - {id: a-bob, status: suspended}
    tickets:
      - {time: 2026-03-03T01:00:00Z, id: T-7, subject: c-1, assignee: a-bob, status: open}
    events:
      - {time: 2026-03-03T01:10:00Z, actor: a-ana, action: view, subject: c-1}
  - name: the assignee is active
    match: false
    roster:
      - {id: a-bob}
    tickets:
      - {time: 2026-03-03T01:00:00Z, id: T-7, subject: c-1, assignee: a-bob, status: open}
    events:
      - {time: 2026-03-03T01:10:00Z, actor: a-ana, action: view, subject: c-1}
`
	p, err := Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, "rules")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Test(testWindows) {
		if r.Err != nil {
			t.Error(r)
		}
	}
}
