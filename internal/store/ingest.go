package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// Record is one ingested item, an access event or a ticket change (exactly
// one is set). Seq is its place in the global ingest order.
type Record struct {
	Seq    int64
	Event  *event.Event
	Ticket *event.TicketChange
}

// Append stores recs in one transaction, in order, and sets the Seq of each
// record it stores. A record already stored (an event with the same id, a
// ticket change identical in every field) is left out and keeps Seq 0, so a
// retried batch changes nothing. It returns how many were stored. Nothing is
// stored if it returns an error.
func (s *Store) Append(ctx context.Context, recs []Record) (int, error) {
	var stored int
	err := s.putRecords(ctx, func(tx *sql.Tx, keys *reachBatch) error {
		var err error
		var before, last int64
		if before, err = lastSeq(ctx, tx); err != nil {
			return err
		}
		if stored, last, err = appendTx(ctx, tx, recs, before); err != nil {
			return err
		}
		keys.add(recs)
		return s.updateReach(ctx, tx, before, last, keys.keys)
	})
	if err != nil {
		for i := range recs {
			recs[i].Seq = 0
		}
		return 0, fmt.Errorf("store: appending %d records: %w", len(recs), err)
	}
	return stored, nil
}

// appendTx is Append inside a transaction, without the reach counts: seq
// is the last seq used (lastSeq), the records it stores get the seqs after
// it up to last, and the caller brings the reach counts up to date over
// all of them at once (updateReach). On an error the caller must roll
// back; the Seqs of recs are then meaningless.
//
// Each record is its own execution of a prepared statement: the driver
// binds parameters in time quadratic in their number, so multi-row INSERTs
// measured slower per record than single-row ones (BenchmarkAppend).
func appendTx(ctx context.Context, tx *sql.Tx, recs []Record, seq int64) (stored int, last int64, err error) {
	var evStmt, tkStmt *sql.Stmt
	defer func() {
		for _, st := range []*sql.Stmt{evStmt, tkStmt} {
			if st != nil {
				st.Close()
			}
		}
	}()
	for i := range recs {
		r := &recs[i]
		r.Seq = 0
		var res sql.Result
		var err error
		switch {
		case r.Event != nil:
			if evStmt == nil {
				if evStmt, err = tx.PrepareContext(ctx, insertEvent); err != nil {
					return 0, 0, err
				}
			}
			e := r.Event
			res, err = evStmt.ExecContext(ctx, seq+1, e.ID, e.Time.UnixNano(), e.Actor.ID, string(e.Action),
				nullable(e.Subject), nullable(e.Ticket), rawText(e.Raw))
			if err != nil {
				return 0, 0, fmt.Errorf("storing event %s: %w", e.ID, err)
			}
		case r.Ticket != nil:
			if tkStmt == nil {
				if tkStmt, err = tx.PrepareContext(ctx, insertTicket); err != nil {
					return 0, 0, err
				}
			}
			t := r.Ticket
			res, err = tkStmt.ExecContext(ctx, seq+1, t.ID, t.Time.UnixNano(), t.Subject, t.Assignee, string(t.Status), rawText(t.Raw))
			if err != nil {
				return 0, 0, fmt.Errorf("storing ticket change %s: %w", t.ID, err)
			}
		default:
			return 0, 0, fmt.Errorf("record %d is neither an event nor a ticket change", i)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, 0, err
		}
		if n == 1 {
			seq++
			r.Seq = seq
			stored++
		}
	}
	return stored, seq, nil
}

// lastSeq reads the last seq used inside a write transaction: read once
// per transaction, which holds the write lock, rather than cached, so a
// second process writing the same file cannot reuse a number.
func lastSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, lastSeqQuery).Scan(&seq)
	return seq, err
}

