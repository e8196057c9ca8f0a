package rules

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/golden"
	"github.com/custos-io/custos/internal/replay"
)

// The ticket windows of the default configuration (internal/config), which
// this package cannot import.
var testWindows = engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}

// newEngine assembles an engine running the pack, as config.EngineWith does.
func newEngine(p *Pack, emit func(*finding.Finding)) (*engine.Engine, *Evaluator) {
	var eng *engine.Engine
	ev := NewEvaluator(p, func(id string) *event.Person { return eng.Person(id) })
	cfg := engine.Config{Tickets: testWindows}
	imm, settled := p.Stages()
	if imm {
		cfg.Immediate = []engine.Detector{ev.Immediate()}
	}
	if settled {
		cfg.Settled = []engine.Detector{ev.Settled()}
	}
	eng = engine.New(cfg, emit)
	return eng, ev
}

// Each folder of testdata/cases is a replay directory with its rules in
// rules/ (the shipped pack if there is none) and alerts.golden, the alerts
// the replay must raise, in order.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var p *Pack
			var err error
			if _, statErr := os.Stat(filepath.Join(dir, "rules")); statErr == nil {
				p, err = LoadDir(filepath.Join(dir, "rules"))
			} else {
				p, err = Shipped()
			}
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			eng, ev := newEngine(p, func(f *finding.Finding) {
				if f.Kind != finding.KindAlert {
					return
				}
				line, err := finding.MarshalLine(f)
				if err != nil {
					t.Fatal(err)
				}
				got.Write(line)
			})
			if _, err := replay.Run(context.Background(), replay.Options{Dir: dir, Lateness: 5 * time.Minute}, eng); err != nil {
				t.Fatal(err)
			}
			if n := ev.Errors(); len(n) > 0 {
				t.Errorf("run-time errors: %v", n)
			}
			golden.Check(t, filepath.Join(dir, "alerts.golden"), got.Bytes())
		})
	}
}
