package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/golden"
)

// replayDB stores the replay directory dir in a new database.
func replayDB(t *testing.T, dir string) string {
	t.Helper()
	tmp := t.TempDir()
	db := filepath.Join(tmp, "custos.db")
	if _, errOut, code := runCLI(t, "replay", "--db", db, "--out", filepath.Join(tmp, "f.ndjson"), dir); code != 0 {
		t.Fatalf("replay: %s", errOut)
	}
	return db
}

// The report as of a fixed time, in the three formats: a-ben and a-jo are
// past their contract and still active; a-gus (suspended) and a-eve end
// within the week; a-cy is terminated, a-dee suspended after the end, a-hal
// ends after the window and a-ivy has no end.
func TestRosterExpiringGolden(t *testing.T) {
	db := replayDB(t, "testdata/expiring")
	for _, format := range []string{"table", "csv", "json"} {
		out, errOut, code := runCLI(t, "roster", "expiring", "--db", db, "--at", "2026-03-03T12:00:00Z", "--within", "7d", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		golden.Check(t, "testdata/roster_expiring."+format, []byte(out))
	}
	out, _, _ := runCLI(t, "roster", "expiring", "--db", db, "--at", "2026-03-03T12:00:00Z", "--within", "2d6h", "--format", "csv")
	if strings.Contains(out, "a-eve") || !strings.Contains(out, "a-gus") {
		t.Errorf("--within 2d6h:\n%s", out)
	}
	out, _, _ = runCLI(t, "roster", "expiring", "--db", db, "--at", "2026-01-01T00:00:00Z", "--within", "0")
	if !strings.HasPrefix(out, "No contract ends within 0") {
		t.Errorf("nothing to report:\n%s", out)
	}
}

func TestRosterExpiringErrors(t *testing.T) {
	db := replayDB(t, "testdata/expiring")
	missing := filepath.Join(t.TempDir(), "nope.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", missing}, "database " + missing + " does not exist"},
		{[]string{"--db", db, "--within", "7days"}, `--within: "7days": want days (7d)`},
		{[]string{"--db", db, "--within", "-3h"}, `--within: "-3h"`},
		{[]string{"--db", db, "--format", "xml"}, `--format: unknown value "xml"`},
		{[]string{"--db", db, "--at", "yesterday"}, `--at: "yesterday" is not an RFC 3339 time`},
	} {
		_, errOut, code := runCLI(t, append([]string{"roster", "expiring"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error with %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "1d12h": 36 * time.Hour, "0": 0, "0d": 0} {
		if got, err := parseWindow(in); err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
}