const (
	insertEvent = `INSERT INTO events (seq, id, time, actor, action, subject, ticket, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	insertTicket = `INSERT INTO ticket_changes (seq, id, time, subject, assignee, status, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

// rawText passes a record's line to SQLite as text without copying it: the
// driver copies bound text into SQLite's memory before the call returns,
// and nothing writes to Raw.
func rawText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Write is one part of a group commit (WriteGroup): records to append, one
// roster entry or customer record to put, or findings to write (as
// WriteFindings does). WriteGroup fills in the
// outcome: Stored (records newly stored; their Seqs are set) or Created
// (the roster entry or customer id was new).
type Write struct {
	Recs     []Record
	Person   *event.Person
	Subject  *event.Subject
	Findings []*finding.Finding

	Stored  int
	Created bool
}

// WriteGroup stores the parts of ws in one transaction, in order: one
// commit, so one fsync, for many requests. Records get Seqs in the order of
// ws and, within a part, of its Recs. Nothing is stored if it returns an
// error.
func (s *Store) WriteGroup(ctx context.Context, ws []*Write) error {
	err := s.putRecords(ctx, func(tx *sql.Tx, keys *reachBatch) error {
		// The parts' records have consecutive seqs (the transaction holds
		// the write lock), so one reach update covers them all and probes
		// each key once per group.
		first, last := int64(-1), int64(0)
		seq := int64(-1) // read at the first part with records
		for _, w := range ws {
			var err error
			switch {
			case w.Person != nil:
				if err = tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM people WHERE id = ?)`, w.Person.ID).Scan(&w.Created); err == nil {
					err = putPeople(ctx, tx, []*event.Person{w.Person})
				}
			case w.Subject != nil:
				if err = tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM subjects WHERE id = ?)`, w.Subject.ID).Scan(&w.Created); err == nil {
					err = putSubjects(ctx, tx, []*event.Subject{w.Subject})
				}
			case w.Findings != nil:
				err = s.writeFindingsTx(ctx, tx, w.Findings)
			default:
				if seq < 0 {
					if seq, err = lastSeq(ctx, tx); err != nil {
						return err
					}
					first = seq
				}
				if w.Stored, seq, err = appendTx(ctx, tx, w.Recs, seq); err == nil {
					last = seq
					keys.add(w.Recs)
				}
			}
			if err != nil {
				return err
			}
		}
		return s.updateReach(ctx, tx, first, last, keys.keys)
	})
	if err != nil {
		for _, w := range ws {
			w.Stored, w.Created = 0, false
			for i := range w.Recs {
				w.Recs[i].Seq = 0
			}
		}
		return fmt.Errorf("store: group commit of %d writes: %w", len(ws), err)
	}
	return nil
}

// PutPerson stores a roster entry, replacing any with its id. created
// reports whether the id was new.
func (s *Store) PutPerson(ctx context.Context, p *event.Person) (created bool, err error) {
	err = s.put(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM people WHERE id = ?)`, p.ID).Scan(&created); err != nil {
			return err
		}
		return putPeople(ctx, tx, []*event.Person{p})
	})
	if err != nil {
		return false, fmt.Errorf("store: storing roster entry %s: %w", p.ID, err)
	}
	return created, nil
}

// PutPeople stores roster entries in one transaction; a later entry for the
// same id replaces an earlier one.
func (s *Store) PutPeople(ctx context.Context, ps []*event.Person) error {
	if err := s.put(ctx, func(tx *sql.Tx) error { return putPeople(ctx, tx, ps) }); err != nil {
		return fmt.Errorf("store: storing %d roster entries: %w", len(ps), err)
	}
	return nil
}

func putPeople(ctx context.Context, tx *sql.Tx, ps []*event.Person) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO people (id, vendor, team, role, raw) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET vendor = excluded.vendor, team = excluded.team, role = excluded.role, raw = excluded.raw`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, p := range ps {
		if _, err := st.ExecContext(ctx, p.ID, p.Vendor, p.Team, p.Role, string(p.Raw)); err != nil {
			return fmt.Errorf("roster entry %s: %w", p.ID, err)
		}
	}
	return nil
}

// PutSubject stores a customer record, replacing any with its id. created
// reports whether the id was new.
func (s *Store) PutSubject(ctx context.Context, c *event.Subject) (created bool, err error) {
	err = s.put(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM subjects WHERE id = ?)`, c.ID).Scan(&created); err != nil {
			return err
		}
		return putSubjects(ctx, tx, []*event.Subject{c})
	})
	if err != nil {
		return false, fmt.Errorf("store: storing customer %s: %w", c.ID, err)
	}
	return created, nil
}

// PutSubjects stores customer records in one transaction; a later record for
// the same id replaces an earlier one.
func (s *Store) PutSubjects(ctx context.Context, cs []*event.Subject) error {
	if err := s.put(ctx, func(tx *sql.Tx) error { return putSubjects(ctx, tx, cs) }); err != nil {
		return fmt.Errorf("store: storing %d customers: %w", len(cs), err)
	}
	return nil
}

func putSubjects(ctx context.Context, tx *sql.Tx, cs []*event.Subject) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO subjects (id, honeytoken, raw) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET honeytoken = excluded.honeytoken, raw = excluded.raw`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, c := range cs {
		if _, err := st.ExecContext(ctx, c.ID, c.Honeytoken, string(c.Raw)); err != nil {
			return fmt.Errorf("customer %s: %w", c.ID, err)
		}
	}
	return nil
}

