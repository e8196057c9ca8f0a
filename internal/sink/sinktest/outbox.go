// Package sinktest checks an implementation of sink.Outbox against the
// contract the dispatcher relies on, so the in-memory outbox and the store's
// SQLite one are held to the same tests.
package sinktest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// Open returns a fresh, empty outbox and a function that returns the same
// outbox as a restarted process would see it (closed and opened again, for
// a durable one).
type Open func(t *testing.T) (ob sink.Outbox, reopen func() sink.Outbox)

var t0 = time.Date(2026, 3, 3, 1, 18, 30, 123_456_789, time.UTC)

func alert(i int) *finding.Finding {
	return &finding.Finding{
		Kind: finding.KindAlert, ID: fmt.Sprintf("al-%03d", i), Time: t0.Add(time.Duration(i) * time.Second),
		Actor: finding.ActorRef{ID: "a-ana"}, Rule: "no_ticket", Severity: finding.Medium, Risk: 10.5,
		Subjects: []string{"c-1"}, Evidence: []string{fmt.Sprintf("e-%d", i)}, Summary: fmt.Sprintf("alert %d", i),
		Details: map[string]any{"verdict": "no_ticket"},
	}
}

func caseOf(alerts ...string) *finding.Finding {
	return &finding.Finding{
		Kind: finding.KindCase, ID: "case-1", Time: t0.Add(time.Minute), Actor: finding.ActorRef{ID: "a-ana"},
		Severity: finding.High, Risk: float64(40 * len(alerts)), Status: "open", Alerts: alerts,
		Summary: fmt.Sprintf("%d alerts", len(alerts)),
	}
}

func line(t *testing.T, f *finding.Finding) string {
	t.Helper()
	b, err := finding.MarshalLine(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Outbox runs the contract tests.
func Outbox(t *testing.T, open Open) {
	t.Run("AppendReadCursor", func(t *testing.T) { appendReadCursor(t, open) })
	t.Run("DispatcherResumesAfterRestart", func(t *testing.T) { resumes(t, open) })
}

func appendReadCursor(t *testing.T, open Open) {
	ctx := context.Background()
	ob, reopen := open(t)
	if last, err := ob.Last(ctx); err != nil || last != 0 {
		t.Fatalf("empty outbox: Last = %d, %v", last, err)
	}
	if recs, err := ob.After(ctx, 0, 10); err != nil || len(recs) != 0 {
		t.Fatalf("empty outbox: After = %v, %v", recs, err)
	}
	if _, ok, err := ob.Cursor(ctx, "siem"); ok || err != nil {
		t.Fatalf("empty outbox has a cursor (%v)", err)
	}

	in := []*finding.Finding{alert(1), caseOf("al-001"), alert(2), caseOf("al-001", "al-002")}
	var got []sink.Record
	for i, f := range in {
		r, err := ob.Append(ctx, f, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	for i, r := range got {
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Errorf("seq %d after %d: not increasing", r.Seq, got[i-1].Seq)
		}
	}
	if revs := []int{got[0].Revision, got[1].Revision, got[2].Revision, got[3].Revision}; !slices.Equal(revs, []int{0, 0, 0, 1}) {
		t.Errorf("revisions %v, want 0 0 0 1 (the case's second version is revision 1)", revs)
	}
	// Identical findings again (the engine rebuilt after a restart).
	for i, f := range []*finding.Finding{alert(1), caseOf("al-001")} {
		r, err := ob.Append(ctx, f, t0.Add(99*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != got[i].Seq || r.Revision != got[i].Revision {
			t.Errorf("re-appending %s gave seq %d revision %d, want the existing %d/%d", f.ID, r.Seq, r.Revision, got[i].Seq, got[i].Revision)
		}
	}
	check := func(ob sink.Outbox) {
		t.Helper()
		if last, err := ob.Last(ctx); err != nil || last != got[3].Seq {
			t.Errorf("Last = %d (%v), want %d", last, err, got[3].Seq)
		}
		all, err := ob.After(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 4 {
			t.Fatalf("After(0) returned %d records, want 4", len(all))
		}
		for i, r := range all {
			if r.Seq != got[i].Seq || r.Revision != got[i].Revision || !r.Added.Equal(t0.Add(time.Duration(i)*time.Hour)) {
				t.Errorf("record %d: seq %d rev %d added %s", i, r.Seq, r.Revision, r.Added)
			}
			if line(t, r.Finding) != line(t, in[i]) {
				t.Errorf("record %d reads back as\n%s want\n%s", i, line(t, r.Finding), line(t, in[i]))
			}
		}
		page, err := ob.After(ctx, got[0].Seq, 2)
		if err != nil || len(page) != 2 || page[0].Seq != got[1].Seq || page[1].Seq != got[2].Seq {
			t.Errorf("After(first, 2) = %d records (%v), want the second and third", len(page), err)
		}
	}
	check(ob)

	if err := ob.SetCursor(ctx, "siem", got[1].Seq); err != nil {
		t.Fatal(err)
	}
	if err := ob.SetCursor(ctx, "siem", got[2].Seq); err != nil {
		t.Fatal(err)
	}
	if err := ob.SetCursor(ctx, "slack", got[0].Seq); err != nil {
		t.Fatal(err)
	}
	ob = reopen()
	check(ob)
	for name, want := range map[string]int64{"siem": got[2].Seq, "slack": got[0].Seq} {
		if seq, ok, err := ob.Cursor(ctx, name); !ok || err != nil || seq != want {
			t.Errorf("after reopening, cursor %s = %d %v %v, want %d", name, seq, ok, err, want)
		}
	}
}

// collect is a sender that accepts everything and remembers the ids.
type collect struct {
	mu  sync.Mutex
	ids []string
}

func (c *collect) Send(ctx context.Context, recs []sink.Record) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		c.ids = append(c.ids, sink.DeliveryID(&r))
	}
	return len(recs), nil
}

func (c *collect) Close() error { return nil }

func (c *collect) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

// deliver runs a dispatcher with one collecting sink over ob until it has
// caught up with everything in the outbox.
func deliver(t *testing.T, ob sink.Outbox, add []*finding.Finding) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collect{}
	d, err := sink.NewDispatcher(ctx, ob, []sink.Sink{{Name: "siem", BatchSize: 2, Sender: c}}, sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for _, f := range add {
		if err := d.Append(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := d.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l[0].Behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink did not catch up: %+v", l[0])
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return c.got()
}

func resumes(t *testing.T, open Open) {
	ob, reopen := open(t)
	first := deliver(t, ob, []*finding.Finding{alert(1), alert(2), caseOf("al-001")})
	if !slices.Equal(first, []string{"al-001", "al-002", "case-1"}) {
		t.Errorf("first run delivered %v", first)
	}
	// Restarted: the engine re-derives what it had (nothing new to send),
	// then the case grows and a new alert comes.
	ob = reopen()
	second := deliver(t, ob, []*finding.Finding{alert(1), alert(2), caseOf("al-001"), alert(3), caseOf("al-001", "al-003")})
	if !slices.Equal(second, []string{"al-003", "case-1.1"}) {
		t.Errorf("after restart delivered %v, want only the new alert and the case's new version", second)
	}
}
