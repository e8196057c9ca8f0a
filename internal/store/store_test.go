package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ev(t *testing.T, line string) Record {
	t.Helper()
	e, err := event.DecodeEvent([]byte(line))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return Record{Event: &e}
}

func tc(t *testing.T, line string) Record {
	t.Helper()
	c, err := event.DecodeTicketChange([]byte(line))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return Record{Ticket: &c}
}

func seqs(recs []Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func TestOpenFreshAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "custos.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(migrations)
	if err != nil || len(ms) < 2 {
		t.Fatalf("embedded migrations: %d, %v", len(ms), err)
	}
	latest := ms[len(ms)-1].version
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("fresh database at schema version %d (%v), want %d", v, err, latest)
	}
	var mode string
	var sync int
	s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %q synchronous %d, want wal and 2 (FULL)", mode, sync)
	}
	recs := []Record{ev(t, `{"id":"e1","time":"2026-03-03T01:00:00+02:00","actor":{"id":"a"},"action":"view","subject":{"id":"c1"},"x_custom":{"k":[1,2]}}`)}
	if _, err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	if v, _ := s.SchemaVersion(ctx); v != latest {
		t.Errorf("reopened database at version %d", v)
	}
	var n int
	s.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n)
	if n != len(ms) {
		t.Errorf("%d schema_migrations rows after reopening, want %d (no re-apply)", n, len(ms))
	}
	var got []Record
	if err := s.Records(ctx, 0, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(string(got[0].Event.Raw), `"x_custom":{"k":[1,2]}`) {
		t.Fatalf("stored event lost or changed: %+v", got)
	}
	if !got[0].Event.Time.Equal(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("time %s, want 2026-03-02T23:00Z", got[0].Event.Time)
	}
}

func TestMigrateExistingDatabase(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "m.db"))
	db := s.w
	v1 := fstest.MapFS{"0001_one.sql": {Data: []byte("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('kept');")}}
	v2 := fstest.MapFS{
		"0001_one.sql": v1["0001_one.sql"],
		"0002_two.sql": {Data: []byte("ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 7;")},
	}
	version := func() (v int) {
		db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
		return
	}
	// The store's own migration 1 is already applied; these test files
	// reuse the table, so start from an empty schema_migrations.
	db.ExecContext(ctx, "DELETE FROM schema_migrations")

	if err := migrate(ctx, db, v1); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, v2); err != nil {
		t.Fatal(err)
	}
	var a string
	var b int
	if err := db.QueryRowContext(ctx, "SELECT a, b FROM t").Scan(&a, &b); err != nil || a != "kept" || b != 7 {
		t.Fatalf("after migrating 1 -> 2: a=%q b=%d err=%v", a, b, err)
	}
	if version() != 2 {
		t.Errorf("version %d, want 2", version())
	}
	// Applying the same set again changes nothing (INSERT would duplicate).
	if err := migrate(ctx, db, v2); err != nil {
		t.Fatal(err)
	}
	var rows int
	db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&rows)
	if rows != 1 {
		t.Errorf("re-running migrations re-applied them: %d rows", rows)
	}

	// A failing migration is rolled back whole and the version stays.
	v3 := fstest.MapFS{
		"0001_one.sql":   v2["0001_one.sql"],
		"0002_two.sql":   v2["0002_two.sql"],
		"0003_three.sql": {Data: []byte("CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);")},
	}
	err := migrate(ctx, db, v3)
	if err == nil || !strings.Contains(err.Error(), "0003_three") {
		t.Fatalf("failing migration: err = %v, want it named", err)
	}
	if version() != 2 {
		t.Errorf("version %d after a failed migration, want 2", version())
	}
	var exists int
	db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'half'").Scan(&exists)
	if exists != 0 {
		t.Error("a failed migration left a table behind")
	}

	// A binary that knows only migration 1 refuses a version-2 database.
	err = migrate(ctx, db, v1)
	if err == nil || !strings.Contains(err.Error(), "newer than this custos supports") {
		t.Errorf("older binary on newer database: err = %v", err)
	}
}

func TestOpenRefusesNewerDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "custos.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.w.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
	s.Close()
	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "999 is newer") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want the version and path named", err)
	}
}

