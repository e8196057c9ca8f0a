package console

import (
	"context"
	"encoding/csv"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// storeOf copies a MemSource into a fresh store, as a replay --db would.
func storeOf(t *testing.T, m *MemSource) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	var ps []*event.Person
	for _, p := range m.people {
		ps = append(ps, &p)
	}
	var cs []*event.Subject
	for _, c := range m.subjects {
		cs = append(cs, &c)
	}
	if err := st.PutPeople(ctx, ps); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSubjects(ctx, cs); err != nil {
		t.Fatal(err)
	}
	var recs []store.Record
	for i := range m.tickets {
		recs = append(recs, store.Record{Ticket: &m.tickets[i]})
	}
	for i := range m.events {
		recs = append(recs, store.Record{Event: &m.events[i]})
	}
	sort.SliceStable(recs, func(i, j int) bool { return recTime(recs[i]).Before(recTime(recs[j])) })
	if _, err := st.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var fs []*finding.Finding
	for i := range m.findings {
		fs = append(fs, &m.findings[i])
	}
	if err := st.WriteFindings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	return st
}

func recTime(r store.Record) time.Time {
	if r.Event != nil {
		return r.Event.Time
	}
	return r.Ticket.Time
}

var sessionNoise = regexp.MustCompile(`(name="_csrf" value=|"X-CSRF-Token": |hx-headers=)"[^"]*"|hx-headers='[^']*'`)

// The console shows the same pages over the store as over memory: the
// store's queries answer what MemSource answers.
func TestStoreSourceParity(t *testing.T) {
	mem := org(t)
	st := storeOf(t, mem)
	memH := newHarness(t)
	dbH := newHarness(t, func(o *Options) { o.Source = StoreSource{S: st} })
	id := memH.caseOf("n-pay-03")
	paths := []string{
		"/cases?status=all", "/cases?severity=critical", "/cases/" + id, "/cases/" + memH.caseOf("s-pay-02"),
		"/actors/" + memH.c.pseudo.Of("n-pay-03"), "/actors/" + memH.c.pseudo.Of("n-rec-04"), "/customers/c-9999", "/customers/c-0100",
		"/roster", "/rules", "/exposure?vendor=bpo-north&from=2026-03-10&until=2026-03-12",
		"/attribution?customers=c-0001,c-0002,c-0003,c-9999",
	}
	a, b := memH.login("lee"), dbH.login("lee")
	for _, p := range paths {
		ra, ba := a.get(p)
		rb, bb := b.get(p)
		if ra.StatusCode != 200 || rb.StatusCode != 200 {
			t.Errorf("%s: %d in memory, %d over the store", p, ra.StatusCode, rb.StatusCode)
			continue
		}
		ba, bb = sessionNoise.ReplaceAllString(ba, ""), sessionNoise.ReplaceAllString(bb, "")
		if ba != bb {
			t.Errorf("%s differs over the store:\n%s", p, firstDiff(ba, bb))
		}
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < min(len(la), len(lb)); i++ {
		if la[i] != lb[i] {
			return "memory: " + trunc(la[i]) + "\nstore:  " + trunc(lb[i])
		}
	}
	return "lengths differ"
}

func trunc(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// Both State implementations behave alike.
func TestStates(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) State{
		"memory": func(*testing.T) State { return NewMemState() },
		"store":  func(t *testing.T) State { return StoreState{S: openStore(t)} },
	} {
		t.Run(name, func(t *testing.T) { testState(t, mk(t)) })
	}
}

func testState(t *testing.T, s State) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	if _, err := s.User(ctx, "nobody"); err != ErrNotFound {
		t.Errorf("missing user: %v, want ErrNotFound", err)
	}
	u := User{Name: "vic", Role: VendorSupervisor, Vendor: "bpo-south", PasswordHash: "$argon2id$x", Via: "local", Created: t0}
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.Disabled = true
	s.PutUser(ctx, u)
	s.PutUser(ctx, User{Name: "ana", Role: Analyst})
	got, err := s.User(ctx, "vic")
	if err != nil || got != u {
		t.Errorf("user: %+v %v, want %+v", got, err, u)
	}
	us, _ := s.Users(ctx)
	if len(us) != 2 || us[0].Name != "ana" {
		t.Errorf("users %+v", us)
	}

	ses := Session{ID: "h1", User: "vic", CSRF: "c", Created: t0, LastSeen: t0, Remote: "127.0.0.1"}
	s.CreateSession(ctx, ses)
	s.CreateSession(ctx, Session{ID: "h2", User: "vic", Created: t0, LastSeen: t0})
	s.CreateSession(ctx, Session{ID: "h3", User: "ana", Created: t0, LastSeen: t0})
	s.TouchSession(ctx, "h1", t0.Add(time.Minute))
	x, err := s.Session(ctx, "h1")
	if err != nil || !x.LastSeen.Equal(t0.Add(time.Minute)) || x.CSRF != "c" {
		t.Errorf("session %+v %v", x, err)
	}
	s.DeleteSession(ctx, "h1")
	if _, err := s.Session(ctx, "h1"); err != ErrNotFound {
		t.Errorf("deleted session: %v", err)
	}
	s.DeleteSessions(ctx, "vic")
	if _, err := s.Session(ctx, "h2"); err != ErrNotFound {
		t.Error("DeleteSessions left a session")
	}
	if _, err := s.Session(ctx, "h3"); err != nil {
		t.Error("DeleteSessions removed another user's session")
	}

	s.AddCaseAction(ctx, CaseAction{CaseID: "case-1", Time: t0, User: "ana", Kind: ActAssign, Value: "ana"}, CaseState{CaseID: "case-1", Assignee: "ana", Status: StatusOpen})
	s.AddCaseAction(ctx, CaseAction{CaseID: "case-2", Time: t0, User: "ana", Kind: ActComment, Note: "x"}, CaseState{CaseID: "case-2", Status: StatusOpen})
	s.AddCaseAction(ctx, CaseAction{CaseID: "case-1", Time: t0.Add(time.Minute), User: "ana", Kind: ActVerdict, Value: VerdictFalse},
		CaseState{CaseID: "case-1", Assignee: "ana", Status: StatusOpen, Verdict: VerdictFalse, Rules: []string{"no_ticket"}})
	states, _ := s.CaseStates(ctx)
	if len(states) != 2 || states["case-1"].Verdict != VerdictFalse || len(states["case-1"].Rules) != 1 {
		t.Errorf("case states %+v", states)
	}
	acts, _ := s.CaseActions(ctx, "case-1")
	if len(acts) != 2 || acts[0].Kind != ActAssign || acts[1].Value != VerdictFalse || acts[0].Seq >= acts[1].Seq {
		t.Errorf("case actions %+v", acts)
	}

	s.AddReveal(ctx, Reveal{User: "ana", Actor: "a1", Reason: "r", Time: t0, Until: t0.Add(time.Hour)})
	s.AddReveal(ctx, Reveal{User: "lee", Actor: "a2", Until: t0.Add(time.Hour)})
	if rv, _ := s.Reveals(ctx, "ana", t0.Add(30*time.Minute)); len(rv) != 1 || rv[0].Actor != "a1" {
		t.Errorf("reveals %+v", rv)
	}
	if rv, _ := s.Reveals(ctx, "ana", t0.Add(time.Hour)); len(rv) != 0 {
		t.Errorf("an expired reveal is still valid: %+v", rv)
	}

	for i, a := range []string{AuditLogin, AuditViewCase, AuditLogin, AuditExport} {
		s.AddAudit(ctx, AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), User: []string{"ana", "lee"}[i%2], Action: a, Count: i})
	}
	all, _ := s.Audit(ctx, AuditQuery{})
	if len(all) != 4 || all[0].Action != AuditExport || all[0].Count != 3 || all[0].Seq <= all[1].Seq {
		t.Errorf("audit newest first: %+v", all)
	}
	if r, _ := s.Audit(ctx, AuditQuery{User: "ana", Action: AuditLogin}); len(r) != 2 {
		t.Errorf("audit by user and action: %d records", len(r))
	}
	if r, _ := s.Audit(ctx, AuditQuery{Before: all[1].Seq, Limit: 1}); len(r) != 1 || r[0].Seq != all[2].Seq {
		t.Errorf("audit paging: %+v", r)
	}

	n := 0
	gen := func() ([]byte, error) { n++; return []byte("k3y"), nil }
	a1, _ := s.Secret(ctx, "k", gen)
	a2, _ := s.Secret(ctx, "k", gen)
	if string(a1) != "k3y" || string(a2) != "k3y" || n != 1 {
		t.Errorf("secret %q %q generated %d times", a1, a2, n)
	}
}

