package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by the console lookups for a missing row.
var ErrNotFound = errors.New("not found")

// The console's tables (migration 0003) keep each record as JSON; the store
// only knows the columns it looks rows up by, so the console's records can
// grow without a migration.

// PutConsoleUser stores a console user, replacing any of that name.
func (s *Store) PutConsoleUser(ctx context.Context, name string, raw []byte) error {
	return s.exec(ctx, "storing console user "+name,
		`INSERT INTO console_users (name, raw) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET raw = excluded.raw`, name, string(raw))
}

// ConsoleUser returns a console user's record, or ErrNotFound.
func (s *Store) ConsoleUser(ctx context.Context, name string) ([]byte, error) {
	return s.one(ctx, "console user "+name, `SELECT raw FROM console_users WHERE name = ?`, name)
}

// ConsoleUsers returns every console user's record, by name.
func (s *Store) ConsoleUsers(ctx context.Context) ([][]byte, error) {
	return s.raws(ctx, "console users", `SELECT raw FROM console_users ORDER BY name`)
}

// CreateConsoleSession stores a session.
func (s *Store) CreateConsoleSession(ctx context.Context, id, user string, lastSeen time.Time, raw []byte) error {
	return s.exec(ctx, "storing a console session",
		`INSERT INTO console_sessions (id, user, last_seen, raw) VALUES (?, ?, ?, ?)`, id, user, lastSeen.UnixNano(), string(raw))
}

// ConsoleSession returns a session's record and when it was last used.
func (s *Store) ConsoleSession(ctx context.Context, id string) ([]byte, time.Time, error) {
	var raw string
	var last int64
	err := s.r.QueryRowContext(ctx, `SELECT raw, last_seen FROM console_sessions WHERE id = ?`, id).Scan(&raw, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("store: reading a console session: %w", err)
	}
	return []byte(raw), time.Unix(0, last).UTC(), nil
}

// TouchConsoleSession records that a session was used at at.
func (s *Store) TouchConsoleSession(ctx context.Context, id string, at time.Time) error {
	return s.exec(ctx, "touching a console session", `UPDATE console_sessions SET last_seen = ? WHERE id = ?`, at.UnixNano(), id)
}

// DeleteConsoleSession ends a session.
func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	return s.exec(ctx, "deleting a console session", `DELETE FROM console_sessions WHERE id = ?`, id)
}

// DeleteConsoleSessions ends every session of user.
func (s *Store) DeleteConsoleSessions(ctx context.Context, user string) error {
	return s.exec(ctx, "deleting the sessions of "+user, `DELETE FROM console_sessions WHERE user = ?`, user)
}

// DeleteIdleConsoleSessions removes sessions not used since before.
func (s *Store) DeleteIdleConsoleSessions(ctx context.Context, before time.Time) error {
	return s.exec(ctx, "deleting idle console sessions", `DELETE FROM console_sessions WHERE last_seen < ?`, before.UnixNano())
}

