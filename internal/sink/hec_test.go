package sink

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHEC speaks the Splunk HTTP Event Collector's event and ack endpoints.
type fakeHEC struct {
	t     *testing.T
	token string
	ack   bool

	mu       sync.Mutex
	requests int
	events   []map[string]any // every event received, duplicates included
	nextAck  int64
	pending  map[int64]int // ack id -> polls so far
	never    map[int64]bool
	channel  string
	// reply, if set, answers event requests instead of accepting them.
	reply func(req int, events []map[string]any) (status int, body string)
}

func newFakeHEC(t *testing.T, token string, ack bool) (*fakeHEC, *httptest.Server) {
	h := &fakeHEC{t: t, token: token, ack: ack, pending: map[int64]int{}, never: map[int64]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/collector/event", h.event)
	mux.HandleFunc("POST /services/collector/ack", h.ackPoll)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv
}

func (h *fakeHEC) fail(w http.ResponseWriter, status, code int, text string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"text":%q,"code":%d}`, text, code)
}

var hecTime = regexp.MustCompile(`"time":\d+\.\d{3}[,}]`)

func (h *fakeHEC) event(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Splunk "+h.token {
		h.fail(w, http.StatusUnauthorized, 3, "Invalid authorization")
		return
	}
	ch := r.Header.Get("X-Splunk-Request-Channel")
	if h.ack && ch == "" {
		h.fail(w, http.StatusBadRequest, 10, "Data channel is missing")
		return
	}
	body, _ := io.ReadAll(r.Body)
	// HEC batches are event objects one after another, not an array.
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var evs []map[string]any
	for dec.More() {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			h.fail(w, http.StatusBadRequest, 6, "Invalid data format")
			return
		}
		evs = append(evs, ev)
	}
	if got, want := len(hecTime.FindAll(body, -1)), len(evs); got != want {
		h.t.Errorf("%d of %d events carry time as epoch seconds with milliseconds: %s", got, want, body)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if h.reply != nil {
		if status, msg := h.reply(h.requests, evs); status != 0 {
			w.WriteHeader(status)
			io.WriteString(w, msg)
			return
		}
	}
	h.events = append(h.events, evs...)
	if !h.ack {
		io.WriteString(w, `{"text":"Success","code":0}`)
		return
	}
	h.channel = ch
	h.nextAck++
	h.pending[h.nextAck] = 0
	fmt.Fprintf(w, `{"text":"Success","code":0,"ackId":%d}`, h.nextAck)
}

// ackPoll reports an ack id indexed from its second poll on, unless marked
// never.
func (h *fakeHEC) ackPoll(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Splunk "+h.token {
		h.fail(w, http.StatusUnauthorized, 3, "Invalid authorization")
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.URL.Query().Get("channel") != h.channel || r.Header.Get("X-Splunk-Request-Channel") != h.channel {
		h.fail(w, http.StatusBadRequest, 11, "Invalid data channel")
		return
	}
	var req struct{ Acks []int64 }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		h.fail(w, http.StatusBadRequest, 6, "Invalid data format")
		return
	}
	out := map[string]bool{}
	for _, id := range req.Acks {
		polls, ok := h.pending[id]
		h.pending[id] = polls + 1
		out[strconv.FormatInt(id, 10)] = ok && polls >= 1 && !h.never[id]
	}
	json.NewEncoder(w).Encode(map[string]any{"acks": out})
}

func (h *fakeHEC) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		out = append(out, ev["event"].(map[string]any)["id"].(string))
	}
	return out
}

func hecSink(t *testing.T, url string, hc HECConfig, batch int) Sink {
	t.Helper()
	c := Config{Name: "splunk", Type: TypeHEC, Start: "earliest", BatchSize: batch, HTTP: &HTTPConfig{URL: url}, HEC: &hc}
	s, err := c.Build(BuildOptions{Product: testProduct, Clock: newFakeClock(), Hostname: "custos-test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHECBatchesWithIndexerAcknowledgement(t *testing.T) {
	hec, srv := newFakeHEC(t, "tok-123", true)
	clock := newFakeClock()
	c := Config{Name: "splunk", Type: TypeHEC, Start: "earliest", BatchSize: 3,
		HTTP: &HTTPConfig{URL: srv.URL},
		HEC:  &HECConfig{Token: "tok-123", Index: "insider", Ack: true, AckPoll: 2 * time.Second}}
	s, err := c.Build(BuildOptions{Product: testProduct, Clock: clock, Hostname: "custos-test"})
	if err != nil {
		t.Fatal(err)
	}
	fs := numbered(7)
	deliverAll(t, s, fs, clock)

	if got := hec.ids(); !slices.Equal(got, ids(fs)) {
		t.Errorf("HEC received %v, want %v once each", got, ids(fs))
	}
	if hec.requests != 3 {
		t.Errorf("%d requests, want 3 batches of at most 3", hec.requests)
	}
	ev := hec.events[0]
	for k, want := range map[string]any{"index": "insider", "sourcetype": "custos:finding", "source": "custos", "host": "custos-test", "time": float64(t0.UnixMilli()) / 1000} {
		if ev[k] != want {
			t.Errorf("event %s = %#v, want %#v", k, ev[k], want)
		}
	}
	if e := ev["event"].(map[string]any); e["kind"] != "alert" || e["summary"] != fs[0].Summary {
		t.Errorf("event body %v is not the finding", e)
	}
	if !guid.MatchString(hec.channel) {
		t.Errorf("channel %q is not a GUID", hec.channel)
	}
	// Each batch waited two polls for its ack.
	polls := 0
	for _, w := range clock.Waits() {
		if w == 2*time.Second {
			polls++
		}
	}
	if polls != 6 {
		t.Errorf("%d ack polls, want 2 per batch (6)", polls)
	}
}

func TestHECUnconfirmedAckIsResent(t *testing.T) {
	hec, srv := newFakeHEC(t, "tok", true)
	hec.never[1] = true // the first batch is never reported indexed
	s := hecSink(t, srv.URL, HECConfig{Token: "tok", Ack: true, AckPoll: time.Second, AckTimeout: 5 * time.Second}, 2)
	fs := numbered(4)
	d := deliverAll(t, s, fs, newFakeClock())
	// The unacknowledged batch is sent again: its two findings arrive twice,
	// nothing else does, nothing is missing.
	want := []string{fs[0].ID, fs[1].ID, fs[0].ID, fs[1].ID, fs[2].ID, fs[3].ID}
	if got := hec.ids(); !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
	if l := mustLag(t, d)[0]; l.Failures != 1 || !strings.Contains(l.LastError, "not confirmed") {
		t.Errorf("failures %d, last error %q; want one ack timeout", l.Failures, l.LastError)
	}
}

func TestHECErrorCodes(t *testing.T) {
	hec, srv := newFakeHEC(t, "tok", false)
	fs := numbered(5)
	hec.reply = func(req int, evs []map[string]any) (int, string) {
		if req <= 2 { // token disabled for a while: retried
			return http.StatusForbidden, `{"text":"Token disabled","code":1}`
		}
		for _, ev := range evs {
			if ev["event"].(map[string]any)["id"] == fs[2].ID {
				return http.StatusBadRequest, `{"text":"Invalid data format","code":6,"invalid-event-number":0}`
			}
		}
		return 0, ""
	}
	s := hecSink(t, srv.URL, HECConfig{Token: "tok"}, 10)
	d := deliverAll(t, s, fs, newFakeClock())
	want := slices.Delete(ids(fs), 2, 3)
	if got := hec.ids(); !slices.Equal(got, want) {
		t.Errorf("received %v, want all but the malformed %s", got, fs[2].ID)
	}
	l := mustLag(t, d)[0]
	if l.Failures != 2 || l.Dropped != 1 {
		t.Errorf("failures %d dropped %d, want 2 (token disabled, retried) and 1 (invalid data, dropped)", l.Failures, l.Dropped)
	}
}

func TestHECURLs(t *testing.T) {
	for _, base := range []string{"https://splunk:8088", "https://splunk:8088/", "https://splunk:8088/services/collector", "https://splunk:8088/services/collector/event"} {
		ev, ack, err := hecURLs(base, "C")
		if err != nil {
			t.Fatal(err)
		}
		if ev != "https://splunk:8088/services/collector/event" || ack != "https://splunk:8088/services/collector/ack?channel=C" {
			t.Errorf("%s: event %s ack %s", base, ev, ack)
		}
	}
	if hecChannel("a") == hecChannel("b") || !guid.MatchString(hecChannel("a")) {
		t.Error("channels must be GUIDs and differ per sink")
	}
}
