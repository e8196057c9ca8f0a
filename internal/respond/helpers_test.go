package respond_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/store"
)

var t0 = time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// parse reads a configuration with a respond: section, as custos does.
func parse(t *testing.T, yaml string) respond.Config {
	t.Helper()
	c := config.Default()
	if err := config.Parse("test.yaml", []byte(yaml), &c); err != nil {
		t.Fatal(err)
	}
	return c.Respond
}

// build builds the configured actions over st; the first is returned.
func build(t *testing.T, c respond.Config, d respond.Deps) []sink.Sink {
	t.Helper()
	if d.Now == nil {
		d.Now = func() time.Time { return t0 }
	}
	ss, err := c.Build(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range ss {
			s.Sender.Close()
		}
	})
	return ss
}

func caseFinding(id, actor string, sev finding.Severity) *finding.Finding {
	return &finding.Finding{Kind: finding.KindCase, ID: id, Time: t0, Actor: finding.ActorRef{ID: actor},
		Severity: sev, Risk: 120, Status: "open", Alerts: []string{"al-1"}, Summary: "a case"}
}

func alertFinding(id, actor, rule string) *finding.Finding {
	return &finding.Finding{Kind: finding.KindAlert, ID: id, Time: t0, Actor: finding.ActorRef{ID: actor},
		Rule: rule, Severity: finding.Critical, Risk: 100, Subjects: []string{"c-9999"}, Evidence: []string{"e-1"},
		Summary: "a-ana viewed honeytoken customer c-9999"}
}

func send(ctx context.Context, s sink.Sink, f *finding.Finding) error {
	_, err := s.Sender.Send(ctx, []sink.Record{{Seq: 1, Added: t0, Finding: f}})
	return err
}

func action(t *testing.T, st *store.Store, name, findingID string) respond.Action {
	t.Helper()
	a, ok, err := st.Action(context.Background(), name, findingID)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("no journal record of %s for %s", name, findingID)
	}
	return a
}

// scimRequest is what the identity provider received.
type scimRequest struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   []byte
}

// idp is a SCIM 2.0 service provider on loopback: it answers PATCH
// /scim/v2/Users/{id} and GET /scim/v2/Users?filter=..., checking the
// bearer token, and lets a test script failures.
type idp struct {
	t     *testing.T
	token string
	srv   *httptest.Server

	mu       sync.Mutex
	requests []scimRequest
	// users maps userName to SCIM id for lookups; PATCH of an id not among
	// the values is a SCIM 404.
	users map[string]string
	// script, if set, answers request n (from 1) instead: a status and a
	// body, or 0 to answer normally.
	script func(n int, r scimRequest) (int, string)
}

func newIdP(t *testing.T, users map[string]string) *idp {
	p := &idp{t: t, token: "scim-token-1", users: users}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) url() string { return p.srv.URL + "/scim/v2" }

func (p *idp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := scimRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query().Get("filter"),
		Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	n := len(p.requests)
	script := p.script
	p.mu.Unlock()
	if script != nil {
		if status, b := script(n, req); status != 0 {
			if status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "2")
			}
			if strings.HasPrefix(b, "{") {
				w.Header().Set("Content-Type", "application/scim+json")
			}
			w.WriteHeader(status)
			io.WriteString(w, b)
			return
		}
	}
	if req.Auth != "Bearer "+p.token {
		scimError(w, http.StatusUnauthorized, "bad token")
		return
	}
	switch {
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/scim/v2/Users/"):
		id := strings.TrimPrefix(r.URL.Path, "/scim/v2/Users/")
		known := false
		for _, v := range p.users {
			known = known || v == id
		}
		if !known {
			scimError(w, http.StatusNotFound, "Resource "+id+" not found")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/scim/v2/Users":
		var res []map[string]string
		for name, id := range p.users {
			quoted, _ := json.Marshal(name)
			if req.Query == "userName eq "+string(quoted) {
				res = append(res, map[string]string{"id": id})
			}
		}
		w.Header().Set("Content-Type", "application/scim+json")
		json.NewEncoder(w).Encode(map[string]any{
			"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
			"totalResults": len(res), "Resources": res,
		})
	default:
		http.NotFound(w, r)
	}
}

func scimError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "detail": detail, "status": status,
	})
}

func (p *idp) got() []scimRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]scimRequest(nil), p.requests...)
}

func (p *idp) patches() int {
	n := 0
	for _, r := range p.got() {
		if r.Method == http.MethodPatch {
			n++
		}
	}
	return n
}

// memRoster is a roster in memory, for actions tested without a server.
type memRoster struct {
	mu     sync.Mutex
	people map[string]*event.Person
	puts   int
}

func (m *memRoster) Person(ctx context.Context, id string) (*event.Person, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.people[id]
	return p, ok, nil
}

func (m *memRoster) PutPerson(ctx context.Context, p *event.Person) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.people == nil {
		m.people = map[string]*event.Person{}
	}
	m.people[p.ID] = p
	m.puts++
	return nil
}

func person(t *testing.T, line string) *event.Person {
	t.Helper()
	p, err := event.DecodePerson([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// counter reads custos_response_actions_total for the labels.
func counter(t *testing.T, m *respond.Metrics, action, typ, result string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"action": action, "type": typ, "result": result}
	for _, mf := range mfs {
		if mf.GetName() != "custos_response_actions_total" {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