func TestMigrationNames(t *testing.T) {
	_, err := loadMigrations(fstest.MapFS{"init.sql": {}})
	if err == nil || !strings.Contains(err.Error(), "NNNN_") {
		t.Errorf("badly named migration: %v", err)
	}
	_, err = loadMigrations(fstest.MapFS{"0001_a.sql": {}, "1_b.sql": {}})
	if err == nil || !strings.Contains(err.Error(), "same version 1") {
		t.Errorf("duplicate version: %v", err)
	}
}

func TestAppendOrderAndIdempotence(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	batch := func() []Record {
		return []Record{
			tc(t, `{"time":"2026-03-03T00:55:00Z","id":"T-1","subject":"c1","status":"new"}`),
			ev(t, `{"id":"e1","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`),
			ev(t, `{"id":"e2","time":"2026-03-03T01:01:00Z","actor":{"id":"a"},"action":"view","subject":{"id":"c1"}}`),
			tc(t, `{"time":"2026-03-03T01:02:00Z","id":"T-1","subject":"c1","assignee":"a","status":"open"}`),
			ev(t, `{"id":"e1","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`), // same batch
		}
	}
	b := batch()
	n, err := s.Append(ctx, b)
	if err != nil || n != 4 {
		t.Fatalf("stored %d (%v), want 4", n, err)
	}
	if got := seqs(b); !slices.Equal(got, []int64{1, 2, 3, 4, 0}) {
		t.Errorf("seqs %v, want [1 2 3 4 0]", got)
	}
	// The retry of the whole batch stores nothing.
	b = batch()
	if n, err := s.Append(ctx, b); err != nil || n != 0 || !slices.Equal(seqs(b), []int64{0, 0, 0, 0, 0}) {
		t.Fatalf("retry stored %d, seqs %v, err %v", n, seqs(b), err)
	}
	// New records continue the sequence.
	b = []Record{ev(t, `{"id":"e3","time":"2026-03-03T00:00:00Z","actor":{"id":"a"},"action":"logout"}`)}
	if _, err := s.Append(ctx, b); err != nil || b[0].Seq != 5 {
		t.Fatalf("next seq %d (%v), want 5", b[0].Seq, err)
	}
	if seq, _ := s.LastSeq(ctx); seq != 5 {
		t.Errorf("LastSeq %d", seq)
	}

	var order []string
	err = s.Records(ctx, 0, func(r Record) error {
		if r.Event != nil {
			order = append(order, r.Event.ID)
		} else {
			order = append(order, r.Ticket.ID+":"+string(r.Ticket.Status))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"T-1:new", "e1", "e2", "T-1:open", "e3"}; !slices.Equal(order, want) {
		t.Errorf("records in order %v, want ingest order %v", order, want)
	}
	order = nil
	s.Records(ctx, 3, func(r Record) error { order = append(order, strconv.FormatInt(r.Seq, 10)); return nil })
	if !slices.Equal(order, []string{"4", "5"}) {
		t.Errorf("records after 3: %v", order)
	}
}

func TestAppendRollsBackWholeBatch(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	b := []Record{ev(t, `{"id":"e1","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`), {}}
	if _, err := s.Append(ctx, b); err == nil {
		t.Fatal("a record that is neither event nor ticket was accepted")
	}
	if b[0].Seq != 0 {
		t.Error("a failed batch left a seq on its records")
	}
	if seq, _ := s.LastSeq(ctx); seq != 0 {
		t.Errorf("a failed batch stored records: last seq %d", seq)
	}
}

func TestPeopleAndSubjectsLatest(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	p1, _ := event.DecodePerson([]byte(`{"id":"a","team":"payments","extra":1}`))
	p2, _ := event.DecodePerson([]byte(`{"id":"a","team":"recovery","contract_end":"2026-03-02"}`))
	if created, err := s.PutPerson(ctx, &p1); err != nil || !created {
		t.Fatalf("first put: created %v err %v", created, err)
	}
	if created, err := s.PutPerson(ctx, &p2); err != nil || created {
		t.Fatalf("second put: created %v err %v", created, err)
	}
	c1, _ := event.DecodeSubject([]byte(`{"id":"c1","tier":"vip"}`))
	c2, _ := event.DecodeSubject([]byte(`{"id":"c1","honeytoken":true}`))
	c3, _ := event.DecodeSubject([]byte(`{"id":"c0"}`))
	if err := s.PutSubjects(ctx, []*event.Subject{&c1, &c2, &c3}); err != nil {
		t.Fatal(err)
	}
	var people []*event.Person
	s.People(ctx, func(p *event.Person) error { people = append(people, p); return nil })
	if len(people) != 1 || people[0].Team != "recovery" || people[0].ContractEnd.IsZero() {
		t.Errorf("roster %+v, want only the latest entry for a", people)
	}
	var subjects []string
	s.Subjects(ctx, func(c *event.Subject) error {
		subjects = append(subjects, c.ID+":"+map[bool]string{true: "honey", false: c.Tier}[c.Honeytoken])
		return nil
	})
	if !slices.Equal(subjects, []string{"c0:", "c1:honey"}) {
		t.Errorf("subjects %v", subjects)
	}
}

func TestAccessQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	b := []Record{
		ev(t, `{"id":"1","time":"2026-03-01T10:00:00Z","actor":{"id":"ana"},"action":"view","subject":{"id":"c1"}}`),
		ev(t, `{"id":"2","time":"2026-03-01T11:00:00Z","actor":{"id":"ana"},"action":"reveal","subject":{"id":"c1"}}`),
		ev(t, `{"id":"3","time":"2026-03-02T10:00:00Z","actor":{"id":"ana"},"action":"view","subject":{"id":"c2"}}`),
		ev(t, `{"id":"4","time":"2026-03-05T10:00:00Z","actor":{"id":"ana"},"action":"view","subject":{"id":"c3"}}`),
		ev(t, `{"id":"5","time":"2026-03-01T12:00:00Z","actor":{"id":"ana"},"action":"search","query":"x"}`),
		ev(t, `{"id":"6","time":"2026-03-01T12:00:00Z","actor":{"id":"ben"},"action":"view","subject":{"id":"c1"}}`),
		ev(t, `{"id":"7","time":"2026-02-01T12:00:00Z","actor":{"id":"cy"},"action":"view","subject":{"id":"c1"}}`),
	}
	if _, err := s.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }

	seen, err := s.SubjectsSeen(ctx, "ana", day(1), day(3))
	if err != nil {
		t.Fatal(err)
	}
	want := []Access{
		{Actor: "ana", Subject: "c1", Events: 2, First: day(1).Add(10 * time.Hour), Last: day(1).Add(11 * time.Hour)},
		{Actor: "ana", Subject: "c2", Events: 1, First: day(2).Add(10 * time.Hour), Last: day(2).Add(10 * time.Hour)},
	}
	if !slices.Equal(seen, want) {
		t.Errorf("ana saw %+v\nwant %+v", seen, want)
	}
	who, err := s.SeenBy(ctx, "c1", day(1), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(who) != 2 || who[0].Actor != "ana" || who[0].Events != 2 || who[1].Actor != "ben" {
		t.Errorf("c1 seen by %+v, want ana (2) and ben (cy was before the range)", who)
	}

	for _, c := range []struct{ query, index string }{
		{subjectsSeenQuery, "events_actor_time"},
		{seenByQuery, "events_subject_time"},
	} {
		plan := queryPlan(t, s, c.query, "x", 0, 1)
		if !strings.Contains(plan, "SEARCH events USING COVERING INDEX "+c.index) || strings.Contains(plan, "SCAN events") {
			t.Errorf("plan for\n%s\nis\n%s\nwant a search of covering index %s", c.query, plan, c.index)
		}
	}
}

func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	return queryPlanOn(t, s.r, query, args...)
}

