package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
)

// The organisation is replayed once per test binary: it is read-only.
var (
	orgOnce sync.Once
	orgDir  string
	orgSrc  *MemSource
)

func TestMain(m *testing.M) {
	code := m.Run()
	if orgDir != "" {
		os.RemoveAll(orgDir)
	}
	os.Exit(code)
}

type tbDir struct {
	testing.TB
	dir string
}

func (t tbDir) TempDir() string { return t.dir }

func org(t testing.TB) *MemSource {
	t.Helper()
	orgOnce.Do(func() {
		d, err := os.MkdirTemp("", "custos-console-org-")
		if err != nil {
			t.Fatal(err)
		}
		orgDir = d
		orgSrc = replayed(t, testOrg(tbDir{t, d}))
	})
	if orgSrc == nil {
		t.Fatal("the test organisation failed to build")
	}
	return orgSrc
}

// clock is a settable wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// accessLog captures the console's audit events.
type accessLog struct {
	mu  sync.Mutex
	evs []event.Event
}

func (a *accessLog) Access(_ context.Context, evs []event.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, evs...)
	return nil
}

func (a *accessLog) all() []event.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]event.Event(nil), a.evs...)
}

type harness struct {
	t      testing.TB
	c      *Console
	srv    *httptest.Server
	state  *MemState
	src    *MemSource
	access *accessLog
	clock  *clock
}

const testPassword = "correct horse battery"

// testUsers: one per role, two vendor supervisors.
var testUsers = []User{
	{Name: "admin", Role: Admin},
	{Name: "ana", Role: Analyst},
	{Name: "lee", Role: Lead},
	{Name: "pia", Role: PrivacyOfficer},
	{Name: "vnorth", Role: VendorSupervisor, Vendor: "bpo-north"},
	{Name: "vsouth", Role: VendorSupervisor, Vendor: "bpo-south"},
}

var hashOnce = sync.OnceValue(func() string {
	h, err := HashPassword(testPassword)
	if err != nil {
		panic(err)
	}
	return h
})

func newHarness(t testing.TB, mod ...func(*Options)) *harness {
	t.Helper()
	src := org(t)
	h := &harness{t: t, state: NewMemState(), src: src, access: &accessLog{}, clock: &clock{t: time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)}}
	for _, u := range testUsers {
		u.PasswordHash, u.Via, u.Created = hashOnce(), "local", h.clock.Now()
		if err := h.state.PutUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.PseudonymKey = "test key of sixteen+ bytes"
	defaults := config.Default()
	pack, err := defaults.Pack()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Config: cfg, Source: src, State: h.state, Access: h.access, Now: h.clock.Now, Rules: PackRules{Pack: pack},
		DataNow: func(context.Context) time.Time { return time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC) },
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.srv = httptest.NewServer(c.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// browser is a logged-in HTTP client that does not follow redirects.
type browser struct {
	h    *harness
	cl   *http.Client
	csrf string
}

func (h *harness) anon() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, cl: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (h *harness) login(name string) *browser {
	h.t.Helper()
	b := h.anon()
	res, body := b.get("/login")
	if res.StatusCode != 200 {
		h.t.Fatalf("GET /login: %d", res.StatusCode)
	}
	tok := field(body, "_csrf")
	res, _ = b.post("/login", url.Values{"name": {name}, "password": {testPassword}, "_csrf": {tok}})
	if res.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login %s: status %d", name, res.StatusCode)
	}
	_, body = b.get("/cases")
	b.csrf = field(body, "_csrf")
	if b.csrf == "" {
		h.t.Fatalf("login %s: no CSRF token on the cases page", name)
	}
	return b
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.h.t.Helper()
	res, err := b.cl.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", b.h.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// form posts with the session's CSRF token.
func (b *browser) form(path string, kv ...string) (*http.Response, string) {
	v := url.Values{"_csrf": {b.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return b.post(path, v)
}

var fieldRE = regexp.MustCompile(`name="([^"]+)" value="([^"]*)"`)

// field returns the value of the first hidden input named name.
func field(body, name string) string {
	for _, m := range fieldRE.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// caseOf returns the case about actor.
func (h *harness) caseOf(actor string) string {
	h.t.Helper()
	cs, _ := h.src.Cases(context.Background())
	for _, c := range cs {
		if c.Actor.ID == actor {
			return c.ID
		}
	}
	h.t.Fatalf("no case about %s", actor)
	return ""
}

func (h *harness) auditOf(action string) []AuditRecord {
	recs, _ := h.state.Audit(context.Background(), AuditQuery{Action: action, Limit: 1000})
	return recs
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
