package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// --db stores the inputs and findings and leaves the findings output as it
// was; a second replay into the same file adds nothing.
func TestReplayDB(t *testing.T) {
	plain, _, code := runCLI(t, "replay", "../replay/testdata/tiny")
	if code != 0 {
		t.Fatal("plain replay failed")
	}
	db := filepath.Join(t.TempDir(), "custos.db")
	withDB, errOut, code := runCLI(t, "replay", "--db", db, "../replay/testdata/tiny")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if withDB != plain {
		t.Errorf("findings differ with --db:\n%s\nwithout:\n%s", withDB, plain)
	}
	if !strings.Contains(errOut, "replay: stored 11 events, 5 ticket changes (0 already stored), 4 roster entries, 5 customers") {
		t.Errorf("no --db summary:\n%s", errOut)
	}

	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(q string) (n int) {
		t.Helper()
		if err := conn.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	distinct := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(plain), "\n") {
		id := line[strings.Index(line, `"id":"`)+6:]
		distinct[id[:strings.IndexByte(id, '"')]] = true
	}
	checks := map[string]int{
		"SELECT count(*) FROM events":         11,
		"SELECT count(*) FROM ticket_changes": 5,
		"SELECT count(*) FROM people":         4,
		"SELECT count(*) FROM subjects":       5,
		"SELECT count(*) FROM findings":       len(distinct),
		// Ingest order is the replay's merged order: the first ticket
		// change (00:55) comes before the first event (01:00).
		"SELECT seq FROM ticket_changes WHERE time = (SELECT min(time) FROM ticket_changes)": 1,
	}
	for q, want := range checks {
		if got := count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}

	again, errOut, code := runCLI(t, "replay", "--db", db, "../replay/testdata/tiny")
	if code != 0 || again != plain {
		t.Fatalf("second replay into the same file: exit %d, output changed %v: %s", code, again != plain, errOut)
	}
	if !strings.Contains(errOut, "stored 0 events, 0 ticket changes (16 already stored)") {
		t.Errorf("second replay summary:\n%s", errOut)
	}
	if got := count("SELECT count(*) FROM events"); got != 11 {
		t.Errorf("second replay duplicated events: %d", got)
	}
	if got := count("SELECT count(*) FROM findings"); got != len(distinct) {
		t.Errorf("second replay duplicated findings: %d", got)
	}
}

type logFileT struct {
	*os.File
	t *testing.T
}

func logFile(t *testing.T, dir, name string) logFileT {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return logFileT{f, t}
}

func (f logFileT) String() string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveRun is `custos serve` running inside the test.
type serveRun struct {
	addr           string
	stdout, stderr logFileT
	exit           chan int
	cancel         context.CancelFunc
}