// queryPlanOn is queryPlan on one of the store's pools: the writer's
// statements may read its temporary tables.
func queryPlanOn(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}

func TestFindings(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	at := func(h int) time.Time { return time.Date(2026, 3, 3, h, 0, 0, 0, time.UTC) }
	alert := func(id, actor, rule string, h int, sev finding.Severity) *finding.Finding {
		return &finding.Finding{Kind: finding.KindAlert, ID: id, Time: at(h), Actor: finding.ActorRef{ID: actor}, Rule: rule, Severity: sev, Risk: 10, Summary: id}
	}
	caseV := func(h int, sev finding.Severity, alerts ...string) *finding.Finding {
		return &finding.Finding{Kind: finding.KindCase, ID: "case-1", Time: at(h), Actor: finding.ActorRef{ID: "ana"}, Severity: sev, Risk: 60, Status: "open", Alerts: alerts, Summary: "v" + strconv.Itoa(len(alerts))}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.WriteFindings(ctx, []*finding.Finding{
		alert("al-1", "ana", "no_ticket", 1, finding.Medium),
		alert("al-2", "ana", "no_ticket", 2, finding.Medium),
		caseV(2, finding.Medium, "al-1", "al-2"),
		alert("al-3", "ben", "honeytoken_access", 3, finding.Critical),
	}))
	// Re-deriving: the same alert with different content is ignored, the
	// case grows and keeps its opening time and place.
	changed := alert("al-1", "ana", "no_ticket", 9, finding.Low)
	must(s.WriteFindings(ctx, []*finding.Finding{changed, alert("al-4", "ana", "access_outside_contract", 5, finding.Critical), caseV(5, finding.Critical, "al-1", "al-2", "al-4")}))

	ids := func(p FindingPage) []string {
		var out []string
		for _, f := range p.Findings {
			var id string
			line := string(f.Line)
			i := strings.Index(line, `"id":"`)
			id = line[i+6:]
			id = id[:strings.IndexByte(id, '"')]
			out = append(out, id)
		}
		return out
	}
	all, err := s.Findings(ctx, FindingQuery{})
	must(err)
	if got := ids(all); !slices.Equal(got, []string{"al-1", "al-2", "case-1", "al-3", "al-4"}) {
		t.Errorf("all findings %v", got)
	}
	if all.Next != "" {
		t.Errorf("single page has next %q", all.Next)
	}
	if !strings.Contains(string(all.Findings[0].Line), `"time":"2026-03-03T01:00:00Z"`) || !strings.Contains(string(all.Findings[0].Line), `"severity":"medium"`) {
		t.Errorf("alert al-1 was overwritten: %s", all.Findings[0].Line)
	}
	c := all.Findings[2]
	if c.Kind != finding.KindCase || !c.Opened.Equal(at(2)) || !strings.Contains(string(c.Line), `"summary":"v3"`) || !strings.Contains(string(c.Line), `"time":"2026-03-03T05:00:00Z"`) {
		t.Errorf("case: opened %s, line %s; want opened 02:00 and the latest version", c.Opened, c.Line)
	}

	for name, q := range map[string]struct {
		q    FindingQuery
		want []string
	}{
		"actor":     {FindingQuery{Actor: "ana"}, []string{"al-1", "al-2", "case-1", "al-4"}},
		"kind":      {FindingQuery{Kind: finding.KindCase}, []string{"case-1"}},
		"rule":      {FindingQuery{Rule: "no_ticket"}, []string{"al-1", "al-2"}},
		"severity":  {FindingQuery{MinSeverity: finding.High}, []string{"case-1", "al-3", "al-4"}},
		"since":     {FindingQuery{Since: at(3)}, []string{"case-1", "al-3", "al-4"}},
		"until":     {FindingQuery{Until: at(3)}, []string{"al-1", "al-2"}},
		"range":     {FindingQuery{Since: at(2), Until: at(4), Kind: finding.KindAlert}, []string{"al-2", "al-3"}},
		"no match":  {FindingQuery{Actor: "nobody"}, nil},
		"actor+sev": {FindingQuery{Actor: "ben", MinSeverity: finding.Critical}, []string{"al-3"}},
	} {
		p, err := s.Findings(ctx, q.q)
		must(err)
		if got := ids(p); !slices.Equal(got, q.want) {
			t.Errorf("%s: %v, want %v", name, got, q.want)
		}
	}

	// Pages of two walk every finding once; the last page's Resume then
	// picks up what is stored later.
	var walked []string
	q := FindingQuery{Limit: 2}
	var pages int
	for {
		p, err := s.Findings(ctx, q)
		must(err)
		pages++
		walked = append(walked, ids(p)...)
		if p.Next == "" {
			q.Cursor = p.Resume
			break
		}
		q.Cursor = p.Next
	}
	if pages != 3 || !slices.Equal(walked, ids(all)) {
		t.Errorf("paged walk %v in %d pages", walked, pages)
	}
	must(s.WriteFindings(ctx, []*finding.Finding{caseV(6, finding.Critical, "al-1", "al-2", "al-4", "al-5"), alert("al-5", "ana", "no_ticket", 6, finding.Medium)}))
	p, err := s.Findings(ctx, q)
	must(err)
	if got := ids(p); !slices.Equal(got, []string{"al-5"}) {
		t.Errorf("after resume: %v, want only the new alert (the grown case keeps its place)", got)
	}
	if _, err := s.Findings(ctx, FindingQuery{Cursor: "x1"}); err == nil {
		t.Error("bad cursor accepted")
	}
}

