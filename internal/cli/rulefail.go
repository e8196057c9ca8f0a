package cli

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ruleFailures tallies the rule expressions and templates that failed at
// run time (a division by zero, a missing field's arithmetic): the engine
// treats such a rule as not matching, so without a report a broken rule
// would go quiet where it should alert. The first failure of each rule is
// logged; replay prints the tally and serve exports it as a metric. The
// engine's stages may call record from goroutines of their own.
type ruleFailures struct {
	log    *slog.Logger
	mu     sync.Mutex
	counts map[string]int
	first  map[string]string
	desc   *prometheus.Desc
}

func newRuleFailures(log *slog.Logger) *ruleFailures {
	return &ruleFailures{
		log:    log,
		counts: map[string]int{},
		first:  map[string]string{},
		desc: prometheus.NewDesc("custos_rule_errors_total",
			"Rule evaluations that failed at run time (the rule was treated as not matching), by rule, since start, the start-up rebuild included; the first of each rule is logged.",
			[]string{"rule"}, nil),
	}
}

func (f *ruleFailures) record(rule string, err error) {
	f.mu.Lock()
	f.counts[rule]++
	first := f.counts[rule] == 1
	if first {
		f.first[rule] = err.Error()
	}
	f.mu.Unlock()
	if first && f.log != nil {
		f.log.Warn("rule failed at run time; treated as not matching (later failures of the rule are only counted)", "rule", rule, "err", err)
	}
}

// report prints one line per failing rule, by rule id; nothing when every
// rule ran clean.
func (f *ruleFailures) report(w io.Writer, prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.counts))
	for id := range f.counts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "%s: rule %s failed %d times at run time and was treated as not matching; first: %s\n", prefix, id, f.counts[id], f.first[id])
	}
}

func (f *ruleFailures) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *ruleFailures) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.counts {
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, float64(n), id)
	}
}
