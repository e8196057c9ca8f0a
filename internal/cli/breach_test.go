package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/golden"
)

// tinyDB stores the annotated example with replay --db.
func tinyDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "custos.db")
	if _, errOut, code := runCLI(t, "replay", "--db", path, "--out", os.DevNull, "../replay/testdata/tiny"); code != 0 {
		t.Fatalf("replay --db: exit %d: %s", code, errOut)
	}
	return path
}

// The notification CSV of the example's vendor, and its summary on stderr.
func TestExposureCSVGolden(t *testing.T) {
	db := tinyDB(t)
	out, errOut, code := runCLI(t, "exposure", "--db", db, "--vendor", "bpo-north", "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden.Check(t, "testdata/exposure_vendor.csv", []byte(out))
	file := filepath.Join(t.TempDir(), "notify.csv")
	if _, errOut, code := runCLI(t, "exposure", "--db", db, "--vendor", "bpo-north", "--format", "csv", "--out", file); code != 0 {
		t.Fatalf("--out: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != out {
		t.Errorf("--out wrote\n%s", b)
	}
	if !strings.Contains(errOut, "vendor bpo-north, all time: 3 customers, of which 0 with identity documents and 0 with dates of birth seen") ||
		!strings.Contains(errOut, "Honeytoken (decoy) customers touched, not listed: c-9999.") {
		t.Errorf("summary on stderr:\n%s", errOut)
	}
	out, _, code = runCLI(t, "exposure", "--db", db, "--actor", "a-ana", "--until", "2026-03-02")
	if code != 0 || !strings.Contains(out, "actor a-ana, before 2026-03-03T00:00:00Z: 0 customers") {
		t.Errorf("empty window: %d\n%s", code, out)
	}
}

func TestExposureCLIErrors(t *testing.T) {
	db := tinyDB(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"exposure", "--db", db}, "give exactly one of --actor, --vendor, --site or --team"},
		{[]string{"exposure", "--db", db, "--actor", "a", "--team", "b"}, "give exactly one of"},
		{[]string{"exposure", "--db", db, "--actor", "a", "--since", "last week"}, `--since: "last week" is not a date`},
		{[]string{"exposure", "--db", db, "--actor", "a", "--format", "xlsx"}, `--format: unknown format "xlsx"`},
		{[]string{"exposure", "--db", filepath.Join(t.TempDir(), "nope.db"), "--actor", "a"}, "nope.db: stat"},
		{[]string{"attribute", "--db", db, filepath.Join(t.TempDir(), "missing.txt")}, "leaked list: open"},
	} {
		_, errOut, code := runCLI(t, tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args[1:], code, errOut, tt.want)
		}
	}
}

// Canaries minted for the payments team; one appears in a leaked list with
// customers Ana looked at, and attribution names the team first.
func TestCanaryAndAttributeCLI(t *testing.T) {
	db := tinyDB(t)
	out, errOut, code := runCLI(t, "canary", "mint", "--db", db, "--team", "payments", "--count", "2", "--seed", "s3cret")
	if code != 0 {
		t.Fatalf("mint: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"honeytoken":true`) || !strings.Contains(errOut, "2 canaries for team payments") {
		t.Fatalf("mint output:\n%s\n%s", out, errOut)
	}
	sub, err := event.DecodeSubject([]byte(lines[0]))
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := runCLI(t, "canary", "mint", "--db", db, "--team", "payments", "--count", "2", "--seed", "s3cret")
	if again != out {
		t.Errorf("minting again gave other canaries:\n%s", again)
	}
	list, _, _ := runCLI(t, "canary", "list", "--db", db)
	if strings.Count(list, "team payments") != 2 {
		t.Errorf("canary list:\n%s", list)
	}

	leaked := filepath.Join(t.TempDir(), "leaked.csv")
	os.WriteFile(leaked, []byte("customer_id,name\nc-1001,Jo\nc-1003,Vi\n"+sub.ID+",Decoy\n,broken\nc-9999,Honey\n"), 0o644)
	out, errOut, code = runCLI(t, "attribute", "--db", db, leaked)
	if code != 0 {
		t.Fatalf("attribute: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "rejected: "+leaked+":5: customer_id: empty") {
		t.Errorf("bad line not reported:\n%s", errOut)
	}
	for _, want := range []string{
		"Leaked customers: 4; 3 accessed by someone all time, 1 by no one.",
		"c-9999 is a honeytoken customer, a decoy no work leads to; opened by a-ana",
		"1     a-ana ",
		sub.ID + " was shown only to team payments (minted ",
		"opened by no one; members now: a-ana, a-lee",
		"1. a-ana (Ana Reyes, bpo-north, payments, agent, manila): opened honeytoken c-9999, a decoy no work leads to, which is in the leak; saw 3 of the 3 leaked customers anyone accessed (100%), 2 of them without a matching ticket",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("attribution output lacks %q:\n%s", want, out)
		}
	}
	csvOut, _, code := runCLI(t, "attribute", "--db", db, "--format", "csv", leaked)
	if code != 0 || !strings.HasPrefix(csvOut, "rank,actor,name,vendor,team,role,site,covered") || !strings.Contains(csvOut, "\r\n1,a-ana,Ana Reyes,") {
		t.Errorf("attribute csv:\n%s", csvOut)
	}
}
