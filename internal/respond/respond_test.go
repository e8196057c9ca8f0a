package respond_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/store"
)

func scimYAML(t *testing.T, p *idp, extra string) string {
	tok := writeFile(t, "scim.token", p.token+"\n")
	return fmt.Sprintf(`
respond:
  scim:
    http: {url: %q}
    token_file: %q
%s`, p.url(), tok, extra)
}

const disableOnHigh = `
  actions:
    - name: disable
      type: scim_disable
      when: {case_severity: high}
`

// The PATCH is exactly the SCIM PatchOp that sets active to false, with
// the bearer token; a 503 and a 500 are retried (journaled as pending with
// their status) and the 204 that follows completes the action.
func TestSCIMDisableRetriesThenSucceeds(t *testing.T) {
	ctx := context.Background()
	p := newIdP(t, map[string]string{"a-ben": "a-ben"})
	p.script = func(n int, r scimRequest) (int, string) {
		switch n {
		case 1:
			return http.StatusServiceUnavailable, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"try later","status":"503"}`
		case 2:
			return http.StatusInternalServerError, "<html>oops</html>"
		}
		return 0, ""
	}
	st := openStore(t)
	m := respond.NewMetrics()
	s := build(t, parse(t, scimYAML(t, p, disableOnHigh)), respond.Deps{Journal: st, Metrics: m})[0]
	if s.Name != "respond:disable" || s.BatchSize != 1 || !s.StartAtEnd {
		t.Errorf("sink %q batch %d start-at-end %v; want respond:disable, 1, true", s.Name, s.BatchSize, s.StartAtEnd)
	}
	c := caseFinding("case-1", "a-ben", finding.Critical)

	for attempt, code := range []int{503, 500} {
		err := send(ctx, s, c)
		if err == nil || sink.IsPermanent(err) {
			t.Fatalf("attempt %d: err %v; want a retryable error", attempt+1, err)
		}
		a := action(t, st, "disable", "case-1")
		if a.Status != respond.StatusPending || a.Attempts != attempt+1 || a.Code != code {
			t.Errorf("after attempt %d: %+v; want pending, %d attempts, code %d", attempt+1, a, attempt+1, code)
		}
	}
	if err := send(ctx, s, c); err != nil {
		t.Fatal(err)
	}
	a := action(t, st, "disable", "case-1")
	want := respond.Action{Name: "disable", Type: "scim_disable", Finding: "case-1", Actor: "a-ben", Target: "a-ben",
		Status: respond.StatusSucceeded, Code: 204, Result: "SCIM user a-ben deactivated (active=false, HTTP 204)",
		Attempts: 3, Started: t0, Updated: t0}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("journal:\n got %+v\nwant %+v", a, want)
	}

	reqs := p.got()
	if len(reqs) != 3 {
		t.Fatalf("%d requests; want 3", len(reqs))
	}
	var body, wantBody any
	json.Unmarshal(reqs[2].Body, &body)
	json.Unmarshal([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`), &wantBody)
	for _, r := range reqs {
		if r.Method != http.MethodPatch || r.Path != "/scim/v2/Users/a-ben" || r.Auth != "Bearer scim-token-1" || r.ContentType != "application/scim+json" {
			t.Errorf("request %+v; want PATCH /scim/v2/Users/a-ben with the bearer token and application/scim+json", r)
		}
	}
	if !reflect.DeepEqual(body, wantBody) {
		t.Errorf("PATCH body %s", reqs[2].Body)
	}
	if got := counter(t, m, "disable", "scim_disable", "retry"); got != 2 {
		t.Errorf("retry counter %v; want 2", got)
	}
	if got := counter(t, m, "disable", "scim_disable", "succeeded"); got != 1 {
		t.Errorf("succeeded counter %v; want 1", got)
	}

	// Done for this case: a grown revision does nothing; a case below the
	// trigger, or an alert, is not acted on.
	c2 := *c
	c2.Risk, c2.Alerts = 180, []string{"al-1", "al-2"}
	for _, f := range []*finding.Finding{&c2, caseFinding("case-2", "a-cy", finding.Medium), alertFinding("al-9", "a-cy", "honeytoken_access")} {
		if err := send(ctx, s, f); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.got()); n != 3 {
		t.Errorf("%d requests after a repeat and two non-matching findings; want still 3", n)
	}
	if _, ok, _ := st.Action(ctx, "disable", "case-2"); ok {
		t.Error("a medium case was journaled by a case_severity: high action")
	}
}

