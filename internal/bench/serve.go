package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/rules"
	"github.com/custos-io/custos/internal/server"
	"github.com/custos-io/custos/internal/store"
)

const benchToken = "bench-token"

// liveServer is a `custos serve` on a loopback port over a fresh database.
type liveServer struct {
	url    string
	cancel context.CancelFunc
	done   chan error
	st     *store.Store
	dir    string
}

// startServer runs a server; wrap, if set, wraps its engine, and onFinding,
// if set, is called as the engine emits each finding (on its goroutine).
func startServer(ctx context.Context, o Options, pack *rules.Pack, wrap func(server.Engine) server.Engine, onFinding func()) (*liveServer, error) {
	people, subjects, err := context0(o.Dir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "custos-bench-serve-")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, filepath.Join(dir, "serve.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv, err := server.New(server.Options{
		Token:   benchToken,
		MaxBody: o.Config.Serve.MaxBody,
		NewEngine: func(emit func(*finding.Finding)) server.Engine {
			if onFinding != nil {
				inner := emit
				emit = func(f *finding.Finding) { onFinding(); inner(f) }
			}
			e := o.Config.EngineWith(pack, emit, nil)
			// The roster and customers go straight into the engine, as
			// replay loads them: the test is about the event stream.
			for i := range people {
				e.SetPerson(&people[i])
			}
			for i := range subjects {
				e.SetSubject(&subjects[i])
			}
			var eng server.Engine = e
			if wrap != nil {
				eng = wrap(eng)
			}
			return eng
		},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journal: filepath.Join(dir, "serve.journal"),
	}, st)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &liveServer{url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1), st: st, dir: dir}
	go func() { s.done <- srv.Run(ctx, ln) }()
	return s, nil
}

func (s *liveServer) stop() error {
	s.cancel()
	err := <-s.done
	err = errors.Join(err, s.st.Close())
	os.RemoveAll(s.dir)
	return err
}

// context0 reads the organisation's roster and customers.
func context0(dir string) ([]event.Person, []event.Subject, error) {
	var people []event.Person
	var subjects []event.Subject
	bad := func(re *event.RecordError) {}
	f, err := event.Open(dir, "roster")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if err := event.Decode(f, f.Name, event.DecodePerson, func(p event.Person) error { people = append(people, p); return nil }, bad); err != nil {
		return nil, nil, err
	}
	g, err := event.Open(dir, "subjects")
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	if err := event.Decode(g, g.Name, event.DecodeSubject, func(s event.Subject) error { subjects = append(subjects, s); return nil }, bad); err != nil {
		return nil, nil, err
	}
	return people, subjects, nil
}

func postTo(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return nil // a 200 means every record was stored (or was a duplicate)
}

// batches reads the first n lines of path into requests to /v1/events of
// size lines each.
func batches(path string, n, size int) ([]mixed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mixed
	var cur bytes.Buffer
	k, total := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), event.MaxLine)
	for total < n && sc.Scan() {
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
		k++
		total++
		if k == size {
			out = append(out, mixed{path: "/v1/events", body: bytes.Clone(cur.Bytes()), n: k})
			cur.Reset()
			k = 0
		}
	}
	if k > 0 {
		out = append(out, mixed{path: "/v1/events", body: bytes.Clone(cur.Bytes()), n: k})
	}
	return out, sc.Err()
}

type serveResult struct {
	row           Row
	p50, p99, max time.Duration
}

// serveIngest posts reqs to a fresh server from o.ServeClients clients,
// each taking the next request in order, and measures until the last
// acknowledgement.
func serveIngest(ctx context.Context, o Options, pack *rules.Pack, name string, reqs []mixed) (serveResult, error) {
	var res serveResult
	s, err := startServer(ctx, o, pack, nil, nil)
	if err != nil {
		return res, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.ServeClients}}
	lat := make([]time.Duration, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var total int64
	var bytesIn int64
	var start time.Time
	var cpu0 time.Duration
	for _, r := range reqs {
		bytesIn += int64(len(r.body))
	}
	res.row, err = measure(name, func() (int64, int64, error) {
		start, cpu0 = time.Now(), cpuTime()
		for range o.ServeClients {
			wg.Go(func() {
				for i := range next {
					t0 := time.Now()
					err := postTo(ctx, client, s.url+reqs[i].path, reqs[i].body)
					lat[i] = time.Since(t0)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					total += int64(reqs[i].n)
					mu.Unlock()
				}
			})
		}
		for i := range reqs {
			next <- i
		}
		close(next)
		wg.Wait()
		return total, bytesIn, firstErr
	})
	if err != nil {
		_ = s.stop()
		return res, err
	}
	// Stopping drains the engine and the indexer: the sustained rate is
	// to the end of the stop, everything stored and processed.
	if err := s.stop(); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	all, allCPU := time.Since(start), cpuTime()-cpu0
	res.row.Note = fmt.Sprintf("CPU includes the server's engine, in the same process; all stored and processed after %s (%.0f records/s), %s CPU",
		all.Round(time.Millisecond), float64(total)/all.Seconds(), allCPU.Round(time.Millisecond))
	sortDurations(lat)
	res.p50, res.p99, res.max = percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	return res, nil
}

