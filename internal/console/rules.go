package console

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/rules"
)

// PackRules lists the rules of a loaded rule pack.
type PackRules struct{ Pack *rules.Pack }

// Rules returns the pack's rules, in id order.
func (p PackRules) Rules(context.Context) ([]RuleInfo, error) {
	var out []RuleInfo
	for _, r := range p.Pack.Rules() {
		desc := r.Title
		if r.Description != "" {
			desc = strings.TrimSpace(strings.TrimSuffix(desc, ".") + ". " + r.Description)
			if r.Title == "" {
				desc = r.Description
			}
		}
		src := r.File
		if src == "" {
			src = "rule pack"
		}
		out = append(out, RuleInfo{ID: r.ID, Severity: string(r.Severity), Description: desc, Source: src})
	}
	return out, nil
}

// noRules is the catalog of a console given none: the rules page then
// lists the rules seen in alerts.
type noRules struct{}

func (noRules) Rules(context.Context) ([]RuleInfo, error) { return nil, nil }

type ruleRow struct {
	RuleInfo
	Day, Week, Month int
	TP, FP           int
	FPRate           string
	Listed           bool // in the loaded pack, not only seen in alerts
}

func (c *Console) rulesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := c.dataNow(ctx)
	loaded, err := c.rules.Rules(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rows := map[string]*ruleRow{}
	var order []string
	for _, ru := range loaded {
		rows[ru.ID] = &ruleRow{RuleInfo: ru, Listed: true}
		order = append(order, ru.ID)
	}
	row := func(id string) *ruleRow {
		if x, ok := rows[id]; ok {
			return x
		}
		x := &ruleRow{RuleInfo: RuleInfo{ID: id, Source: ruleSource(id)}}
		if f, ok := strings.CutPrefix(id, "anomaly:"); ok {
			x.Description = "Behavioural baseline: " + strings.ReplaceAll(f, "_", " ") + " far above the agent's own history and its peers' in the same period."
		}
		rows[id] = x
		order = append(order, id)
		return x
	}
	for _, span := range []struct {
		d   time.Duration
		set func(*ruleRow, int)
	}{
		{24 * time.Hour, func(x *ruleRow, n int) { x.Day = n }},
		{7 * 24 * time.Hour, func(x *ruleRow, n int) { x.Week = n }},
		{30 * 24 * time.Hour, func(x *ruleRow, n int) { x.Month = n }},
	} {
		counts, err := c.src.AlertCounts(ctx, now.Add(-span.d))
		if err != nil {
			c.fail(w, r, err)
			return
		}
		hits := map[string]int{}
		for _, ac := range counts {
			hits[ac.Rule] += ac.N
		}
		for id, n := range hits {
			span.set(row(id), n)
		}
	}
	states, err := c.state.CaseStates(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, st := range states {
		for _, id := range st.Rules {
			switch st.Verdict {
			case VerdictFalse:
				row(id).FP++
			case VerdictTrue:
				row(id).TP++
			}
		}
	}
	list := make([]*ruleRow, 0, len(order))
	for _, id := range order {
		x := rows[id]
		if x.TP+x.FP > 0 {
			x.FPRate = pct(float64(x.FP) / float64(x.TP+x.FP))
		}
		list = append(list, x)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Listed != list[j].Listed {
			return list[i].Listed
		}
		if list[i].Listed {
			return false // the pack's own order
		}
		if list[i].Month != list[j].Month {
			return list[i].Month > list[j].Month
		}
		return list[i].ID < list[j].ID
	})
	c.page(w, r, "rules", "Rules", map[string]any{"Rules": list, "AsOf": now})
}

func ruleSource(id string) string {
	if strings.HasPrefix(id, "anomaly:") {
		return "baseline"
	}
	return "seen in alerts"
}
