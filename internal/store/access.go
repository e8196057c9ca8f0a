package store

import (
	"context"
	"fmt"
	"time"
)

// Access summarises one actor's accesses to one customer over a time range:
// the two questions a breach raises are answered in these terms.
type Access struct {
	Actor   string
	Subject string
	Events  int
	First   time.Time
	Last    time.Time
}

// Both queries below are answered from a covering index (events_actor_time,
// events_subject_time); store_test.go checks the plans.
const (
	subjectsSeenQuery = `SELECT subject, count(*), min(time), max(time) FROM events
		WHERE actor = ? AND time >= ? AND time < ? AND subject IS NOT NULL
		GROUP BY subject ORDER BY subject`
	seenByQuery = `SELECT actor, count(*), min(time), max(time) FROM events
		WHERE subject = ? AND time >= ? AND time < ?
		GROUP BY actor ORDER BY actor`
)

// SubjectsSeen answers exposure: which customers did actor touch in
// [from, until)? A zero until means no upper bound.
func (s *Store) SubjectsSeen(ctx context.Context, actor string, from, until time.Time) ([]Access, error) {
	out, err := s.accesses(ctx, subjectsSeenQuery, actor, from, until, func(a *Access, key string) {
		a.Actor, a.Subject = actor, key
	})
	if err != nil {
		return nil, fmt.Errorf("store: customers seen by %s: %w", actor, err)
	}
	return out, nil
}

// SeenBy answers attribution: which actors touched customer subject in
// [from, until)? A zero until means no upper bound.
func (s *Store) SeenBy(ctx context.Context, subject string, from, until time.Time) ([]Access, error) {
	out, err := s.accesses(ctx, seenByQuery, subject, from, until, func(a *Access, key string) {
		a.Actor, a.Subject = key, subject
	})
	if err != nil {
		return nil, fmt.Errorf("store: actors who saw %s: %w", subject, err)
	}
	return out, nil
}

func (s *Store) accesses(ctx context.Context, query, key string, from, until time.Time, set func(*Access, string)) ([]Access, error) {
	hi := int64(1<<63 - 1)
	if !until.IsZero() {
		hi = until.UnixNano()
	}
	lo := int64(-1 << 63)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	rows, err := s.r.QueryContext(ctx, query, key, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Access
	for rows.Next() {
		var a Access
		var k string
		var first, last int64
		if err := rows.Scan(&k, &a.Events, &first, &last); err != nil {
			return nil, err
		}
		set(&a, k)
		a.First, a.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
