package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/rules"
)

// ruleStats counts, per rule, the alerts a replay raised and on how many
// actors: what a detection engineer judges a candidate rule by.
type ruleStats struct {
	alerts map[string]int
	actors map[string]map[string]struct{}
	pack   map[string]bool
}

func newRuleStats(p *rules.Pack) *ruleStats {
	s := &ruleStats{alerts: map[string]int{}, actors: map[string]map[string]struct{}{}, pack: map[string]bool{}}
	for _, r := range p.Rules() {
		s.pack[r.ID] = true
		s.alerts[r.ID] = 0
		s.actors[r.ID] = map[string]struct{}{}
	}
	return s
}

func (s *ruleStats) add(f *finding.Finding) {
	s.alerts[f.Rule]++
	if s.actors[f.Rule] == nil {
		s.actors[f.Rule] = map[string]struct{}{}
	}
	s.actors[f.Rule][f.Actor.ID] = struct{}{}
}

// write prints one line per rule, most alerts first, rules that never
// fired last (they are what a backtest should also show).
func (s *ruleStats) write(w io.Writer) error {
	ids := make([]string, 0, len(s.alerts))
	for id := range s.alerts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if s.alerts[ids[i]] != s.alerts[ids[j]] {
			return s.alerts[ids[i]] > s.alerts[ids[j]]
		}
		return ids[i] < ids[j]
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "alerts\tactors\t rule\t")
	var total int
	for _, id := range ids {
		name := id
		if !s.pack[id] {
			name += " (not a pack rule)"
		}
		total += s.alerts[id]
		fmt.Fprintf(tw, "%d\t%d\t %s\t\n", s.alerts[id], len(s.actors[id]), name)
	}
	fmt.Fprintf(tw, "%d\t\t total\t\n", total)
	return tw.Flush()
}

func writeRuleReport(stderr io.Writer, path string, s *ruleStats) error {
	if path == "" {
		fmt.Fprintln(stderr, "rules report:")
		return s.write(stderr)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating --report: %w", err)
	}
	if err := s.write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing --report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing --report %s: %w", path, err)
	}
	return nil
}
