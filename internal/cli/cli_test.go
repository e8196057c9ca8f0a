package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/golden"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

// The replay of the annotated example: the honeytoken, after-contract and
// no-ticket detections fire where its notes say, the phone ticket filed
// three minutes late and the QA review do not, and the invalid record is
// rejected with its line and field.
func TestReplayTinyGolden(t *testing.T) {
	out, errOut, code := runCLI(t, "replay", "../replay/testdata/tiny")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden.Check(t, "testdata/replay_tiny.golden", []byte(out))
	if !strings.Contains(errOut, `rejected: events.ndjson:12: subject.id: missing (required for action "view")`) {
		t.Errorf("stderr does not report the bad record:\n%s", errOut)
	}
	summary := regexp.MustCompile(`replay: 11 events, 5 ticket changes, 1 rejected, 0 late, \d+ alerts, \d+ case findings in \S+ \(\d+ events/s\)`)
	if !summary.MatchString(errOut) {
		t.Errorf("no summary line in:\n%s", errOut)
	}
	if strings.Contains(errOut, "replay  ") || strings.Contains(errOut, "%") {
		t.Errorf("progress output when stderr is not a terminal:\n%s", errOut)
	}
	for _, must := range []string{`"rule":"honeytoken_access"`, `"actor":{"id":"a-ben"},"rule":"access_outside_contract"`} {
		if !strings.Contains(out, must) {
			t.Errorf("findings lack %s", must)
		}
	}
	// The phone call (e-05, ticket filed 3 minutes later) and the QA review
	// (e-11) are justified.
	for _, mustNot := range []string{`"evidence":["e-05"]`, `"evidence":["e-11"]`, `"evidence":["e-03"]`} {
		if strings.Contains(out, mustNot) {
			t.Errorf("findings contain %s, which is justified", mustNot)
		}
	}
}

func TestReplayDeterministicAndOut(t *testing.T) {
	first, _, _ := runCLI(t, "replay", "../replay/testdata/shuffled")
	second, _, _ := runCLI(t, "replay", "../replay/testdata/tiny")
	if first != second {
		t.Errorf("shuffled and sorted inputs give different findings")
	}
	path := filepath.Join(t.TempDir(), "findings.ndjson")
	out, errOut, code := runCLI(t, "replay", "--out", path, "../replay/testdata/tiny")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != second {
		t.Errorf("--out file differs from stdout output (%v)", err)
	}
}

func TestReplayErrors(t *testing.T) {
	_, errOut, code := runCLI(t, "replay", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "no events.ndjson or events.ndjson.gz") {
		t.Errorf("missing events: exit %d, %s", code, errOut)
	}
	cfg := filepath.Join(t.TempDir(), "custos.yaml")
	os.WriteFile(cfg, []byte("tickets:\n  grace: 10m\n  grase: 5m\n"), 0o644)
	_, errOut, code = runCLI(t, "--config", cfg, "replay", "../replay/testdata/tiny")
	if code == 0 || !strings.Contains(errOut, "3:3") || !strings.Contains(errOut, "grase") {
		t.Errorf("unknown config key: exit %d, %s", code, errOut)
	}
}

// A shorter grace window turns the late phone ticket into a no-ticket alert:
// the configuration reaches the engine.
func TestReplayConfigGrace(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "custos.yaml")
	os.WriteFile(cfg, []byte("tickets:\n  grace: 1m\n"), 0o644)
	out, errOut, code := runCLI(t, "--config", cfg, "replay", "../replay/testdata/tiny")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"evidence":["e-05"]`) {
		t.Errorf("with a 1m grace the phone look e-05 should alert:\n%s", out)
	}
}
