package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRule(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const cliRule = `id: looked
title: Looked at a customer
description: every view, for tests
severity: low
risk: 1
actions: [view]
condition: "!denied"
summary: "{{.actor.id}} looked at {{.subject}}"
tests:
  - name: a view
    match: true
    events:
      - {time: 2026-03-03T01:00:00Z, actor: a-1, action: view, subject: c-1}
  - name: a denied view
    match: false
    events:
      - {time: 2026-03-03T01:00:00Z, actor: a-1, action: view, subject: c-1, result: denied}
`

func TestRulesTestShippedPack(t *testing.T) {
	out, errOut, code := runCLI(t, "rules", "test")
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, " passed, 0 failed") {
		t.Errorf("no summary line:\n%s", out)
	}
}

// A deliberately broken example fails the command, naming the file and
// line, the rule, the example and the reason.
func TestRulesTestBrokenExample(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "looked.yaml", strings.Replace(cliRule, "result: denied}", "}", 1))
	out, errOut, code := runCLI(t, "rules", "test", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s%s", code, out, errOut)
	}
	want := "FAIL " + filepath.Join(dir, "looked.yaml") + ":14:5: looked: a denied view: must not match, but the rule alerted on the last event e1: a-1 looked at c-1"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, "rules: 1 passed, 1 failed") || !strings.Contains(errOut, "1 example(s) failed") {
		t.Errorf("summary:\n%s%s", out, errOut)
	}
}

// Lint reports every problem in every file with file:line:column and
// exits 1; a clean directory exits 0.
func TestRulesLint(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "good.yaml", cliRule)
	if out, errOut, code := runCLI(t, "rules", "lint", dir); code != 0 || !strings.Contains(out, "1 rules, no problems") {
		t.Fatalf("clean dir: exit %d:\n%s%s", code, out, errOut)
	}
	writeRule(t, dir, "bad.yaml", strings.NewReplacer("id: looked", "id: bad", "severity: low", "severity: loud", `condition: "!denied"`, "condition: actor.role").Replace(cliRule))
	writeRule(t, dir, "worse.yaml", "id: [\n")
	out, errOut, code := runCLI(t, "rules", "lint", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	bad := filepath.Join(dir, "bad.yaml")
	for _, want := range []string{
		bad + `:4:11: severity: unknown severity "loud"`,
		bad + ":7:12: condition: must be true or false (a bool), but it is string",
		filepath.Join(dir, "worse.yaml") + ":1:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "3 problem(s) in 2 file(s)") {
		t.Errorf("stderr: %s", errOut)
	}
	// A broken pack never half-loads: replay refuses it with the same list.
	_, errOut, code = runCLI(t, "replay", "--rules", dir, "../replay/testdata/tiny")
	if code == 0 || !strings.Contains(errOut, `severity: unknown severity "loud"`) {
		t.Errorf("replay with a broken pack: exit %d: %s", code, errOut)
	}
}

// A backtest prints, per rule, alerts and distinct actors to stderr, and
// only findings to stdout.
func TestReplayBacktest(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "looked.yaml", cliRule)
	out, errOut, code := runCLI(t, "replay", "--rules", dir, "../replay/testdata/tiny")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, `"rule":"looked"`); n != 6 {
		t.Errorf("%d looked alerts on stdout, want 6 (one per view):\n%s", n, out)
	}
	if strings.Contains(out, "rules report") {
		t.Error("the report went to stdout")
	}
	if !strings.Contains(errOut, "rules report:") || !strings.Contains(errOut, "6       3   looked") {
		t.Errorf("no per-rule report on stderr:\n%s", errOut)
	}
	report := filepath.Join(t.TempDir(), "report.txt")
	if _, errOut, code := runCLI(t, "replay", "--rules", dir, "--report", report, "../replay/testdata/tiny"); code != 0 || strings.Contains(errOut, "rules report") {
		t.Fatalf("--report: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(b), "looked") {
		t.Errorf("report file: %v\n%s", err, b)
	}
}

// The exported pack is the built-in one: it lints clean and passes its
// examples from its new home, and a second export refuses to overwrite.
func TestRulesExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pack")
	if out, errOut, code := runCLI(t, "rules", "export", dir); code != 0 || !strings.Contains(out, "rule files written") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, "rules", "lint", dir); code != 0 {
		t.Fatalf("lint of the export: exit %d:\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, "rules", "test", dir); code != 0 || !strings.Contains(out, " 0 failed") {
		t.Fatalf("test of the export: exit %d:\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, "rules", "export", dir); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("second export: exit %d: %s", code, errOut)
	}
}

// failingRule is cliRule with a condition that divides by zero on every
// event it is tried on.
func failingRule() string {
	return strings.Replace(cliRule, `condition: "!denied"`, `condition: "10 % (len(subject) - len(subject)) == 0"`, 1)
}

// A rule that fails at run time is treated as not matching, and replay
// says so instead of going quiet: the first failure is logged and the
// tally printed at the end.
func TestReplayReportsRuleFailures(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "looked.yaml", failingRule())
	out, errOut, code := runCLI(t, "replay", "--rules", dir, "../replay/testdata/tiny")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, `"rule":"looked"`) {
		t.Errorf("a failing rule alerted:\n%s", out)
	}
	if n := strings.Count(errOut, "rule failed at run time"); n != 1 {
		t.Errorf("%d failure log lines, want the first only:\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "replay: rule looked failed 6 times at run time and was treated as not matching; first: ") ||
		!strings.Contains(errOut, "divide by zero") {
		t.Errorf("no failure tally on stderr:\n%s", errOut)
	}
	if _, errOut, _ := runCLI(t, "replay", "--rules", "../../rules", "../replay/testdata/tiny"); strings.Contains(errOut, "at run time") {
		t.Errorf("the shipped pack reports failures:\n%s", errOut)
	}
}