// startServe runs custos serve with the configuration file cfg on database
// db, logging to files in dir (files, not buffers: the test reads them while
// serve writes), and waits until it answers: the engine is rebuilt before it
// listens.
func startServe(t *testing.T, dir, cfg, db string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &serveRun{addr: freeAddr(t), stdout: logFile(t, dir, "stdout"), stderr: logFile(t, dir, "stderr"),
		exit: make(chan int, 1), cancel: cancel}
	go func() {
		s.exit <- run(ctx, []string{"--config", cfg, "serve", "--addr", s.addr, "--db", db}, s.stdout, s.stderr)
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 500; i++ {
		res, err := client.Get("http://" + s.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		select {
		case code := <-s.exit:
			t.Fatalf("serve exited %d: %s", code, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not come up: %s", s.stderr.String())
	return nil
}

// stop stops serve as SIGTERM would and checks it exits cleanly.
func (s *serveRun) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if code := <-s.exit; code != 0 {
		t.Fatalf("serve exited %d after cancellation: %s", code, s.stderr.String())
	}
}

// custos serve on a replayed database: it generates and announces a token,
// rebuilds the engine from the replayed history, serves its findings, takes
// new events, and stops cleanly on cancellation (as on SIGTERM).
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	db := replayedDB(t, dir)
	tokenFile := filepath.Join(dir, "custos.token")
	cfg := filepath.Join(dir, "custos.yaml")
	sinkFile := filepath.Join(dir, "findings.ocsf.ndjson")
	os.WriteFile(cfg, []byte(fmt.Sprintf("serve:\n  token_file: %s\nsinks:\n  - name: siem\n    type: ocsf\n    start: earliest\n    file:\n      path: %s\n",
		tokenFile, sinkFile)), 0o644)

	srv := startServe(t, dir, cfg, db)
	addr, stdout, stderr := srv.addr, srv.stdout, srv.stderr
	client := &http.Client{Timeout: 5 * time.Second}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(token))
	if !strings.Contains(stderr.String(), tok) {
		t.Errorf("the generated token was not printed:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "events=11") {
		t.Errorf("no rebuild from the replayed history in the log:\n%s", stderr.String())
	}

	do := func(method, path, ctype, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	status, body := do("GET", "/v1/findings?rule=honeytoken_access", "", "")
	if status != 200 || !strings.Contains(body, `"rule":"honeytoken_access"`) {
		t.Errorf("replayed findings through the API: %d %s", status, body)
	}
	// a-ben's contract ended on 2026-03-02; the roster came from the replay.
	status, body = do("POST", "/v1/events", "application/x-ndjson",
		`{"id":"live-1","time":"2026-03-04T09:00:00Z","actor":{"id":"a-ben"},"action":"view","subject":{"id":"c-1004"}}`)
	if status != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("POST: %d %s", status, body)
	}

	// The sink delivers the replayed history (start: earliest) and the new
	// alert from the outbox.
	var delivered string
	for i := 0; i < 500 && !strings.Contains(delivered, "live-1"); i++ {
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(sinkFile)
		delivered = string(b)
	}
	if !strings.Contains(delivered, "live-1") || !strings.Contains(delivered, "honeytoken_access") {
		t.Errorf("the OCSF file sink got:\n%s", delivered)
	}

	srv.stop(t)
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	conn.QueryRow(`SELECT count(*) FROM findings WHERE rule = 'access_outside_contract' AND raw LIKE '%"evidence":["live-1"]%'`).Scan(&n)
	if n != 1 {
		t.Errorf("the live event's after-contract alert was not stored at shutdown (%d)", n)
	}
	if out := stdout.String(); out != "" {
		t.Errorf("serve wrote to stdout: %q", out)
	}
}

// custos serve with the lifecycle check and deprovisioning on: at start it
// finds a-ben (contract ended 2026-03-02, still active on the replayed
// roster), raises the alert, deactivates a-ben at the SCIM provider, shows
// the action on the alert, and /metrics counts it.
func TestServeLifecycleDeprovisionsAndMetrics(t *testing.T) {
	var mu sync.Mutex
	var patches []string
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPatch || r.Header.Get("Authorization") != "Bearer idp-token" ||
			!strings.Contains(string(b), `"path":"active","value":false`) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		patches = append(patches, r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer idp.Close()

	dir := t.TempDir()
	db := replayedDB(t, dir)
	cfg := filepath.Join(dir, "custos.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`serve:
  token: serve-token
respond:
  scim:
    http: {url: %q}
    token: idp-token
  lifecycle:
    enabled: true
    interval: 1h
    deprovision: true
`, idp.URL+"/scim/v2")), 0o644)

	srv := startServe(t, dir, cfg, db)
	addr, stderr := srv.addr, srv.stderr
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer serve-token")
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// The alert is raised at start and the action follows; wait for both.
	var findings string
	for i := 0; i < 1000; i++ {
		mu.Lock()
		n := len(patches)
		mu.Unlock()
		status, body := get("/v1/findings?rule=identity_active_after_contract")
		if status == 200 && n > 0 {
			findings = body
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(findings, `"actor":{"id":"a-ben"}`) {
		t.Fatalf("lifecycle alert: %s\nlog:\n%s", findings, stderr.String())
	}
	mu.Lock()
	if len(patches) != 1 || patches[0] != "/scim/v2/Users/a-ben" {
		t.Errorf("SCIM PATCHes %v; want one for a-ben", patches)
	}
	mu.Unlock()
	var page struct {
		Findings []struct{ ID string }
	}
	json.Unmarshal([]byte(findings), &page)
	var actions string
	for i := 0; i < 500; i++ {
		_, actions = get("/v1/findings/" + page.Findings[0].ID + "/actions")
		if strings.Contains(actions, `"status":"succeeded"`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(actions, `"action":"lifecycle-deprovision","type":"scim_disable"`) || !strings.Contains(actions, `"code":204`) {
		t.Errorf("actions on the alert: %s", actions)
	}
	status, metrics := get("/metrics")
	for _, want := range []string{
		`custos_response_actions_total{action="lifecycle-deprovision",result="succeeded",type="scim_disable"} 1`,
		`custos_lifecycle_active_after_contract 1`,
		`custos_sink_behind_findings{sink="respond:lifecycle-deprovision"} 0`,
		`custos_findings_total{kind="alert",severity="high"} 1`,
	} {
		if status != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(stderr.String(), "identity still active after its contract ended") ||
		!strings.Contains(stderr.String(), "msg=\"response action\" action=lifecycle-deprovision") {
		t.Errorf("the alert and the action are not logged:\n%s", stderr.String())
	}
	srv.stop(t)
}

// Serve exports rule run-time failures as custos_rule_errors_total and logs
// the first of each rule: here the start-up rebuild of a replayed history
// through a rule that divides by zero.
func TestServeCountsRuleFailures(t *testing.T) {
	dir := t.TempDir()
	db := replayedDB(t, dir)
	rulesDir := filepath.Join(dir, "rules")
	os.Mkdir(rulesDir, 0o755)
	writeRule(t, rulesDir, "looked.yaml", failingRule())
	cfg := filepath.Join(dir, "custos.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("serve:\n  token: serve-token\nrules:\n  dir: %q\n", rulesDir)), 0o644)
	srv := startServe(t, dir, cfg, db)
	req, _ := http.NewRequest("GET", "http://"+srv.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer serve-token")
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `custos_rule_errors_total{rule="looked"} 6`; !strings.Contains(string(b), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(b), "custos_rule"))
	}
	srv.stop(t)
	if log := srv.stderr.String(); strings.Count(log, "rule failed at run time") != 1 || !strings.Contains(log, "rule=looked") {
		t.Errorf("want one log line for the first failure:\n%s", log)
	}
}

// replayedDB replays the tiny example into dir/custos.db, the history a
// serve test starts from.
func replayedDB(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "custos.db")
	if _, errOut, code := runCLI(t, "replay", "--db", db, "--out", filepath.Join(dir, "f.ndjson"), "../replay/testdata/tiny"); code != 0 {
		t.Fatalf("replay: %s", errOut)
	}
	return db
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
