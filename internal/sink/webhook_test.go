package sink

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// webhookReceiver verifies signatures the way a receiver is told to in
// docs/integrations.md: recompute, compare in constant time, check the
// timestamp's age.
type webhookReceiver struct {
	secret []byte
	now    func() time.Time

	mu         sync.Mutex
	bodies     [][]byte
	deliveries []string
	headers    []http.Header
	rejected   int
	status     func(n int, delivery string) int // optional: answer with this status
	n          int
}

func (rv *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.n++
	if rv.status != nil {
		if st := rv.status(rv.n, r.Header.Get(HeaderDelivery)); st != 0 {
			if st == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "30")
			}
			w.WriteHeader(st)
			return
		}
	}
	if rv.secret != nil {
		ts := r.Header.Get(HeaderTimestamp)
		sec, err := strconv.ParseInt(ts, 10, 64)
		want := Signature(rv.secret, ts, body)
		if err != nil || !hmac.Equal([]byte(r.Header.Get(HeaderSignature)), []byte(want)) ||
			rv.now().Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			rv.rejected++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	rv.bodies = append(rv.bodies, body)
	rv.deliveries = append(rv.deliveries, r.Header.Get(HeaderDelivery))
	rv.headers = append(rv.headers, r.Header.Clone())
	w.WriteHeader(http.StatusNoContent)
}

func (rv *webhookReceiver) count() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.bodies)
}

func webhookDispatcher(t *testing.T, c Config, clock *fakeClock) *Dispatcher {
	t.Helper()
	s, err := c.Build(BuildOptions{Product: testProduct, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(context.Background(), &Mem{}, []Sink{s}, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWebhookSignsWithHMAC(t *testing.T) {
	clock := newFakeClock()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rv := &webhookReceiver{secret: []byte("s3cret"), now: clock.Now}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	d := webhookDispatcher(t, Config{Name: "soar", Type: TypeWebhook, Start: "earliest",
		HTTP:    &HTTPConfig{URL: srv.URL + "/hooks/custos", Headers: map[string]string{"X-Tenant": "acme"}},
		Webhook: &WebhookConfig{SecretFile: secretFile}}, clock)
	c := sampleCase("al-1")
	fs := []*finding.Finding{trickyAlert(), c, sampleCase("al-1", "al-2")}
	appendAll(t, d, fs)
	stop := runDispatcher(t, d)
	eventually(t, "three requests accepted", func() bool { return rv.count() == 3 })
	stop()
	if rv.rejected != 0 {
		t.Errorf("%d requests failed signature verification", rv.rejected)
	}
	var got finding.Finding
	if err := json.Unmarshal(rv.bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != fs[0].ID || got.Summary != fs[0].Summary || got.Rule != fs[0].Rule || !got.Time.Equal(fs[0].Time) {
		t.Errorf("body %s is not the finding", rv.bodies[0])
	}
	if want := []string{fs[0].ID, c.ID, c.ID + ".1"}; !slices.Equal(rv.deliveries, want) {
		t.Errorf("delivery ids %v, want %v", rv.deliveries, want)
	}
	if rv.headers[0].Get("X-Tenant") != "acme" || rv.headers[0].Get("Content-Type") != "application/json" {
		t.Errorf("headers %v lack the custom header or content type", rv.headers[0])
	}

	// A receiver with another secret refuses every request; the sink keeps
	// the findings and retries rather than dropping them.
	wrong := &webhookReceiver{secret: []byte("other"), now: clock.Now}
	srv2 := httptest.NewServer(wrong)
	defer srv2.Close()
	d2 := webhookDispatcher(t, Config{Name: "soar", Type: TypeWebhook, Start: "earliest",
		HTTP: &HTTPConfig{URL: srv2.URL}, Webhook: &WebhookConfig{Secret: "s3cret"}}, clock)
	appendAll(t, d2, fs[:1])
	stop2 := runDispatcher(t, d2)
	eventually(t, "rejections", func() bool { wrong.mu.Lock(); defer wrong.mu.Unlock(); return wrong.rejected >= 3 })
	stop2()
	if l := mustLag(t, d2)[0]; l.Behind != 1 || l.Dropped != 0 {
		t.Errorf("after 401s: behind %d dropped %d, want the finding kept (1, 0)", l.Behind, l.Dropped)
	}
}

func TestWebhookSlackText(t *testing.T) {
	clock := newFakeClock()
	rv := &webhookReceiver{now: clock.Now}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	d := webhookDispatcher(t, Config{Name: "slack", Type: TypeWebhook, Start: "earliest",
		HTTP: &HTTPConfig{URL: srv.URL}, Webhook: &WebhookConfig{Format: "slack"}}, clock)
	f := trickyAlert()
	f.Summary = "viewed <script> & stuff > limits"
	appendAll(t, d, []*finding.Finding{f})
	stop := runDispatcher(t, d)
	eventually(t, "posted", func() bool { return rv.count() == 1 })
	stop()
	var msg map[string]any
	if err := json.Unmarshal(rv.bodies[0], &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg) != 1 {
		t.Errorf("Slack body %s has more than text", rv.bodies[0])
	}
	text, _ := msg["text"].(string)
	for _, want := range []string{"[CRITICAL]", "a-ana", "viewed &lt;script&gt; &amp; stuff &gt; limits", f.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("Slack text %q lacks %q", text, want)
		}
	}
	if rv.headers[0].Get(HeaderSignature) != "" {
		t.Error("signed without a secret")
	}
}

func TestWebhookStatusHandling(t *testing.T) {
	clock := newFakeClock()
	fs := numbered(3)
	rv := &webhookReceiver{now: clock.Now, status: func(n int, delivery string) int {
		switch {
		case n == 1:
			return http.StatusTooManyRequests // retried after Retry-After
		case n == 2:
			return http.StatusServiceUnavailable
		case delivery == fs[1].ID:
			return http.StatusUnprocessableEntity // this finding is refused for good
		}
		return 0
	}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	d := webhookDispatcher(t, Config{Name: "hook", Type: TypeWebhook, Start: "earliest", Retry: Retry{Initial: time.Second, Max: time.Minute},
		HTTP: &HTTPConfig{URL: srv.URL}}, clock)
	appendAll(t, d, fs)
	stop := runDispatcher(t, d)
	eventually(t, "caught up", func() bool { return mustLag(t, d)[0].Behind == 0 })
	stop()
	// The third request delivers fs[0]; fs[1] is refused; fs[2] follows.
	if want := []string{fs[0].ID, fs[2].ID}; !slices.Equal(rv.deliveries, want) {
		t.Errorf("delivered %v, want %v", rv.deliveries, want)
	}
	l := mustLag(t, d)[0]
	if l.Failures != 2 || l.Dropped != 1 {
		t.Errorf("failures %d dropped %d, want 2 and 1", l.Failures, l.Dropped)
	}
	if w := clock.Waits(); len(w) == 0 || w[0] < 30*time.Second {
		t.Errorf("waits %v: the 429's Retry-After of 30s was not honoured", w)
	}
}
