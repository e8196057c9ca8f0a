package server

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyFile copies src to dst if src exists.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashImage copies what is on disk now (the database, its WAL and the
// journal) to a new path: what a power cut at this moment would leave.
func crashImage(t *testing.T, path string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, path+suffix, img+suffix)
	}
	segs, err := filepath.Glob(filepath.Join(path+".journal", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(img+".journal", 0o750); err != nil {
		t.Fatal(err)
	}
	for _, seg := range segs {
		copyFile(t, seg, filepath.Join(img+".journal", filepath.Base(seg)))
	}
	return img
}

// A 2xx from the journal survives a crash before the store has the
// records: the next start stores them from the journal, feeds them to the
// engine, and counts a retry of them as duplicates.
func TestAcknowledgedRecordsSurviveACrash(t *testing.T) {
	path := dbPath(t)
	gate := make(chan struct{})
	h := start(t, path, func(s *setup) { s.bind = func(srv *Server) { srv.indexGate = gate } })
	defer close(gate) // lets the first server stop

	first := strings.Join([]string{
		evLine("e1", "2026-03-03T01:00:00Z", "ana", "view", "c1"),
		evLine("e2", "2026-03-03T01:01:00Z", "ana", "view", "c2"),
	}, "\n")
	var res BatchResult
	r := h.post("/v1/events", "application/x-ndjson", first)
	r.json(t, &res)
	if r.status != 200 || res.Accepted != 2 {
		t.Fatalf("first batch: %d %s", r.status, r.body)
	}
	// The indexer holds the first group; a retry of e2 and a new e3 are
	// told apart before the store has either.
	r = h.post("/v1/events", "application/x-ndjson", evLine("e2", "2026-03-03T01:01:00Z", "ana", "view", "c2")+"\n"+
		evLine("e3", "2026-03-03T01:02:00Z", "ben", "view", "c3"))
	res = BatchResult{}
	r.json(t, &res)
	if r.status != 200 || res.Accepted != 1 || res.Duplicates != 1 {
		t.Fatalf("second batch: %d %s, want 1 accepted, 1 duplicate", r.status, r.body)
	}
	if got := storedEvents(t, h.st); len(got) != 0 {
		t.Fatalf("the store has %v while the indexer is held", got)
	}
	img := crashImage(t, path)

	h2 := start(t, img)
	h2.sync()
	if got := storedEvents(t, h2.st); !slices.Equal(got, []string{"e1", "e2", "e3"}) {
		t.Fatalf("after the crash the store has %v, want e1 e2 e3", got)
	}
	if n := h2.events.Load(); n != 3 {
		t.Errorf("the engine was fed %d events after the crash, want 3", n)
	}
	res = BatchResult{}
	r = h2.post("/v1/events", "application/x-ndjson", first)
	r.json(t, &res)
	if r.status != 200 || res.Accepted != 0 || res.Duplicates != 2 {
		t.Errorf("retry after the crash: %d %s, want 2 duplicates", r.status, r.body)
	}
	h2.stop()
	// A clean stop leaves the journal empty.
	segs, _ := filepath.Glob(filepath.Join(img+".journal", "*.seg"))
	for _, seg := range segs {
		if fi, err := os.Stat(seg); err != nil || fi.Size() != 0 {
			t.Errorf("journal segment %s left after a clean stop (%v)", seg, err)
		}
	}
}

// Ticket changes are duplicates only if identical in every field the store
// compares, journal or not.
func TestTicketDuplicatesBeforeTheStore(t *testing.T) {
	gate := make(chan struct{})
	h := start(t, dbPath(t), func(s *setup) { s.bind = func(srv *Server) { srv.indexGate = gate } })
	defer close(gate)
	tk := `{"time":"2026-03-03T00:55:00Z","id":"T-1","subject":"c1","status":"new"}`
	other := `{"time":"2026-03-03T00:55:00Z","id":"T-1","subject":"c1","status":"open"}`
	var res BatchResult
	r := h.post("/v1/tickets", "application/x-ndjson", tk+"\n"+tk+"\n"+other)
	r.json(t, &res)
	if res.Accepted != 2 || res.Duplicates != 1 {
		t.Fatalf("%d %s, want 2 accepted, 1 duplicate", r.status, r.body)
	}
}
