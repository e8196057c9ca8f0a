package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/store"
)

// Extra routes are served behind the token, and the breach API answers
// from what was ingested through the API.
func TestBreachRoutes(t *testing.T) {
	h := start(t, dbPath(t), func(s *setup) {
		s.routes = func(st *store.Store) map[string]http.Handler {
			return (&breach.API{Source: st, Windows: engine.Windows{Grace: 15 * time.Minute}}).Routes()
		}
	})
	events := strings.Join([]string{
		evLine("e1", "2026-03-03T01:00:00Z", "ana", "view", "c1"),
		evLine("e2", "2026-03-03T01:05:00Z", "ana", "view", "c2"),
		evLine("e3", "2026-03-03T01:06:00Z", "ben", "view", "c3"),
	}, "\n")
	if r := h.post("/v1/events", "application/x-ndjson", events); r.status != 200 {
		t.Fatalf("ingest: %d %s", r.status, r.body)
	}
	r := h.do("GET", "/v1/exposure?actor=ana", "", nil, "Authorization", "")
	if r.status != http.StatusUnauthorized {
		t.Errorf("exposure without a token: %d", r.status)
	}
	r = h.do("GET", "/v1/exposure?actor=ana", "", nil)
	var x struct {
		Summary struct{ Customers int }
	}
	r.json(t, &x)
	if r.status != 200 || x.Summary.Customers != 2 {
		t.Errorf("exposure: %d %s", r.status, r.body)
	}
	r = h.post("/v1/attribution", "text/plain", "c1\nc2\n")
	var a struct {
		Suspects []struct{ Actor string }
	}
	r.json(t, &a)
	if r.status != 200 || len(a.Suspects) != 1 || a.Suspects[0].Actor != "ana" {
		t.Errorf("attribution: %d %s", r.status, r.body)
	}
	b, _ := json.Marshal(map[string]any{"customers": []string{}})
	if r := h.post("/v1/attribution", "application/json", string(b)); r.status != 400 {
		t.Errorf("empty list: %d %s", r.status, r.body)
	}
}
