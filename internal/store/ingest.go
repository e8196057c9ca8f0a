package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/custos-io/custos/internal/event"
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
	stored := 0
	err := s.put(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, lastSeqQuery).Scan(&seq); err != nil {
			return err
		}
		before := seq
		evStmt, err := tx.PrepareContext(ctx, `INSERT INTO events (seq, id, time, actor, action, subject, ticket, raw)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer evStmt.Close()
		tkStmt, err := tx.PrepareContext(ctx, `INSERT INTO ticket_changes (seq, id, time, subject, assignee, status, raw)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer tkStmt.Close()
		for i := range recs {
			r := &recs[i]
			r.Seq = 0
			var res sql.Result
			switch {
			case r.Event != nil:
				e := r.Event
				res, err = evStmt.ExecContext(ctx, seq+1, e.ID, e.Time.UnixNano(), e.Actor.ID, string(e.Action),
					nullable(e.Subject), nullable(e.Ticket), string(e.Raw))
				if err != nil {
					return fmt.Errorf("storing event %s: %w", e.ID, err)
				}
			case r.Ticket != nil:
				t := r.Ticket
				res, err = tkStmt.ExecContext(ctx, seq+1, t.ID, t.Time.UnixNano(), t.Subject, t.Assignee, string(t.Status), string(t.Raw))
				if err != nil {
					return fmt.Errorf("storing ticket change %s: %w", t.ID, err)
				}
			default:
				return fmt.Errorf("record %d is neither an event nor a ticket change", i)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				seq++
				r.Seq = seq
				stored++
			}
		}
		if seq > before {
			return updateReach(ctx, tx, before, seq)
		}
		return nil
	})
	if err != nil {
		for i := range recs {
			recs[i].Seq = 0
		}
		return 0, fmt.Errorf("store: appending %d records: %w", len(recs), err)
	}
	return stored, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
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
	rows, err := s.r.QueryContext(ctx, `
		SELECT seq, 0, raw FROM ticket_changes WHERE seq > ?1
		UNION ALL
		SELECT seq, 1, raw FROM events WHERE seq > ?1
		ORDER BY 1`, after)
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
