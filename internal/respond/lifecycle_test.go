package respond_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

func putRoster(t *testing.T, st interface {
	PutPeople(context.Context, []*event.Person) error
}, lines ...string) {
	t.Helper()
	var ps []*event.Person
	for _, l := range lines {
		ps = append(ps, person(t, l))
	}
	if err := st.PutPeople(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
}

func day(s string) time.Time {
	d, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return d
}

// The check runs on the clock it is given: a contract ending on a date
// covers that whole day; an identity is alerted on once per contract end,
// and only while its roster status is active.
func TestLifecycleCheck(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	putRoster(t, st,
		`{"id":"a-ben","vendor":"bpo-north","team":"payments","role":"agent","contract_end":"2026-03-02"}`,
		`{"id":"a-cy","contract_end":"2026-03-01","status":"terminated"}`,
		`{"id":"a-dee","contract_end":"2026-03-01","status":"suspended"}`,
		`{"id":"a-eve","contract_end":"2026-03-10T17:00:00Z"}`,
		`{"id":"a-fay"}`,
	)
	m := respond.NewMetrics()
	l := respond.NewLifecycle(respond.LifecycleConfig{Severity: finding.High, Deprovision: true}, st, m)

	if fs, err := l.Check(ctx, day("2026-03-02T23:59:59Z")); err != nil || len(fs) != 0 {
		t.Fatalf("on the last day of the contract: %v, %v; want no alert", fs, err)
	}
	fs, err := l.Check(ctx, day("2026-03-03T00:00:01Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%d alerts the day after; want 1 (a-ben)", len(fs))
	}
	f := fs[0]
	if f.Kind != finding.KindAlert || f.Rule != respond.RuleActiveAfterContract || f.Actor.ID != "a-ben" ||
		f.Severity != finding.High || !f.Time.Equal(day("2026-03-03T00:00:00Z")) || f.ID == "" {
		t.Errorf("alert %+v", f)
	}
	want := "a-ben (bpo-north payments agent) is still active on the roster after the contract ended (2026-03-02). Custos is deactivating it at the identity provider (SCIM); have the roster updated."
	if f.Summary != want {
		t.Errorf("summary %q\nwant %q", f.Summary, want)
	}

	// Raised once: stored, it is not returned again, even a week later.
	if err := st.WriteFindings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	fs, err = l.Check(ctx, day("2026-03-11T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Actor.ID != "a-eve" || !fs[0].Time.Equal(day("2026-03-10T17:00:00Z")) {
		t.Errorf("a week later: %+v; want only a-eve's alert, dated at the contract's end", fs)
	}
	if !strings.Contains(fs[0].Summary, "(2026-03-10T17:00:00Z)") {
		t.Errorf("summary %q; want the contract end time", fs[0].Summary)
	}

	// A contract extended, then ended again, alerts again.
	p := person(t, `{"id":"a-ben","contract_end":"2026-04-30"}`)
	if fs, _ := l.CheckPerson(ctx, p, day("2026-04-01T00:00:00Z")); len(fs) != 0 {
		t.Errorf("extended contract alerted: %+v", fs)
	}
	if fs, _ := l.CheckPerson(ctx, p, day("2026-05-01T00:00:01Z")); len(fs) != 1 || fs[0].ID == f.ID {
		t.Errorf("extended contract ended: %+v; want a new alert", fs)
	}
	if fs, _ := l.CheckPerson(ctx, person(t, `{"id":"a-ben","contract_end":"2026-03-02"}`), day("2026-05-01T00:00:00Z")); len(fs) != 0 {
		t.Errorf("roster change of an alerted identity alerted again: %+v", fs)
	}
}

func TestExpiring(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	putRoster(t, st,
		`{"id":"a-ben","contract_end":"2026-03-02"}`,
		`{"id":"a-cy","contract_end":"2026-03-01","status":"terminated"}`,
		`{"id":"a-dee","contract_end":"2026-03-01","status":"suspended"}`,
		`{"id":"a-eve","contract_end":"2026-03-09"}`,
		`{"id":"a-gus","contract_end":"2026-03-05","status":"suspended"}`,
		`{"id":"a-hal","contract_end":"2026-03-11"}`,
		`{"id":"a-fay"}`,
	)
	at := day("2026-03-03T12:00:00Z")
	list, err := respond.Expiring(ctx, st, at, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range list {
		got = append(got, x.Person.ID)
		if x.Ended != (x.Person.ID == "a-ben") {
			t.Errorf("%s: ended %v", x.Person.ID, x.Ended)
		}
	}
	if strings.Join(got, ",") != "a-ben,a-gus,a-eve" {
		t.Errorf("expiring %v; want a-ben (ended, active), a-gus, a-eve", got)
	}
	if list[0].Left != -12*time.Hour {
		t.Errorf("a-ben left %s; want -12h (over at midnight)", list[0].Left)
	}
}

// Configuration mistakes are errors naming the key.
func TestConfigErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"respond:\n  actions:\n    - {name: d, type: scim_disable, when: {case_severity: high}}":                                                            `respond.actions[0] "d": type scim_disable needs respond.scim`,
		"respond:\n  actions:\n    - {name: d, type: suspend}":                                                                                              `respond.actions[0] "d": when: set case_severity, rules or both`,
		"respond:\n  actions:\n    - {name: d, type: suspend, when: {case_severity: severe}}":                                                               `when.case_severity: unknown severity "severe"`,
		"respond:\n  actions:\n    - {name: d, type: suspend, when: {rules: ['*']}}":                                                                        `when.rules[0]: "*" matches nothing or every alert`,
		"respond:\n  actions:\n    - {name: d, type: kill, when: {rules: [x]}}":                                                                             `type: unknown value "kill"`,
		"respond:\n  actions:\n    - {type: suspend, when: {rules: [x]}}":                                                                                   `respond.actions[0]: name: missing`,
		"respond:\n  actions:\n    - {name: w, type: webhook, when: {rules: [x]}}":                                                                          `type webhook needs http`,
		"respond:\n  actions:\n    - {name: s, type: suspend, when: {rules: [x]}, http: {url: 'http://x'}}":                                                 `only used by type webhook, not suspend`,
		"respond:\n  actions:\n    - {name: s, type: suspend, when: {rules: [x]}}\n    - {name: s, type: suspend, when: {rules: [y]}}":                      `respond.actions[1]: name "s" already used by actions[0]`,
		"respond:\n  lifecycle: {enabled: true, deprovision: true}":                                                                                         `respond.lifecycle.deprovision: needs respond.scim`,
		"respond:\n  lifecycle: {deprovision: true}":                                                                                                        `respond.lifecycle.deprovision: needs lifecycle.enabled: true`,
		"respond:\n  lifecycle: {interval: 0s}":                                                                                                             `respond.lifecycle.interval: must be positive`,
		"respond:\n  scim: {http: {url: 'ftp://idp'}, token: t}":                                                                                            `respond.scim.http.url: "ftp://idp/…" is not an http:// or https:// URL`,
		"respond:\n  scim: {http: {url: 'https://idp/scim/v2'}}":                                                                                            `respond.scim: set exactly one of token or token_file`,
		"respond:\n  scim: {http: {url: 'https://idp/scim/v2'}, token: t, user_id: email}":                                                                  `respond.scim.user_id: unknown value "email"`,
		"respond:\n  scim: {http: {url: 'https://idp/scim/v2'}, token: t, user_id: lookup, lookup_value: x}":                                                `respond.scim.lookup_value: "x" does not contain {actor}`,
		"respond:\n  scim: {http: {url: 'https://idp/scim/v2'}, token: t, lookup_attribute: userName}":                                                      `lookup_attribute and lookup_value need user_id: lookup`,
		"sinks:\n  - {name: 'respond:s', type: webhook, http: {url: 'http://x'}}\nrespond:\n  actions:\n    - {name: s, type: suspend, when: {rules: [x]}}": `sinks[0]: name "respond:s" is the cursor of response action "s"`,
	} {
		c := config.Default()
		err := config.Parse("test.yaml", []byte(yaml), &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\n got %v\nwant ...%s...", yaml, err, want)
		}
	}
	c := config.Default()
	if err := config.Parse("test.yaml", []byte("respond:\n  lifecycle: {enabled: true}\n"), &c); err != nil || c.Respond.Lifecycle.Interval != time.Hour {
		t.Errorf("lifecycle defaults: %v, %+v", err, c.Respond.Lifecycle)
	}
}