// With user_id: lookup the user is found by a filter (value quoted as a
// JSON string), and the PATCH goes to the id found. No match or several
// are refusals: failed at once, never retried.
func TestSCIMLookup(t *testing.T) {
	ctx := context.Background()
	p := newIdP(t, map[string]string{"a-ben@bpo.example": "2819c223-7f76", `a"q@bpo.example`: "q-1",
		"twin@bpo.example": "t-1"})
	st := openStore(t)
	m := respond.NewMetrics()
	cfg := parse(t, scimYAML(t, p, `    user_id: lookup
    lookup_value: "{actor}@bpo.example"
`+disableOnHigh))
	s := build(t, cfg, respond.Deps{Journal: st, Metrics: m})[0]

	if err := send(ctx, s, caseFinding("case-1", "a-ben", finding.High)); err != nil {
		t.Fatal(err)
	}
	reqs := p.got()
	if len(reqs) != 2 || reqs[0].Method != http.MethodGet || reqs[0].Query != `userName eq "a-ben@bpo.example"` ||
		reqs[1].Method != http.MethodPatch || reqs[1].Path != "/scim/v2/Users/2819c223-7f76" {
		t.Fatalf("requests %+v; want the lookup, then the PATCH of the id found", reqs)
	}
	if a := action(t, st, "disable", "case-1"); a.Target != "2819c223-7f76" || a.Status != respond.StatusSucceeded {
		t.Errorf("journal %+v", a)
	}

	if err := send(ctx, s, caseFinding("case-q", `a"q`, finding.High)); err != nil {
		t.Fatal(err)
	}
	if q := p.got()[2].Query; q != `userName eq "a\"q@bpo.example"` {
		t.Errorf("filter %s; want the quote escaped", q)
	}

	err := send(ctx, s, caseFinding("case-2", "a-zed", finding.Critical))
	if !sink.IsPermanent(err) {
		t.Fatalf("unknown user: err %v; want a permanent error", err)
	}
	a := action(t, st, "disable", "case-2")
	if a.Status != respond.StatusFailed || a.Attempts != 1 || a.Code != 200 || a.Target != "" ||
		!strings.Contains(a.Result, `no user with userName eq "a-zed@bpo.example"`) {
		t.Errorf("journal %+v", a)
	}
	if got := counter(t, m, "disable", "scim_disable", "failed"); got != 1 {
		t.Errorf("failed counter %v", got)
	}
}

