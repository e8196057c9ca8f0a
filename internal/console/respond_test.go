package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/respond"
)

// memJournal is the response actions journal in memory (the store's in
// production).
type memJournal struct {
	mu   sync.Mutex
	recs map[[2]string]respond.Action
}

func (j *memJournal) Action(_ context.Context, name, id string) (respond.Action, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	a, ok := j.recs[[2]string{name, id}]
	return a, ok, nil
}

func (j *memJournal) PutAction(_ context.Context, a *respond.Action) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.recs == nil {
		j.recs = map[[2]string]respond.Action{}
	}
	j.recs[[2]string{a.Name, a.Finding}] = *a
	return nil
}

func (j *memJournal) ActionsFor(_ context.Context, ids []string) ([]respond.Action, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []respond.Action
	for _, a := range j.recs {
		for _, id := range ids {
			if a.Finding == id {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// soarReceiver counts the webhook requests it gets.
type soarReceiver struct {
	mu     sync.Mutex
	bodies []string
}

func (s *soarReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *soarReceiver) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// An analyst triggers a configured webhook response from the case page:
// the receiver gets one request, the case page shows the journal record
// with the analyst and the reason, a second trigger sends nothing, and a
// vendor supervisor is refused.
func TestRespondOnDemand(t *testing.T) {
	rv := &soarReceiver{}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	cfg := config.Default()
	err := config.Parse("custos.yaml", fmt.Appendf(nil, `
respond:
  actions:
    - name: soar-contain
      type: webhook
      when: {case_severity: critical}
      http: {url: %q}
`, srv.URL+"/hooks"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	j := &memJournal{}
	_, od, err := cfg.Respond.BuildAll(respond.Deps{Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	defer od.Close()
	h := newHarness(t, func(o *Options) { o.Responder, o.Journal = RespondOver{D: od}, j })
	id := h.caseOf("n-rec-04")

	ana := h.login("ana")
	_, body := ana.get("/cases/" + id)
	if !strings.Contains(body, `value="soar-contain"`) || !strings.Contains(body, "send the case to the SOAR webhook") {
		t.Fatal("the case page does not offer the configured action")
	}
	if res, _ := ana.post("/cases/"+id+"/respond", url.Values{"action": {"soar-contain"}, "note": {"no token"}}); res.StatusCode != http.StatusForbidden || rv.n() != 0 {
		t.Fatalf("trigger without the CSRF token: %d, %d requests; want 403 and none", res.StatusCode, rv.n())
	}
	if res, _ := ana.form("/cases/"+id+"/respond", "action", "soar-contain", "note", "bulk export confirmed"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("trigger: %d", res.StatusCode)
	}
	if rv.n() != 1 || !strings.Contains(rv.bodies[0], id) {
		t.Fatalf("receiver got %d requests (%v); want 1 about the case", rv.n(), rv.bodies)
	}
	_, body = ana.get("/cases/" + id)
	if !strings.Contains(body, `id="response-actions"`) || !strings.Contains(body, "succeeded") ||
		!strings.Contains(body, "requested by <b>ana</b>: bulk export confirmed") {
		t.Errorf("the case page does not show the journal record with the user and reason")
	}

	if res, _ := h.login("lee").form("/cases/"+id+"/respond", "action", "soar-contain", "note", "again"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("second trigger: %d", res.StatusCode)
	}
	if rv.n() != 1 {
		t.Errorf("a second trigger sent again: %d requests", rv.n())
	}
	acts, _ := h.state.CaseActions(context.Background(), id)
	if len(acts) != 2 || !strings.HasPrefix(acts[0].Note, "succeeded") || !strings.Contains(acts[1].Note, "not done again") {
		t.Errorf("case history %+v", acts)
	}
	if a, _, _ := j.Action(context.Background(), "soar-contain", id); a.RequestedBy != "ana" || a.Attempts != 1 {
		t.Errorf("journal %+v; want ana's single attempt", a)
	}

	if res, body := h.login("vnorth").form("/cases/"+id+"/respond", "action", "soar-contain", "note", "x"); res.StatusCode != http.StatusForbidden || strings.Contains(body, "n-rec-04") {
		t.Errorf("vendor supervisor: %d; want 403", res.StatusCode)
	}
	if res, _ := h.login("pia").form("/cases/"+id+"/respond", "action", "soar-contain", "note", "x"); res.StatusCode != http.StatusForbidden {
		t.Errorf("privacy officer: %d; want 403", res.StatusCode)
	}
	if rv.n() != 1 {
		t.Errorf("refused users reached the receiver: %d requests", rv.n())
	}
	if recs := h.auditOf(AuditCaseAction); len(recs) < 2 || !strings.Contains(recs[0].Detail+recs[len(recs)-1].Detail, "respond soar-contain") {
		t.Errorf("audit %+v", recs)
	}
}