func (s *Store) put(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(ctx, fn)
}

// reachBatch gathers the distinct reach keys of the records a transaction
// stores.
type reachBatch struct {
	keys []batchKey
	in   map[reachKey]struct{}
}

func (b *reachBatch) add(recs []Record) {
	if b.in == nil {
		b.in = make(map[reachKey]struct{}, len(recs))
	}
	b.keys = reachKeys(b.keys, b.in, recs)
}

// putRecords is put for a transaction that stores records: fn gathers
// their reach keys, which the writer remembers once they are committed.
func (s *Store) putRecords(ctx context.Context, fn func(tx *sql.Tx, keys *reachBatch) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys reachBatch
	if err := s.write(ctx, func(tx *sql.Tx) error { return fn(tx, &keys) }); err != nil {
		return err
	}
	s.reach.add(keys.keys)
	return nil
}

// People calls fn with every roster entry, in id order.
func (s *Store) People(ctx context.Context, fn func(*event.Person) error) error {
	return scanRaw(ctx, s.r, `SELECT id, raw FROM people ORDER BY id`, "roster entry", event.DecodePerson, fn)
}

// Subjects calls fn with every customer record, in id order.
func (s *Store) Subjects(ctx context.Context, fn func(*event.Subject) error) error {
	return scanRaw(ctx, s.r, `SELECT id, raw FROM subjects ORDER BY id`, "customer", event.DecodeSubject, fn)
}

func scanRaw[T any](ctx context.Context, db *sql.DB, query, noun string, decode func([]byte) (T, error), fn func(*T) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("store: reading %ss: %w", noun, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return fmt.Errorf("store: reading %ss: %w", noun, err)
		}
		v, err := decode(raw)
		if err != nil {
			return fmt.Errorf("store: stored %s %s: %w", noun, id, err)
		}
		if err := fn(&v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: reading %ss: %w", noun, err)
	}
	return nil
}

// Records calls fn with every event and ticket change stored after seq
// after, in ingest order: the order they were fed to the engine.
func (s *Store) Records(ctx context.Context, after int64, fn func(Record) error) error {
	return s.RecordsBetween(ctx, after, math.MaxInt64, fn)
}

// RecordsBetween is Records limited to seqs after after and up to upto.
func (s *Store) RecordsBetween(ctx context.Context, after, upto int64, fn func(Record) error) error {
	rows, err := s.r.QueryContext(ctx, `
		SELECT seq, 0, raw FROM ticket_changes WHERE seq > ?1 AND seq <= ?2
		UNION ALL
		SELECT seq, 1, raw FROM events WHERE seq > ?1 AND seq <= ?2
		ORDER BY 1`, after, upto)
	if err != nil {
		return fmt.Errorf("store: reading records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var isEvent bool
		var raw []byte
		if err := rows.Scan(&r.Seq, &isEvent, &raw); err != nil {
			return fmt.Errorf("store: reading records: %w", err)
		}
		if isEvent {
			e, err := event.DecodeEvent(raw)
			if err != nil {
				return fmt.Errorf("store: stored event at seq %d: %w", r.Seq, err)
			}
			r.Event = &e
		} else {
			t, err := event.DecodeTicketChange(raw)
			if err != nil {
				return fmt.Errorf("store: stored ticket change at seq %d: %w", r.Seq, err)
			}
			r.Ticket = &t
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: reading records: %w", err)
	}
	return nil
}

// Stored reports whether r is already stored: an event with its id, or a
// ticket change identical in every field Append compares. The ingest
// journal asks it to count a retry as a duplicate before the record
// reaches this store.
func (s *Store) Stored(ctx context.Context, r Record) (bool, error) {
	var found bool
	var err error
	switch {
	case r.Event != nil:
		err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = ?)`, r.Event.ID).Scan(&found)
	case r.Ticket != nil:
		t := r.Ticket
		err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM ticket_changes
			WHERE id = ? AND time = ? AND status = ? AND assignee = ? AND subject = ?)`,
			t.ID, t.Time.UnixNano(), string(t.Status), t.Assignee, t.Subject).Scan(&found)
	default:
		return false, errors.New("store: a record is neither an event nor a ticket change")
	}
	if err != nil {
		return false, fmt.Errorf("store: looking up a stored record: %w", err)
	}
	return found, nil
}
