package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// Outbox is the store's findings outbox, a sink.Outbox on SQLite. Every
// finding WriteFindings stores is also appended to it in the same
// transaction, so a finding is never stored without being queued for the
// sinks, nor queued without being stored.
type Outbox struct{ s *Store }

var _ sink.Outbox = (*Outbox)(nil)

// Outbox returns the store's outbox.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

// Append implements sink.Outbox: it adds f at time at, unless a finding
// with the same id and content is already there, whose record it returns.
func (o *Outbox) Append(ctx context.Context, f *finding.Finding, at time.Time) (sink.Record, error) {
	if f == nil || f.ID == "" {
		return sink.Record{}, errors.New("store: outbox: appending a finding without an id")
	}
	line, err := finding.MarshalLine(f)
	if err != nil {
		return sink.Record{}, fmt.Errorf("store: outbox: %w", err)
	}
	var r sink.Record
	err = o.s.put(ctx, func(tx *sql.Tx) error {
		ob, err := prepareOutbox(ctx, tx)
		if err != nil {
			return err
		}
		defer ob.close()
		r, err = ob.append(ctx, f, line, at)
		return err
	})
	if err != nil {
		return sink.Record{}, fmt.Errorf("store: outbox: appending finding %s: %w", f.ID, err)
	}
	return r, nil
}

// outboxStmts appends to the outbox inside a write transaction.
type outboxStmts struct {
	find, insert *sql.Stmt
}

func prepareOutbox(ctx context.Context, tx *sql.Tx) (*outboxStmts, error) {
	var ob outboxStmts
	var err error
	// One statement answers both questions of append, whether this content
	// is there and how many versions are: a statement execution costs more
	// in the driver than the second index search.
	if ob.find, err = tx.PrepareContext(ctx, `SELECT o.seq, o.revision, o.added, (SELECT count(*) FROM outbox WHERE finding = ?1)
		FROM (SELECT 1) LEFT JOIN outbox o ON o.finding = ?1 AND o.hash = ?2`); err != nil {
		return nil, err
	}
	if ob.insert, err = tx.PrepareContext(ctx, `INSERT INTO outbox (finding, revision, hash, added, line) VALUES (?, ?, ?, ?, ?)`); err != nil {
		ob.close()
		return nil, err
	}
	return &ob, nil
}

func (ob *outboxStmts) close() {
	for _, st := range []*sql.Stmt{ob.find, ob.insert} {
		if st != nil {
			st.Close()
		}
	}
}

// append adds f (whose line, newline included, is line) unless the same
// content is there already.
func (ob *outboxStmts) append(ctx context.Context, f *finding.Finding, line []byte, at time.Time) (sink.Record, error) {
	sum := sha256.Sum256(line)
	r := sink.Record{Finding: f}
	var seq, revision, added sql.NullInt64
	var versions int
	if err := ob.find.QueryRowContext(ctx, f.ID, sum[:]).Scan(&seq, &revision, &added, &versions); err != nil {
		return r, err
	}
	if seq.Valid {
		r.Seq, r.Revision = seq.Int64, int(revision.Int64)
		r.Added = time.Unix(0, added.Int64).UTC()
		return r, nil
	}
	r.Revision = versions
	res, err := ob.insert.ExecContext(ctx, f.ID, r.Revision, sum[:], at.UnixNano(), string(line[:len(line)-1]))
	if err != nil {
		return r, err
	}
	if r.Seq, err = res.LastInsertId(); err != nil {
		return r, err
	}
	r.Added = at.UTC()
	return r, nil
}

// After implements sink.Outbox.
func (o *Outbox) After(ctx context.Context, seq int64, limit int) ([]sink.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := o.s.r.QueryContext(ctx, `SELECT seq, revision, added, line FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("store: outbox: reading after %d: %w", seq, err)
	}
	defer rows.Close()
	var out []sink.Record
	for rows.Next() {
		var r sink.Record
		var added int64
		var line []byte
		if err := rows.Scan(&r.Seq, &r.Revision, &added, &line); err != nil {
			return nil, fmt.Errorf("store: outbox: reading after %d: %w", seq, err)
		}
		var f finding.Finding
		if err := json.Unmarshal(line, &f); err != nil {
			return nil, fmt.Errorf("store: outbox: record %d: %w", r.Seq, err)
		}
		r.Added, r.Finding = time.Unix(0, added).UTC(), &f
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outbox: reading after %d: %w", seq, err)
	}
	return out, nil
}

// Last implements sink.Outbox.
func (o *Outbox) Last(ctx context.Context) (int64, error) {
	var seq int64
	if err := o.s.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM outbox`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: outbox: reading its end: %w", err)
	}
	return seq, nil
}

// Cursor implements sink.Outbox.
func (o *Outbox) Cursor(ctx context.Context, consumer string) (int64, bool, error) {
	var seq int64
	err := o.s.r.QueryRowContext(ctx, `SELECT seq FROM outbox_cursors WHERE consumer = ?`, consumer).Scan(&seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("store: outbox: reading cursor %q: %w", consumer, err)
	}
	return seq, true, nil
}

// SetCursor implements sink.Outbox.
func (o *Outbox) SetCursor(ctx context.Context, consumer string, seq int64) error {
	err := o.s.put(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox_cursors (consumer, seq) VALUES (?, ?)
			ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq`, consumer, seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: outbox: saving cursor %q: %w", consumer, err)
	}
	return nil
}
