package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/eval"
	"github.com/custos-io/custos/internal/finding"
)

func newEval(e *env) *cobra.Command {
	var (
		findings, rulesDir        string
		asJSON, markdown, naive   bool
		viewsPerHour, alertsToday int
	)
	base := eval.DefaultBaseline()
	cmd := &cobra.Command{
		Use:   "eval [flags] DIR...",
		Short: "Measure detection quality on simulated directories with labelled insiders",
		Long: `Eval replays each DIR (written by custos simulate) through the engine, or reads
its findings from --findings, joins them with DIR/labels.json and the roster, and
reports per insider scenario and overall: recall (insiders with a case at or
after their scenario's start), precision at actor level, false cases per 1,000
agents per week, median and worst time to detect, and alerts and cases per day.
Several DIRs (seeds) are pooled, with a line per run.

--rules DIR scores a candidate rule pack in place of the configured one.
--baseline evaluates a comparison engine of naive static rules instead (every
unexplained access is an alert; more than N views an hour is an alert; access
outside the contract is an alert; M alerts in a day open a case), so the value
of Custos's rules, baselines and risk can be measured against it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if findings != "" && len(args) > 1 {
				return errors.New("--findings goes with one DIR")
			}
			if findings != "" && (naive || rulesDir != "") {
				return errors.New("--findings excludes --baseline and --rules: the findings say which engine made them")
			}
			if naive && rulesDir != "" {
				return errors.New("--baseline and --rules exclude each other: the baseline has its own rules")
			}
			if asJSON && markdown {
				return errors.New("--json and --markdown exclude each other")
			}
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if rulesDir != "" {
				cfg.Rules.Dir = rulesDir
			}
			log := e.logger(cfg)
			base.ViewsPerHour, base.AlertsPerCase = viewsPerHour, alertsToday
			name := "custos"
			if naive {
				name = fmt.Sprintf("baseline (naive static rules: %d views/hour, %d alerts/day open a case)", base.ViewsPerHour, base.AlertsPerCase)
			} else if findings != "" {
				name = "findings from " + findings
			} else if rulesDir != "" {
				name = "custos with the rule pack in " + rulesDir
			}
			windows := engine.Windows{Grace: cfg.Tickets.Grace, AfterClose: cfg.Tickets.AfterClose}
			pack, err := cfg.Pack()
			if err != nil {
				return err
			}
			var runs []eval.Input
			for _, dir := range args {
				labels, roster, err := eval.LoadRun(dir)
				if err != nil {
					return err
				}
				in := eval.Input{Name: filepath.Base(filepath.Clean(dir)), Labels: labels, Roster: roster}
				if findings != "" {
					if in.Findings, err = eval.ReadFindingsFile(findings); err != nil {
						return err
					}
				} else {
					fails := newRuleFailures(log)
					build := func(emit func(*finding.Finding)) *engine.Engine { return cfg.BatchEngineWith(pack, emit, fails.record) }
					if naive {
						build = func(emit func(*finding.Finding)) *engine.Engine { return base.Engine(windows, emit) }
					}
					start := time.Now()
					fs, counts, err := eval.Replay(cmd.Context(), dir, cfg.Replay.Lateness, build)
					if err != nil {
						return err
					}
					in.Findings = fs
					fails.report(e.stderr, "eval")
					log.Info("replayed", "dir", dir, "events", counts.Events, "ticket_changes", counts.Tickets,
						"rejected", counts.Rejected, "findings", len(fs), "elapsed", time.Since(start).Round(time.Millisecond))
				}
				runs = append(runs, in)
			}
			rep := eval.Evaluate(name, runs)
			switch {
			case asJSON:
				return rep.WriteJSON(e.stdout)
			case markdown:
				return rep.WriteMarkdown(e.stdout)
			}
			return rep.WriteText(e.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&findings, "findings", "", "read findings NDJSON from FILE instead of replaying DIR")
	f.BoolVar(&asJSON, "json", false, "write the report as JSON")
	f.BoolVar(&markdown, "markdown", false, "write the report as markdown tables")
	f.BoolVar(&naive, "baseline", false, "evaluate the comparison engine of naive static rules")
	f.StringVar(&rulesDir, "rules", "", "evaluate the rule pack in DIR instead of the configured one")
	f.IntVar(&viewsPerHour, "baseline-views-per-hour", base.ViewsPerHour, "baseline: views in one hour above which an alert fires")
	f.IntVar(&alertsToday, "baseline-alerts-per-case", base.AlertsPerCase, "baseline: alerts in one day that open a case")
	return cmd
}