// timedEngine notes, for every finding, how long after its triggering
// event was offered the engine emitted it.
type timedEngine struct {
	server.Engine
	mu      sync.Mutex
	offered map[string]time.Time // event id -> when its request was sent
	cur     time.Time
	lat     []time.Duration
}

func (t *timedEngine) Event(ev *event.Event) {
	t.mu.Lock()
	t.cur = t.offered[ev.ID]
	delete(t.offered, ev.ID)
	t.mu.Unlock()
	t.Engine.Event(ev)
}

func (t *timedEngine) emitted() {
	if !t.cur.IsZero() {
		d := time.Since(t.cur)
		t.mu.Lock()
		t.lat = append(t.lat, d)
		t.mu.Unlock()
	}
}

type latencyResult struct {
	n             int
	rate          float64
	p50, p99, max time.Duration
}

// mixed is one request of the latency test: a run of consecutive records
// of one kind, in merged time order.
type mixed struct {
	path string // /v1/events or /v1/tickets
	body []byte
	ids  []string // event ids
	n    int
}

// mixedBatches merges the first n events with the ticket changes of the
// same period by time, as a live feed would deliver them, into requests of
// at most size records of one kind.
func mixedBatches(dir string, n, size int) ([]mixed, error) {
	type rec struct {
		t    time.Time
		tick bool
		id   string
		line []byte
	}
	var evs, tks []rec
	f, err := event.Open(dir, "events")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stop := errors.New("enough")
	err = event.Lines(f, func(_ int, line []byte, _ bool) error {
		if len(evs) == n {
			return stop
		}
		ev, err := event.DecodeEvent(line)
		if err != nil {
			return err
		}
		evs = append(evs, rec{t: ev.Time, id: ev.ID, line: bytes.Clone(line)})
		return nil
	})
	if err != nil && err != stop {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, errors.New("no events")
	}
	end := evs[len(evs)-1].t
	if g, err := event.Open(dir, "tickets"); err == nil {
		defer g.Close()
		err = event.Lines(g, func(_ int, line []byte, _ bool) error {
			tc, err := event.DecodeTicketChange(line)
			if err != nil {
				return err
			}
			if tc.Time.After(end) {
				return stop
			}
			tks = append(tks, rec{t: tc.Time, tick: true, line: bytes.Clone(line)})
			return nil
		})
		if err != nil && err != stop {
			return nil, err
		}
	}
	// Each chunk of size records in merged order becomes at most two
	// requests, its events and its ticket changes, sent together: a feed
	// delivers both streams side by side, not one record at a time.
	var out []mixed
	var ev, tk mixed
	flush := func() {
		for _, m := range []*mixed{&tk, &ev} {
			if m.n > 0 {
				out = append(out, *m)
			}
		}
		ev, tk = mixed{path: "/v1/events"}, mixed{path: "/v1/tickets"}
	}
	flush()
	i, j, k := 0, 0, 0
	for i < len(evs) || j < len(tks) {
		var r rec
		if j < len(tks) && (i == len(evs) || !evs[i].t.Before(tks[j].t)) {
			r = tks[j]
			j++
		} else {
			r = evs[i]
			i++
		}
		m := &ev
		if r.tick {
			m = &tk
		} else {
			m.ids = append(m.ids, r.id)
		}
		m.body = append(append(m.body, r.line...), '\n')
		m.n++
		if k++; k%size == 0 {
			flush()
		}
	}
	flush()
	return out, nil
}

// findingLatency offers events and ticket changes to serve at a fixed
// rate, in small requests on a fixed schedule, and measures from the send
// of the request carrying the event being processed to the engine's
// emitting the finding.
func findingLatency(ctx context.Context, o Options, pack *rules.Pack) (latencyResult, error) {
	var res latencyResult
	const perRequest = 500
	reqs, err := mixedBatches(o.Dir, o.LatencyEvents, perRequest)
	if err != nil {
		return res, err
	}
	te := &timedEngine{offered: map[string]time.Time{}}
	s, err := startServer(ctx, o, pack, func(e server.Engine) server.Engine {
		te.Engine = e
		return te
	}, te.emitted)
	if err != nil {
		return res, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	errc := make(chan error, len(reqs))
	start := time.Now()
	sent := 0
	for i := range reqs {
		// Offered load counts records of both kinds.
		due := start.Add(time.Duration(float64(sent) / float64(o.LatencyRate) * float64(time.Second)))
		time.Sleep(time.Until(due))
		sent += reqs[i].n
		now := time.Now()
		te.mu.Lock()
		for _, id := range reqs[i].ids {
			te.offered[id] = now
		}
		te.mu.Unlock()
		wg.Go(func() {
			if err := postTo(ctx, client, s.url+reqs[i].path, reqs[i].body); err != nil {
				errc <- err
			}
		})
	}
	elapsed := time.Since(start)
	wg.Wait()
	// Let the engine drain what was acknowledged.
	time.Sleep(200 * time.Millisecond)
	if err := s.stop(); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	close(errc)
	if err := <-errc; err != nil {
		return res, err
	}
	res.rate = float64(sent) / elapsed.Seconds()
	te.mu.Lock()
	lat := te.lat
	te.mu.Unlock()
	res.n = len(lat)
	if len(lat) > 0 {
		sortDurations(lat)
		res.p50, res.p99, res.max = percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	}
	return res, nil
}
