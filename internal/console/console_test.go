package console

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret-enough")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id in PHC format", h)
	}
	if !CheckPassword(h, "s3cret-enough") || CheckPassword(h, "s3cret-enougH") || CheckPassword("", "") || CheckPassword("$argon2id$v=19$m=0,t=0,p=0$$", "x") {
		t.Error("CheckPassword accepts a wrong password or a broken hash")
	}
	h2, _ := HashPassword("s3cret-enough")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
}

func TestLoginAndCookies(t *testing.T) {
	h := newHarness(t)
	b := h.anon()

	// Not logged in: pages redirect to the login, POSTs are refused.
	res, _ := b.get("/cases?severity=high")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fcases%3Fseverity%3Dhigh" {
		t.Fatalf("anonymous GET /cases: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := b.post("/cases/x/comment", url.Values{"note": {"hi"}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous POST: %d, want 401", res.StatusCode)
	}

	_, body := b.get("/login")
	tok := field(body, "_csrf")
	res, body = b.post("/login", url.Values{"name": {"ana"}, "password": {"wrong password"}, "_csrf": {tok}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong name or password") {
		t.Errorf("wrong password: %d", res.StatusCode)
	}
	// The login form's token is bound to a cookie: a forged form fails.
	tok = field(body, "_csrf")
	res, _ = b.post("/login", url.Values{"name": {"ana"}, "password": {testPassword}, "_csrf": {"forged"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("login with a forged token: %d, want 403", res.StatusCode)
	}
	_, body = b.get("/login")
	tok = field(body, "_csrf")
	res, _ = b.post("/login", url.Values{"name": {"ana"}, "password": {testPassword}, "_csrf": {tok}, "next": {"//evil.example/x"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases" {
		t.Fatalf("login: %d to %q (an off-site next must not be followed)", res.StatusCode, res.Header.Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == cookiePlain {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure {
		t.Errorf("session cookie on loopback HTTP: %+v (want HttpOnly, SameSite=Lax, Path=/, not Secure)", sess)
	}
	if n := len(h.auditOf(AuditLogin)); n != 1 {
		t.Errorf("%d login audit records, want 1", n)
	}
	if n := len(h.auditOf(AuditLoginFailed)); n != 1 {
		t.Errorf("%d failed-login audit records, want 1", n)
	}

	// Behind TLS the cookie is Secure with the __Host- prefix.
	req := httptest_request(t, h, "/login")
	req.Header.Set("X-Forwarded-Proto", "https")
	cl := h.anon()
	res, body = cl.do(req)
	var lc *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == loginCookie {
			lc = c
		}
	}
	if lc == nil || !lc.Secure || lc.SameSite != http.SameSiteStrictMode {
		t.Errorf("login cookie over HTTPS: %+v (want Secure, SameSite=Strict)", lc)
	}
	form := url.Values{"name": {"ana"}, "password": {testPassword}, "_csrf": {field(body, "_csrf")}}
	req, _ = http.NewRequest("POST", h.srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.AddCookie(lc)
	res, _ = cl.do(req)
	var secure *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == cookieSecure {
			secure = c
		}
	}
	if secure == nil || !secure.Secure || !secure.HttpOnly {
		t.Errorf("session cookie over HTTPS: %+v, want __Host-custos, Secure, HttpOnly", secure)
	}
}

func httptest_request(t *testing.T, h *harness, path string) *http.Request {
	req, err := http.NewRequest("GET", h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestLoginLockout(t *testing.T) {
	h := newHarness(t)
	b := h.anon()
	try := func(pw string) int {
		_, body := b.get("/login")
		res, _ := b.post("/login", url.Values{"name": {"lee"}, "password": {pw}, "_csrf": {field(body, "_csrf")}})
		return res.StatusCode
	}
	for i := 0; i < loginFailLimit; i++ {
		if code := try("guess"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code := try(testPassword); code != http.StatusTooManyRequests {
		t.Errorf("right password while locked out: %d, want 429", code)
	}
	h.clock.Add(loginLockout + time.Second)
	if code := try(testPassword); code != http.StatusSeeOther {
		t.Errorf("right password after the lockout: %d, want 303", code)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	b := h.login("ana")
	h.clock.Add(20 * time.Minute)
	if res, _ := b.get("/cases"); res.StatusCode != 200 {
		t.Fatalf("after 20 idle minutes: %d", res.StatusCode)
	}
	h.clock.Add(31 * time.Minute)
	if res, _ := b.get("/cases"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after 31 idle minutes: %d, want a redirect to the login", res.StatusCode)
	}
	// A session used all the time still ends after session_max.
	b = h.login("ana")
	for i := 0; i < 12*3+1; i++ {
		h.clock.Add(20 * time.Minute)
		if res, _ := b.get("/rules"); res.StatusCode != 200 {
			if time.Duration(i+1)*20*time.Minute <= 12*time.Hour {
				t.Fatalf("active session ended after %s", time.Duration(i+1)*20*time.Minute)
			}
			return
		}
	}
	t.Error("an active session outlived session_max (12h)")
}

func TestLogoutEndsSession(t *testing.T) {
	h := newHarness(t)
	b := h.login("ana")
	if res, _ := b.form("/logout"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := b.get("/cases"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect", res.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	b := h.login("ana")
	id := h.caseOf("n-pay-03")
	path := "/cases/" + id + "/comment"
	if res, _ := b.post(path, url.Values{"note": {"no token"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a CSRF token: %d, want 403", res.StatusCode)
	}
	if res, _ := b.post(path, url.Values{"note": {"wrong token"}, "_csrf": {"x" + b.csrf}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", res.StatusCode)
	}
	// Another user's token does not work either.
	other := h.login("lee")
	if res, _ := b.post(path, url.Values{"note": {"other token"}, "_csrf": {other.csrf}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST with another session's token: %d, want 403", res.StatusCode)
	}
	// A cross-site request is refused even with the token.
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(url.Values{"note": {"x-site"}, "_csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := b.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", res.StatusCode)
	}
	acts, _ := h.state.CaseActions(context.Background(), id)
	if len(acts) != 0 {
		t.Fatalf("refused requests changed the case: %+v", acts)
	}
	// htmx sends the token as a header.
	req, _ = http.NewRequest("POST", h.srv.URL+path, strings.NewReader(url.Values{"note": {"via htmx"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(csrfHeader, b.csrf)
	if res, _ := b.do(req); res.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with the CSRF header: %d, want 303", res.StatusCode)
	}
	if res, _ := b.form(path, "note", "with the form field"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with the CSRF field: %d, want 303", res.StatusCode)
	}
	acts, _ = h.state.CaseActions(context.Background(), id)
	if len(acts) != 2 || acts[0].Note != "via htmx" || acts[1].User != "ana" {
		t.Errorf("case actions: %+v", acts)
	}
}

func TestVendorScope(t *testing.T) {
	h := newHarness(t)
	north := h.login("vnorth")
	south := h.caseOf("s-pay-02") // the honeytoken case, bpo-south
	ps := h.c.pseudo.Of("s-pay-02")

	res, body := north.get("/cases/" + south)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("vendor supervisor of bpo-north opening a bpo-south case: %d, want 403", res.StatusCode)
	}
	for _, leak := range []string{"c-9999", "honeytoken", ps, "s-pay-02", "bpo-south", south[5:13]} {
		if strings.Contains(body, leak) {
			t.Errorf("the 403 page shows %q", leak)
		}
	}
	if res, _ := north.get("/actors/" + ps); res.StatusCode != http.StatusForbidden {
		t.Errorf("other vendor's agent page: %d, want 403", res.StatusCode)
	}
	if res, _ := north.form("/cases/"+south+"/comment", "note", "hello"); res.StatusCode != http.StatusForbidden {
		t.Errorf("comment on another vendor's case: %d, want 403", res.StatusCode)
	}
	if res, _ := north.get("/exposure?vendor=bpo-south"); res.StatusCode != http.StatusForbidden {
		t.Errorf("vendor supervisor running exposure: %d, want 403", res.StatusCode)
	}
	if res, _ := north.get("/customers/c-9999"); res.StatusCode != http.StatusForbidden {
		t.Errorf("vendor supervisor opening a customer: %d, want 403", res.StatusCode)
	}
	// The queue and the roster list only bpo-north.
	_, body = north.get("/cases?status=all")
	if strings.Contains(body, ps) || strings.Contains(body, "bpo-south") || !strings.Contains(body, h.c.pseudo.Of("n-pay-03")) {
		t.Error("the bpo-north supervisor's queue shows bpo-south or misses bpo-north")
	}
	_, body = north.get("/roster")
	if strings.Contains(body, "bpo-south") || strings.Contains(body, h.c.pseudo.Of("s-pay-05")) {
		t.Error("the bpo-north supervisor's roster shows bpo-south")
	}
	// Their own vendor's case opens.
	if res, _ := north.get("/cases/" + h.caseOf("n-pay-03")); res.StatusCode != 200 {
		t.Errorf("own vendor's case: %d", res.StatusCode)
	}
	if n := len(h.auditOf(AuditDenied)); n < 5 {
		t.Errorf("%d denied requests audited, want at least 5", n)
	}
}

func TestPseudonymsByDefault(t *testing.T) {
	h := newHarness(t)
	b := h.login("lee")
	people, _ := h.src.People(context.Background())
	id := h.caseOf("n-pay-03")
	for _, path := range []string{"/cases?status=all", "/cases/" + id, "/roster", "/actors/" + h.c.pseudo.Of("n-pay-03"), "/customers/c-9999"} {
		res, body := b.get(path)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		for _, p := range people {
			if strings.Contains(body, p.ID) || strings.Contains(body, p.Name) {
				t.Errorf("%s shows the identity of %s", path, p.ID)
				break
			}
		}
	}
	_, body := b.get("/cases/" + id)
	if !strings.Contains(body, h.c.pseudo.Of("n-pay-03")) {
		t.Error("the case page does not show the agent's pseudonym")
	}

	// Pseudonyms are stable for one key and differ between keys.
	a, a2, other := NewPseudonyms([]byte("k1k1k1k1k1k1k1k1")), NewPseudonyms([]byte("k1k1k1k1k1k1k1k1")), NewPseudonyms([]byte("k2k2k2k2k2k2k2k2"))
	if a.Of("n-pay-03") != a2.Of("n-pay-03") || a.Of("n-pay-03") == other.Of("n-pay-03") || a.Of("n-pay-03") == a.Of("n-pay-04") {
		t.Error("pseudonyms are not stable per key, or not distinct")
	}
	if !IsPseudonym(a.Of("x")) {
		t.Errorf("%q does not look like a pseudonym", a.Of("x"))
	}
}

func TestReveal(t *testing.T) {
	h := newHarness(t)
	id := h.caseOf("n-pay-03")
	ps := h.c.pseudo.Of("n-pay-03")
	ana := h.login("ana")

	// An analyst may reveal only an agent with an open case.
	cases, _ := h.src.Cases(context.Background())
	people, _ := h.src.People(context.Background())
	quiet := ""
	for _, p := range people {
		if !slices.ContainsFunc(cases, func(f finding.Finding) bool { return f.Actor.ID == p.ID }) {
			quiet = p.ID
			break
		}
	}
	if res, _ := ana.form("/actors/"+h.c.pseudo.Of(quiet)+"/reveal", "reason", "just curious about this one"); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst revealing an agent without a case: %d, want 403", res.StatusCode)
	}
	if res, _ := ana.form("/actors/"+ps+"/reveal", "reason", "short"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("reveal with a 5-character reason: %d, want 400", res.StatusCode)
	}
	res, _ := ana.form("/actors/"+ps+"/reveal", "reason", "interview with the vendor tomorrow", "case", id, "back", "/cases/"+id)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases/"+id {
		t.Fatalf("reveal: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, body := ana.get("/cases/" + id)
	if !strings.Contains(body, "n-pay-03") || !strings.Contains(body, "Agent n-pay-03") {
		t.Error("after the reveal the case page does not show the identity")
	}
	// Only to that user, and only for reveal_for.
	_, body = h.login("lee").get("/cases/" + id)
	if strings.Contains(body, "n-pay-03") {
		t.Error("a reveal by ana shows the identity to lee")
	}
	h.clock.Add(61 * time.Minute)
	ana = h.login("ana")
	_, body = ana.get("/cases/" + id)
	if strings.Contains(body, "n-pay-03") {
		t.Error("the identity is still shown after reveal_for")
	}

	recs := h.auditOf(AuditReveal)
	if len(recs) != 1 || recs[0].User != "ana" || recs[0].Target != "actor:n-pay-03" || !strings.Contains(recs[0].Detail, "interview with the vendor") {
		t.Fatalf("reveal audit: %+v", recs)
	}
	var found bool
	for _, e := range h.access.all() {
		if e.Action == "reveal" && e.Actor.ID == "console:ana" && e.App == App && e.Subject == "actor:n-pay-03" && strings.Contains(e.Reason, "interview") {
			found = true
		}
	}
	if !found {
		t.Error("the reveal was not emitted as an access event of console:ana")
	}
}

func TestAuditTrail(t *testing.T) {
	h := newHarness(t)
	pia := h.login("pia")
	id := h.caseOf("s-pay-02")
	pia.get("/cases/" + id)
	pia.get("/actors/" + h.c.pseudo.Of("s-pay-02"))
	pia.get("/customers/c-9999")
	pia.get("/exposure.csv?agent=" + h.c.pseudo.Of("s-pay-02"))

	want := map[string]string{AuditViewCase: "case:" + id, AuditViewActor: "actor:s-pay-02", AuditViewCustomer: "customer:c-9999", AuditExport: "exposure"}
	for action, target := range want {
		recs := h.auditOf(action)
		if len(recs) != 1 || recs[0].User != "pia" || recs[0].Target != target {
			t.Errorf("%s: %+v, want one by pia on %s", action, recs, target)
		}
	}
	// Every record is an access event of the console user, so rules can
	// watch the watchers.
	kinds := map[string]string{}
	for _, e := range h.access.all() {
		if e.Actor.ID != "console:pia" || e.App != "custos-console" {
			continue
		}
		kinds[string(e.Action)+" "+e.Subject] = e.Resource
	}
	for _, k := range []string{"login ", "search ", "view c-9999", "export "} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("no access event %q among %v", k, kinds)
		}
	}

	// Admins and privacy officers read the trail; analysts may not.
	if res, _ := h.login("ana").get("/admin/audit"); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst reading the audit trail: %d, want 403", res.StatusCode)
	}
	res, body := h.login("admin").get("/admin/audit?user=pia")
	if res.StatusCode != 200 || !strings.Contains(body, "view customer") || !strings.Contains(body, "customer c-9999") {
		t.Errorf("admin's audit page: %d, missing pia's customer view", res.StatusCode)
	}
	if strings.Contains(body, "s-pay-02") {
		t.Error("the audit page shows an unrevealed agent's id")
	}
}

func TestCaseWorkflow(t *testing.T) {
	h := newHarness(t)
	id := h.caseOf("n-pay-06")
	ana := h.login("ana")
	if res, _ := ana.form("/cases/"+id+"/assign", "to", "lee"); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst assigning to someone else: %d, want 403", res.StatusCode)
	}
	if res, _ := ana.form("/cases/"+id+"/assign", "to", "ana"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("assign to self: %d", res.StatusCode)
	}
	if res, _ := ana.form("/cases/"+id+"/verdict", "verdict", "maybe"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown verdict: %d, want 400", res.StatusCode)
	}
	ana.form("/cases/"+id+"/verdict", "verdict", VerdictFalse)
	if res, _ := ana.form("/cases/" + id + "/close"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("close without a reason: %d, want 400", res.StatusCode)
	}
	ana.form("/cases/"+id+"/close", "reason", closeReasons[3], "note", "sloppy ticketing, coached")

	states, _ := h.state.CaseStates(context.Background())
	st := states[id]
	if st.Assignee != "ana" || st.Verdict != VerdictFalse || st.Status != StatusClosed || st.CloseReason != closeReasons[3] || len(st.Rules) == 0 {
		t.Fatalf("case state: %+v", st)
	}
	// The false positive counts against the case's rules.
	_, body := ana.get("/rules")
	row := body[strings.Index(body, "<code>no_ticket</code>"):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, `<td class="num warn">1</td>`) {
		t.Errorf("rules page no_ticket row does not count 1 FP mark: %s", row)
	}
	// Closed cases leave the default queue.
	_, body = ana.get("/cases")
	if strings.Contains(body, `href="/cases/`+id+`"`) {
		t.Error("a closed case is in the open queue")
	}
	_, body = ana.get("/cases?status=closed")
	if !strings.Contains(body, `href="/cases/`+id+`"`) {
		t.Error("a closed case is not in the closed queue")
	}
	if res, _ := ana.form("/cases/" + id + "/reopen"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("reopen: %d", res.StatusCode)
	}
	acts, _ := h.state.CaseActions(context.Background(), id)
	var kinds []string
	for _, a := range acts {
		kinds = append(kinds, a.Kind)
	}
	if strings.Join(kinds, ",") != "assign,verdict,close,reopen" {
		t.Errorf("case history %v", kinds)
	}
	// Privacy officers read cases but do not work them.
	if res, _ := h.login("pia").form("/cases/"+id+"/verdict", "verdict", VerdictTrue); res.StatusCode != http.StatusForbidden {
		t.Errorf("privacy officer giving a verdict: %d, want 403", res.StatusCode)
	}
}

// fakeResponder records what it was asked.
type fakeResponder struct{ got []ResponseRequest }

func (f *fakeResponder) Actions() []ResponseAction {
	return []ResponseAction{{Name: "suspend", Label: "Suspend in the IdP", Description: "SCIM active=false"}}
}

func (f *fakeResponder) Respond(_ context.Context, r ResponseRequest) (string, error) {
	f.got = append(f.got, r)
	return "suspended", nil
}

func TestRespond(t *testing.T) {
	fr := &fakeResponder{}
	h := newHarness(t, func(o *Options) { o.Responder = fr })
	id := h.caseOf("n-rec-04")
	_, body := h.login("ana").get("/cases/" + id)
	if !strings.Contains(body, "Suspend in the IdP") {
		t.Error("an analyst is not offered the configured response")
	}
	for _, who := range []string{"pia", "vnorth"} {
		if _, body := h.login(who).get("/cases/" + id); strings.Contains(body, "Suspend in the IdP") {
			t.Errorf("%s is offered a response", who)
		}
	}
	lee := h.login("lee")
	_, body = lee.get("/cases/" + id)
	if !strings.Contains(body, "Suspend in the IdP") {
		t.Fatal("a lead is not offered the configured response")
	}
	if res, _ := lee.form("/cases/"+id+"/respond", "action", "wipe"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown response: %d, want 400", res.StatusCode)
	}
	if res, _ := lee.form("/cases/"+id+"/respond", "action", "suspend"); res.StatusCode != http.StatusBadRequest || len(fr.got) != 0 {
		t.Errorf("response without a reason: %d, %d requests; want 400 and none", res.StatusCode, len(fr.got))
	}
	lee.form("/cases/"+id+"/respond", "action", "suspend", "note", "contract ended")
	if len(fr.got) != 1 || fr.got[0].Actor != "n-rec-04" || fr.got[0].User != "lee" || fr.got[0].Case != id {
		t.Fatalf("responder got %+v", fr.got)
	}
	acts, _ := h.state.CaseActions(context.Background(), id)
	if len(acts) != 1 || acts[0].Kind != ActRespond || acts[0].Note != "suspended" {
		t.Errorf("case history: %+v", acts)
	}
}

func TestExposureAndCSV(t *testing.T) {
	h := newHarness(t)
	pia := h.login("pia")
	ps := h.c.pseudo.Of("n-pay-03")
	res, body := pia.get("/exposure?agent=" + ps + "&from=2026-03-12&until=2026-03-15")
	if res.StatusCode != 200 || !strings.Contains(body, "Download CSV") {
		t.Fatalf("exposure page: %d", res.StatusCode)
	}
	res, body = pia.get("/exposure.csv?agent=" + ps + "&from=2026-03-12&until=2026-03-15")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The expected customers, straight from the events.
	evs, _ := h.src.ActorEvents(context.Background(), "n-pay-03", time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), 0)
	want := map[string]bool{}
	for _, e := range evs {
		if e.Subject != "" {
			want[e.Subject] = true
		}
	}
	if len(rows) != len(want)+1 || len(want) < 50 {
		t.Fatalf("CSV has %d rows, want %d customers plus the header", len(rows)-1, len(want))
	}
	kyc := 0
	for _, r := range rows[1:] {
		if !want[r[0]] || r[1] != ps {
			t.Errorf("CSV row %v: unexpected customer or agent", r)
		}
		if strings.Contains(r[2], "id_number") {
			kyc++
		}
	}
	if kyc == 0 {
		t.Error("no row lists the KYC fields the insider saw")
	}
	if res, _ := pia.get("/exposure?agent=nobody"); res.StatusCode != 200 {
		t.Errorf("exposure of an unknown pseudonym: %d (should be a message, not an error)", res.StatusCode)
	}
}

func TestAttribution(t *testing.T) {
	h := newHarness(t)
	// Customers only the bulk insider saw after hours on one night.
	evs, _ := h.src.ActorEvents(context.Background(), "n-pay-03", time.Date(2026, 3, 15, 22, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), 0)
	var ids []string
	for _, e := range evs {
		if e.Resource == "kyc_document" && len(ids) < 8 {
			ids = append(ids, e.Subject)
		}
	}
	if len(ids) < 8 {
		t.Fatalf("only %d KYC looks", len(ids))
	}
	ana := h.login("ana")
	res, body := ana.get("/attribution.csv?customers=" + url.QueryEscape(strings.Join(ids, "\n")))
	if res.StatusCode != 200 {
		t.Fatalf("attribution CSV: %d", res.StatusCode)
	}
	rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll()
	// The breach package's ranking, as `custos attribute` prints it: the
	// insider first, covering 8 of 8 without tickets, pseudonymised.
	if len(rows) < 2 || rows[1][1] != h.c.pseudo.Of("n-pay-03") || rows[1][5] != "8" || rows[1][6] != "8" || rows[1][7] != "8" {
		t.Fatalf("attribution: the insider does not rank first with 8 of 8 without a ticket: %v", rows[:min(3, len(rows))])
	}
	if len(rows) > 2 && rows[2][5] == "8" {
		t.Errorf("someone else also saw all 8: %v", rows[2])
	}
	if strings.Contains(body, "n-pay-03") {
		t.Error("the attribution CSV names the agent's real id")
	}
}

func TestCSVInjection(t *testing.T) {
	h := newHarness(t)
	rec := httptestRecorder()
	h.c.csv(rec, "x", []string{"a"}, 1, func(int) []string { return []string{"=HYPERLINK(\"http://x\")"} })
	if !strings.Contains(rec.Body.String(), `'=HYPERLINK`) {
		t.Errorf("formula not neutralised: %q", rec.Body.String())
	}
}

func TestMaskText(t *testing.T) {
	known := map[string]bool{"a-ana": true, "n-pay-03": true}
	show := func(id string) string { return "<" + id + ">" }
	for in, want := range map[string]string{
		"a-ana (bpo-north) viewed c-1 assigned to a-ana.": "<a-ana> (bpo-north) viewed c-1 assigned to <a-ana>.",
		"a-anabel viewed":               "a-anabel viewed",
		"n-pay-03: 3 alerts; n-pay-030": "<n-pay-03>: 3 alerts; n-pay-030",
		"xa-ana and a-ana-2":            "xa-ana and a-ana-2",
		"nothing here":                  "nothing here",
	} {
		if got := maskText(in, func(s string) bool { return known[s] }, show); got != want {
			t.Errorf("maskText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPagesRender(t *testing.T) {
	h := newHarness(t)
	b := h.login("admin")
	for _, path := range []string{"/cases", "/cases?severity=critical&vendor=bpo-north&age=7d&sort=updated", "/cases/" + h.caseOf("n-pay-03"),
		"/actors/" + h.c.pseudo.Of("n-rec-04"), "/customers/c-0001", "/exposure", "/exposure?vendor=bpo-south&from=2026-03-10&until=2026-03-12",
		"/attribution", "/roster", "/roster?vendor=-", "/rules", "/admin/audit", "/admin/users"} {
		res, body := b.get(path)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
		if !strings.Contains(body, "</html>") {
			t.Errorf("%s: page is cut short", path)
		}
	}
	if res, _ := b.get("/cases/case-nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown case: %d", res.StatusCode)
	}
	if res, _ := b.get("/actors/n-pay-03"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an actor page by real id: %d, want 404 (URLs carry pseudonyms)", res.StatusCode)
	}
}

func TestRosterPage(t *testing.T) {
	h := newHarness(t)
	_, body := h.login("lee").get("/roster")
	after := body[strings.Index(body, "Active after their contract ended"):]
	after = after[:strings.Index(after, "</section>")]
	if !strings.Contains(after, h.c.pseudo.Of("n-rec-04")) {
		t.Error("the leaver is not listed as active after the contract ended")
	}
	ending := body[strings.Index(body, "Contracts ending within"):]
	ending = ending[:strings.Index(ending, "</section>")]
	if !strings.Contains(ending, h.c.pseudo.Of("s-pay-05")) || strings.Contains(ending, h.c.pseudo.Of("n-rec-04")) {
		t.Error("contracts ending soon: want s-pay-05 and not the leaver")
	}
}

func TestUsersAdmin(t *testing.T) {
	h := newHarness(t)
	admin := h.login("admin")
	if res, _ := h.login("lee").form("/admin/users", "op", "add", "name", "x", "role", "admin", "password", "longenough"); res.StatusCode != http.StatusForbidden {
		t.Errorf("lead adding a user: %d, want 403", res.StatusCode)
	}
	if res, _ := admin.form("/admin/users", "op", "add", "name", "sup", "role", "vendor_supervisor", "password", "longenough"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("vendor supervisor without a vendor: %d, want 400", res.StatusCode)
	}
	if res, _ := admin.form("/admin/users", "op", "add", "name", "sup", "role", "vendor_supervisor", "vendor", "bpo-south", "password", "longenough"); res.StatusCode != 200 {
		t.Fatalf("add: %d", res.StatusCode)
	}
	vs := h.login("vsouth")
	if res, _ := admin.form("/admin/users", "op", "disable", "name", "vsouth"); res.StatusCode != 200 {
		t.Fatalf("disable: %d", res.StatusCode)
	}
	if res, _ := vs.get("/cases"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a disabled user's session still works: %d", res.StatusCode)
	}
}

func TestRoleNamesAgreeWithConfig(t *testing.T) {
	var names []string
	for _, r := range Roles {
		names = append(names, string(r))
	}
	for _, n := range config.ConsoleRoles {
		if _, err := ParseRole(n); err != nil {
			t.Errorf("config knows role %q, the console does not", n)
		}
	}
	if len(names) != len(config.ConsoleRoles) {
		t.Errorf("console roles %v, config roles %v", names, config.ConsoleRoles)
	}
}

// fakeJournal is the store's response_actions table in memory.
type fakeJournal []respond.Action

func (j fakeJournal) ActionsFor(_ context.Context, ids []string) ([]respond.Action, error) {
	var out []respond.Action
	for _, a := range j {
		if slices.Contains(ids, a.Finding) {
			out = append(out, a)
		}
	}
	return out, nil
}

// The case page shows what the configured response actions did for the
// case, from the journal, with the agent pseudonymised in target and result.
func TestCaseShowsResponseJournal(t *testing.T) {
	var j fakeJournal
	h := newHarness(t, func(o *Options) { o.Journal = &j })
	id := h.caseOf("n-pay-03")
	at := time.Date(2026, 3, 16, 1, 2, 3, 0, time.UTC)
	j = fakeJournal{
		{Name: "suspend-critical", Type: respond.TypeSuspend, Finding: id, Actor: "n-pay-03", Target: "n-pay-03",
			Status: respond.StatusSucceeded, Result: "roster entry n-pay-03 suspended (was active)", Attempts: 1, Started: at, Updated: at},
		{Name: "soar", Type: respond.TypeWebhook, Finding: "some-other-case", Actor: "n-pay-03", Status: respond.StatusFailed, Attempts: 3},
	}
	_, body := h.login("ana").get("/cases/" + id)
	for _, want := range []string{`id="response-actions"`, "suspend-critical", "succeeded", h.c.pseudo.Of("n-pay-03"), "2026-03-16 01:02"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	if strings.Contains(body, "soar") {
		t.Error("case page shows another finding's action")
	}
	if i := strings.Index(body, `id="response-actions"`); i >= 0 && strings.Contains(body[i:min(len(body), i+2000)], "n-pay-03") {
		t.Error("the journal shows the agent's real id")
	}
}
