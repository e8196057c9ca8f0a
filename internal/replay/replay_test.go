package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// log is a Sink that records what it is fed, in order.
type log struct{ b strings.Builder }

func (l *log) SetPerson(p *event.Person)   { fmt.Fprintf(&l.b, "person %s\n", p.ID) }
func (l *log) SetSubject(s *event.Subject) { fmt.Fprintf(&l.b, "subject %s\n", s.ID) }
func (l *log) Ticket(tc *event.TicketChange) {
	fmt.Fprintf(&l.b, "%s ticket %s %s\n", tc.Time.Format("15:04:05"), tc.ID, tc.Status)
}
func (l *log) Event(e *event.Event) {
	fmt.Fprintf(&l.b, "%s event %s\n", e.Time.Format("15:04:05"), e.ID)
}
func (l *log) Flush() { l.b.WriteString("flush\n") }

func feed(t *testing.T, dir string, lateness time.Duration) (string, Counts, []string) {
	t.Helper()
	var l log
	var rejected []string
	c, err := Run(context.Background(), Options{Dir: dir, Lateness: lateness, Rejected: func(e *event.RecordError) {
		rejected = append(rejected, e.Error())
	}}, &l)
	if err != nil {
		t.Fatal(err)
	}
	return l.b.String(), c, rejected
}

func TestMergeOrder(t *testing.T) {
	got, c, rejected := feed(t, "testdata/tiny", time.Minute)
	want := `person a-ana
person a-ben
person a-lee
person a-qa1
subject c-1001
subject c-1002
subject c-1003
subject c-1004
subject c-9999
00:55:00 ticket T-500 new
01:00:00 event e-01
01:02:10 ticket T-500 open
01:03:05 event e-02
01:03:20 event e-03
01:05:02 event e-04
01:09:40 ticket T-500 solved
01:11:45 event e-05
01:14:30 ticket T-501 open
01:16:00 event e-06
01:18:30 event e-07
01:20:00 ticket T-501 solved
01:25:00 event e-08
02:40:00 event e-09
02:41:10 event e-10
03:00:00 event e-11
flush
`
	if got != want {
		t.Errorf("merged order:\n%s\nwant:\n%s", got, want)
	}
	if c.Events != 11 || c.Tickets != 5 || c.People != 4 || c.Subjects != 5 || c.Rejected != 1 || c.Late != 0 {
		t.Errorf("counts %+v", c)
	}
	if len(rejected) != 1 || rejected[0] != `events.ndjson:12: subject.id: missing (required for action "view")` {
		t.Errorf("rejected %q", rejected)
	}
}

// Records a little out of order come out exactly as if they had been sorted.
func TestOutOfOrderWithinLateness(t *testing.T) {
	sorted, _, _ := feed(t, "testdata/tiny", 5*time.Minute)
	shuffled, c, _ := feed(t, "testdata/shuffled", 5*time.Minute)
	if shuffled != sorted {
		t.Errorf("shuffled input replays differently:\n%s\nsorted:\n%s", shuffled, sorted)
	}
	if c.Late != 0 {
		t.Errorf("late = %d within the window", c.Late)
	}
	// With no lateness window the same input is processed in arrival order,
	// and the records that went back in time are counted.
	_, c, _ = feed(t, "testdata/shuffled", 0)
	if c.Late != 3 {
		t.Errorf("late = %d with no window, want 3", c.Late)
	}
}

func TestGzipInputs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"events", "tickets", "roster", "subjects"} {
		src, err := os.ReadFile(filepath.Join("testdata/tiny", name+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(src)
		zw.Close()
		if err := os.WriteFile(filepath.Join(dir, name+".ndjson.gz"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plain, _, _ := feed(t, "testdata/tiny", time.Minute)
	gz, _, _ := feed(t, dir, time.Minute)
	if plain != gz {
		t.Errorf("gzip inputs replay differently")
	}
}

func TestOnlyEventsRequired(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), Options{Dir: dir}, &log{}); err == nil || !strings.Contains(err.Error(), "no events.ndjson or events.ndjson.gz") {
		t.Fatalf("missing events file: %v", err)
	}
	src, _ := os.ReadFile("testdata/tiny/events.ndjson")
	os.WriteFile(filepath.Join(dir, "events.ndjson"), src, 0o644)
	_, c, _ := feed(t, dir, time.Minute)
	if c.Events != 11 || c.Tickets != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, `{"id":"e%d","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`+"\n", i)
	}
	os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(b.String()), 0o644)
	if _, err := Run(ctx, Options{Dir: dir}, &log{}); err != context.Canceled {
		t.Fatalf("cancelled replay returned %v", err)
	}
}
