package baseline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/golden"
	"github.com/custos-io/custos/internal/replay"
)

// replayScenario generates a scenario's organisation and replays it with the
// shipped configuration, returning the findings as NDJSON.
func replayScenario(t *testing.T, sc *Scenario) []byte {
	t.Helper()
	g := newGen(sc)
	g.run()
	dir := t.TempDir()
	g.write(t, dir)
	cfg := config.Default()
	var out bytes.Buffer
	eng, err := cfg.Engine(func(f *finding.Finding) {
		line, err := finding.MarshalLine(f)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(line)
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := replay.Run(context.Background(), replay.Options{Dir: dir, Lateness: cfg.Replay.Lateness}, eng)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rejected > 0 {
		t.Fatalf("the generator wrote %d invalid records", c.Rejected)
	}
	return out.Bytes()
}

func loadScenario(t *testing.T, path string) *Scenario {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sc Scenario
	if err := yaml.UnmarshalWithOptions(b, &sc, yaml.Strict()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &sc
}

// TestScenarios replays each testdata/scenarios/*.yaml and checks that
// exactly the expected actors have a case, and that each case reads as its
// golden file says (run with -update to rewrite them).
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := loadScenario(t, path)
			out := replayScenario(t, sc)
			cases := map[string]*finding.Finding{} // last version of each case
			opened := map[string]string{}
			var order []string
			alerts := map[string]int{}
			for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
				var f finding.Finding
				if err := json.Unmarshal(line, &f); err != nil {
					t.Fatal(err)
				}
				if f.Kind == finding.KindAlert {
					if strings.HasPrefix(f.Rule, "anomaly:") {
						alerts[f.Actor.ID+" "+f.Rule]++
					}
					continue
				}
				if cases[f.ID] == nil {
					order = append(order, f.ID)
					opened[f.ID] = f.Time.Format("2006-01-02 15:04")
				}
				cases[f.ID] = &f
			}
			var got []string
			var summaries strings.Builder
			for _, id := range order {
				c := cases[id]
				got = append(got, c.Actor.ID)
				summaries.WriteString(c.Actor.ID + " opened " + opened[id] + " (" + string(c.Severity) + "): " + c.Summary + "\n")
			}
			sort.Strings(got)
			want := append([]string(nil), sc.ExpectCases...)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				var why []string
				for k, n := range alerts {
					why = append(why, k+" ×"+itoa(n))
				}
				sort.Strings(why)
				t.Errorf("cases for %v, want %v\n%s\nanomaly alerts:\n%s", got, want, summaries.String(), strings.Join(why, "\n"))
			}
			golden.Check(t, strings.TrimSuffix(path, ".yaml")+".golden", []byte(summaries.String()))
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestReplayDeterministic: the same input gives the same bytes.
func TestReplayDeterministic(t *testing.T) {
	sc := loadScenario(t, "testdata/scenarios/patient_insider.yaml")
	a := replayScenario(t, sc)
	b := replayScenario(t, sc)
	if !bytes.Equal(a, b) {
		t.Fatal("two replays of the same input differ")
	}
	if !bytes.Contains(a, []byte(`"rule":"anomaly:`)) {
		t.Fatal("the replay raised no anomaly, so it shows nothing about their determinism")
	}
}
