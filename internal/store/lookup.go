package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// The lookups below serve the investigator console: one case, one actor's
// events, one customer's, an activity histogram. Each reads through an index.

// inChunk bounds the ids of one IN (...) list, well below SQLite's limit on
// bound parameters.
const inChunk = 500

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// FindingsByID returns the stored findings with these ids; unknown ids are
// left out.
func (s *Store) FindingsByID(ctx context.Context, ids []string) ([]StoredFinding, error) {
	var out []StoredFinding
	for len(ids) > 0 {
		n := min(len(ids), inChunk)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		fs, err := s.findings(ctx, `SELECT kind, opened, raw FROM findings WHERE id IN (`+placeholders(n)+`) ORDER BY seq`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
		ids = ids[n:]
	}
	return out, nil
}

// Cases returns the latest version of every case, in the order they opened.
func (s *Store) Cases(ctx context.Context) ([]StoredFinding, error) {
	return s.findings(ctx, `SELECT kind, opened, raw FROM findings WHERE kind = 'case' ORDER BY seq`)
}

// ActorFindings returns an actor's findings with time >= since, in the order
// they were first stored.
func (s *Store) ActorFindings(ctx context.Context, actor string, since time.Time) ([]StoredFinding, error) {
	return s.findings(ctx, `SELECT kind, opened, raw FROM findings WHERE actor = ? AND time >= ? ORDER BY seq`, actor, since.UnixNano())
}

func (s *Store) findings(ctx context.Context, query string, args ...any) ([]StoredFinding, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading findings: %w", err)
	}
	defer rows.Close()
	var out []StoredFinding
	for rows.Next() {
		var f StoredFinding
		var kind, raw string
		var opened int64
		if err := rows.Scan(&kind, &opened, &raw); err != nil {
			return nil, fmt.Errorf("store: reading findings: %w", err)
		}
		f.Kind, f.Opened, f.Line = finding.Kind(kind), time.Unix(0, opened).UTC(), []byte(raw)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading findings: %w", err)
	}
	return out, nil
}

// AlertCount is how many alerts one rule raised about one actor.
type AlertCount struct {
	Actor, Rule string
	N           int
}

