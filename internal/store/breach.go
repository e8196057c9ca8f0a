package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/event"
)

// The queries behind internal/breach. Each reads one of the events indexes
// by its leading columns (breach_test.go checks the plans): an actor's
// history through events_actor_time, a set of customers' through
// events_subject_time. A list of ids is passed as one JSON array and
// expanded with json_each, so a list of any length is one statement.
const (
	actorEventsQuery = `SELECT seq, raw FROM events
		WHERE actor = ? AND time >= ? AND time < ? ORDER BY time, seq`
	// CROSS JOIN fixes the join order: the id list drives, each id a
	// search of the index, whatever the planner guesses about table sizes.
	subjectEventsQuery = `SELECT e.seq, e.raw FROM json_each(?) AS j
		CROSS JOIN events AS e ON e.subject = j.value AND e.time >= ? AND e.time < ?`
	ticketChangesQuery = `WITH ids(id) AS (
			SELECT tc.id FROM json_each(?1) AS j CROSS JOIN ticket_changes AS tc ON tc.subject = j.value AND tc.subject <> ''
			UNION SELECT value FROM json_each(?2))
		SELECT tc.seq, tc.id, tc.time, tc.subject, tc.assignee, tc.status
		FROM ids CROSS JOIN ticket_changes AS tc ON tc.id = ids.id
		ORDER BY tc.time, tc.seq`
	reachQuery    = `SELECT actor, subjects FROM reach_actor WHERE actor IN (SELECT value FROM json_each(?))`
	reachDayQuery = `SELECT actor, sum(subjects) FROM reach_actor_day
		WHERE actor IN (SELECT value FROM json_each(?)) AND day >= ? AND day <= ? GROUP BY actor`
)

const day = int64(24 * time.Hour)

var _ breach.Source = (*Store)(nil)
var _ breach.MintSource = (*Store)(nil)

// windowBounds turns a window into the [lo, hi) nanosecond range of the queries.
func windowBounds(w breach.Window) (lo, hi int64) {
	lo, hi = -1<<63, 1<<63-1
	if !w.Since.IsZero() {
		lo = w.Since.UnixNano()
	}
	if !w.Until.IsZero() {
		hi = w.Until.UnixNano()
	}
	return lo, hi
}

