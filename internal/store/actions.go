package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

var _ respond.Journal = (*Store)(nil)

const actionColumns = `action, finding, type, actor, target, status, code, result, attempts, started, updated`

// Action implements respond.Journal: the record of action name for a
// finding.
func (s *Store) Action(ctx context.Context, name, findingID string) (respond.Action, bool, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+actionColumns+` FROM response_actions WHERE action = ? AND finding = ?`, name, findingID)
	a, err := scanAction(row.Scan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return respond.Action{}, false, nil
	case err != nil:
		return respond.Action{}, false, fmt.Errorf("store: reading response action %s for %s: %w", name, findingID, err)
	}
	return a, true, nil
}

// PutAction implements respond.Journal.
func (s *Store) PutAction(ctx context.Context, a *respond.Action) error {
	err := s.put(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO response_actions (`+actionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (action, finding) DO UPDATE SET type = excluded.type, actor = excluded.actor,
				target = excluded.target, status = excluded.status, code = excluded.code, result = excluded.result,
				attempts = excluded.attempts, updated = excluded.updated`,
			a.Name, a.Finding, a.Type, a.Actor, a.Target, string(a.Status), a.Code, a.Result, a.Attempts,
			a.Started.UnixNano(), a.Updated.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: recording response action %s for %s: %w", a.Name, a.Finding, err)
	}
	return nil
}

// ActionsFor returns the response actions triggered by any of the given
// findings, oldest first.
func (s *Store) ActionsFor(ctx context.Context, findingIDs []string) ([]respond.Action, error) {
	if len(findingIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(findingIDs))
	for i, id := range findingIDs {
		args[i] = id
	}
	q := `SELECT ` + actionColumns + ` FROM response_actions WHERE finding IN (?` +
		strings.Repeat(", ?", len(findingIDs)-1) + `) ORDER BY started, action, finding`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading response actions: %w", err)
	}
	defer rows.Close()
	var out []respond.Action
	for rows.Next() {
		a, err := scanAction(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("store: reading response actions: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading response actions: %w", err)
	}
	return out, nil
}

func scanAction(scan func(...any) error) (respond.Action, error) {
	var a respond.Action
	var status string
	var started, updated int64
	err := scan(&a.Name, &a.Finding, &a.Type, &a.Actor, &a.Target, &status, &a.Code, &a.Result, &a.Attempts, &started, &updated)
	a.Status = respond.Status(status)
	a.Started, a.Updated = time.Unix(0, started).UTC(), time.Unix(0, updated).UTC()
	return a, err
}

// Person returns the roster entry with this id; ok is false if there is
// none.
func (s *Store) Person(ctx context.Context, id string) (*event.Person, bool, error) {
	var raw []byte
	err := s.r.QueryRowContext(ctx, `SELECT raw FROM people WHERE id = ?`, id).Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("store: reading roster entry %s: %w", id, err)
	}
	p, err := event.DecodePerson(raw)
	if err != nil {
		return nil, false, fmt.Errorf("store: stored roster entry %s: %w", id, err)
	}
	return &p, true, nil
}

// Finding returns the stored finding with this id (a case's latest
// version); ok is false if there is none.
func (s *Store) Finding(ctx context.Context, id string) (StoredFinding, bool, error) {
	var f StoredFinding
	var kind string
	var opened int64
	var raw []byte
	err := s.r.QueryRowContext(ctx, `SELECT kind, opened, raw FROM findings WHERE id = ?`, id).Scan(&kind, &opened, &raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return f, false, nil
	case err != nil:
		return f, false, fmt.Errorf("store: reading finding %s: %w", id, err)
	}
	f.Kind, f.Opened, f.Line = finding.Kind(kind), time.Unix(0, opened).UTC(), raw
	return f, true, nil
}

// HasFinding reports whether a finding with this id is stored.
func (s *Store) HasFinding(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM findings WHERE id = ?)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: looking up finding %s: %w", id, err)
	}
	return ok, nil
}
