package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/sim"
)

// TestRunSmall runs every stage on a small organisation and checks that the
// report has every figure the docs quote (no timing is asserted).
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates an organisation and starts two servers")
	}
	sc := sim.Default()
	sc.Agents, sc.Days, sc.Customers = 40, 3, 2000
	o := Options{Sim: sc, Config: config.Default(), ServeEvents: 2000, ServeBatch: 250, LatencyRate: 20000, LatencyEvents: 2000}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]Row{}
	for _, r := range rep.Rows {
		names[r.Name] = r
	}
	for _, want := range []string{"scan lines (events)", "decode events, encoding/json (1 core)", "decode events, fast path (1 core)", "replay: full pack + baselines"} {
		r, ok := names[want]
		if !ok {
			t.Fatalf("no row %q in %v", want, rep.Rows)
		}
		if r.Records == 0 {
			t.Errorf("%s: no records", want)
		}
	}
	if n := names["decode events, fast path (1 core)"].Records; n != names["replay: full pack + baselines"].Records {
		t.Errorf("replay saw %d events, decode %d", names["replay: full pack + baselines"].Records, n)
	}
	var serve *Row
	for i, r := range rep.Rows {
		if strings.HasPrefix(r.Name, "serve ingest") {
			serve = &rep.Rows[i]
		}
	}
	if serve == nil || serve.Records != 2000 {
		t.Fatalf("serve ingest row %+v, want 2000 records", serve)
	}
	if rep.Findings == 0 || rep.Actors == 0 {
		t.Errorf("replay: %d findings, %d actors", rep.Findings, rep.Actors)
	}
	if rep.AckP99 == 0 || rep.AckP99 < rep.AckP50 {
		t.Errorf("ack latency p50 %v p99 %v", rep.AckP50, rep.AckP99)
	}
	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| replay: full pack + baselines |", "acknowledgement latency", "event-to-finding latency", "peak RSS"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
