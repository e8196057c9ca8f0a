package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

// The journal keeps one record per action and finding, updated in place,
// and lists a set of findings' actions oldest first; it survives a reopen.
func TestActionJournal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "custos.db")
	s := open(t, path)
	t0 := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	a := respond.Action{Name: "disable", Type: respond.TypeSCIM, Finding: "case-1", Actor: "a-ben",
		Status: respond.StatusPending, Result: "first attempt under way", Attempts: 1, Started: t0, Updated: t0}
	if _, ok, err := s.Action(ctx, "disable", "case-1"); ok || err != nil {
		t.Fatalf("before: %v %v", ok, err)
	}
	if err := s.PutAction(ctx, &a); err != nil {
		t.Fatal(err)
	}
	a.Status, a.Code, a.Target, a.Attempts, a.Updated, a.Result = respond.StatusSucceeded, 204, "u-1", 2, t0.Add(time.Second), "done"
	if err := s.PutAction(ctx, &a); err != nil {
		t.Fatal(err)
	}
	b := respond.Action{Name: "soar", Type: respond.TypeWebhook, Finding: "al-1", Actor: "a-ben", Status: respond.StatusFailed,
		Code: 422, Result: "refused", Attempts: 1, Started: t0.Add(time.Minute), Updated: t0.Add(time.Minute)}
	c := respond.Action{Name: "soar", Type: respond.TypeWebhook, Finding: "al-other", Actor: "a-cy", Status: respond.StatusSucceeded,
		Attempts: 1, Started: t0, Updated: t0}
	for _, x := range []*respond.Action{&b, &c} {
		if err := s.PutAction(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, path)
	got, ok, err := s.Action(ctx, "disable", "case-1")
	if err != nil || !ok || !reflect.DeepEqual(got, a) {
		t.Errorf("Action: %+v %v %v\nwant %+v", got, ok, err, a)
	}
	list, err := s.ActionsFor(ctx, []string{"al-1", "case-1"})
	if err != nil || len(list) != 2 || list[0].Finding != "case-1" || list[1].Finding != "al-1" {
		t.Errorf("ActionsFor: %+v %v; want case-1's then al-1's", list, err)
	}
	if list, err := s.ActionsFor(ctx, nil); list != nil || err != nil {
		t.Errorf("ActionsFor(nil): %v %v", list, err)
	}
}

func TestPersonAndFindingLookups(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	p, _ := event.DecodePerson([]byte(`{"id":"a-ben","vendor":"bpo-north","status":"suspended"}`))
	if err := s.PutPeople(ctx, []*event.Person{&p}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Person(ctx, "a-ben"); err != nil || !ok || got.Status != event.Suspended || got.Vendor != "bpo-north" {
		t.Errorf("Person: %+v %v %v", got, ok, err)
	}
	if _, ok, err := s.Person(ctx, "a-nobody"); ok || err != nil {
		t.Errorf("unknown person: %v %v", ok, err)
	}
	f := &finding.Finding{Kind: finding.KindCase, ID: "case-1", Time: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC),
		Actor: finding.ActorRef{ID: "a-ben"}, Severity: finding.High, Alerts: []string{"al-1"}, Summary: "s"}
	if err := s.WriteFindings(ctx, []*finding.Finding{f}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.HasFinding(ctx, "case-1"); !ok || err != nil {
		t.Errorf("HasFinding(case-1): %v %v", ok, err)
	}
	if ok, err := s.HasFinding(ctx, "case-2"); ok || err != nil {
		t.Errorf("HasFinding(case-2): %v %v", ok, err)
	}
	sf, ok, err := s.Finding(ctx, "case-1")
	if err != nil || !ok || sf.Kind != finding.KindCase || !sf.Opened.Equal(f.Time) {
		t.Errorf("Finding: %+v %v %v", sf, ok, err)
	}
}
