package store

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// BenchmarkAppend measures storing events in batches of 8192, as replay --db
// and large API batches do.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 8192
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	recs := make([]Record, batch)
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		for i := range recs {
			n++
			line := fmt.Sprintf(`{"id":"e-%d","time":"%s","actor":{"id":"a-%d","session":"s","ip":"198.51.100.7"},"action":"view","subject":{"id":"c-%d"},"resource":"profile","fields":["name","email"],"app":"console"}`,
				n, t0.Add(time.Duration(n)*time.Second).Format(time.RFC3339), n%500, n%20000)
			e, err := event.DecodeEvent([]byte(line))
			if err != nil {
				b.Fatal(err)
			}
			recs[i] = Record{Event: &e}
		}
		c0 := cpuTime()
		if _, err := s.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	// The machine is shared: CPU time per event is the steadier figure.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*batch), "cpu-ns/event")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteFindings measures storing findings in batches of 512, as
// serve's engine goroutine writes them: mostly new alerts, and a case
// rewritten with each batch (a new outbox revision).
func BenchmarkWriteFindings(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 512
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	fs := make([]*finding.Finding, batch)
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		for i := range fs {
			n++
			fs[i] = &finding.Finding{Kind: finding.KindAlert, ID: fmt.Sprintf("al-%d", n), Time: at.Add(time.Duration(n) * time.Second),
				Actor: finding.ActorRef{ID: fmt.Sprintf("a-%d", n%500)}, Rule: "r", Severity: finding.High, Risk: 60, Summary: "x"}
		}
		fs[0] = &finding.Finding{Kind: finding.KindCase, ID: "case-1", Time: at.Add(time.Duration(n) * time.Second),
			Actor: finding.ActorRef{ID: "a-1"}, Severity: finding.High, Risk: float64(n % 100), Summary: "case"}
		c0 := cpuTime()
		if err := s.WriteFindings(context.Background(), fs); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*batch), "cpu-ns/finding")
}
