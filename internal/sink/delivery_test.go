package sink

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/rules"
)

// flakyListener serves HTTP on loopback but, while down, closes every
// connection as soon as it is accepted: from the client's side the
// collector has crashed.
type flakyListener struct {
	net.Listener
	down atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.down.Load() {
			return c, nil
		}
		c.Close()
	}
}

// collector is an OCSF NDJSON endpoint that counts what it accepted. It can
// also lose its answers: take a batch, then drop the connection without
// responding, so the sender cannot know the batch arrived.
type collector struct {
	mu       sync.Mutex
	received map[string]int // delivery id (metadata.uid) -> times received
	total    int
	loseNext int // answers still to lose
	lost     int // records in batches whose answer was lost
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var uids []string
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil || doc.Metadata.UID == "" {
			http.Error(w, "bad line", http.StatusBadRequest)
			return
		}
		uids = append(uids, doc.Metadata.UID)
	}
	c.mu.Lock()
	for _, u := range uids {
		c.received[u]++
	}
	c.total += len(uids)
	lose := c.loseNext > 0
	if lose {
		c.loseNext--
		c.lost += len(uids)
	}
	c.mu.Unlock()
	if lose {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (c *collector) snapshot() (received map[string]int, total, lost int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.received))
	for k, v := range c.received {
		m[k] = v
	}
	return m, c.total, c.lost
}

// runEngine replays a synthetic support floor through the real engine and
// returns how many events it processed. Every finding goes to emit.
func runEngine(emit func(*finding.Finding)) int {
	var eng *engine.Engine
	pack, err := rules.Shipped()
	if err != nil {
		panic(err) // the shipped pack is tested to load
	}
	ev := rules.NewEvaluator(pack, func(id string) *event.Person { return eng.Person(id) })
	eng = engine.New(engine.Config{
		Tickets:   engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute},
		Immediate: []engine.Detector{ev.Immediate()},
		Settled:   []engine.Detector{ev.Settled()},
		Risk:      engine.RiskConfig{HalfLife: 72 * time.Hour, CaseThreshold: 50},
	}, emit)
	for i := range 5 {
		eng.SetSubject(&event.Subject{ID: fmt.Sprintf("c-honey-%d", i), Honeytoken: true})
	}
	start := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	n := 0
	for i := range 400 {
		actor := fmt.Sprintf("a-%02d", i%20)
		subject := fmt.Sprintf("c-%d", 1000+i*7%300)
		if i%37 == 0 {
			subject = fmt.Sprintf("c-honey-%d", i%5)
		}
		eng.Event(&event.Event{
			ID:       fmt.Sprintf("e-%04d", i),
			Time:     start.Add(time.Duration(i) * 90 * time.Second),
			Actor:    event.Actor{ID: actor},
			Action:   event.View,
			Subject:  subject,
			Resource: "profile",
		})
		n++
	}
	eng.Flush()
	return n
}

// TestCollectorDownThenBack is the at-least-once guarantee end to end: the
// engine produces every finding while the collector is down (and the
// dispatcher restarts meanwhile); when the collector returns, every finding
// arrives, and duplicates come only from answers the collector lost.
func TestCollectorDownThenBack(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: raw}
	fl.down.Store(true)
	col := &collector{received: map[string]int{}}
	srv := &http.Server{Handler: col}
	go srv.Serve(fl)
	t.Cleanup(func() { srv.Close() })

	ob := &Mem{}
	clock := newFakeClock()
	cfg := Config{Name: "collector", Type: TypeOCSF, Start: "earliest", BatchSize: 5,
		Retry: Retry{Initial: time.Millisecond, Max: time.Second},
		HTTP:  &HTTPConfig{URL: "http://" + raw.Addr().String() + "/ocsf", Timeout: 5 * time.Second}}
	newDispatcher := func() *Dispatcher {
		s, err := cfg.Build(BuildOptions{Product: testProduct, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDispatcher(context.Background(), ob, []Sink{s}, Options{Clock: clock, Rand: seeded(9)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// The engine runs while the collector is down. Its emit appends to the
	// outbox and returns: had it waited for delivery, this would hang.
	d1 := newDispatcher()
	stop1 := runDispatcher(t, d1)
	var emitted []string
	events := runEngine(func(f *finding.Finding) {
		if err := d1.Append(context.Background(), f); err != nil {
			t.Error(err)
		}
		emitted = append(emitted, f.ID)
	})
	if events != 400 || len(emitted) < 20 {
		t.Fatalf("engine processed %d events and emitted %d findings; the test needs a real stream", events, len(emitted))
	}
	eventually(t, "sink retrying against the dead collector", func() bool { return mustLag(t, d1)[0].Failures >= 5 })
	if _, total, _ := col.snapshot(); total != 0 {
		t.Fatalf("collector received %d records while down", total)
	}
	l := mustLag(t, d1)[0]
	if l.Behind != int64(len(emitted)) || l.Delivered != 0 {
		t.Errorf("while down: behind %d delivered %d, want %d and 0", l.Behind, l.Delivered, len(emitted))
	}

	// Custos restarts while the collector is still down.
	stop1()
	d2 := newDispatcher()
	runDispatcher(t, d2)
	eventually(t, "restarted sink retrying", func() bool { return mustLag(t, d2)[0].Failures >= 2 })

	// The collector comes back, but loses its answers to the first three
	// batches it takes.
	col.mu.Lock()
	col.loseNext = 3
	col.mu.Unlock()
	fl.down.Store(false)
	eventually(t, "caught up", func() bool { return mustLag(t, d2)[0].Behind == 0 })

	received, total, lost := col.snapshot()
	want := map[string]bool{}
	for _, r := range mustRecords(t, ob) {
		want[DeliveryID(&r)] = true
	}
	if len(want) != len(emitted) {
		t.Fatalf("outbox holds %d records, engine emitted %d", len(want), len(emitted))
	}
	for id := range want {
		if received[id] == 0 {
			t.Errorf("finding %s never delivered", id)
		}
	}
	dups := total - len(received)
	if lost == 0 {
		t.Fatal("no answer was lost; the duplicate bound is untested")
	}
	if dups > lost {
		t.Errorf("%d duplicate deliveries, but only %d records were in batches whose answer was lost", dups, lost)
	}
	if len(received) != len(want) {
		t.Errorf("collector received %d distinct records, want %d", len(received), len(want))
	}
	t.Logf("%d events, %d findings, %d records posted, %d in lost answers, %d duplicates", events, len(emitted), total, lost, dups)
}

func mustRecords(t *testing.T, ob *Mem) []Record {
	t.Helper()
	recs, err := ob.After(context.Background(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
