package console

import (
	"context"
	"testing"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/demo"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
)

// testOrg writes the demo organisation (the defaults) to a temporary
// directory.
func testOrg(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := demo.Write(dir, demo.Defaults()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tee feeds a replay to the engine and to a MemSource.
type tee struct {
	a, b replay.Sink
}

func (t tee) SetPerson(p *event.Person)     { t.a.SetPerson(p); t.b.SetPerson(p) }
func (t tee) SetSubject(s *event.Subject)   { t.a.SetSubject(s); t.b.SetSubject(s) }
func (t tee) Ticket(tc *event.TicketChange) { t.a.Ticket(tc); t.b.Ticket(tc) }
func (t tee) Event(e *event.Event)          { t.a.Event(e); t.b.Event(e) }
func (t tee) Flush()                        { t.a.Flush(); t.b.Flush() }

// replayed replays dir with the default configuration into a MemSource.
func replayed(t testing.TB, dir string) *MemSource {
	t.Helper()
	src := NewMemSource()
	cfg := config.Default()
	eng := cfg.Engine(func(f *finding.Finding) { src.AddFinding(f) })
	if _, err := replay.Run(context.Background(), replay.Options{Dir: dir, Lateness: cfg.Replay.Lateness}, tee{eng, src}); err != nil {
		t.Fatal(err)
	}
	return src
}
