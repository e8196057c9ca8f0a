package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/console"
	"github.com/custos-io/custos/internal/store"
)

func runCLIIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := newRoot(&env{stdout: &o, stderr: &e})
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&o)
	cmd.SetErr(&e)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		e.WriteString("custos: " + err.Error() + "\n")
		return o.String(), e.String(), 1
	}
	return o.String(), e.String(), 0
}

func TestUsersCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "custos.db")
	if _, e, code := runCLIIn(t, "s3cret-password\n", "users", "add", "ana", "--role", "analyst", "--password-stdin", "--db", db); code != 0 {
		t.Fatalf("users add: %s", e)
	}
	if _, e, code := runCLIIn(t, "pw-pw-pw-pw\n", "users", "add", "ana", "--role", "admin", "--password-stdin", "--db", db); code == 0 || !strings.Contains(e, "exists") {
		t.Errorf("adding an existing user: %d %s", code, e)
	}
	if _, e, code := runCLIIn(t, "pw-pw-pw-pw\n", "users", "add", "vic", "--role", "vendor_supervisor", "--password-stdin", "--db", db); code == 0 || !strings.Contains(e, "needs a vendor") {
		t.Errorf("supervisor without vendor: %d %s", code, e)
	}
	if _, e, code := runCLIIn(t, "short\n", "users", "add", "bob", "--role", "lead", "--password-stdin", "--db", db); code == 0 || !strings.Contains(e, "at least 8") {
		t.Errorf("short password: %d %s", code, e)
	}
	if _, e, code := runCLIIn(t, "", "users", "add", "bob", "--role", "boss", "--password-stdin", "--db", db); code == 0 || !strings.Contains(e, "unknown role") {
		t.Errorf("unknown role: %d %s", code, e)
	}
	runCLIIn(t, "pw-pw-pw-pw\n", "users", "add", "vic", "--role", "vendor_supervisor", "--vendor", "bpo-south", "--password-stdin", "--db", db)
	runCLIIn(t, "", "users", "disable", "vic", "--db", db)
	out, _, _ := runCLIIn(t, "", "users", "list", "--db", db)
	if !regexp.MustCompile(`ana\s+analyst\s+local\s+active`).MatchString(out) || !regexp.MustCompile(`vic\s+vendor_supervisor\s+bpo-south\s+local\s+disabled`).MatchString(out) {
		t.Errorf("users list:\n%s", out)
	}
	if _, e, code := runCLIIn(t, "another-password\n", "users", "passwd", "ana", "--password-stdin", "--db", db); code != 0 {
		t.Fatalf("passwd: %s", e)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := (console.StoreState{S: st}).User(context.Background(), "ana")
	if err != nil || !console.CheckPassword(u.PasswordHash, "another-password") || console.CheckPassword(u.PasswordHash, "s3cret-password") {
		t.Errorf("after passwd the stored hash does not match the new password: %+v %v", u, err)
	}
}

// custos demo: simulates, replays into a database, serves the console with
// demo logins; a login works, the queue has the planted cases, and the
// console's own audit reaches the engine as access events.
func TestDemoCommand(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"demo", "--addr", addr, "--dir", dir, "--agents", "60", "--days", "14", "--log-level", "warn"}, &stdout, &stderr)
	}()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	// The demo simulates and replays before it listens, which under -race
	// on a loaded machine takes well over the 20 s this loop once allowed:
	// the bound only catches a hang.
	var up bool
	for deadline := time.Now().Add(3 * time.Minute); !up && time.Now().Before(deadline); {
		if res, err := client.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			up = res.StatusCode == 200
		}
		if !up {
			select {
			case code := <-exit:
				t.Fatalf("demo exited %d: %s", code, stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	if !up {
		t.Fatalf("the demo did not come up: %s", stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"Open   http://" + addr + "/", `password "custos-demo"`, "north", "sees only bpo-north"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}

	get := func(path string) (int, string) {
		res, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	_, body := get("/login")
	tok := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatal("no login form")
	}
	res, err := client.PostForm("http://"+addr+"/login", url.Values{"name": {"lead"}, "password": {"custos-demo"}, "_csrf": {tok[1]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	code, body := get("/cases")
	if code != 200 || strings.Count(body, `class="summary"`) < 3 || !strings.Contains(body, "honeytoken") {
		t.Fatalf("the demo's queue (%d) lacks the planted cases", code)
	}
	caseID := regexp.MustCompile(`href="/cases/(case-[0-9a-f]+)"`).FindStringSubmatch(body)
	if code, _ := get("/cases/" + caseID[1]); code != 200 {
		t.Errorf("case page: %d", code)
	}

	// The lead's views are access events of console:lead, stored like any
	// other (GET /v1/findings is not needed: the events table has them).
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("demo exit %d: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop")
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.ActorEvents(context.Background(), console.ConsoleActor("lead"), time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		var raw map[string]any
		json.Unmarshal(e.Raw, &raw)
		kinds = append(kinds, string(e.Action)+":"+raw["console_action"].(string))
		if e.App != console.App {
			t.Errorf("console event with app %q", e.App)
		}
	}
	got := strings.Join(kinds, " ")
	if !strings.Contains(got, "login:login") || !strings.Contains(got, "search:view_case") {
		t.Errorf("console access events of lead: %s", got)
	}
}

// lockedBuffer is a bytes.Buffer safe for the demo's goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
