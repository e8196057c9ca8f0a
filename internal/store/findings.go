package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// WriteFindings stores findings in one transaction. An alert already stored
// is left as it is (findings have content-derived ids, so re-deriving them
// after a restart writes nothing new). A case replaces its earlier version
// but keeps the time it first opened and its place in the listing order.
// Every finding, and every new version of a case, is also appended to the
// outbox in the same transaction, for the sinks.
func (s *Store) WriteFindings(ctx context.Context, fs []*finding.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	err := s.put(ctx, func(tx *sql.Tx) error { return s.writeFindingsTx(ctx, tx, fs) })
	if err != nil {
		return fmt.Errorf("store: writing %d findings: %w", len(fs), err)
	}
	return nil
}

// outboxAdd is Outbox.Append's insertion as one statement, for the writer
// that does not need the record back: it adds the line (?4) of finding ?1
// with content hash ?2 at ?3, as the next revision, unless that content is
// there already. One execution instead of a query and an insertion: each
// costs more in the driver than the index searches it runs.
const outboxAdd = `INSERT INTO outbox (finding, revision, hash, added, line)
	SELECT ?1, (SELECT count(*) FROM outbox WHERE finding = ?1), ?2, ?3, ?4 WHERE true
	ON CONFLICT (finding, hash) DO NOTHING`

func (s *Store) writeFindingsTx(ctx context.Context, tx *sql.Tx, fs []*finding.Finding) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO findings (id, kind, actor, rule, severity, time, opened, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, time = excluded.time, raw = excluded.raw
		WHERE excluded.kind = 'case'`)
	if err != nil {
		return err
	}
	defer st.Close()
	ob, err := tx.PrepareContext(ctx, outboxAdd)
	if err != nil {
		return err
	}
	defer ob.Close()
	now := s.now()
	for _, f := range fs {
		line, err := finding.MarshalLine(f)
		if err != nil {
			return err
		}
		t := f.Time.UnixNano()
		text := rawText(line[:len(line)-1])
		if _, err := st.ExecContext(ctx, f.ID, string(f.Kind), f.Actor.ID, f.Rule, f.Severity.Rank(), t, t, text); err != nil {
			return fmt.Errorf("finding %s: %w", f.ID, err)
		}
		sum := sha256.Sum256(line)
		if _, err := ob.ExecContext(ctx, f.ID, sum[:], now.UnixNano(), text); err != nil {
			return fmt.Errorf("finding %s: outbox: %w", f.ID, err)
		}
	}
	return nil
}

// FindingQuery selects findings. Zero fields do not filter.
type FindingQuery struct {
	Actor string
	Kind  finding.Kind
	Rule  string
	// MinSeverity keeps findings at least this severe.
	MinSeverity finding.Severity
	// Since and Until bound the finding's time (for a case, its latest
	// version's): Since <= time < Until.
	Since, Until time.Time
	// Limit is the page size; 0 means DefaultLimit, more than MaxLimit is
	// MaxLimit.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// StoredFinding is a finding as stored: its line (FORMATS.md section 6) and
// what the store knows beyond it.
type StoredFinding struct {
	Kind finding.Kind
	// Opened is when a case first opened; for an alert, its time.
	Opened time.Time
	// Line is the finding's JSON (for a case, its latest version).
	Line json.RawMessage
}

// FindingPage is one page of findings.
type FindingPage struct {
	Findings []StoredFinding
	// Next is the cursor of the next page, "" when this page is the last
	// one at the time of the query.
	Next string
	// Resume is where to continue later: after this page's last finding (or
	// where the query's cursor was, if the page is empty). Polling with it
	// returns the findings stored since.
	Resume string
}

// ErrCursor reports a cursor this store did not issue.
var ErrCursor = errors.New("invalid cursor")

// Findings returns the findings matching q in the order they were first
// stored. The order never changes (a case that grows keeps its place), so
// following Next pages through every match exactly once, and Resume of the
// last page returns the findings stored since.
func (s *Store) Findings(ctx context.Context, q FindingQuery) (FindingPage, error) {
	var where []string
	var args []any
	if q.Cursor != "" {
		after, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || after < 0 {
			return FindingPage{}, fmt.Errorf("store: cursor %q: %w", q.Cursor, ErrCursor)
		}
		where, args = append(where, "seq > ?"), append(args, after)
	}
	if q.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, q.Actor)
	}
	if q.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(q.Kind))
	}
	if q.Rule != "" {
		where, args = append(where, "rule = ?"), append(args, q.Rule)
	}
	if q.MinSeverity != "" {
		where, args = append(where, "severity >= ?"), append(args, q.MinSeverity.Rank())
	}
	if !q.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, q.Until.UnixNano())
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	query := "SELECT seq, kind, opened, raw FROM findings"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq LIMIT ?"
	args = append(args, limit+1)

	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return FindingPage{}, fmt.Errorf("store: querying findings: %w", err)
	}
	defer rows.Close()
	page := FindingPage{Resume: q.Cursor}
	var last int64
	for rows.Next() {
		if len(page.Findings) == limit {
			page.Next = strconv.FormatInt(last, 10)
			break
		}
		var f StoredFinding
		var kind string
		var opened int64
		var raw []byte
		if err := rows.Scan(&last, &kind, &opened, &raw); err != nil {
			return FindingPage{}, fmt.Errorf("store: querying findings: %w", err)
		}
		f.Kind, f.Opened, f.Line = finding.Kind(kind), time.Unix(0, opened).UTC(), raw
		page.Findings = append(page.Findings, f)
		page.Resume = strconv.FormatInt(last, 10)
	}
	if err := rows.Err(); err != nil {
		return FindingPage{}, fmt.Errorf("store: querying findings: %w", err)
	}
	return page, nil
}
