package respond_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

// An action requested on demand acts once for the case whatever its
// trigger says, journals who asked and why, is not repeated by a second
// request or by the dispatcher, and after a failure can be requested again.
func TestOnDemand(t *testing.T) {
	ctx := context.Background()
	rv := &soar{secret: []byte("s3cret"), status: func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	st := openStore(t)
	cfg := parse(t, fmt.Sprintf(`
respond:
  scim: {http: {url: "http://127.0.0.1:1/scim/v2"}, token_file: %q}
  actions:
    - name: soar
      type: webhook
      when: {case_severity: critical}
      http: {url: %q}
      secret: s3cret
  lifecycle: {enabled: true, deprovision: true}
`, writeFile(t, "scim.token", "tok"), srv.URL))
	sinks, od, err := cfg.BuildAll(respond.Deps{Journal: st, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer od.Close()
	if got := od.Actions(); len(got) != 1 || got[0].Name != "soar" || got[0].Type != respond.TypeWebhook {
		t.Errorf("actions %+v; want soar only (not the lifecycle deprovisioning)", got)
	}

	// A low case: the trigger (critical) would never act on it.
	c := caseFinding("case-1", "a-ana", finding.Low)
	req := respond.Request{Action: "soar", Finding: c, User: "ana", Reason: "confirmed with the team lead"}
	for _, bad := range []respond.Request{
		{Action: "wipe", Finding: c, User: "ana", Reason: "x"},
		{Action: "soar", Finding: c, User: "ana"},
		{Action: "soar", Finding: c, Reason: "x"},
		{Action: "soar", User: "ana", Reason: "x"},
	} {
		if _, err := od.Run(ctx, bad); err == nil {
			t.Errorf("request %+v accepted", bad)
		}
	}
	if rv.n != 0 {
		t.Fatalf("invalid requests reached the receiver %d times", rv.n)
	}

	a, err := od.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != respond.StatusFailed || a.Code != 503 || a.Attempts != 1 || a.RequestedBy != "ana" || a.Reason != "confirmed with the team lead" {
		t.Errorf("after a 503: %+v; want failed after one attempt, with the user and reason", a)
	}
	if rv.n != 1 {
		t.Errorf("%d requests after one failed attempt; want 1 (no background retry)", rv.n)
	}

	req.User, req.Reason = "lee", "retry after the SOAR outage"
	if a, err = od.Run(ctx, req); err != nil {
		t.Fatal(err)
	}
	if a.Status != respond.StatusSucceeded || a.Attempts != 2 || a.RequestedBy != "lee" || len(rv.bodies) != 1 {
		t.Errorf("re-request: %+v, %d deliveries; want succeeded at attempt 2 by lee, one delivery", a, len(rv.bodies))
	}
	if got := action(t, st, "soar", "case-1"); got.RequestedBy != "lee" || got.Reason != "retry after the SOAR outage" || got.Status != respond.StatusSucceeded {
		t.Errorf("journal %+v", got)
	}

	again, err := od.Run(ctx, req)
	if !errors.Is(err, respond.ErrDone) || again.Status != respond.StatusSucceeded || rv.n != 2 {
		t.Errorf("second request: %+v %v with %d requests; want ErrDone and nothing sent", again, err, rv.n)
	}
	// The dispatcher, when the case grows to critical, does not act again.
	c.Severity = finding.Critical
	if err := send(ctx, sinks[0], c); err != nil {
		t.Fatal(err)
	}
	if rv.n != 2 {
		t.Errorf("the dispatcher sent again after the request: %d requests", rv.n)
	}
}

// A finding the dispatcher is retrying is left to it; a request waits for
// the action's turn and stops with its context.
func TestOnDemandLeavesDispatcherRetries(t *testing.T) {
	ctx := context.Background()
	rv := &soar{secret: []byte("s3cret"), status: func(int) int { return http.StatusBadGateway }}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	st := openStore(t)
	cfg := parse(t, fmt.Sprintf(`
respond:
  actions:
    - name: soar
      type: webhook
      when: {case_severity: high}
      http: {url: %q}
      secret: s3cret
`, srv.URL))
	sinks, od, err := cfg.BuildAll(respond.Deps{Journal: st, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer od.Close()
	c := caseFinding("case-2", "a-ana", finding.High)
	if err := send(ctx, sinks[0], c); err == nil {
		t.Fatal("502 not reported for a retry")
	}
	a, err := od.Run(ctx, respond.Request{Action: "soar", Finding: c, User: "ana", Reason: "now please"})
	if !errors.Is(err, respond.ErrUnderWay) || a.Status != respond.StatusPending || rv.n != 1 {
		t.Errorf("request during retries: %+v %v, %d requests; want ErrUnderWay and nothing sent", a, err, rv.n)
	}
	if !strings.Contains(err.Error(), "retries carry on") {
		t.Errorf("error %q does not say the retries carry on", err)
	}
}
