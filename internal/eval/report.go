package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON, for scripts.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the report as aligned tables, for people.
func (r *Report) WriteText(w io.Writer) error {
	var names []string
	for _, run := range r.Runs {
		names = append(names, run.Name)
	}
	fmt.Fprintf(w, "engine: %s; runs: %s\n\n", r.Engine, strings.Join(names, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tinsiders\tdetected\ton target\trecall\tmedian TTD\tworst TTD\t")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%s\t%s\t\n", s.Scenario, s.Insiders, s.Detected, s.OnTarget, s.Recall, Duration(s.MedianTTD), Duration(s.WorstTTD))
	}
	o := r.Overall
	fmt.Fprintf(tw, "overall\t%d\t%d\t%d\t%.2f\t%s\t%s\t\n", o.Insiders, o.Detected, o.OnTarget, o.Recall, Duration(o.MedianTTD), Duration(o.WorstTTD))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "precision (actor level)\t%.2f\t(%d of %d actors with cases are detected insiders)\n", o.Precision, o.TrueActors, o.ActorsWithCases)
	fmt.Fprintf(tw, "false cases per 1,000 agents per week\t%.1f\t(%d false cases over %.0f agent-weeks)\n", o.FalseCasesPer1kAgentWks, o.FalseCases, o.AgentWeeks)
	fmt.Fprintf(tw, "alerts per analyst-day\t%.1f\t(%d alerts over %d days)\n", o.AlertsPerDay, o.Alerts, o.Days)
	fmt.Fprintf(tw, "cases per analyst-day\t%.1f\t(%d cases over %d days)\n", o.CasesPerDay, o.Cases, o.Days)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Runs) > 1 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\tseed\trecall\tprecision\tfalse/1k/wk\tmedian TTD\talerts/day\tcases/day\t")
		for _, run := range r.Runs {
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.1f\t%s\t%.1f\t%.1f\t\n", run.Name, run.Seed, run.Recall, run.Precision,
				run.FalseCasesPer1kAgentWks, Duration(run.MedianTTD), run.AlertsPerDay, run.CasesPerDay)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		if len(s.CaughtBy) > 0 {
			fmt.Fprintf(w, "caught %s by: %s\n", s.Scenario, counts(s.CaughtBy, 4))
		}
	}
	for _, s := range r.Scenarios {
		if len(s.Missed) > 0 {
			fmt.Fprintf(w, "missed %s: %s\n", s.Scenario, strings.Join(s.Missed, ", "))
		}
	}
	if len(r.FalseByTrap) > 0 {
		fmt.Fprintf(w, "non-insiders with false cases / all non-insiders, by benign trap or role: %s\n", counts(r.FalseByTrap, 0))
		fmt.Fprintf(w, "rules opening false cases: %s\n", counts(r.FalseRules, 6))
	}
	return nil
}

// WriteMarkdown writes the report as markdown tables, for docs.
func (r *Report) WriteMarkdown(w io.Writer) error {
	o := r.Overall
	fmt.Fprintf(w, "| scenario | insiders | detected | on target | recall | median TTD | worst TTD | caught by |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.2f | %s | %s | %s |\n", s.Scenario, s.Insiders, s.Detected, s.OnTarget, s.Recall,
			Duration(s.MedianTTD), Duration(s.WorstTTD), counts(s.CaughtBy, 3))
	}
	fmt.Fprintf(w, "| **overall** | %d | %d | %d | **%.2f** | **%s** | %s | |\n\n", o.Insiders, o.Detected, o.OnTarget, o.Recall, Duration(o.MedianTTD), Duration(o.WorstTTD))

	fmt.Fprintf(w, "| measure | value |\n|---|---:|\n")
	fmt.Fprintf(w, "| recall | %.2f (%d of %d insiders; %d with a case naming their targets) |\n", o.Recall, o.Detected, o.Insiders, o.OnTarget)
	fmt.Fprintf(w, "| precision (actor level) | %.2f (%d of %d actors with cases) |\n", o.Precision, o.TrueActors, o.ActorsWithCases)
	fmt.Fprintf(w, "| false cases per 1,000 agents per week | %.1f (%d over %.0f agent-weeks) |\n", o.FalseCasesPer1kAgentWks, o.FalseCases, o.AgentWeeks)
	fmt.Fprintf(w, "| median / worst time to detect | %s / %s |\n", Duration(o.MedianTTD), Duration(o.WorstTTD))
	fmt.Fprintf(w, "| alerts per analyst-day | %.1f |\n", o.AlertsPerDay)
	fmt.Fprintf(w, "| cases per analyst-day | %.1f |\n\n", o.CasesPerDay)

	if len(r.Runs) > 1 {
		fmt.Fprintf(w, "| run | seed | recall | precision | false cases /1k agents/wk | median TTD | alerts/day | cases/day |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range r.Runs {
			fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.1f | %s | %.1f | %.1f |\n", run.Name, run.Seed, run.Recall, run.Precision,
				run.FalseCasesPer1kAgentWks, Duration(run.MedianTTD), run.AlertsPerDay, run.CasesPerDay)
		}
		fmt.Fprintln(w)
	}
	var missed []string
	for _, s := range r.Scenarios {
		if len(s.Missed) > 0 {
			missed = append(missed, fmt.Sprintf("%s (%d)", s.Scenario, len(s.Missed)))
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(w, "Missed: %s.\n\n", strings.Join(missed, ", "))
	}
	if len(r.FalseByTrap) > 0 {
		fmt.Fprintf(w, "Non-insiders with false cases out of all non-insiders, by benign trap or role: %s.\n\n", counts(r.FalseByTrap, 0))
		fmt.Fprintf(w, "Rules opening false cases: %s.\n", counts(r.FalseRules, 6))
	}
	return nil
}

// counts renders "a ×3, b ×1"; at most n entries (0: all).
func counts(c []Count, n int) string {
	var parts []string
	for i, x := range c {
		if n > 0 && i == n {
			parts = append(parts, "…")
			break
		}
		if x.Of > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", x.Name, x.Count, x.Of))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", x.Name, x.Count))
	}
	return strings.Join(parts, ", ")
}

// Duration renders seconds compactly: 45s, 12m, 3h05m, 2d4h; "-" for none.
func Duration(sec float64) string {
	if sec < 0 {
		return "-"
	}
	s := int64(sec + 0.5)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}
