package server

import (
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/store"
)

// During a burst the indexer takes only findings that have waited long
// enough; a waiting reader, or an item something waits on, ends the wait.
func TestIndexQueueDefers(t *testing.T) {
	hurry := false
	q := newIndexQueue(func() bool { return hurry })
	recs := &commit{w: store.Write{Recs: make([]store.Record, 3)}, acked: true}
	fs := &commit{w: store.Write{Findings: []*finding.Finding{{ID: "f"}}}}
	for _, c := range []*commit{recs, fs} {
		if err := q.push(c, false); err != nil {
			t.Fatal(err)
		}
	}
	q.mu.Lock()
	q.busy = time.Now().Add(time.Hour) // the writer stays busy
	fs.queued = time.Now().Add(-maxFindingDelay)
	q.mu.Unlock()

	got, ok := q.take(nil)
	if !ok || len(got) != 1 || got[0] != fs {
		t.Fatalf("during a burst: took %d items, want the findings alone", len(got))
	}
	hurry = true
	if got, _ = q.take(nil); len(got) != 1 || got[0] != recs {
		t.Fatalf("with a reader waiting: took %d items, want the records", len(got))
	}
	// A steady feed keeps the writer busy; records still wait at most
	// maxRecordDelay.
	hurry = false
	if err := q.push(recs, false); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	q.busy = time.Now().Add(time.Hour) // still busy
	recs.queued = time.Now().Add(-maxRecordDelay)
	q.mu.Unlock()
	if got, _ = q.take(nil); len(got) != 1 || got[0] != recs {
		t.Fatalf("records waiting past maxRecordDelay: took %d items, want the records", len(got))
	}

	hurry = false
	person := &commit{w: store.Write{Person: &event.Person{ID: "a-1"}}}
	for _, c := range []*commit{recs, person} {
		if err := q.push(c, false); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ = q.take(nil); len(got) != 2 {
		t.Fatalf("with a roster entry waiting: took %d items, want both", len(got))
	}
}
