package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/respond/respondtest"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/store"
)

// serverRoster is the suspend action's roster as custos serve wires it:
// read from the store, written through the server.
type serverRoster struct {
	st  *store.Store
	srv *Server
}

func (r *serverRoster) Person(ctx context.Context, id string) (*event.Person, bool, error) {
	return r.st.Person(ctx, id)
}

func (r *serverRoster) PutPerson(ctx context.Context, p *event.Person) error {
	return r.srv.PutPerson(ctx, p)
}

// withActions runs the response actions configured in yaml on the
// server's outbox, as custos serve does.
func withActions(t *testing.T, yaml string) func(*setup) {
	return func(su *setup) {
		c := config.Default()
		if err := config.Parse("test.yaml", []byte(yaml), &c); err != nil {
			t.Fatal(err)
		}
		roster := &serverRoster{}
		su.sinks = func(st *store.Store) Dispatcher {
			roster.st = st
			actions, err := c.Respond.Build(respond.Deps{Journal: st, Roster: roster})
			if err != nil {
				t.Fatal(err)
			}
			d, err := sink.NewDispatcher(context.Background(), st.Outbox(), actions, sink.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		su.bind = func(s *Server) { roster.srv = s }
	}
}

// A honeytoken alert suspends the actor through the roster: the entry is
// suspended in the store, the action shows on the alert and on its case,
// and the actor's next access is an access outside the contract.
func TestSuspendActionBlocksFurtherAccess(t *testing.T) {
	h := start(t, dbPath(t), withActions(t, `
respond:
  actions:
    - name: suspend-on-honeytoken
      type: suspend
      when: {rules: [honeytoken_access]}
`))
	if r := h.put("/v1/roster/a-ana", `{"vendor":"bpo-north","team":"payments","contract_end":"2027-12-31"}`); r.status != http.StatusCreated {
		t.Fatalf("PUT roster: %d %s", r.status, r.body)
	}
	h.post("/v1/events", "application/x-ndjson", seedHoneytoken(t, h))
	h.sync()
	alerts := h.findings("rule=honeytoken_access")
	cases := h.findings("kind=case")
	if len(alerts) != 1 || len(cases) != 1 {
		t.Fatalf("%d honeytoken alerts, %d cases; want 1 and 1", len(alerts), len(cases))
	}
	alertID, caseID := alerts[0]["id"].(string), cases[0]["id"].(string)

	a := respondtest.WaitAction(t, h.st, "suspend-on-honeytoken", alertID)
	if a.Status != respond.StatusSucceeded || a.Target != "a-ana" {
		t.Fatalf("journal %+v", a)
	}
	p, ok, err := h.st.Person(context.Background(), "a-ana")
	if err != nil || !ok || p.Status != event.Suspended || p.Vendor != "bpo-north" {
		t.Fatalf("stored roster entry %+v (%v, %v); want a-ana suspended, vendor kept", p, ok, err)
	}

	for _, path := range []string{"/v1/findings/" + alertID + "/actions", "/v1/cases/" + caseID + "/actions"} {
		r := h.do("GET", path, "", nil)
		var page ActionsPage
		r.json(t, &page)
		if r.status != 200 || len(page.Actions) != 1 || page.Actions[0].Finding != alertID ||
			page.Actions[0].Status != respond.StatusSucceeded || page.Actions[0].Name != "suspend-on-honeytoken" {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/cases/case-nope/actions", "", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown case: %d %s", r.status, r.body)
	}

	// The suspension reached the engine before the journal said done, so
	// the next access is judged against it.
	h.sync()
	h.post("/v1/events", "application/x-ndjson", evLine("e-3", "2026-03-03T01:10:00Z", "a-ana", "view", "c-1"))
	h.sync()
	out := h.findings("rule=access_outside_contract&actor=a-ana")
	if len(out) != 1 || !strings.Contains(out[0]["summary"].(string), "while suspended") {
		t.Errorf("after the suspension: %v; want one access_outside_contract alert, while suspended", out)
	}
}

// tickClock is a wall clock the test sets, whose timer fires when the test
// says.
type tickClock struct {
	mu   sync.Mutex
	now  time.Time
	tick chan time.Time
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *tickClock) After(time.Duration) <-chan time.Time { return c.tick }

func (c *tickClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// The lifecycle check runs when the server starts, at every tick of its
// interval and for every roster entry PUT; its alerts are stored, in the
// outbox, and wake the sinks.
func TestLifecycleScheduledAndOnRosterChange(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ben, _ := event.DecodePerson([]byte(`{"id":"a-ben","vendor":"bpo-north","contract_end":"2026-03-02"}`))
	st.PutPeople(ctx, []*event.Person{&ben})
	st.Close()

	clock := &tickClock{now: time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC), tick: make(chan time.Time)}
	checked := make(chan struct{}, 1)
	var fs *fakeSinks
	h := start(t, path, func(su *setup) {
		var served *store.Store
		su.sinks = func(st *store.Store) Dispatcher {
			served = st
			fs = &fakeSinks{outbox: st.Outbox(), stopped: make(chan struct{})}
			return fs
		}
		su.options = func(o *Options) {
			o.Lifecycle = respond.NewLifecycle(respond.LifecycleConfig{Severity: "high"}, served, nil)
			o.LifecycleInterval = time.Hour
			o.Clock = clock
		}
		su.hook = func(what string) {
			if what == "lifecycle" {
				checked <- struct{}{}
			}
		}
	})
	<-checked
	actors := func() []string {
		var out []string
		for _, f := range h.findings("rule=identity_active_after_contract") {
			out = append(out, f["actor"].(map[string]any)["id"].(string))
		}
		return out
	}
	if got := actors(); len(got) != 1 || got[0] != "a-ben" {
		t.Fatalf("after the first check: %v; want a-ben", got)
	}
	if fs.notified.Load() == 0 || fs.inOutbox.Load() != 1 {
		t.Errorf("sinks woken %d times with %d outbox records; want the alert in the outbox", fs.notified.Load(), fs.inOutbox.Load())
	}

	// A roster change is checked at once, before the PUT answers.
	h.put("/v1/roster/a-cy", `{"contract_end":"2026-03-01"}`)
	h.put("/v1/roster/a-dee", `{"contract_end":"2026-03-06"}`)
	if got := actors(); strings.Join(got, ",") != "a-ben,a-cy" {
		t.Fatalf("after two PUTs: %v; want a-ben, a-cy", got)
	}

	// The next tick, a day later, finds a-dee's contract over.
	clock.set(time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC))
	clock.tick <- clock.Now()
	<-checked
	if got := actors(); strings.Join(got, ",") != "a-ben,a-cy,a-dee" {
		t.Fatalf("after the tick: %v; want a-ben, a-cy, a-dee", got)
	}
	mfs := scrape(t, h, "")
	if v := value(mfs, "custos_findings_total", "kind", "alert", "severity", "high"); v != 3 {
		t.Errorf("custos_findings_total{kind=alert,severity=high} = %v; want 3", v)
	}
}

// scrape GETs /metrics (with the token if given) and parses it.
func scrape(t *testing.T, h *harness, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", h.url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// value is the metric of the family with the label pairs given (a
// histogram's sample count), or -1 if there is none.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return -1
}

// /metrics shows ingest, findings, engine and store latency, queue depth,
// and the lag and failures of a sink whose receiver is down; the counters
// move with the next batch.
func TestMetrics(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	h := start(t, dbPath(t), func(su *setup) {
		su.sinks = func(st *store.Store) Dispatcher {
			c := sink.Config{Name: "siem", Type: sink.TypeWebhook, HTTP: &sink.HTTPConfig{URL: down.URL},
				Retry: sink.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond}}
			s, err := c.Build(sink.BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d, err := sink.NewDispatcher(context.Background(), st.Outbox(), []sink.Sink{s}, sink.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		su.options = func(o *Options) { o.Collectors = respond.NewMetrics().Collectors() }
	})
	batch := seedHoneytoken(t, h)
	h.post("/v1/events", "application/x-ndjson", batch)
	h.post("/v1/events", "application/x-ndjson", batch+"\n"+`{"id":"bad","time":"2026-03-03T01:06:00Z","action":"view"}`)
	h.sync()

	mfs := scrape(t, h, "")
	for _, c := range []struct {
		name   string
		labels []string
		want   func(float64) bool
		what   string
	}{
		{"custos_ingested_records_total", []string{"type", "events", "result", "accepted"}, eq(2), "2"},
		{"custos_ingested_records_total", []string{"type", "events", "result", "duplicate"}, eq(2), "2"},
		{"custos_ingested_records_total", []string{"type", "events", "result", "rejected"}, eq(1), "1"},
		{"custos_ingested_records_total", []string{"type", "subjects", "result", "accepted"}, eq(1), "1"},
		{"custos_findings_total", []string{"kind", "alert", "severity", "critical"}, eq(1), "1"},
		{"custos_findings_total", []string{"kind", "case", "severity", "critical"}, eq(1), "1"},
		{"custos_engine_record_seconds", nil, eq(3), "3 observations (2 events, 1 customer)"},
		{"custos_store_write_seconds", []string{"op", "journal"}, eq(1), "1 (the second batch is all duplicates)"},
		// No count of write_findings: the findings may ride in the group
		// of the records they come from (the engine sees records before
		// the store has them), and that group counts as an append.
		{"custos_store_write_seconds", []string{"op", "append"}, atLeast(1), ">= 1"},
		{"custos_index_lag_records", nil, eq(0), "0"},
		{"custos_engine_queue_records", nil, eq(0), "0"},
		{"custos_sink_behind_findings", []string{"sink", "siem"}, eq(2), "2 (the alert and the case)"},
		{"custos_sink_oldest_undelivered_seconds", []string{"sink", "siem"}, atLeast(0), ">= 0"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
	} {
		if got := value(mfs, c.name, c.labels...); !c.want(got) {
			t.Errorf("%s%v = %v; want %s", c.name, c.labels, got, c.what)
		}
	}

	// The counters move.
	h.post("/v1/events", "application/x-ndjson", evLine("e-4", "2026-03-03T01:20:00Z", "a-ana", "login", ""))
	h.sync()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mfs = scrape(t, h, "")
		if value(mfs, "custos_sink_failures_total", "sink", "siem") >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := value(mfs, "custos_ingested_records_total", "type", "events", "result", "accepted"); got != 3 {
		t.Errorf("accepted events after one more: %v; want 3", got)
	}
	if got := value(mfs, "custos_engine_record_seconds"); got != 4 {
		t.Errorf("engine observations after one more: %v; want 4", got)
	}
	if got := value(mfs, "custos_sink_failures_total", "sink", "siem"); got < 1 {
		t.Errorf("failures of the sink whose receiver is down: %v; want >= 1", got)
	}
	if got := value(mfs, "custos_sink_delivered_total", "sink", "siem"); got != 0 {
		t.Errorf("delivered by a sink whose receiver is down: %v", got)
	}
}

func eq(v float64) func(float64) bool      { return func(g float64) bool { return g == v } }
func atLeast(v float64) func(float64) bool { return func(g float64) bool { return g >= v } }

// With metrics_auth the scrape needs the token; without it, it does not.
func TestMetricsAuth(t *testing.T) {
	h := start(t, dbPath(t), func(su *setup) { su.options = func(o *Options) { o.MetricsAuth = true } })
	res, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated scrape: %d; want 401", res.StatusCode)
	}
	if mfs := scrape(t, h, testToken); value(mfs, "custos_engine_queue_records") != 0 {
		t.Errorf("authenticated scrape lacks the queue gauge")
	}
	open := start(t, dbPath(t))
	scrape(t, open, "")
}

func TestActionsPageJSON(t *testing.T) {
	a := respond.Action{Name: "disable", Type: "scim_disable", Finding: "case-1", Actor: "a-ben", Target: "u-1",
		Status: respond.StatusSucceeded, Code: 204, Result: "done", Attempts: 2,
		Started: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC), Updated: time.Date(2026, 3, 3, 9, 0, 1, 0, time.UTC)}
	b, _ := json.Marshal(ActionsPage{Finding: "case-1", Actions: []respond.Action{a}})
	want := `{"finding":"case-1","actions":[{"action":"disable","type":"scim_disable","finding":"case-1","actor":"a-ben","target":"u-1","status":"succeeded","code":204,"result":"done","attempts":2,"started":"2026-03-03T09:00:00Z","updated":"2026-03-03T09:00:01Z"}]}`
	if string(b) != want {
		t.Errorf("%s\nwant %s", b, want)
	}
}
