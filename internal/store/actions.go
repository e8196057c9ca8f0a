package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/respond"
)

var _ respond.Journal = (*Store)(nil)

const actionColumns = `action, finding, type, actor, target, status, code, result, attempts, started, updated, requested_by, reason`

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
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (action, finding) DO UPDATE SET type = excluded.type, actor = excluded.actor,
				target = excluded.target, status = excluded.status, code = excluded.code, result = excluded.result,
				attempts = excluded.attempts, updated = excluded.updated,
				requested_by = excluded.requested_by, reason = excluded.reason`,
			a.Name, a.Finding, a.Type, a.Actor, a.Target, string(a.Status), a.Code, a.Result, a.Attempts,
			a.Started.UnixNano(), a.Updated.UnixNano(), a.RequestedBy, a.Reason)
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
	var out []respond.Action
	for ids := findingIDs; len(ids) > 0; {
		n := min(len(ids), inChunk)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, `SELECT `+actionColumns+` FROM response_actions WHERE finding IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: reading response actions: %w", err)
		}
		for rows.Next() {
			a, err := scanAction(rows.Scan)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: reading response actions: %w", err)
			}
			out = append(out, a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: reading response actions: %w", err)
		}
		ids = ids[n:]
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if !a.Started.Equal(b.Started) {
			return a.Started.Before(b.Started)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Finding < b.Finding
	})
	return out, nil
}

func scanAction(scan func(...any) error) (respond.Action, error) {
	var a respond.Action
	var status string
	var started, updated int64
	err := scan(&a.Name, &a.Finding, &a.Type, &a.Actor, &a.Target, &status, &a.Code, &a.Result, &a.Attempts, &started, &updated, &a.RequestedBy, &a.Reason)
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
	fs, err := s.FindingsByID(ctx, []string{id})
	if err != nil || len(fs) == 0 {
		return StoredFinding{}, false, err
	}
	return fs[0], true, nil
}

// HasFinding reports whether a finding with this id is stored.
func (s *Store) HasFinding(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM findings WHERE id = ?)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: looking up finding %s: %w", id, err)
	}
	return ok, nil
}
