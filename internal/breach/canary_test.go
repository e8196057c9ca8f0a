package breach

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/golden"
)

func TestMint(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m := newMemory()
	cs, subs, err := Mint(ctx, m, MintRequest{Team: "payments", Count: 3, Seed: "s3cret", At: at, Country: "US"})
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	for _, s := range subs {
		raw = append(raw, s.Raw)
	}
	var b bytes.Buffer
	if err := WriteCanaries(&b, raw); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/canaries.ndjson", b.Bytes())
	for i, s := range subs {
		if !s.Honeytoken || s.ID != cs[i].Subject || cs[i].Team != "payments" || !strings.HasPrefix(s.ID, "c-") || len(s.ID) != 12 {
			t.Errorf("canary %d: %+v %+v", i, s, cs[i])
		}
		if m.subjects[s.ID] == nil || m.canaries[s.ID].Team != "payments" {
			t.Errorf("canary %s not stored", s.ID)
		}
	}

	// The same request mints the same canaries; another team gets others.
	again, _, err := Mint(ctx, newMemory(), MintRequest{Team: "payments", Count: 3, Seed: "s3cret", At: at})
	if err != nil || again[0].Subject != cs[0].Subject || again[2].Subject != cs[2].Subject {
		t.Errorf("not repeatable: %v %v", again, err)
	}
	other, _, err := Mint(ctx, m, MintRequest{Site: "manila", Count: 3, Seed: "s3cret", At: at})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range other {
		for _, c := range cs {
			if o.Subject == c.Subject {
				t.Errorf("site canary %s equals a team canary", o.Subject)
			}
		}
	}

	// An id already used by a real customer is skipped.
	m2 := newMemory()
	m2.subjects[cs[0].Subject] = &event.Subject{ID: cs[0].Subject}
	skip, _, err := Mint(ctx, m2, MintRequest{Team: "payments", Count: 3, Seed: "s3cret", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if skip[0].Subject != cs[1].Subject || len(skip) != 3 || m2.subjects[cs[0].Subject].Honeytoken {
		t.Errorf("collision with a real customer not avoided: %v", skip)
	}

	for _, tt := range []struct {
		req  MintRequest
		want string
	}{
		{MintRequest{Count: 1, Seed: "x"}, "exactly one of team or site"},
		{MintRequest{Team: "a", Site: "b", Count: 1, Seed: "x"}, "exactly one of team or site"},
		{MintRequest{Team: "a", Count: 0, Seed: "x"}, "count must be between 1 and 1000"},
		{MintRequest{Team: "a", Count: 1}, "a seed is required"},
		{MintRequest{Team: "a", Count: 1, Seed: "x", Digits: 3}, "digits must be between 6 and 18"},
	} {
		if _, _, err := Mint(ctx, newMemory(), tt.req); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.req, err, tt.want)
		}
	}
}
