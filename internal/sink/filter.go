package sink

import (
	"fmt"
	"strings"

	"github.com/custos-io/custos/internal/finding"
)

// Filter selects the findings a sink receives. The zero Filter passes
// everything; each field that is set narrows it.
type Filter struct {
	// Kinds: alert, case. Empty means both.
	Kinds []finding.Kind `yaml:"kinds"`
	// MinSeverity drops findings below it.
	MinSeverity finding.Severity `yaml:"min_severity"`
	// Rules keeps only findings whose rule is listed; an entry ending in *
	// matches by prefix ("anomaly:*"). Cases carry no rule, so a sink with
	// a rules filter receives no cases.
	Rules []string `yaml:"rules"`
}

// Validate checks the filter's values.
func (f *Filter) Validate() error {
	for i, k := range f.Kinds {
		if k != finding.KindAlert && k != finding.KindCase {
			return fmt.Errorf("filter.kinds[%d]: unknown kind %q (want alert or case)", i, k)
		}
	}
	if f.MinSeverity != "" {
		if _, err := finding.ParseSeverity(string(f.MinSeverity)); err != nil {
			return fmt.Errorf("filter.min_severity: %w", err)
		}
	}
	for i, r := range f.Rules {
		if r == "" || r == "*" {
			return fmt.Errorf("filter.rules[%d]: %q matches nothing or everything; leave rules out instead", i, r)
		}
	}
	return nil
}

// Match reports whether fd passes the filter.
func (f *Filter) Match(fd *finding.Finding) bool {
	if len(f.Kinds) > 0 {
		ok := false
		for _, k := range f.Kinds {
			ok = ok || k == fd.Kind
		}
		if !ok {
			return false
		}
	}
	if f.MinSeverity != "" && fd.Severity.Rank() < f.MinSeverity.Rank() {
		return false
	}
	if len(f.Rules) > 0 {
		if fd.Rule == "" {
			return false
		}
		for _, r := range f.Rules {
			if p, ok := strings.CutSuffix(r, "*"); ok && strings.HasPrefix(fd.Rule, p) || r == fd.Rule {
				return true
			}
		}
		return false
	}
	return true
}
