package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/store"
)

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "custos.db") }

func TestAuth(t *testing.T) {
	h := start(t, dbPath(t))
	body := evLine("e1", "2026-03-03T01:00:00Z", "a", "login", "")
	for name, auth := range map[string]string{
		"none":         "",
		"wrong token":  "Bearer not-the-token",
		"other scheme": "Basic " + testToken,
		"prefix":       "Bearer " + testToken[:10],
		"empty bearer": "Bearer ",
	} {
		r := h.do("POST", "/v1/events", "application/x-ndjson", strings.NewReader(body), "Authorization", auth)
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %s, want 401 with WWW-Authenticate", name, r.status, r.body)
		}
		r = h.do("GET", "/v1/findings", "", nil, "Authorization", auth)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: GET findings %d, want 401", name, r.status)
		}
	}
	if got := storedEvents(t, h.st); len(got) != 0 {
		t.Errorf("unauthorised requests stored %v", got)
	}
	r := h.do("GET", "/healthz", "", nil, "Authorization", "")
	if r.status != 200 || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Errorf("healthz without a token: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/events", "application/x-ndjson", strings.NewReader(body), "Authorization", "bearer "+testToken)
	if r.status != 200 {
		t.Errorf("right token (scheme in lower case): %d %s", r.status, r.body)
	}
}

func TestBodyTooLarge(t *testing.T) {
	h := start(t, dbPath(t), func(s *setup) { s.maxBody = 2048 })
	var b strings.Builder
	for i := 0; b.Len() <= 2048; i++ {
		b.WriteString(evLine(fmt.Sprintf("e-%d", i), "2026-03-03T01:00:00Z", "a", "login", "") + "\n")
	}
	for _, ct := range []string{"application/x-ndjson", "application/json"} {
		body := b.String()
		if ct == "application/json" {
			body = "[" + strings.ReplaceAll(strings.TrimSpace(body), "\n", ",") + "]"
		}
		r := h.post("/v1/events", ct, body)
		if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.body), "2048") {
			t.Errorf("%s: %d %s, want 413 naming the limit", ct, r.status, r.body)
		}
	}
	r := h.put("/v1/roster/a", `{"name":"`+strings.Repeat("n", 3000)+`"}`)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT: %d %s, want 413", r.status, r.body)
	}
	if got := storedEvents(t, h.st); len(got) != 0 {
		t.Errorf("a too-large batch stored %d events", len(got))
	}
	// Under the limit the same endpoint works.
	if r := h.post("/v1/events", "application/x-ndjson", evLine("ok", "2026-03-03T01:00:00Z", "a", "login", "")); r.status != 200 {
		t.Errorf("small batch: %d %s", r.status, r.body)
	}
}

func TestContentType(t *testing.T) {
	h := start(t, dbPath(t))
	body := evLine("e1", "2026-03-03T01:00:00Z", "a", "login", "")
	for _, ct := range []string{"", "text/plain", "application/xml", "multipart/form-data; boundary=x"} {
		for _, path := range []string{"/v1/events", "/v1/tickets"} {
			if r := h.post(path, ct, body); r.status != http.StatusUnsupportedMediaType || !strings.Contains(string(r.body), "application/x-ndjson") {
				t.Errorf("POST %s with %q: %d %s, want 415 naming what to send", path, ct, r.status, r.body)
			}
		}
	}
	if r := h.do("PUT", "/v1/roster/a", "application/x-ndjson", strings.NewReader(`{"id":"a"}`)); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("PUT with NDJSON: %d, want 415", r.status)
	}
	if r := h.post("/v1/events", "application/x-ndjson; charset=utf-8", body); r.status != 200 {
		t.Errorf("media type with parameters: %d %s", r.status, r.body)
	}
	if r := h.post("/v1/events", "application/json", body); r.status != 200 {
		t.Errorf("a single JSON object: %d %s", r.status, r.body)
	}
}

