package replay_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
)

// writeOrg writes a replay directory of agents working tickets: each agent
// handles a stream of tickets, viewing the customer (sometimes a few minutes
// before the ticket is filed), with a small share of unexplained looks.
func writeOrg(b *testing.B, dir string, agents, ticketsPerAgent int) int {
	rng := rand.New(rand.NewPCG(1, 2))
	create := func(name string) (*os.File, *bufio.Writer) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		return f, bufio.NewWriter(f)
	}
	rf, rw := create("roster.ndjson")
	sf, sw := create("subjects.ndjson")
	tf, tw := create("tickets.ndjson")
	ef, ew := create("events.ndjson")
	const customers = 50000
	for c := range customers {
		fmt.Fprintf(sw, `{"id":"c-%d","tier":"standard","balance_usd":%d}`+"\n", c, rng.IntN(100000))
	}
	type line struct {
		t   time.Time
		txt string
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var tickets, events []line
	n := 0
	for a := range agents {
		fmt.Fprintf(rw, `{"id":"a-%d","vendor":"bpo-%d","team":"general","role":"agent","contract_start":"2025-01-01"}`+"\n", a, a%3)
		t := start.Add(time.Duration(a) * time.Second)
		for k := range ticketsPerAgent {
			id := fmt.Sprintf("T-%d-%d", a, k)
			c := rng.IntN(customers)
			filed := t.Add(time.Duration(rng.IntN(300)) * time.Second)
			tickets = append(tickets,
				line{filed, fmt.Sprintf(`{"time":"%s","id":"%s","subject":"c-%d","assignee":"a-%d","status":"open"}`, filed.Format(time.RFC3339), id, c, a)},
				line{filed.Add(20 * time.Minute), fmt.Sprintf(`{"time":"%s","id":"%s","subject":"c-%d","assignee":"a-%d","status":"solved"}`, filed.Add(20*time.Minute).Format(time.RFC3339), id, c, a)})
			for v := range 3 {
				subject := c
				if rng.IntN(50) == 0 {
					subject = rng.IntN(customers)
				}
				et := t.Add(time.Duration(v*90) * time.Second)
				n++
				events = append(events, line{et, fmt.Sprintf(`{"id":"e-%d","time":"%s","actor":{"id":"a-%d","ip":"198.51.100.%d","country":"PH"},"action":"view","subject":{"id":"c-%d"},"resource":"profile","fields":["name","email"],"ticket":"%s","duration_ms":%d,"app":"console"}`,
					n, et.Format(time.RFC3339), a, a%250, subject, id, 1000+rng.IntN(60000))})
			}
			t = t.Add(25 * time.Minute)
		}
	}
	byTime := func(a, b line) int { return a.t.Compare(b.t) }
	slices.SortStableFunc(tickets, byTime)
	slices.SortStableFunc(events, byTime)
	for _, l := range tickets {
		fmt.Fprintln(tw, l.txt)
	}
	for _, l := range events {
		fmt.Fprintln(ew, l.txt)
	}
	for _, p := range []struct {
		f *os.File
		w *bufio.Writer
	}{{rf, rw}, {sf, sw}, {tf, tw}, {ef, ew}} {
		p.w.Flush()
		p.f.Close()
	}
	return n
}

func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	agents, perAgent := 200, 100
	if testing.Short() {
		agents, perAgent = 20, 10
	}
	n := writeOrg(b, dir, agents, perAgent)
	cfg := config.Default()
	var findings int
	b.ResetTimer()
	for b.Loop() {
		findings = 0
		eng, err := cfg.Engine(func(*finding.Finding) { findings++ })
		if err != nil {
			b.Fatal(err)
		}
		c, err := replay.Run(context.Background(), replay.Options{Dir: dir, Lateness: cfg.Replay.Lateness}, eng)
		if err != nil {
			b.Fatal(err)
		}
		if c.Events != int64(n) || c.Rejected != 0 || c.Late != 0 {
			b.Fatalf("counts %+v, want %d events", c, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(findings), "findings")
}
