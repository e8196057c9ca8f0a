package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/sink/sinktest"
)

// The SQLite outbox holds to the same contract as the in-memory one.
func TestOutboxContract(t *testing.T) {
	sinktest.Outbox(t, func(t *testing.T) (sink.Outbox, func() sink.Outbox) {
		path := filepath.Join(t.TempDir(), "custos.db")
		s := open(t, path)
		return s.Outbox(), func() sink.Outbox {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, path)
			return s.Outbox()
		}
	})
}

// What WriteFindings stores goes to the outbox in the same transaction: each
// alert once, each new version of a case as a new revision, and nothing
// again when the same findings are re-derived.
func TestWriteFindingsFillsOutbox(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	wall := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return wall }
	at := time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC)
	al := &finding.Finding{Kind: finding.KindAlert, ID: "al-1", Time: at, Actor: finding.ActorRef{ID: "a"}, Rule: "r", Severity: finding.High, Risk: 60, Summary: "x"}
	c1 := &finding.Finding{Kind: finding.KindCase, ID: "case-1", Time: at, Actor: finding.ActorRef{ID: "a"}, Severity: finding.High, Risk: 60, Status: "open", Alerts: []string{"al-1"}, Summary: "c"}
	c2 := *c1
	c2.Alerts = []string{"al-1", "al-2"}
	for range 2 { // the second time is a rebuild re-deriving the same
		if err := s.WriteFindings(ctx, []*finding.Finding{al, c1, &c2}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.Outbox().After(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, sink.DeliveryID(&r))
		if !r.Added.Equal(wall) {
			t.Errorf("record %d added %s, want the store's clock", r.Seq, r.Added)
		}
	}
	if len(got) != 3 || got[0] != "al-1" || got[1] != "case-1" || got[2] != "case-1.1" {
		t.Errorf("outbox %v, want al-1, case-1, case-1.1", got)
	}
}
