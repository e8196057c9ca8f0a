package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/sim"
)

func TestSimulateThenEval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "org")
	_, errOut, code := runCLI(t, "simulate", "--agents", "30", "--days", "9", "--customers", "2000", "--seed", "5",
		"--no-insiders", "--insiders", "honeytoken=1,after_contract=1", "--no-trap", "unexplained,travel", dir)
	if code != 0 {
		t.Fatalf("simulate exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "simulate: 30 agents, 2000 customers, 2 insiders") {
		t.Errorf("summary: %s", errOut)
	}
	for _, f := range []string{"roster.ndjson", "subjects.ndjson", "tickets.ndjson", "events.ndjson", "labels.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	labels, err := sim.ReadLabels(filepath.Join(dir, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	if labels.Seed != 5 || labels.Agents != 30 || labels.Days != 9 {
		t.Errorf("labels say seed %d, %d agents, %d days", labels.Seed, labels.Agents, labels.Days)
	}
	for _, b := range labels.Benign {
		if b.Trap == sim.TrapTravel || b.Trap == sim.TrapUnexplained {
			t.Errorf("trap %s labelled though switched off", b.Trap)
		}
	}

	out, errOut, code := runCLI(t, "eval", "--json", dir)
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, errOut)
	}
	var rep struct {
		Overall struct {
			Insiders, Detected int
		}
		Runs []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if rep.Overall.Insiders != 2 || rep.Overall.Detected != 2 || len(rep.Runs) != 1 || rep.Runs[0].Name != "org" {
		t.Errorf("eval: %+v", rep)
	}

	out, errOut, code = runCLI(t, "eval", "--baseline", dir)
	if code != 0 || !strings.Contains(out, "engine: baseline (naive static rules") || !strings.Contains(out, "after_contract") {
		t.Errorf("eval --baseline exit %d:\n%s\n%s", code, out, errOut)
	}
}

func TestEvalFindingsFile(t *testing.T) {
	out, errOut, code := runCLI(t, "eval", "--findings", "../eval/testdata/tiny/findings.ndjson", "--markdown", "../eval/testdata/tiny")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile("../eval/testdata/tiny.md")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("eval --findings --markdown differs from the package's golden report:\n%s", out)
	}
}

func TestSimulatePrintParams(t *testing.T) {
	out, errOut, code := runCLI(t, "simulate", "--print-params", "--agents", "77", "--insiders", "collusion=3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "params.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	c := sim.Default()
	if err := sim.LoadParams(path, &c); err != nil {
		t.Fatalf("printed parameters do not load back: %v\n%s", err, out)
	}
	if c.Agents != 77 || c.Insiders.Collusion.Count != 3 {
		t.Errorf("round trip: agents %d, collusion pairs %d", c.Agents, c.Insiders.Collusion.Count)
	}
	// A flag given on the command line wins over the file.
	out, _, code = runCLI(t, "simulate", "--params", path, "--agents", "50", "--print-params")
	if code != 0 || !strings.Contains(out, "agents: 50") || !strings.Contains(out, "count: 3") {
		t.Errorf("--params with --agents (exit %d):\n%s", code, out)
	}
}

func TestSimulateAndEvalErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("agents: 40\ncoffee: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"simulate", "--no-trap", "coffee", "x"}, `unknown trap "coffee"`},
		{[]string{"simulate", "--insiders", "spy=2", "x"}, `unknown scenario "spy"`},
		{[]string{"simulate", "--agents", "2", "x"}, "agents must be between"},
		{[]string{"simulate", "--params", bad, "x"}, "coffee"},
		{[]string{"simulate"}, "accepts 1 arg"},
		{[]string{"eval", "--findings", "f", "a", "b"}, "--findings goes with one DIR"},
		{[]string{"eval", "--findings", "f", "--baseline", "a"}, "--findings excludes"},
		{[]string{"eval", "--baseline", "--rules", "r", "a"}, "exclude each other"},
		{[]string{"eval", t.TempDir()}, "reading labels"},
		{[]string{"eval", "--rules", t.TempDir(), "../eval/testdata/tiny"}, "loading rules"},
	} {
		_, errOut, code := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error containing %q", c.args, code, errOut, c.want)
		}
	}
}
