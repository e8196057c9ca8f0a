package cli

import (
	"context"
	"fmt"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
	"github.com/custos-io/custos/internal/store"
)

// dbBatch is how many records (or findings) replay --db collects before it
// hands them to the writer: large enough that the fsync of each commit does
// not dominate, small enough to bound memory.
const dbBatch = 8192

// recordStore is what replay --db needs of the store.
type recordStore interface {
	PutPeople(ctx context.Context, ps []*event.Person) error
	PutSubjects(ctx context.Context, cs []*event.Subject) error
	Append(ctx context.Context, recs []store.Record) (int, error)
	WriteFindings(ctx context.Context, fs []*finding.Finding) error
}

type dbWork struct {
	people   []*event.Person
	subjects []*event.Subject
	recs     []store.Record
	findings []*finding.Finding
}

func (w *dbWork) size() int {
	return max(len(w.people), len(w.subjects), len(w.recs), len(w.findings))
}

// dbCounts is what replay --db wrote.
type dbCounts struct {
	People, Subjects, Tickets, Events, Duplicates, Findings int64
}

// dbWriter copies what a replay feeds the engine, and the findings it
// emits, into the store on its own goroutine, so writing overlaps with
// detection. The replay's goroutine calls the collecting methods; start
// and wait bracket the writer goroutine, which stops when wait closes its
// queue. On a write error it cancels the replay.
type dbWriter struct {
	st     recordStore
	cancel context.CancelFunc
	cur    dbWork
	queue  chan dbWork
	done   chan struct{}
	err    error
	counts dbCounts
}

func startDBWriter(ctx context.Context, st recordStore, cancel context.CancelFunc) *dbWriter {
	w := &dbWriter{st: st, cancel: cancel, queue: make(chan dbWork, 4), done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *dbWriter) run(ctx context.Context) {
	defer close(w.done)
	for b := range w.queue {
		if w.err != nil {
			continue // drain so the replay never blocks
		}
		if err := w.write(ctx, b); err != nil {
			w.err = err
			w.cancel()
		}
	}
}

func (w *dbWriter) write(ctx context.Context, b dbWork) error {
	if len(b.people) > 0 {
		if err := w.st.PutPeople(ctx, b.people); err != nil {
			return err
		}
		w.counts.People += int64(len(b.people))
	}
	if len(b.subjects) > 0 {
		if err := w.st.PutSubjects(ctx, b.subjects); err != nil {
			return err
		}
		w.counts.Subjects += int64(len(b.subjects))
	}
	if len(b.recs) > 0 {
		if _, err := w.st.Append(ctx, b.recs); err != nil {
			return err
		}
		for _, r := range b.recs {
			switch {
			case r.Seq == 0:
				w.counts.Duplicates++
			case r.Event != nil:
				w.counts.Events++
			default:
				w.counts.Tickets++
			}
		}
	}
	if len(b.findings) > 0 {
		if err := w.st.WriteFindings(ctx, b.findings); err != nil {
			return err
		}
		w.counts.Findings += int64(len(b.findings))
	}
	return nil
}

func (w *dbWriter) maybeSend() {
	if w.cur.size() >= dbBatch {
		w.queue <- w.cur
		w.cur = dbWork{}
	}
}

func (w *dbWriter) finding(f *finding.Finding) {
	w.cur.findings = append(w.cur.findings, f)
	w.maybeSend()
}

// wait writes what is left and waits for the writer to finish.
func (w *dbWriter) wait() (dbCounts, error) {
	if w.cur.size() > 0 {
		w.queue <- w.cur
		w.cur = dbWork{}
	}
	close(w.queue)
	<-w.done
	if w.err != nil {
		return w.counts, fmt.Errorf("--db: %w", w.err)
	}
	return w.counts, nil
}

// teeSink feeds the engine and copies every record to the writer. The
// engine only reads the records, so sharing them with the writer goroutine
// is safe.
type teeSink struct {
	replay.Sink
	w *dbWriter
}

func (t teeSink) SetPerson(p *event.Person) {
	t.Sink.SetPerson(p)
	t.w.cur.people = append(t.w.cur.people, p)
	t.w.maybeSend()
}

func (t teeSink) SetSubject(c *event.Subject) {
	t.Sink.SetSubject(c)
	t.w.cur.subjects = append(t.w.cur.subjects, c)
	t.w.maybeSend()
}

func (t teeSink) Ticket(tc *event.TicketChange) {
	t.Sink.Ticket(tc)
	t.w.cur.recs = append(t.w.cur.recs, store.Record{Ticket: tc})
	t.w.maybeSend()
}

func (t teeSink) Event(e *event.Event) {
	t.Sink.Event(e)
	t.w.cur.recs = append(t.w.cur.recs, store.Record{Event: e})
	t.w.maybeSend()
}