func TestPartlyBadNDJSON(t *testing.T) {
	h := start(t, dbPath(t))
	body := strings.Join([]string{
		evLine("e1", "2026-03-03T01:00:00Z", "a", "login", ""),
		`{"id":"e2","time":"2026-03-03T01:01:00Z","action":"view","subject":{"id":"c1"}}`,
		"",
		evLine("e3", "2026-03-03T01:02:00Z", "a", "view", "c1"),
		`{"id":"e4","time":"yesterday","actor":{"id":"a"},"action":"view"}`,
		`not json`,
		evLine("e1", "2026-03-03T01:00:00Z", "a", "login", ""),
	}, "\n")
	r := h.post("/v1/events", "application/x-ndjson", body)
	if r.status != http.StatusMultiStatus {
		t.Fatalf("status %d %s, want 207", r.status, r.body)
	}
	var res BatchResult
	r.json(t, &res)
	if res.Accepted != 2 || res.Duplicates != 1 || res.Rejected != 3 {
		t.Errorf("counts %+v, want 2 accepted, 1 duplicate (e1 twice), 3 rejected", res)
	}
	want := []RecordError{
		{Line: 2, Field: "actor.id", Reason: "missing", Error: "request:2: actor.id: missing"},
		{Line: 5, Field: "time", Reason: `"yesterday" is not an RFC 3339 time with an offset`, Error: `request:5: time: "yesterday" is not an RFC 3339 time with an offset`},
		{Line: 6, Reason: "not a JSON object", Error: "request:6: not a JSON object"},
	}
	if !slices.Equal(res.Errors, want) {
		t.Errorf("errors\n%+v\nwant\n%+v", res.Errors, want)
	}
	h.sync() // the store catches up with the journal
	if got := storedEvents(t, h.st); !slices.Equal(got, []string{"e1", "e3"}) {
		t.Errorf("stored %v, want the good records e1, e3", got)
	}
}

func TestPartlyBadJSONArray(t *testing.T) {
	h := start(t, dbPath(t))
	body := `[
	  {"time":"2026-03-03T00:55:00Z","id":"T-1","subject":"c1","status":"new"},
	  {"time":"2026-03-03T00:56:00Z","id":"T-1","status":"reopened"},
	  {"time":"2026-03-03T00:57:00Z","id":"T-1","assignee":"a","status":"open","x_sla":{"tier":2}},
	  17,
	  {"id":"T-2","status":"open"}
	]`
	r := h.post("/v1/tickets", "application/json", body)
	if r.status != http.StatusMultiStatus {
		t.Fatalf("status %d %s, want 207", r.status, r.body)
	}
	var res BatchResult
	r.json(t, &res)
	idx := func(i int) *int { return &i }
	want := []RecordError{
		{Index: idx(1), Field: "status", Reason: `unknown value "reopened" (want new, open, pending, solved or closed)`, Error: `request[1]: status: unknown value "reopened" (want new, open, pending, solved or closed)`},
		{Index: idx(3), Reason: "not a JSON object", Error: "request[3]: not a JSON object"},
		{Index: idx(4), Field: "time", Reason: "missing", Error: "request[4]: time: missing"},
	}
	if res.Accepted != 2 || res.Duplicates != 0 || res.Rejected != 3 || len(res.Errors) != 3 {
		t.Fatalf("result %+v", res)
	}
	for i := range want {
		g, w := res.Errors[i], want[i]
		if g.Index == nil || *g.Index != *w.Index || g.Line != 0 || g.Field != w.Field || g.Reason != w.Reason || g.Error != w.Error {
			t.Errorf("error %d: %+v (index %v), want %+v (index %d)", i, g, g.Index, w, *w.Index)
		}
	}
	// The stored change keeps its unknown field, compacted to one line.
	var raws []string
	h.sync()
	h.st.Records(context.Background(), 0, func(r store.Record) error { raws = append(raws, string(r.Ticket.Raw)); return nil })
	if len(raws) != 2 || raws[1] != `{"time":"2026-03-03T00:57:00Z","id":"T-1","assignee":"a","status":"open","x_sla":{"tier":2}}` {
		t.Errorf("stored tickets %q", raws)
	}

	// All bad: 422, nothing stored.
	r = h.post("/v1/events", "application/json", `[{"id":"x"},{"id":"y"}]`)
	res = BatchResult{}
	r.json(t, &res)
	if r.status != http.StatusUnprocessableEntity || res.Rejected != 2 || res.Accepted != 0 {
		t.Errorf("all bad: %d %s, want 422", r.status, r.body)
	}
	// Not JSON at all: the whole request is refused.
	for _, bad := range []string{`[{"id":"x"},`, `[{"id":"x"} {"id":"y"}]`, `"events"`, `[] []`} {
		if r := h.post("/v1/events", "application/json", bad); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", bad, r.status, r.body)
		}
	}
	if r := h.post("/v1/events", "application/x-ndjson", "\n\n"); r.status != http.StatusBadRequest {
		t.Errorf("empty batch: %d, want 400", r.status)
	}
	if got := storedEvents(t, h.st); len(got) != 0 {
		t.Errorf("rejected batches stored %v", got)
	}
}