// AlertCounts counts alerts with time >= since per actor and rule.
func (s *Store) AlertCounts(ctx context.Context, since time.Time) ([]AlertCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT actor, rule, count(*) FROM findings
		WHERE kind = 'alert' AND time >= ? GROUP BY actor, rule ORDER BY actor, rule`, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: counting alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertCount
	for rows.Next() {
		var c AlertCount
		if err := rows.Scan(&c.Actor, &c.Rule, &c.N); err != nil {
			return nil, fmt.Errorf("store: counting alerts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// EventsByID returns the events with these ids, in time order; unknown ids
// are left out.
func (s *Store) EventsByID(ctx context.Context, ids []string) ([]event.Event, error) {
	var out []event.Event
	for len(ids) > 0 {
		n := min(len(ids), inChunk)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		evs, err := s.events(ctx, `SELECT raw FROM events WHERE id IN (`+placeholders(n)+`) ORDER BY time, seq`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		ids = ids[n:]
	}
	return out, nil
}

// ActorEvents returns up to limit (0: all) of actor's events in [from,
// until), newest first. Zero bounds are open.
func (s *Store) ActorEvents(ctx context.Context, actor string, from, until time.Time, limit int) ([]event.Event, error) {
	lo, hi := bounds(from, until)
	return s.events(ctx, `SELECT raw FROM events WHERE actor = ? AND time >= ? AND time < ? ORDER BY time DESC, seq DESC LIMIT ?`,
		actor, lo, hi, limitOf(limit))
}

// SubjectEvents returns up to limit (0: all) of the events that touched
// customer subject in [from, until), newest first.
func (s *Store) SubjectEvents(ctx context.Context, subject string, from, until time.Time, limit int) ([]event.Event, error) {
	lo, hi := bounds(from, until)
	return s.events(ctx, `SELECT raw FROM events WHERE subject = ? AND time >= ? AND time < ? ORDER BY time DESC, seq DESC LIMIT ?`,
		subject, lo, hi, limitOf(limit))
}

func limitOf(n int) int64 {
	if n <= 0 {
		return -1 // SQLite: no limit
	}
	return int64(n)
}

func bounds(from, until time.Time) (int64, int64) {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !until.IsZero() {
		hi = until.UnixNano()
	}
	return lo, hi
}

func (s *Store) events(ctx context.Context, query string, args ...any) ([]event.Event, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading events: %w", err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: reading events: %w", err)
		}
		e, err := event.DecodeEvent(raw)
		if err != nil {
			return nil, fmt.Errorf("store: a stored event no longer decodes: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading events: %w", err)
	}
	return out, nil
}

// Activity is one actor's events in one time bucket.
type Activity struct {
	Actor     string
	Start     time.Time
	Events    int // every event
	Accesses  int // events that name a customer
	Customers int // distinct customers
	Bulk      int // exports and reveals of a customer
	NoTicket  int // events that name a customer and cite no ticket
}

// Activity counts the actors' events in [from, until) per bucket.
func (s *Store) Activity(ctx context.Context, actors []string, from, until time.Time, bucket time.Duration) ([]Activity, error) {
	if bucket <= 0 {
		return nil, errors.New("store: activity bucket must be positive")
	}
	lo, hi := bounds(from, until)
	var out []Activity
	for len(actors) > 0 {
		n := min(len(actors), inChunk)
		args := []any{int64(bucket)}
		for _, a := range actors[:n] {
			args = append(args, a)
		}
		args = append(args, lo, hi)
		rows, err := s.r.QueryContext(ctx, `SELECT actor, time / ?1 AS b, count(*), count(subject), count(DISTINCT subject),
				sum(subject IS NOT NULL AND action IN ('export', 'reveal')), sum(subject IS NOT NULL AND ticket IS NULL)
			FROM events WHERE actor IN (`+placeholders(n)+`) AND time >= ? AND time < ?
			GROUP BY actor, b ORDER BY b, actor`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: counting activity: %w", err)
		}
		for rows.Next() {
			var a Activity
			var b int64
			if err := rows.Scan(&a.Actor, &b, &a.Events, &a.Accesses, &a.Customers, &a.Bulk, &a.NoTicket); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: counting activity: %w", err)
			}
			a.Start = time.Unix(0, b*int64(bucket)).UTC()
			out = append(out, a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: counting activity: %w", err)
		}
		actors = actors[n:]
	}
	return out, nil
}

// ActorSpan is when an actor was active.
type ActorSpan struct {
	Actor       string
	First, Last time.Time
	Events      int
}

// ActorSpans returns every actor with events, with its first and last event
// time, from the actor index alone.
func (s *Store) ActorSpans(ctx context.Context) ([]ActorSpan, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT actor, min(time), max(time), count(*) FROM events GROUP BY actor ORDER BY actor`)
	if err != nil {
		return nil, fmt.Errorf("store: reading actors: %w", err)
	}
	defer rows.Close()
	var out []ActorSpan
	for rows.Next() {
		var a ActorSpan
		var first, last int64
		if err := rows.Scan(&a.Actor, &first, &last, &a.Events); err != nil {
			return nil, fmt.Errorf("store: reading actors: %w", err)
		}
		a.First, a.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// SubjectTicketChanges returns the ticket changes about these customers, in
// time order.
func (s *Store) SubjectTicketChanges(ctx context.Context, subjects []string) ([]event.TicketChange, error) {
	var out []event.TicketChange
	for len(subjects) > 0 {
		n := min(len(subjects), inChunk)
		args := make([]any, n)
		for i, id := range subjects[:n] {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, `SELECT raw FROM ticket_changes WHERE subject <> '' AND subject IN (`+placeholders(n)+`) ORDER BY time, seq`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: reading ticket changes: %w", err)
		}
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&raw); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: reading ticket changes: %w", err)
			}
			tc, err := event.DecodeTicketChange(raw)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: a stored ticket change no longer decodes: %w", err)
			}
			out = append(out, tc)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: reading ticket changes: %w", err)
		}
		subjects = subjects[n:]
	}
	return out, nil
}

// Subject returns a customer record, or nil if unknown.
func (s *Store) Subject(ctx context.Context, id string) (*event.Subject, error) {
	raw, err := s.one(ctx, "customer "+id, `SELECT raw FROM subjects WHERE id = ?`, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := event.DecodeSubject(raw)
	if err != nil {
		return nil, fmt.Errorf("store: stored customer %s: %w", id, err)
	}
	return &c, nil
}
