package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// loadDir stores a replay directory the way replay --db would.
func loadDir(t *testing.T, s *Store, dir string) {
	t.Helper()
	ctx := context.Background()
	var recs []Record
	var people []*event.Person
	var subs []*event.Subject
	read := func(name string, fn func([]byte) error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		event.Lines(f, func(_ int, l []byte, _ bool) error { fn(l); return nil })
	}
	read("roster.ndjson", func(l []byte) error {
		p, err := event.DecodePerson(l)
		if err == nil {
			people = append(people, &p)
		}
		return err
	})
	read("subjects.ndjson", func(l []byte) error {
		c, err := event.DecodeSubject(l)
		if err == nil {
			subs = append(subs, &c)
		}
		return err
	})
	read("tickets.ndjson", func(l []byte) error {
		c, err := event.DecodeTicketChange(l)
		if err == nil {
			recs = append(recs, Record{Ticket: &c})
		}
		return err
	})
	read("events.ndjson", func(l []byte) error {
		e, err := event.DecodeEvent(l)
		if err == nil {
			recs = append(recs, Record{Event: &e})
		}
		return err
	})
	if err := s.PutPeople(ctx, people); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSubjects(ctx, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// The store answers exposure exactly as the breach package's reference
// (its in-memory fake, whose output is the golden file).
func TestBreachExposureMatchesReference(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	loadDir(t, s, "../replay/testdata/tiny")
	q := breach.ExposureQuery{Scope: breach.Scope{Vendor: "bpo-north"}, Detail: true,
		Window: breach.Window{Since: time.Date(2026, 3, 3, 1, 10, 0, 0, time.UTC), Until: time.Date(2026, 3, 3, 3, 0, 0, 0, time.UTC)}}
	x, err := breach.Exposures(context.Background(), s, q, engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := breach.WriteExposure(&b, x, breach.FormatJSON); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../breach/testdata/exposure_vendor.json")
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("store exposure differs from the reference:\n%s", b.String())
	}
}

type rawEvent struct {
	id, actor, subject string
	at                 time.Time
}

func (r rawEvent) record(t *testing.T) Record {
	subj := ""
	action := "login"
	if r.subject != "" {
		subj, action = fmt.Sprintf(`,"subject":{"id":%q}`, r.subject), "view"
	}
	return ev(t, fmt.Sprintf(`{"id":%q,"time":%q,"actor":{"id":%q},"action":%q%s}`, r.id, r.at.Format(time.RFC3339Nano), r.actor, action, subj))
}

// exactReach counts distinct customers per actor (and overall) the slow way.
func exactReach(evs []rawEvent, w breach.Window) (map[string]int, int) {
	per := map[string]map[string]bool{}
	all := map[string]bool{}
	for _, e := range evs {
		if e.subject == "" || !w.Contains(e.at) {
			continue
		}
		if per[e.actor] == nil {
			per[e.actor] = map[string]bool{}
		}
		per[e.actor][e.subject] = true
		all[e.subject] = true
	}
	out := map[string]int{}
	for a, m := range per {
		out[a] = len(m)
	}
	return out, len(all)
}

// The reach counts Append keeps are exact for all time whatever the
// arrival order and retries, per day exact for day-aligned windows, and an
// overcount (never under) for others; a database that had events before the
// reach tables existed is backfilled to the same counts.
func TestBreachReach(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []rawEvent
	for i := range 3000 {
		e := rawEvent{id: fmt.Sprintf("e%d", i), actor: fmt.Sprintf("a%d", rng.IntN(8)), at: base.Add(time.Duration(rng.IntN(10*24*60)) * time.Minute)}
		if rng.IntN(10) > 0 {
			e.subject = fmt.Sprintf("c%d", rng.IntN(400))
		}
		evs = append(evs, e)
	}
	actors := []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "nobody"}

	dir := t.TempDir()
	// One database built at schema 1 and then upgraded (backfill), one built
	// at the latest schema (trigger), fed in batches with retries.
	old := filepath.Join(dir, "old.db")
	init1, err := fs.ReadFile(migrations, "0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(old, "journal_mode(WAL)"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, fstest.MapFS{"0001_init.sql": {Data: init1}}); err != nil {
		t.Fatal(err)
	}
	// Schema 1 has no reach tables for Append to update: insert directly.
	for i, e := range evs[:2000] {
		r := e.record(t).Event
		if _, err := db.ExecContext(ctx, `INSERT INTO events (seq, id, time, actor, action, subject, ticket, raw) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)`,
			i+1, r.ID, r.Time.UnixNano(), r.Actor.ID, string(r.Action), nullable(r.Subject), string(r.Raw)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	var recs []Record
	upgraded := open(t, old)
	recs = nil
	for _, e := range evs[2000:] {
		recs = append(recs, e.record(t))
	}
	if _, err := upgraded.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}

	fresh := open(t, filepath.Join(dir, "fresh.db"))
	for i := 0; i < len(evs); i += 250 {
		var batch []Record
		for _, e := range evs[i:min(i+300, len(evs))] { // overlapping batches: retries
			batch = append(batch, e.record(t))
		}
		if _, err := fresh.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}

	// serve's group commit: several overlapping parts per transaction, one
	// reach update over all of them.
	grouped := open(t, filepath.Join(dir, "grouped.db"))
	for i := 0; i < len(evs); i += 750 {
		var ws []*Write
		for j := i; j < min(i+750, len(evs)); j += 250 {
			w := &Write{}
			for _, e := range evs[j:min(j+300, len(evs))] {
				w.Recs = append(w.Recs, e.record(t))
			}
			ws = append(ws, w)
		}
		if err := grouped.WriteGroup(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}

	// The writer's memory of reach keys (reachSeen) forgotten now and then,
	// as after a restart, and a group commit that fails after storing
	// events: its keys must not be remembered.
	forgetful := open(t, filepath.Join(dir, "forgetful.db"))
	for i := 0; i < len(evs); i += 500 {
		part := func() *Write {
			w := &Write{}
			for _, e := range evs[i:min(i+600, len(evs))] {
				w.Recs = append(w.Recs, e.record(t))
			}
			return w
		}
		if err := forgetful.WriteGroup(ctx, []*Write{part(), {Recs: []Record{{}}}}); err == nil {
			t.Fatal("a group with a record that is neither an event nor a ticket change was stored")
		}
		if err := forgetful.WriteGroup(ctx, []*Write{part()}); err != nil {
			t.Fatal(err)
		}
		if i%1500 == 0 {
			forgetful.reach = reachSeen{}
		}
	}

	for name, s := range map[string]*Store{"upgraded": upgraded, "fresh": fresh, "grouped": grouped, "forgetful": forgetful} {
		all, pop, err := s.Reach(ctx, actors, breach.Window{})
		if err != nil {
			t.Fatal(err)
		}
		want, wantPop := exactReach(evs, breach.Window{})
		if pop != wantPop || fmt.Sprint(all) != fmt.Sprint(want) {
			t.Errorf("%s: all-time reach %v pop %d, want %v %d", name, all, pop, want, wantPop)
		}
		for _, w := range []breach.Window{
			{Since: base.AddDate(0, 0, 3), Until: base.AddDate(0, 0, 4)},
			{Since: base.AddDate(0, 0, 2).Add(7 * time.Hour), Until: base.AddDate(0, 0, 6).Add(time.Hour)},
			{Until: base.AddDate(0, 0, 5)},
		} {
			got, gpop, err := s.Reach(ctx, actors, w)
			if err != nil {
				t.Fatal(err)
			}
			exact, epop := exactReach(evs, w)
			for _, a := range actors {
				if got[a] < exact[a] || got[a] > all[a] {
					t.Errorf("%s %v: reach of %s = %d, exact %d, all time %d", name, w, a, got[a], exact[a], all[a])
				}
			}
			if gpop < epop || gpop > pop {
				t.Errorf("%s %v: population %d, exact %d", name, w, gpop, epop)
			}
			if w.Since.Equal(base.AddDate(0, 0, 3)) && (fmt.Sprint(got) != fmt.Sprint(exact) || gpop != epop) {
				t.Errorf("%s: one whole day: %v %d, want exactly %v %d", name, got, gpop, exact, epop)
			}
		}
	}
}

// The breach queries read the events through their indexes.
func TestBreachQueryPlans(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	for _, c := range []struct {
		query string
		args  []any
		want  []string
	}{
		{actorEventsQuery, []any{"a", 0, 1}, []string{"SEARCH events USING INDEX events_actor_time (actor=? AND time>? AND time<?)"}},
		{subjectEventsQuery, []any{`["c"]`, 0, 1}, []string{"SEARCH e USING INDEX events_subject_time (subject=? AND time>? AND time<?)"}},
		{ticketChangesQuery, []any{`["c"]`, `["T"]`}, []string{"SEARCH tc USING INDEX console_ticket_changes_subject (subject=?)", "SEARCH tc USING COVERING INDEX ticket_changes_key (id=?)"}},
		{reachDayQuery, []any{`["a"]`, 0, 1}, []string{"SEARCH reach_actor_day USING PRIMARY KEY (actor=? AND day>? AND day<?)"}},
	} {
		plan := queryPlan(t, s, c.query, c.args...)
		for _, w := range c.want {
			if !strings.Contains(plan, w) {
				t.Errorf("plan for\n%s\nis\n%s\nwant %q", c.query, plan, w)
			}
		}
		if strings.Contains(plan, "SCAN events") || strings.Contains(plan, "SCAN ticket_changes") || strings.Contains(plan, "SCAN e ") || strings.Contains(plan, "SCAN tc") || strings.Contains(plan, "SCAN o") {
			t.Errorf("plan for\n%s\nscans a table:\n%s", c.query, plan)
		}
	}
}

// Counting a batch into the reach tables: the batch by seq, each distinct
// key a search of the customer's events; the coarser counts search them
// only for keys the finer ones did not find.
func TestReachUpdatePlans(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	if _, err := s.w.ExecContext(context.Background(), reachBatchTable); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{
		{}, // the DELETE empties the table without a plan
		{"SCAN j VIRTUAL TABLE", "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)", "SEARCH o USING COVERING INDEX events_subject_time (subject=? AND time>? AND time<?)"},
		{"SCAN temp.reach_batch"},
		{"SCAN temp.reach_batch", "SEARCH o USING COVERING INDEX events_subject_time (subject=? AND time>? AND time<?)"},
		{"SCAN temp.reach_batch", "SEARCH o USING COVERING INDEX events_subject_time (subject=?)"},
		{"SCAN temp.reach_batch", "SEARCH o USING COVERING INDEX events_subject_time (subject=?)"},
	} {
		q := reachUpdates[i]
		plan := queryPlanOn(t, s.w, q, 1, 2, "[16]")
		for _, w := range want {
			if !strings.Contains(plan, w) {
				t.Errorf("plan for\n%s\nis\n%s\nwant %q", q, plan, w)
			}
		}
		if strings.Contains(plan, "SCAN events") || strings.Contains(plan, "SCAN o") {
			t.Errorf("plan for\n%s\nscans a table:\n%s", q, plan)
		}
	}
}

func TestBreachCanaries(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cs, _, err := breach.Mint(ctx, s, breach.MintRequest{Team: "payments", Count: 2, Seed: "x", At: at})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Canaries(ctx, []string{cs[1].Subject, "c-other"})
	if err != nil || len(got) != 1 || got[0] != cs[1] {
		t.Errorf("canaries %+v %v, want %+v", got, err, cs[1])
	}
	all, err := s.Canaries(ctx, nil)
	if err != nil || len(all) != 2 {
		t.Errorf("all canaries %+v %v", all, err)
	}
	recs, err := s.SubjectRecords(ctx, []string{cs[0].Subject})
	if err != nil || recs[cs[0].Subject] == nil || !recs[cs[0].Subject].Honeytoken {
		t.Errorf("canary customer record %+v %v", recs, err)
	}
}