// ConsoleCases returns every case's console state, by case id.
func (s *Store) ConsoleCases(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT case_id, raw FROM console_cases`)
	if err != nil {
		return nil, fmt.Errorf("store: reading console case states: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("store: reading console case states: %w", err)
		}
		out[id] = []byte(raw)
	}
	return out, rows.Err()
}

// AddConsoleCaseAction appends one entry to a case's history and sets the
// case's state, in one transaction. It returns the entry's sequence number.
func (s *Store) AddConsoleCaseAction(ctx context.Context, caseID string, at time.Time, action, state []byte) (int64, error) {
	var seq int64
	err := s.put(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO console_case_actions (case_id, time, raw) VALUES (?, ?, ?)`, caseID, at.UnixNano(), string(action))
		if err != nil {
			return err
		}
		if seq, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO console_cases (case_id, raw) VALUES (?, ?)
			ON CONFLICT (case_id) DO UPDATE SET raw = excluded.raw`, caseID, string(state))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: recording an action on case %s: %w", caseID, err)
	}
	return seq, nil
}

// ConsoleCaseActions returns a case's history, oldest first, with each
// entry's sequence number.
func (s *Store) ConsoleCaseActions(ctx context.Context, caseID string) ([]SeqRaw, error) {
	return s.seqRaws(ctx, "the history of case "+caseID,
		`SELECT seq, raw FROM console_case_actions WHERE case_id = ? ORDER BY seq`, caseID)
}

// SeqRaw is a stored console record and its sequence number.
type SeqRaw struct {
	Seq int64
	Raw []byte
}

// AddConsoleReveal records that user may see actor's identity until until.
func (s *Store) AddConsoleReveal(ctx context.Context, user, actor string, until time.Time, raw []byte) error {
	return s.exec(ctx, "storing a reveal",
		`INSERT INTO console_reveals (user, actor, until, raw) VALUES (?, ?, ?, ?)`, user, actor, until.UnixNano(), string(raw))
}

// ConsoleReveals returns user's reveals still valid at at.
func (s *Store) ConsoleReveals(ctx context.Context, user string, at time.Time) ([][]byte, error) {
	return s.raws(ctx, "the reveals of "+user,
		`SELECT raw FROM console_reveals WHERE user = ? AND until > ? ORDER BY seq`, user, at.UnixNano())
}

// AddConsoleAudit appends an audit record and returns its sequence number.
func (s *Store) AddConsoleAudit(ctx context.Context, at time.Time, user, action string, raw []byte) (int64, error) {
	var seq int64
	err := s.put(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO console_audit (time, user, action, raw) VALUES (?, ?, ?, ?)`,
			at.UnixNano(), user, action, string(raw))
		if err != nil {
			return err
		}
		seq, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: writing an audit record: %w", err)
	}
	return seq, nil
}

// ConsoleAudit returns audit records newest first: of user and action when
// not empty, with seq below before when positive, at most limit.
func (s *Store) ConsoleAudit(ctx context.Context, user, action string, before int64, limit int) ([]SeqRaw, error) {
	q := `SELECT seq, raw FROM console_audit WHERE 1=1`
	var args []any
	if user != "" {
		q, args = q+` AND user = ?`, append(args, user)
	}
	if action != "" {
		q, args = q+` AND action = ?`, append(args, action)
	}
	if before > 0 {
		q, args = q+` AND seq < ?`, append(args, before)
	}
	q, args = q+` ORDER BY seq DESC LIMIT ?`, append(args, limit)
	return s.seqRaws(ctx, "the audit trail", q, args...)
}

// ConsoleSecret returns the named secret, creating it with gen on first use.
func (s *Store) ConsoleSecret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM console_secrets WHERE name = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: reading secret %s: %w", name, err)
	}
	nv, err := gen()
	if err != nil {
		return nil, err
	}
	// Two processes may race to create it: the first one wins, and both
	// read the winner back.
	err = s.put(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, nv); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM console_secrets WHERE name = ?`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("store: creating secret %s: %w", name, err)
	}
	return v, nil
}

func (s *Store) exec(ctx context.Context, what, query string, args ...any) error {
	err := s.put(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (s *Store) one(ctx context.Context, what, query string, args ...any) ([]byte, error) {
	var raw string
	err := s.r.QueryRowContext(ctx, query, args...).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", what, err)
	}
	return []byte(raw), nil
}

func (s *Store) raws(ctx context.Context, what, query string, args ...any) ([][]byte, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", what, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: reading %s: %w", what, err)
		}
		out = append(out, []byte(raw))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", what, err)
	}
	return out, nil
}

func (s *Store) seqRaws(ctx context.Context, what, query string, args ...any) ([]SeqRaw, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", what, err)
	}
	defer rows.Close()
	var out []SeqRaw
	for rows.Next() {
		var r SeqRaw
		var raw string
		if err := rows.Scan(&r.Seq, &raw); err != nil {
			return nil, fmt.Errorf("store: reading %s: %w", what, err)
		}
		r.Raw = []byte(raw)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", what, err)
	}
	return out, nil
}