// The roster, customers and a honeytoken view: the engine alerts and opens
// a case, and a retry of the same batch changes nothing.
func seedHoneytoken(t *testing.T, h *harness) string {
	t.Helper()
	if r := h.put("/v1/subjects/c-9999", `{"tier":"vip","honeytoken":true}`); r.status != http.StatusCreated {
		t.Fatalf("PUT subject: %d %s", r.status, r.body)
	}
	return strings.Join([]string{
		evLine("e-1", "2026-03-03T01:00:00Z", "a-ana", "login", ""),
		evLine("e-2", "2026-03-03T01:05:00Z", "a-ana", "view", "c-9999"),
	}, "\n")
}

func TestRetriedBatchIsIdempotent(t *testing.T) {
	h := start(t, dbPath(t))
	batch := seedHoneytoken(t, h)
	var first BatchResult
	r := h.post("/v1/events", "application/x-ndjson", batch)
	r.json(t, &first)
	if r.status != 200 || first.Accepted != 2 || first.Duplicates != 0 {
		t.Fatalf("first: %d %+v", r.status, first)
	}
	h.sync()
	before := h.findings("")
	if len(before) < 2 || before[0]["rule"] != "honeytoken_access" || before[1]["kind"] != "case" {
		t.Fatalf("findings after the batch: %v", before)
	}

	for range 2 {
		var again BatchResult
		r = h.post("/v1/events", "application/x-ndjson", batch)
		r.json(t, &again)
		if r.status != 200 || again.Accepted != 0 || again.Duplicates != 2 || again.Rejected != 0 {
			t.Fatalf("retry: %d %+v, want 0 accepted, 2 duplicates", r.status, again)
		}
	}
	// The same records as a JSON array are also recognised.
	r = h.post("/v1/events", "application/json", "["+strings.ReplaceAll(batch, "\n", ",")+"]")
	if !strings.Contains(string(r.body), `"accepted":0,"duplicates":2`) {
		t.Errorf("retry as an array: %s", r.body)
	}
	h.sync()
	if n := h.events.Load(); n != 2 {
		t.Errorf("the engine was fed %d events, want 2: a retry must not reach it", n)
	}
	if after := h.findings(""); !slices.Equal(ids(after), ids(before)) {
		t.Errorf("findings changed on retry:\n%v\n%v", ids(before), ids(after))
	}
	if got := storedEvents(t, h.st); len(got) != 2 {
		t.Errorf("stored %d events", len(got))
	}
}

