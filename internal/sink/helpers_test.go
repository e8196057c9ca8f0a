package sink

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// fakeClock advances by exactly what is waited for, at once: tests run
// backoffs and ack polls without sleeping, and read back the waits.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func seeded(seed uint64) func(string) *rand.Rand {
	return func(name string) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(len(name)))) }
}

// eventually polls cond until it holds; the deadline only guards against a
// hung test, it is not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var t0 = time.Date(2026, 3, 3, 1, 18, 30, 250_000_000, time.UTC)

// trickyAlert carries every character CEF must escape, in the header and in
// extensions.
func trickyAlert() *finding.Finding {
	return &finding.Finding{
		Kind:     finding.KindAlert,
		ID:       "al-abb68cafa22b015bc8e9",
		Time:     t0,
		Actor:    finding.ActorRef{ID: "a-ana"},
		Rule:     `pipe|rule\x`,
		Severity: finding.Critical,
		Risk:     100,
		Subjects: []string{"c-9999", "c-1003"},
		Evidence: []string{"e-07"},
		Summary:  "a-ana viewed c-9999 | query a=b \\ path C:\\tmp\nsecond line\r\nthird",
		Details:  map[string]any{"verdict": "no_ticket", "count": 3},
	}
}

func sampleCase(alerts ...string) *finding.Finding {
	return &finding.Finding{
		Kind:     finding.KindCase,
		ID:       "case-cc3afb068ddefe8d6961",
		Time:     t0.Add(12 * time.Minute),
		Actor:    finding.ActorRef{ID: "a-ana"},
		Severity: finding.High,
		Risk:     109.8,
		Status:   "open",
		Alerts:   alerts,
		Summary:  "a-ana: 2 alert(s) since 2026-03-03 01:18 UTC (honeytoken_access ×1, no_ticket ×1).",
	}
}

// numbered makes n distinct alerts.
func numbered(n int) []*finding.Finding {
	out := make([]*finding.Finding, n)
	sevs := []finding.Severity{finding.Info, finding.Low, finding.Medium, finding.High, finding.Critical}
	for i := range out {
		out[i] = &finding.Finding{
			Kind:     finding.KindAlert,
			ID:       fmt.Sprintf("al-%04d", i),
			Time:     t0.Add(time.Duration(i) * time.Second),
			Actor:    finding.ActorRef{ID: fmt.Sprintf("a-%d", i%7)},
			Rule:     []string{"no_ticket", "honeytoken_access", "anomaly:volume"}[i%3],
			Severity: sevs[i%len(sevs)],
			Risk:     float64(10 + i%50),
			Subjects: []string{fmt.Sprintf("c-%d", i)},
			Evidence: []string{fmt.Sprintf("e-%d", i)},
			Summary:  fmt.Sprintf("finding %d", i),
		}
	}
	return out
}

// runDispatcher starts d.Run and returns a stop function that cancels it
// and waits for it to return.
func runDispatcher(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// parseCEF splits a CEF line into its seven header fields and its
// extensions, undoing the escapes: the receiving side of the round trip.
func parseCEF(t *testing.T, line string) (header []string, ext map[string]string) {
	t.Helper()
	var cur strings.Builder
	i := 0
	for ; i < len(line) && len(header) < 7; i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line) && (line[i+1] == '|' || line[i+1] == '\\'):
			cur.WriteByte(line[i+1])
			i++
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(header) != 7 {
		t.Fatalf("CEF line has %d header fields, want 7: %q", len(header), line)
	}
	rest := line[i:]
	// Keys start after a space (or at the start) and end at an unescaped =.
	type kv struct{ key, raw string }
	var kvs []kv
	start := 0
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' {
			j++
			continue
		}
		if rest[j] != '=' {
			continue
		}
		k := strings.LastIndexByte(rest[:j], ' ')
		if len(kvs) > 0 {
			kvs[len(kvs)-1].raw = rest[start:max(k, start)]
		}
		kvs = append(kvs, kv{key: rest[k+1 : j]})
		start = j + 1
	}
	if len(kvs) > 0 {
		kvs[len(kvs)-1].raw = rest[start:]
	}
	ext = map[string]string{}
	un := strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r")
	for _, p := range kvs {
		if _, dup := ext[p.key]; dup {
			t.Fatalf("CEF extension key %q twice in %q", p.key, line)
		}
		ext[p.key] = un.Replace(p.raw)
	}
	return header, ext
}

// deliverAll runs a dispatcher with the one sink over fs until the sink has
// caught up, and returns it stopped, for its Lag.
func deliverAll(t *testing.T, s Sink, fs []*finding.Finding, clock Clock) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{s}, Options{Clock: clock, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, d, fs)
	stop := runDispatcher(t, d)
	eventually(t, "sink caught up", func() bool { return mustLag(t, d)[0].Behind == 0 })
	stop()
	return d
}
