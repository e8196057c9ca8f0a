package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/store"
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

// TestHelperServe is not a test: TestKilledServer runs the test binary
// again with CUSTOS_HELPER_DB set, to serve that database in a process it
// can kill. The indexer is held, so what it acknowledges is only in the
// journal.
func TestHelperServe(t *testing.T) {
	path := os.Getenv("CUSTOS_HELPER_DB")
	if path == "" {
		t.Skip("helper process for TestKilledServer")
	}
	h := start(t, path, func(s *setup) { s.bind = func(srv *Server) { srv.indexGate = make(chan struct{}) } })
	fmt.Println("url", h.url)
	select {} // until killed
}

// A server killed with SIGKILL after acknowledging records (held in its
// journal, not yet in its database) loses none of them: the next start
// stores them and feeds them to the engine.
func TestKilledServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := dbPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$", "-test.v")
	cmd.Env = append(os.Environ(), "CUSTOS_HELPER_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	url := ""
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "url "); ok {
			url = u
			break
		}
	}
	if url == "" {
		t.Fatalf("the helper process printed no url: %v", sc.Err())
	}
	var want []string
	for i := range 3 {
		var lines []string
		for j := range 100 {
			id := fmt.Sprintf("k-%d-%03d", i, j)
			want = append(want, id)
			lines = append(lines, evLine(id, "2026-03-03T01:00:00Z", "ana", "view", fmt.Sprintf("c%d", j)))
		}
		req, _ := http.NewRequest("POST", url+"/v1/events", strings.NewReader(strings.Join(lines, "\n")))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/x-ndjson")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("batch %d: %d", i, res.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	h := start(t, path)
	h.sync()
	got := storedEvents(t, h.st)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("after SIGKILL the store has %d events, want the %d acknowledged", len(got), len(want))
	}
	if n := h.events.Load(); n != int64(len(want)) {
		t.Errorf("the engine was fed %d events, want %d", n, len(want))
	}
}

// With a journal the engine is fed from the writer, right after the fsync:
// it sees acknowledged records while the indexer still holds them, in
// journal order, which is then the store's order.
func TestEngineSeesRecordsBeforeTheStore(t *testing.T) {
	gate := make(chan struct{})
	h := start(t, dbPath(t), func(s *setup) { s.bind = func(srv *Server) { srv.indexGate = gate } })
	var want []string
	for i := range 3 {
		var lines []string
		for j := range 5 {
			id := fmt.Sprintf("o-%d-%d", i, j)
			want = append(want, id)
			lines = append(lines, evLine(id, fmt.Sprintf("2026-03-03T01:%02d:00Z", i*5+j), "ana", "view", "c1"))
		}
		if r := h.post("/v1/events", "application/x-ndjson", strings.Join(lines, "\n")); r.status != 200 {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	// Wait for the engine (not a timing assertion: it must get there).
	deadline := time.Now().Add(30 * time.Second)
	for h.srv.processed.Load() < int64(len(want)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := h.srv.processed.Load(); n != int64(len(want)) {
		t.Fatalf("the engine saw %d events with the indexer held, want %d", n, len(want))
	}
	if !slices.Equal(h.ids, want) {
		t.Errorf("the engine saw %v, want the journal order %v", h.ids, want)
	}
	if got := storedEvents(t, h.st); len(got) != 0 {
		t.Fatalf("the store has %v while the indexer is held", got)
	}
	close(gate)
	h.sync()
	if got := storedEvents(t, h.st); !slices.Equal(got, want) {
		t.Errorf("the store has %v, want the engine's order %v", got, want)
	}
	if n := h.events.Load(); n != int64(len(want)) {
		t.Errorf("the engine saw %d events after the indexer stored them, want %d (none twice)", n, len(want))
	}
}

// refusingStore refuses every roster entry with the id "refused".
type refusingStore struct{ *store.Store }

func (r refusingStore) WriteGroup(ctx context.Context, ws []*store.Write) error {
	for _, w := range ws {
		if w.Person != nil && w.Person.ID == "refused" {
			return errors.New("refused")
		}
	}
	return r.Store.WriteGroup(ctx, ws)
}

// A roster entry takes its place in the engine feed from the writer, but
// the engine applies it only once stored: one the store refuses fails its
// request and is skipped, and the events around it still flow in order.
func TestRefusedRosterEntryIsNotFed(t *testing.T) {
	h := start(t, dbPath(t), func(s *setup) {
		s.store = func(st *store.Store) Store { return refusingStore{st} }
	})
	if r := h.post("/v1/events", "application/x-ndjson", evLine("r-1", "2026-03-03T01:00:00Z", "ana", "view", "c1")); r.status != 200 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	if r := h.put("/v1/roster/refused", `{"name":"R","kind":"employee"}`); r.status < 500 {
		t.Fatalf("refused roster entry: %d %s, want a 5xx", r.status, r.body)
	}
	if r := h.post("/v1/events", "application/x-ndjson", evLine("r-2", "2026-03-03T01:01:00Z", "ana", "view", "c2")); r.status != 200 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	h.sync()
	if want := []string{"r-1", "r-2"}; !slices.Equal(h.ids, want) {
		t.Errorf("the engine saw %v, want %v", h.ids, want)
	}
	if q, p := h.srv.queued.Load(), h.srv.processed.Load(); q != p {
		t.Errorf("engine queue: %d queued, %d processed after a sync", q, p)
	}
}