// A served batch survives a restart: the events and findings are in the
// file, and the engine state is rebuilt, so a contract that ended still
// counts for a new event without the roster being sent again.
func TestServedBatchSurvivesRestart(t *testing.T) {
	path := dbPath(t)
	h := start(t, path)
	if r := h.put("/v1/roster/a-ben", `{"name":"Ben","vendor":"bpo-north","contract_end":"2026-03-02"}`); r.status != http.StatusCreated {
		t.Fatalf("PUT roster: %d %s", r.status, r.body)
	}
	if r := h.post("/v1/events", "application/x-ndjson", evLine("e-1", "2026-03-03T09:00:00Z", "a-ben", "view", "c-1")); r.status != 200 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	h.sync()
	first := h.findings("rule=access_outside_contract")
	if len(first) != 1 {
		t.Fatalf("after-contract alerts before restart: %v", first)
	}
	cases := h.findings("kind=case")
	h.stop()

	h = start(t, path)
	if got := storedEvents(t, h.st); !slices.Equal(got, []string{"e-1"}) {
		t.Fatalf("after restart the store holds %v", got)
	}
	h.sync()
	if got := h.findings(""); len(got) != len(first)+len(cases) {
		t.Errorf("rebuilding re-derived duplicate findings: %v", ids(got))
	}
	if r := h.post("/v1/events", "application/x-ndjson", evLine("e-2", "2026-03-03T10:00:00Z", "a-ben", "view", "c-2")); r.status != 200 {
		t.Fatalf("POST after restart: %d %s", r.status, r.body)
	}
	h.sync()
	alerts := h.findings("rule=access_outside_contract")
	if len(alerts) != 2 || alerts[0]["id"] != first[0]["id"] {
		t.Fatalf("after-contract alerts after restart: %v, want the first and one for e-2", alerts)
	}
	if ev := alerts[1]["evidence"].([]any); len(ev) != 1 || ev[0] != "e-2" || !strings.Contains(alerts[1]["summary"].(string), "bpo-north") {
		t.Errorf("the new alert %v does not use the roster entry sent before the restart", alerts[1])
	}
	after := h.findings("kind=case")
	if len(after) != 1 || after[0]["id"] != cases[0]["id"] || after[0]["opened"] != cases[0]["opened"] {
		t.Errorf("the case was not carried over: before %v, after %v", cases, after)
	}
}

func TestPut(t *testing.T) {
	h := start(t, dbPath(t))
	r := h.put("/v1/roster/a-ana", `{"name":"Ana","team":"payments","x_badge":"B-7"}`)
	var res PutResult
	r.json(t, &res)
	if r.status != http.StatusCreated || res != (PutResult{ID: "a-ana", Created: true}) {
		t.Errorf("first PUT: %d %s", r.status, r.body)
	}
	r = h.put("/v1/roster/a-ana", ` {"id":"a-ana","team":"recovery"}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"created":false`) {
		t.Errorf("second PUT: %d %s", r.status, r.body)
	}
	r = h.put("/v1/roster/a-ana", `{"id":"a-ben"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"id"`) {
		t.Errorf("mismatched id: %d %s", r.status, r.body)
	}
	r = h.put("/v1/roster/a-ana", `{"status":"fired"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"status"`) {
		t.Errorf("bad field: %d %s", r.status, r.body)
	}
	r = h.put("/v1/subjects/c-1", `{}`)
	if r.status != http.StatusCreated {
		t.Errorf("empty customer: %d %s", r.status, r.body)
	}
	r = h.put("/v1/subjects/c-1", `[1]`)
	if r.status != http.StatusBadRequest {
		t.Errorf("not an object: %d %s", r.status, r.body)
	}
	var people []*event.Person
	h.st.People(context.Background(), func(p *event.Person) error { people = append(people, p); return nil })
	if len(people) != 1 || people[0].Team != "recovery" {
		t.Errorf("roster %+v, want the latest entry", people)
	}
	var subjects []string
	h.st.Subjects(context.Background(), func(c *event.Subject) error { subjects = append(subjects, string(c.Raw)); return nil })
	if !slices.Equal(subjects, []string{`{"id":"c-1"}`}) {
		t.Errorf("customers %q, want the id filled in", subjects)
	}
}