// A 200 (with the updated user) succeeds like a 204. A 404 in a SCIM error
// document means the user does not exist: failed, not retried. A 404 without one is a wrong URL, which is retried like an
// outage; so is a 401 (a token an operator will fix). A 501 says the
// provider cannot PATCH: failed.
func TestSCIMStatusClassification(t *testing.T) {
	ctx := context.Background()
	p := newIdP(t, map[string]string{"a-ben": "a-ben"})
	st := openStore(t)
	s := build(t, parse(t, scimYAML(t, p, disableOnHigh)), respond.Deps{Journal: st})[0]

	err := send(ctx, s, caseFinding("case-ghost", "a-ghost", finding.High))
	a := action(t, st, "disable", "case-ghost")
	if !sink.IsPermanent(err) || a.Status != respond.StatusFailed || a.Code != 404 || !strings.Contains(a.Result, "Resource a-ghost not found") {
		t.Errorf("SCIM 404: err %v, journal %+v; want failed with the provider's detail", err, a)
	}

	for i, tc := range []struct {
		status    int
		body      string
		permanent bool
	}{
		{200, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"a-ben","userName":"a-ben","active":false}`, false},
		{404, "<html>no such route</html>", false},
		{401, "", false},
		{429, "", false},
		{501, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"PATCH not supported","status":"501"}`, true},
		{400, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"invalidValue","detail":"bad","status":"400"}`, true},
	} {
		p.script = func(int, scimRequest) (int, string) { return tc.status, tc.body }
		id := fmt.Sprintf("case-%d", i)
		err := send(ctx, s, caseFinding(id, "a-ben", finding.High))
		a := action(t, st, "disable", id)
		wantStatus := respond.StatusPending
		switch {
		case tc.status == 200:
			if err != nil || a.Status != respond.StatusSucceeded || a.Code != 200 {
				t.Errorf("HTTP 200 with the user: err %v, journal %+v; want succeeded", err, a)
			}
			continue
		case tc.permanent:
			wantStatus = respond.StatusFailed
		}
		if err == nil || sink.IsPermanent(err) != tc.permanent || a.Status != wantStatus || a.Code != tc.status {
			t.Errorf("HTTP %d %q: err %v (permanent %v), journal %+v; want permanent=%v, status %s",
				tc.status, tc.body, err, sink.IsPermanent(err), a, tc.permanent, wantStatus)
		}
	}
}

// max_attempts turns a failure that keeps recurring into a final one.
func TestMaxAttempts(t *testing.T) {
	ctx := context.Background()
	p := newIdP(t, map[string]string{"a-ben": "a-ben"})
	p.script = func(int, scimRequest) (int, string) { return http.StatusBadGateway, "" }
	st := openStore(t)
	s := build(t, parse(t, scimYAML(t, p, disableOnHigh+"      max_attempts: 2\n")), respond.Deps{Journal: st})[0]
	c := caseFinding("case-1", "a-ben", finding.High)
	if err := send(ctx, s, c); err == nil || sink.IsPermanent(err) {
		t.Fatalf("first attempt: %v; want a retryable error", err)
	}
	if err := send(ctx, s, c); !sink.IsPermanent(err) {
		t.Fatalf("second attempt: %v; want a permanent error", err)
	}
	if a := action(t, st, "disable", "case-1"); a.Status != respond.StatusFailed || a.Attempts != 2 || !strings.Contains(a.Result, "gave up after 2 attempts") {
		t.Errorf("journal %+v", a)
	}
}

// dry_run makes the read-only lookup but never the PATCH.
func TestDryRun(t *testing.T) {
	ctx := context.Background()
	p := newIdP(t, map[string]string{"a-ben": "u-7"})
	st := openStore(t)
	s := build(t, parse(t, scimYAML(t, p, `    user_id: lookup
`+disableOnHigh+"      dry_run: true\n")), respond.Deps{Journal: st})[0]
	if err := send(ctx, s, caseFinding("case-1", "a-ben", finding.High)); err != nil {
		t.Fatal(err)
	}
	a := action(t, st, "disable", "case-1")
	if a.Status != respond.StatusDryRun || a.Target != "u-7" || !strings.Contains(a.Result, "would PATCH") || p.patches() != 0 {
		t.Errorf("journal %+v with %d PATCHes; want dry_run naming u-7 and no PATCH", a, p.patches())
	}
}

// soar receives webhook actions and verifies them as docs/integrations.md
// tells a receiver to.
type soar struct {
	secret []byte
	mu     sync.Mutex
	n      int
	bodies []respond.WebhookRequest
	heads  []http.Header
	status func(n int) int
}

func (s *soar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	ts := r.Header.Get(sink.HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || !hmac.Equal([]byte(r.Header.Get(sink.HeaderSignature)), []byte(sink.Signature(s.secret, ts, body))) ||
		t0.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if st := s.status(s.n); st != 0 {
		w.WriteHeader(st)
		return
	}
	var req respond.WebhookRequest
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.bodies, s.heads = append(s.bodies, req), append(s.heads, r.Header.Clone())
	w.WriteHeader(http.StatusAccepted)
}

// The SOAR webhook carries the case and the actor's roster entry, signed
// with the sink webhook's HMAC scheme; a 502 is retried, a 422 refused.
func TestWebhookAction(t *testing.T) {
	ctx := context.Background()
	rv := &soar{secret: []byte("s3cret"), status: func(n int) int {
		switch n {
		case 1:
			return http.StatusBadGateway
		case 3:
			return http.StatusUnprocessableEntity
		}
		return 0
	}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	st := openStore(t)
	roster := &memRoster{}
	roster.PutPerson(ctx, person(t, `{"id":"a-ana","vendor":"bpo-north","manager":"a-lead"}`))
	cfg := parse(t, fmt.Sprintf(`
respond:
  actions:
    - name: soar
      type: webhook
      when: {case_severity: critical, rules: ["honeytoken_*"]}
      http: {url: %q, headers: {X-Tenant: acme}}
      secret_file: %q
`, srv.URL+"/hooks/custos", writeFile(t, "soar.secret", "s3cret")))
	s := build(t, cfg, respond.Deps{Journal: st, Roster: roster})[0]

	c := caseFinding("case-1", "a-ana", finding.Critical)
	if err := send(ctx, s, c); err == nil || sink.IsPermanent(err) {
		t.Fatalf("502: %v; want a retryable error", err)
	}
	if err := send(ctx, s, c); err != nil {
		t.Fatal(err)
	}
	a := action(t, st, "soar", "case-1")
	if a.Status != respond.StatusSucceeded || a.Attempts != 2 || a.Code != 202 || a.Target != srv.URL+"/…" {
		t.Errorf("journal %+v", a)
	}
	if len(rv.bodies) != 1 {
		t.Fatalf("%d verified deliveries; want 1", len(rv.bodies))
	}
	got := rv.bodies[0]
	var f finding.Finding
	json.Unmarshal(got.Finding, &f)
	if got.Action != "soar" || got.Delivery != "soar:case-1" || f.ID != "case-1" || f.Severity != finding.Critical ||
		!strings.Contains(string(got.Person), `"manager":"a-lead"`) {
		t.Errorf("body %+v", got)
	}
	if h := rv.heads[0]; h.Get(sink.HeaderDelivery) != "soar:case-1" || h.Get("X-Tenant") != "acme" {
		t.Errorf("headers %v", h)
	}

	err := send(ctx, s, alertFinding("al-7", "a-ana", "honeytoken_access"))
	if a := action(t, st, "soar", "al-7"); !sink.IsPermanent(err) || a.Status != respond.StatusFailed || a.Code != 422 {
		t.Errorf("422: err %v, journal %+v; want failed", err, a)
	}
}

// The suspend action rewrites the roster entry with status suspended and
// keeps the rest; an entry already suspended is skipped; an actor not on
// the roster is added, suspended.
func TestSuspendAction(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	roster := &memRoster{}
	roster.PutPerson(ctx, person(t, `{"id":"a-ana","vendor":"bpo-north","team":"payments","contract_end":"2027-01-31","x_badge":"B-12"}`))
	roster.puts = 0
	cfg := parse(t, `
respond:
  actions:
    - name: suspend
      type: suspend
      when: {rules: [honeytoken_access]}
`)
	s := build(t, cfg, respond.Deps{Journal: st, Roster: roster})[0]

	if err := send(ctx, s, alertFinding("al-1", "a-ana", "honeytoken_access")); err != nil {
		t.Fatal(err)
	}
	p, _, _ := roster.Person(ctx, "a-ana")
	if p.Status != "suspended" || p.Vendor != "bpo-north" || p.ContractEnd.IsZero() {
		t.Errorf("roster entry %+v; want suspended with its other fields", p)
	}
	for _, kv := range []string{`"x_badge":"B-12"`, `"suspended_by":"custos:suspend"`, `"suspended_for":"al-1"`, `"suspended_at":"2026-03-03T09:00:00Z"`} {
		if !strings.Contains(string(p.Raw), kv) {
			t.Errorf("roster entry %s lacks %s", p.Raw, kv)
		}
	}
	if a := action(t, st, "suspend", "al-1"); a.Status != respond.StatusSucceeded || a.Target != "a-ana" || a.Result != "roster entry a-ana suspended (was active)" {
		t.Errorf("journal %+v", a)
	}

	if err := send(ctx, s, alertFinding("al-2", "a-ana", "honeytoken_access")); err != nil {
		t.Fatal(err)
	}
	if a := action(t, st, "suspend", "al-2"); a.Status != respond.StatusSkipped || roster.puts != 1 {
		t.Errorf("second alert: journal %+v, %d roster writes; want skipped and still 1 write", a, roster.puts)
	}

	if err := send(ctx, s, alertFinding("al-3", "a-new", "honeytoken_access")); err != nil {
		t.Fatal(err)
	}
	if p, ok, _ := roster.Person(ctx, "a-new"); !ok || p.Status != "suspended" {
		t.Errorf("actor not on the roster: %+v, %v; want added as suspended", p, ok)
	}
}

// instantClock lets the dispatcher's backoffs pass at once, and remembers
// them.
type instantClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (*instantClock) Now() time.Time { return t0 }
func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- t0
	return ch
}

func (c *instantClock) longest() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for _, w := range c.waits {
		m = max(m, w)
	}
	return m
}

// runDispatcher runs actions over st's outbox until the cursors of all
// reach the outbox's end, then stops it.
func runDispatcher(t *testing.T, st *store.Store, ss []sink.Sink) *instantClock {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clock := &instantClock{}
	d, err := sink.NewDispatcher(ctx, st.Outbox(), ss, sink.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	d.Notify()
	deadline := time.Now().Add(20 * time.Second)
	for {
		lags, err := d.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		behind := int64(0)
		for _, l := range lags {
			behind += l.Behind
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("actions never caught up: %+v", lags)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return clock
}

// An action is done once per finding even when the outbox hands the
// finding over again: after a crash between the action and saving the
// cursor (the cursor is set back here), after reopening the database, and
// for a later revision of the same case.
func TestActionNotRepeatedAfterRestart(t *testing.T) {
	ctx := context.Background()
	p := newIdP(t, map[string]string{"a-ben": "a-ben"})
	p.script = func(n int, _ scimRequest) (int, string) {
		if n == 1 {
			return http.StatusServiceUnavailable, ""
		}
		return 0, ""
	}
	path := t.TempDir() + "/custos.db"
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, scimYAML(t, p, disableOnHigh))
	d1, err := sink.NewDispatcher(ctx, st.Outbox(), build(t, cfg, respond.Deps{Journal: st}), sink.Options{})
	if err != nil || d1 == nil {
		t.Fatal(err) // creates the cursor at the (empty) outbox's end
	}
	c := caseFinding("case-1", "a-ben", finding.Critical)
	if err := st.WriteFindings(ctx, []*finding.Finding{c}); err != nil {
		t.Fatal(err)
	}
	clock := runDispatcher(t, st, build(t, cfg, respond.Deps{Journal: st}))
	if a := action(t, st, "disable", "case-1"); a.Status != respond.StatusSucceeded || a.Attempts != 2 || p.patches() != 2 {
		t.Fatalf("journal %+v after %d PATCHes; want succeeded on the second attempt", a, p.patches())
	}
	if w := clock.longest(); w < 2*time.Second {
		t.Errorf("the retry waited %s; want at least the provider's Retry-After: 2", w)
	}

	// Crash before the cursor was saved, restart, and the case grows.
	if err := st.Outbox().SetCursor(ctx, "respond:disable", 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = store.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	grown := *c
	grown.Risk, grown.Alerts = 200, []string{"al-1", "al-2"}
	if err := st.WriteFindings(ctx, []*finding.Finding{&grown}); err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, st, build(t, cfg, respond.Deps{Journal: st}))
	if n := p.patches(); n != 2 {
		t.Errorf("%d PATCHes after the restart; want still 2", n)
	}
	if a := action(t, st, "disable", "case-1"); a.Attempts != 2 {
		t.Errorf("journal %+v; want untouched", a)
	}
}

func TestTrigger(t *testing.T) {
	tr := respond.Trigger{CaseSeverity: finding.High, Rules: []string{"honeytoken_access", "anomaly:*"}}
	for _, tc := range []struct {
		f    *finding.Finding
		want bool
	}{
		{caseFinding("c", "a", finding.Medium), false},
		{caseFinding("c", "a", finding.High), true},
		{caseFinding("c", "a", finding.Critical), true},
		{alertFinding("a", "a", "honeytoken_access"), true},
		{alertFinding("a", "a", "anomaly:views"), true},
		{alertFinding("a", "a", "no_ticket"), false},
	} {
		if got := tr.Match(tc.f); got != tc.want {
			t.Errorf("%s %s %s: %v; want %v", tc.f.Kind, tc.f.Severity, tc.f.Rule, got, tc.want)
		}
	}
	rulesOnly := respond.Trigger{Rules: []string{"no_ticket"}}
	if rulesOnly.Match(caseFinding("c", "a", finding.Critical)) {
		t.Error("a rules-only trigger matched a case")
	}
}