// Over the store, the console's exposure is the breach package's: the CSV
// lists exactly the customers breach.Exposures finds, with the same
// unjustified counts, and agents pseudonymised.
func TestStoreExposureIsBreach(t *testing.T) {
	st := storeOf(t, org(t))
	h := newHarness(t, func(o *Options) { o.Source = StoreSource{S: st}; o.Breach = nil })
	if _, ok := h.c.breach.(BreachOver); !ok {
		t.Fatalf("the store-backed console answers breach questions with %T, not the breach package", h.c.breach)
	}
	w, _ := breach.ParseWindow("2026-03-10", "2026-03-12")
	x, err := breach.Exposures(context.Background(), st, breach.ExposureQuery{Scope: breach.Scope{Vendor: "bpo-north"}, Window: w}, h.c.windows)
	if err != nil {
		t.Fatal(err)
	}
	_, body := h.login("pia").get("/exposure.csv?vendor=bpo-north&from=2026-03-10&until=2026-03-12")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != len(x.Customers) || len(x.Customers) == 0 {
		t.Fatalf("console CSV has %d customers, breach %d", len(rows)-1, len(x.Customers))
	}
	for i, c := range x.Customers {
		r := rows[i+1]
		if r[0] != c.Customer || r[6] != strconv.Itoa(c.Unjustified) {
			t.Errorf("row %d: %v, breach says %s with %d unjustified", i, r[:7], c.Customer, c.Unjustified)
		}
		for _, a := range c.Actors {
			if strings.Contains(r[1], a) {
				t.Errorf("row %d names agent %s unpseudonymised: %q", i, a, r[1])
			}
		}
	}
}

func TestScopeAttribution(t *testing.T) {
	a := &breach.Attribution{
		Suspects: []*breach.Suspect{{Actor: "n-1"}, {Actor: "s-1"}},
		Pairs:    []*breach.Pair{{Actors: [2]string{"n-1", "s-1"}}},
		Canaries: []breach.CanaryHit{{AccessedBy: []string{"n-1", "s-1"}}},
	}
	got := scopeAttribution(&reqInfo{allowed: map[string]bool{"n-1": true}}, a)
	if len(got.Suspects) != 1 || got.Suspects[0].Actor != "n-1" || len(got.Pairs) != 0 || len(got.Canaries[0].AccessedBy) != 1 {
		t.Errorf("a vendor-scoped answer shows another vendor's agents: %+v", got)
	}
	if len(a.Suspects) != 2 {
		t.Error("scoping changed the shared answer")
	}
}