func TestFindingsQuery(t *testing.T) {
	h := start(t, dbPath(t))
	at := func(hour int) time.Time { return time.Date(2026, 3, 3, hour, 0, 0, 0, time.UTC) }
	var fs []*finding.Finding
	for i, a := range []struct {
		actor, rule string
		sev         finding.Severity
	}{
		{"ana", "no_ticket", finding.Medium}, {"ben", "no_ticket", finding.Medium}, {"ana", "honeytoken_access", finding.Critical},
		{"ana", "no_ticket", finding.Medium}, {"cy", "ticket_not_theirs", finding.Medium},
	} {
		fs = append(fs, &finding.Finding{Kind: finding.KindAlert, ID: "al-" + string(rune('1'+i)), Time: at(i + 1), Actor: finding.ActorRef{ID: a.actor},
			Rule: a.rule, Severity: a.sev, Risk: 10, Subjects: []string{"c"}, Evidence: []string{"e"}, Summary: "s"})
	}
	fs = append(fs, &finding.Finding{Kind: finding.KindCase, ID: "case-ana", Time: at(3), Actor: finding.ActorRef{ID: "ana"}, Severity: finding.Critical, Risk: 110, Status: "open", Alerts: []string{"al-1", "al-3"}, Summary: "case"})
	if err := h.st.WriteFindings(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"":                                    {"al-1", "al-2", "al-3", "al-4", "al-5", "case-ana"},
		"actor=ana":                           {"al-1", "al-3", "al-4", "case-ana"},
		"kind=case":                           {"case-ana"},
		"kind=alert&actor=ana&rule=no_ticket": {"al-1", "al-4"},
		"severity=critical":                   {"al-3", "case-ana"},
		"since=2026-03-03T03:00:00Z":          {"al-3", "al-4", "al-5", "case-ana"},
		"until=2026-03-03T05:00:00%2B02:00":   {"al-1", "al-2"},
		"since=2026-03-03T02:00:00Z&until=2026-03-03T04:00:00Z&kind=alert": {"al-2", "al-3"},
		"limit=1":           {"al-1", "al-2", "al-3", "al-4", "al-5", "case-ana"},
		"limit=4&actor=ana": {"al-1", "al-3", "al-4", "case-ana"},
	} {
		if got := ids(h.findings(q)); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}

	// One page of two, with the cursor for the next.
	r := h.do("GET", "/v1/findings?limit=2", "", nil)
	var page FindingsPage
	r.json(t, &page)
	if len(page.Findings) != 2 || page.Next == "" {
		t.Fatalf("page: %s", r.body)
	}
	r = h.do("GET", "/v1/findings?limit=2&cursor="+page.Next, "", nil)
	if !strings.Contains(string(r.body), `"id":"al-3"`) || strings.Contains(string(r.body), `"id":"al-2"`) {
		t.Errorf("second page: %s", r.body)
	}

	// NDJSON on request, lines as replay writes them; a case says when it opened.
	r = h.do("GET", "/v1/findings?kind=case", "", nil, "Accept", "application/x-ndjson")
	if r.header.Get("Content-Type") != "application/x-ndjson" || strings.Count(string(r.body), "\n") != 1 ||
		!strings.HasPrefix(string(r.body), `{"kind":"case","id":"case-ana","time":"2026-03-03T03:00:00Z"`) ||
		!strings.HasSuffix(string(r.body), `"opened":"2026-03-03T03:00:00Z"}`+"\n") {
		t.Errorf("NDJSON: %q %q", r.header.Get("Content-Type"), r.body)
	}
	r = h.do("GET", "/v1/findings?limit=5", "", nil, "Accept", "application/x-ndjson")
	if r.header.Get("Custos-Next-Cursor") == "" || strings.Count(string(r.body), "\n") != 5 {
		t.Errorf("NDJSON page: next %q, body %s", r.header.Get("Custos-Next-Cursor"), r.body)
	}
	line, _ := finding.MarshalLine(fs[0])
	if !strings.HasPrefix(string(r.body), string(line)) {
		t.Errorf("alert line %q differs from replay's %q", strings.SplitN(string(r.body), "\n", 2)[0], line)
	}

	for _, bad := range []string{"kind=alerts", "since=yesterday", "until=2026-03-03", "limit=0", "limit=5000", "limit=x", "cursor=abc", "severity=urgent", "actor_id=ana"} {
		r := h.do("GET", "/v1/findings?"+bad, "", nil)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"error"`) {
			t.Errorf("%s: %d %s, want 400", bad, r.status, r.body)
		}
	}
}

// Shutdown lets a request in flight finish, drains the engine queue and
// writes the findings before Run returns: nothing acknowledged is lost.
func TestGracefulShutdownDrains(t *testing.T) {
	path := dbPath(t)
	gate := make(chan struct{})
	var requests atomic.Int32
	thirdStarted := make(chan struct{})
	shutdownStarted := make(chan struct{})
	h := start(t, path, func(s *setup) {
		s.gate = gate
		s.hook = func(what string) {
			switch what {
			case "request":
				if requests.Add(1) == 3 {
					close(thirdStarted)
				}
			case "shutdown":
				close(shutdownStarted)
				close(gate) // the engine has been held until now
			}
		}
	})
	if r := h.put("/v1/subjects/c-9999", `{"honeytoken":true}`); r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	for i, actor := range []string{"a-1", "a-2"} {
		if r := h.post("/v1/events", "application/x-ndjson", evLine("e-"+actor, "2026-03-03T01:00:00Z", actor, "view", "c-9999")); r.status != 200 {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}

	pr, pw := io.Pipe()
	third := make(chan response, 1)
	go func() { third <- h.do("POST", "/v1/events", "application/x-ndjson", pr) }()
	pw.Write([]byte(`{"id":"e-a-3","time":"2026-03-03T01:00:00Z",`))
	<-thirdStarted
	h.cancel()
	<-shutdownStarted
	pw.Write([]byte(`"actor":{"id":"a-3"},"action":"view","subject":{"id":"c-9999"}}` + "\n"))
	pw.Close()
	if r := <-third; r.status != 200 || !strings.Contains(string(r.body), `"accepted":1`) {
		t.Errorf("request in flight at shutdown: %d %s", r.status, r.body)
	}
	if err := <-h.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.cancel = nil
	h.st.Close()
	if n := h.events.Load(); n != 3 {
		t.Errorf("the engine processed %d events before stopping, want 3", n)
	}

	// Read the file directly: no rebuild may fill in what shutdown missed.
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.Findings(context.Background(), store.FindingQuery{Rule: "honeytoken_access"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Findings) != 3 {
		t.Errorf("%d honeytoken alerts stored at shutdown, want 3 (one per batch)", len(page.Findings))
	}
	if !strings.Contains(h.logs.String(), "draining the engine queue") {
		t.Errorf("no shutdown log:\n%s", h.logs.String())
	}
}

func TestRequestLog(t *testing.T) {
	h := start(t, dbPath(t))
	h.post("/v1/events", "application/x-ndjson", evLine("e1", "2026-03-03T01:00:00Z", "a", "login", "")+"\n{}")
	h.stop() // the line is written after the response; shutdown waits for it
	logs := h.logs.String()
	for _, want := range []string{"msg=request", "method=POST", "path=/v1/events", "status=207", "accepted=1", "rejected=1", `first_reject="request:2: id: missing"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s:\n%s", want, logs)
		}
	}
}