func jsonList(ids []string) string {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// EachActorEvent calls fn with actor's events in w, in time order.
func (s *Store) EachActorEvent(ctx context.Context, actor string, w breach.Window, fn func(*event.Event) error) error {
	lo, hi := windowBounds(w)
	if err := s.eachEvent(ctx, fn, actorEventsQuery, actor, lo, hi); err != nil {
		return fmt.Errorf("store: events of %s: %w", actor, err)
	}
	return nil
}

// EachSubjectEvent calls fn with the events in w that name one of subjects.
func (s *Store) EachSubjectEvent(ctx context.Context, subjects []string, w breach.Window, fn func(*event.Event) error) error {
	lo, hi := windowBounds(w)
	if err := s.eachEvent(ctx, fn, subjectEventsQuery, jsonList(subjects), lo, hi); err != nil {
		return fmt.Errorf("store: events of %d customers: %w", len(subjects), err)
	}
	return nil
}

func (s *Store) eachEvent(ctx context.Context, fn func(*event.Event) error, query string, args ...any) error {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			return err
		}
		e, err := event.DecodeEvent(raw)
		if err != nil {
			return fmt.Errorf("stored event at seq %d: %w", seq, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TicketChanges calls fn with every change of the tickets that are or were
// about one of subjects, or whose id is in ids, in time order. The changes
// are read from the columns, which ticket_changes_key covers, not decoded
// from the raw JSON: Raw is not set.
func (s *Store) TicketChanges(ctx context.Context, subjects, ids []string, fn func(*event.TicketChange) error) error {
	rows, err := s.r.QueryContext(ctx, ticketChangesQuery, jsonList(subjects), jsonList(ids))
	if err != nil {
		return fmt.Errorf("store: ticket changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq, at int64
		var tc event.TicketChange
		var status string
		if err := rows.Scan(&seq, &tc.ID, &at, &tc.Subject, &tc.Assignee, &status); err != nil {
			return fmt.Errorf("store: ticket changes: %w", err)
		}
		tc.Time, tc.Status = time.Unix(0, at).UTC(), event.TicketStatus(status)
		if err := fn(&tc); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: ticket changes: %w", err)
	}
	return nil
}

// SubjectRecords returns the stored records of those of ids that are known.
func (s *Store) SubjectRecords(ctx context.Context, ids []string) (map[string]*event.Subject, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, raw FROM subjects WHERE id IN (SELECT value FROM json_each(?))`, jsonList(ids))
	if err != nil {
		return nil, fmt.Errorf("store: customer records: %w", err)
	}
	defer rows.Close()
	out := map[string]*event.Subject{}
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("store: customer records: %w", err)
		}
		c, err := event.DecodeSubject(raw)
		if err != nil {
			return nil, fmt.Errorf("store: stored customer %s: %w", id, err)
		}
		out[id] = &c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: customer records: %w", err)
	}
	return out, nil
}

// Reach returns how many distinct customers each of actors accessed in w,
// and how many anyone did, from the counts the events_reach trigger keeps.
// With no window the counts are exact. With a window they are summed over
// the UTC days the window touches, so a customer seen on several of those
// days counts once per day (capped by the all-time count), and the days at
// the window's edges count whole: an overcount, which only makes an actor
// look less unusual, never more.
func (s *Store) Reach(ctx context.Context, actors []string, w breach.Window) (map[string]int, int, error) {
	out := make(map[string]int, len(actors))
	list := jsonList(actors)
	if err := s.scanCounts(ctx, out, reachQuery, list); err != nil {
		return nil, 0, fmt.Errorf("store: reach: %w", err)
	}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce((SELECT subjects FROM reach_total), 0)`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: reach: %w", err)
	}
	if w.Since.IsZero() && w.Until.IsZero() {
		return out, total, nil
	}
	lo, hi := windowBounds(w)
	dlo, dhi := floorDiv(lo, day), floorDiv(hi-1, day)
	days := make(map[string]int, len(actors))
	if err := s.scanCounts(ctx, days, reachDayQuery, list, dlo, dhi); err != nil {
		return nil, 0, fmt.Errorf("store: reach: %w", err)
	}
	for a, all := range out {
		out[a] = min(all, days[a])
	}
	var pop int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(sum(subjects), 0) FROM reach_day WHERE day >= ? AND day <= ?`, dlo, dhi).Scan(&pop); err != nil {
		return nil, 0, fmt.Errorf("store: reach: %w", err)
	}
	return out, min(pop, total), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (s *Store) scanCounts(ctx context.Context, into map[string]int, query string, args ...any) error {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		into[k] = n
	}
	return rows.Err()
}

// PutCanaries stores canaries and their customer records in one
// transaction, replacing any with the same ids.
func (s *Store) PutCanaries(ctx context.Context, cs []breach.Canary, subjects []*event.Subject) error {
	err := s.put(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO canaries (subject, team, site, minted, seed) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (subject) DO UPDATE SET team = excluded.team, site = excluded.site, minted = excluded.minted, seed = excluded.seed`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range cs {
			if _, err := st.ExecContext(ctx, c.Subject, c.Team, c.Site, c.Minted.UnixNano(), c.Seed); err != nil {
				return fmt.Errorf("canary %s: %w", c.Subject, err)
			}
		}
		return putSubjects(ctx, tx, subjects)
	})
	if err != nil {
		return fmt.Errorf("store: storing %d canaries: %w", len(cs), err)
	}
	return nil
}

// Canaries returns the stored canaries among ids, or all of them if ids is
// nil, by customer id.
func (s *Store) Canaries(ctx context.Context, ids []string) ([]breach.Canary, error) {
	query, args := `SELECT subject, team, site, minted, seed FROM canaries ORDER BY subject`, []any(nil)
	if ids != nil {
		query = `SELECT subject, team, site, minted, seed FROM canaries WHERE subject IN (SELECT value FROM json_each(?)) ORDER BY subject`
		args = []any{jsonList(ids)}
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: canaries: %w", err)
	}
	defer rows.Close()
	var out []breach.Canary
	for rows.Next() {
		var c breach.Canary
		var minted int64
		if err := rows.Scan(&c.Subject, &c.Team, &c.Site, &minted, &c.Seed); err != nil {
			return nil, fmt.Errorf("store: canaries: %w", err)
		}
		c.Minted = time.Unix(0, minted).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: canaries: %w", err)
	}
	return out, nil
}

// reachUpdates keep the reach counts of schema 5 exact. They take the
// events of one Append (seq in (?1, ?2]) as their distinct (actor, day,
// customer) keys, by the seq of one event each (?3, reachSeen.batchJSON,
// with what the writer remembers of each key), and count a key
// only if no event stored before the batch has it. Each key goes to a
// temporary table, marked seen if an earlier event has it (one search of
// events_subject_time, bounded by the customer and the day) or if the
// writer remembers one (reachSeen: no search). A key seen that day was
// seen by the actor, and on the day, and at all, so the coarser counts
// search the events only for the keys none of whose finer keys was seen
// and that the writer does not remember at that level: a customer viewed
// again the same day costs at most one search, not four. Doing this per
// batch rather than per row (a trigger) probes each key once however often
// the batch repeats it: the views of one ticket are one key.
//
// The temporary table belongs to the writer connection and holds one
// batch's keys at a time; it is never on disk in the database file.
var reachUpdates = []string{
	`DELETE FROM temp.reach_batch`,
	`INSERT INTO temp.reach_batch (actor, day, subject, seen, actor_seen, day_seen, total_seen)
	SELECT actor, day, subject, CASE WHEN known & 1 THEN 1 ELSE EXISTS (SELECT 1 FROM events AS o WHERE o.subject = b.subject
		AND o.time >= b.day * 86400000000000 AND o.time < (b.day + 1) * 86400000000000
		AND o.actor = b.actor AND o.seq <= ?1) END, (known >> 1) & 1, (known >> 2) & 1, (known >> 3) & 1
	FROM (SELECT e.actor AS actor, e.time / 86400000000000 AS day, e.subject AS subject, j.value & 15 AS known
		FROM json_each(?3) AS j JOIN events AS e ON e.seq = j.value >> 4) AS b`,
	`INSERT INTO reach_actor_day (actor, day, subjects)
	SELECT actor, day, count(*) FROM temp.reach_batch WHERE NOT seen
	GROUP BY actor, day
	ON CONFLICT (actor, day) DO UPDATE SET subjects = subjects + excluded.subjects`,
	`INSERT INTO reach_day (day, subjects)
	SELECT day, count(*) FROM (
		SELECT day, subject FROM temp.reach_batch GROUP BY day, subject HAVING max(seen) = 0 AND max(day_seen) = 0) AS b
	WHERE NOT EXISTS (SELECT 1 FROM events AS o WHERE o.subject = b.subject
		AND o.time >= b.day * 86400000000000 AND o.time < (b.day + 1) * 86400000000000
		AND o.seq <= ?1)
	GROUP BY day
	ON CONFLICT (day) DO UPDATE SET subjects = subjects + excluded.subjects`,
	`INSERT INTO reach_actor (actor, subjects)
	SELECT actor, count(*) FROM (
		SELECT actor, subject FROM temp.reach_batch GROUP BY actor, subject HAVING max(seen) = 0 AND max(actor_seen) = 0) AS b
	WHERE NOT EXISTS (SELECT 1 FROM events AS o WHERE o.subject = b.subject AND o.actor = b.actor AND o.seq <= ?1)
	GROUP BY actor
	ON CONFLICT (actor) DO UPDATE SET subjects = subjects + excluded.subjects`,
	`INSERT INTO reach_total (id, subjects)
	SELECT 0, count(*) FROM (
		SELECT subject FROM temp.reach_batch GROUP BY subject HAVING max(seen) = 0 AND max(total_seen) = 0) AS b
	WHERE NOT EXISTS (SELECT 1 FROM events AS o WHERE o.subject = b.subject AND o.seq <= ?1)
	ON CONFLICT (id) DO UPDATE SET subjects = subjects + excluded.subjects`,
}

// reachBatchTable is the temporary table of reachUpdates.
const reachBatchTable = `CREATE TEMP TABLE IF NOT EXISTS reach_batch (
	actor TEXT NOT NULL, day INTEGER NOT NULL, subject TEXT NOT NULL, seen INTEGER NOT NULL,
	actor_seen INTEGER NOT NULL, day_seen INTEGER NOT NULL, total_seen INTEGER NOT NULL)`

// updateReach counts the events with seq in (after, last], whose distinct
// reach keys are keys, into the reach tables, inside the transaction that
// stored them. The caller adds keys to s.reach once it committed.
func (s *Store) updateReach(ctx context.Context, tx *sql.Tx, after, last int64, keys []batchKey) error {
	batch, unknown := s.reach.batchJSON(keys)
	if unknown == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, reachBatchTable); err != nil {
		return fmt.Errorf("updating reach counts: %w", err)
	}
	for i, q := range reachUpdates {
		if unknown&reachUpdateNeeds[i] == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, q, after, last, batch); err != nil {
			return fmt.Errorf("updating reach counts: %w", err)
		}
	}
	return nil
}

// reachUpdateNeeds are the levels for which each of reachUpdates can
// change a count: a statement runs only if some key of the batch is not
// known at one of them.
var reachUpdateNeeds = []int64{knownAll, knownAll, knownKey, knownDay, knownActor, knownTotal}
