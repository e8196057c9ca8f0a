package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/golden"
)

// Each folder of testdata/lint holds a broken pack and want.txt, the
// problems Lint must report, one per line, with file:line:column.
func TestLintCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/lint/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no lint cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			errs := Lint(os.DirFS(dir), "rules")
			if len(errs) == 0 {
				t.Fatal("no problems reported for a broken pack")
			}
			got := errs.Error() + "\n"
			golden.Check(t, filepath.Join(dir, "want.txt"), []byte(got))
			// A broken pack never loads, not even in part.
			if p, err := Load(os.DirFS(dir), "rules"); err == nil && filepath.Base(dir) != "missing_examples" {
				t.Errorf("Load accepted a broken pack with %d rules", len(p.Rules()))
			}
		})
	}
}

// The errors a detection engineer meets most must say precisely what and
// where, whatever else the golden files record.
func TestLintMessages(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"bad_yaml", "rules/rule.yaml:3:"},
		{"unknown_field", `rules/rule.yaml:6:1: conditon: unknown field "conditon"`},
		{"unknown_field", `rules/rule.yaml:9:3: suppress.kee: unknown field "kee"`},
		{"expr_not_compile", "rules/rule.yaml:8:37: condition: actor has no field rol"},
		{"condition_string", "rules/rule.yaml:6:12: condition: must be true or false (a bool), but it is string"},
		{"unknown_severity", `severity: unknown severity "severe"`},
		{"unknown_severity", `actions[1]: unknown action "veiw"`},
		{"unknown_severity", `condition: unknown action "veiw"`},
		{"unknown_severity", `unknown ticket verdict "no-ticket"`},
		{"unknown_severity", `"T15" looks like a MITRE ATT&CK technique id`},
		{"bad_aggregates", `aggregates[0].kind: unknown kind "counter"`},
		{"bad_aggregates", `aggregates[0].window: "10 minutes" is not a duration`},
		{"bad_aggregates", `aggregates[1].name: aggregate "views" declared twice`},
		{"bad_aggregates", `unknown aggregate agg.viewz (declared: views)`},
		{"bad_aggregates", `aggregates cannot be used here`},
		{"stage_conflict", "stage: immediate, but condition reads the ticket verdict"},
		{"bad_summary", `map has no entry for key "teir"`},
		{"bad_tests", "tests[0].events[0]: time: missing"},
		{"bad_tests", `tests[1].events[0]: action: unknown value "peek"`},
		{"bad_tests", "tests[1].match: missing"},
		{"duplicate_id", `rules/b.yaml:1:5: id: rule "same" is already defined in rules/a.yaml`},
		{"missing_examples", "rules/rule.yaml:9:3: tests: no must-not-match example (match: false)"},
		{"not_a_mapping", "a rule is a mapping of keys"},
	}
	for _, tt := range tests {
		errs := Lint(os.DirFS(filepath.Join("testdata/lint", tt.dir)), "rules")
		if !strings.Contains(errs.Error(), tt.want) {
			t.Errorf("%s: problems do not contain %q:\n%s", tt.dir, tt.want, errs.Error())
		}
	}
}