// A detector that panics on a record does not take the server down, at
// ingest or at the next start's rebuild; the record is logged and skipped.
func TestEnginePanicIsContained(t *testing.T) {
	path := dbPath(t)
	for range 2 { // live, then rebuilt
		h := start(t, path, func(s *setup) { s.panicOn = "boom" })
		h.post("/v1/events", "application/x-ndjson", evLine("boom", "2026-03-03T01:00:00Z", "a", "login", "")+"\n"+
			evLine("fine", "2026-03-03T01:01:00Z", "a", "login", ""))
		h.sync()
		if n := h.events.Load(); n != 1 {
			t.Errorf("engine processed %d events, want 1 (the one after the panic)", n)
		}
		if !strings.Contains(h.logs.String(), "the engine failed on a record; skipped") || !strings.Contains(h.logs.String(), "event boom (") {
			t.Errorf("panic not logged with the record:\n%s", h.logs.String())
		}
		h.stop()
	}
}

// fakeSinks records what the server does with a dispatcher.
type fakeSinks struct {
	outbox   *store.Outbox
	running  atomic.Bool
	stopped  chan struct{}
	notified atomic.Int32
	inOutbox atomic.Int64 // outbox end seen at the last Notify
}

func (f *fakeSinks) Run(ctx context.Context) error {
	f.running.Store(true)
	<-ctx.Done()
	close(f.stopped)
	return nil
}