// A database from before the outbox (schema 1) is upgraded in place.
func TestUpgradeFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "custos.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []Record{ev(t, `{"id":"e1","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`)}); err != nil {
		t.Fatal(err)
	}
	// Back to schema 1: drop what later migrations created.
	drops := []string{"DROP TABLE outbox", "DROP TABLE outbox_cursors", "DROP INDEX console_ticket_changes_subject", "DROP TABLE response_actions",
		"DROP TABLE canaries", "DROP TABLE reach_actor", "DROP TABLE reach_actor_day", "DROP TABLE reach_day", "DROP TABLE reach_total"}
	for _, tbl := range []string{"console_users", "console_sessions", "console_cases", "console_case_actions", "console_reveals", "console_audit", "console_secrets"} {
		drops = append(drops, "DROP TABLE "+tbl)
	}
	for _, q := range append(drops, "DELETE FROM schema_migrations WHERE version > 1") {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s = open(t, path)
	ms, _ := loadMigrations(migrations)
	if v, _ := s.SchemaVersion(ctx); v != ms[len(ms)-1].version {
		t.Fatalf("upgraded to version %d, want %d", v, ms[len(ms)-1].version)
	}
	if seq, _ := s.LastSeq(ctx); seq != 1 {
		t.Errorf("the upgrade lost the stored event (last seq %d)", seq)
	}
	if err := s.Outbox().SetCursor(ctx, "siem", 0); err != nil {
		t.Errorf("outbox after the upgrade: %v", err)
	}
	if _, _, err := s.Action(ctx, "disable", "case-1"); err != nil {
		t.Errorf("response actions after the upgrade: %v", err)
	}
}

// A group commit stores every part in order in one transaction, reports
// each part's outcome, and RecordsBetween reads a seq range back.
func TestWriteGroup(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "custos.db"))
	a := &Write{Recs: []Record{
		ev(t, `{"id":"e1","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`),
		ev(t, `{"id":"e2","time":"2026-03-03T01:01:00Z","actor":{"id":"a"},"action":"logout"}`),
	}}
	p, err := event.DecodePerson([]byte(`{"id":"a","vendor":"v","team":"t","role":"agent"}`))
	if err != nil {
		t.Fatal(err)
	}
	person := &Write{Person: &p}
	b := &Write{Recs: []Record{
		ev(t, `{"id":"e1","time":"2026-03-03T01:00:00Z","actor":{"id":"a"},"action":"login"}`), // a retry
		tc(t, `{"time":"2026-03-03T01:02:00Z","id":"T-1","subject":"c1","status":"new"}`),
	}}
	if err := s.WriteGroup(ctx, []*Write{a, person, b}); err != nil {
		t.Fatal(err)
	}
	if a.Stored != 2 || b.Stored != 1 || !person.Created {
		t.Errorf("stored %d and %d, person created %v; want 2, 1, true", a.Stored, b.Stored, person.Created)
	}
	if got := append(seqs(a.Recs), seqs(b.Recs)...); !slices.Equal(got, []int64{1, 2, 0, 3}) {
		t.Errorf("seqs %v, want [1 2 0 3]", got)
	}
	var got []int64
	if err := s.RecordsBetween(ctx, 1, 2, func(r Record) error { got = append(got, r.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{2}) {
		t.Errorf("records between 1 and 2: %v, want [2]", got)
	}
	// A failing part fails the whole group: nothing of it is stored.
	c := &Write{Recs: []Record{ev(t, `{"id":"e9","time":"2026-03-03T01:09:00Z","actor":{"id":"a"},"action":"login"}`)}}
	if err := s.WriteGroup(ctx, []*Write{c, {Recs: []Record{{}}}}); err == nil {
		t.Fatal("a group with a record that is neither event nor ticket was stored")
	}
	if c.Stored != 0 || c.Recs[0].Seq != 0 {
		t.Errorf("a failed group left stored %d, seq %d", c.Stored, c.Recs[0].Seq)
	}
	if seq, _ := s.LastSeq(ctx); seq != 3 {
		t.Errorf("last seq %d after a failed group, want 3", seq)
	}
}
