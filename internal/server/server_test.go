package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/store"
)

const testToken = "test-token-0123456789abcdef"

// countingEngine counts the events the engine is fed and, with a gate,
// holds the engine goroutine until the gate opens.
type countingEngine struct {
	Engine
	events  *atomic.Int64
	ids     *[]string // the events fed, in order (read after a sync)
	gate    chan struct{}
	panicOn string // an event id the engine panics on
}

func (c countingEngine) Event(e *event.Event) {
	if c.gate != nil {
		<-c.gate
	}
	if e.ID == c.panicOn {
		panic("detector bug")
	}
	c.events.Add(1)
	*c.ids = append(*c.ids, e.ID)
	c.Engine.Event(e)
}

type harness struct {
	t      *testing.T
	url    string
	srv    *Server
	st     *store.Store
	cancel context.CancelFunc
	done   chan error
	events atomic.Int64 // events fed to this run's engine, rebuild included
	ids    []string
	logs   syncBuffer
}

// syncBuffer is a log destination tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type setup struct {
	sinks   func(*store.Store) Dispatcher
	panicOn string
	maxBody int64
	gate    chan struct{}
	hook    func(string)
	// options adjusts the options before the server is made; bind sees
	// the server before it runs.
	options func(*Options)
	bind    func(*Server)
	routes  func(*store.Store) map[string]http.Handler
	// store, if set, is the store the server is given over the real one.
	store func(*store.Store) Store
}

func start(t *testing.T, path string, opt ...func(*setup)) *harness {
	t.Helper()
	var su setup
	su.maxBody = 1 << 20
	for _, o := range opt {
		o(&su)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, done: make(chan error, 1)}
	cfg := config.Default()
	pack, err := cfg.Pack()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Token:   testToken,
		MaxBody: su.maxBody,
		NewEngine: func(emit func(*finding.Finding)) Engine {
			return countingEngine{Engine: cfg.EngineWith(pack, emit, nil), events: &h.events, ids: &h.ids, gate: su.gate, panicOn: su.panicOn}
		},
		Logger: slog.New(slog.NewTextHandler(&h.logs, nil)),
		// As `custos serve` runs: acknowledged from the journal.
		Journal: path + ".journal",
	}
	if su.routes != nil {
		opts.Routes = su.routes(st)
	}
	if su.sinks != nil {
		opts.Sinks = su.sinks(st)
	}
	if su.options != nil {
		su.options(&opts)
	}
	var sst Store = st
	if su.store != nil {
		sst = su.store(st)
	}
	srv, err := New(opts, sst)
	if err != nil {
		t.Fatal(err)
	}
	srv.testHook = su.hook
	if su.bind != nil {
		su.bind(srv)
	}
	h.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.url = "http://" + ln.Addr().String()
	ctx, h.cancel = context.WithCancel(ctx)
	go func() { h.done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop shuts the server down gracefully and closes the store; it is safe
// to call twice.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	if err := h.st.Close(); err != nil {
		h.t.Errorf("closing store: %v", err)
	}
}

// sync waits until the engine has processed everything accepted so far and
// stored its findings.
func (h *harness) sync() {
	h.t.Helper()
	if err := h.srv.sync(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
}

func (h *harness) do(method, path, ctype string, body io.Reader, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (h *harness) post(path, ctype, body string) response {
	h.t.Helper()
	return h.do("POST", path, ctype, strings.NewReader(body))
}

func (h *harness) put(path, body string) response {
	h.t.Helper()
	return h.do("PUT", path, "application/json", strings.NewReader(body))
}

// findings returns every finding the API lists for query, following pages.
func (h *harness) findings(query string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		q := query
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := h.do("GET", "/v1/findings?"+q, "", nil)
		if r.status != 200 {
			h.t.Fatalf("GET /v1/findings?%s: %d %s", q, r.status, r.body)
		}
		var page struct {
			Findings []map[string]any
			Next     string
		}
		r.json(h.t, &page)
		out = append(out, page.Findings...)
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

func ids(fs []map[string]any) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f["id"].(string))
	}
	return out
}

func evLine(id, at, actor, action, subject string) string {
	s := `{"id":"` + id + `","time":"` + at + `","actor":{"id":"` + actor + `"},"action":"` + action + `"`
	if subject != "" {
		s += `,"subject":{"id":"` + subject + `"}`
	}
	return s + "}"
}

func storedEvents(t *testing.T, st *store.Store) []string {
	t.Helper()
	var out []string
	if err := st.Records(context.Background(), 0, func(r store.Record) error {
		if r.Event != nil {
			out = append(out, r.Event.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