func (f *fakeSinks) Notify() {
	f.notified.Add(1)
	last, _ := f.outbox.Last(context.Background())
	f.inOutbox.Store(last)
}

// The sinks run alongside the server, are woken once findings are stored
// (so already in the outbox), and stop only after the last findings.
func TestSinksNotifiedAfterStore(t *testing.T) {
	var fs *fakeSinks
	h := start(t, dbPath(t), func(s *setup) {
		s.sinks = func(st *store.Store) Dispatcher {
			fs = &fakeSinks{outbox: st.Outbox(), stopped: make(chan struct{})}
			return fs
		}
	})
	batch := seedHoneytoken(t, h)
	h.post("/v1/events", "application/x-ndjson", batch)
	h.sync()
	if !fs.running.Load() {
		t.Error("the dispatcher is not running")
	}
	if fs.notified.Load() == 0 || fs.inOutbox.Load() < 2 {
		t.Errorf("notified %d times with %d outbox records; want a wake-up after the alert and case were in the outbox", fs.notified.Load(), fs.inOutbox.Load())
	}
	h.stop()
	select {
	case <-fs.stopped:
	default:
		t.Error("Run returned with the dispatcher still running")
	}
}

// An engine far behind does not grow the feed: records the journal holds
// are not in the store yet and cannot be read back, so past the feed's
// limit the writer waits for the engine to take them. Everything is still
// processed in ingest order and produces its findings.
func TestSlowEngineHoldsTheWriter(t *testing.T) {
	gate := make(chan struct{})
	var waited atomic.Int64
	h := start(t, dbPath(t), func(s *setup) {
		s.gate = gate
		s.bind = func(srv *Server) {
			srv.feed.limit = 1
			srv.feed.full = func() { waited.Add(1) }
		}
	})
	honey := seedHoneytoken(t, h)
	for _, body := range []string{
		evLine("e-0", "2026-03-03T00:59:00Z", "a-bo", "login", ""), // the engine takes it and is held
		honey, // queued in the feed
		evLine("e-3", "2026-03-03T01:06:00Z", "a-bo", "logout", "") + "\n" + evLine("e-4", "2026-03-03T01:07:00Z", "a-bo", "login", ""),
	} {
		if r := h.post("/v1/events", "application/x-ndjson", body); r.status != http.StatusOK {
			t.Fatalf("POST with the engine held: %d %s", r.status, r.body)
		}
	}
	// The last batch was acknowledged (journaled), and the writer then
	// waited for room rather than queue it past the limit. It answers the
	// request before it puts the records on the feed, so the wait may come
	// just after the 200.
	for deadline := time.Now().Add(10 * time.Second); waited.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if waited.Load() == 0 {
		t.Error("the writer queued records past the feed's limit")
	}
	close(gate)
	h.sync()
	if want := []string{"e-0", "e-1", "e-2", "e-3", "e-4"}; !slices.Equal(h.ids, want) {
		t.Errorf("engine fed %v, want the ingest order %v", h.ids, want)
	}
	page, err := h.st.Findings(context.Background(), store.FindingQuery{Actor: "a-ana"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Findings) == 0 {
		t.Error("no finding for the honeytoken view")
	}
}
