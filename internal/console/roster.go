package console

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// vendorRow is one vendor's roll-up.
type vendorRow struct {
	Vendor      string
	Agents      int
	Active      int // active in the last 7 days
	OpenCases   int
	Critical    int
	High        int
	MaxRisk     float64
	SumRisk     float64
	AfterEnd    int
	EndingSoon  int
	Alerts7d    int
	TopAgent    agentRef
	HasTopAgent bool
}

type contractRow struct {
	Agent    agentRef
	Person   event.Person
	Days     int
	LastSeen time.Time
	After    time.Duration // active this long after the end
}

func (c *Console) rosterPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := info(r)
	now := c.dataNow(ctx)
	people, err := c.src.People(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.viewer(ctx, ri, people)
	spans, err := c.src.ActorSpans(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	last := map[string]time.Time{}
	for _, s := range spans {
		last[s.Actor] = s.Last
	}
	cases, err := c.loadCases(ctx, ri, v)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	vendorFilter := r.URL.Query().Get("vendor")
	vendors := map[string]*vendorRow{}
	vendorOf := map[string]string{}
	get := func(name string) *vendorRow {
		vr := vendors[name]
		if vr == nil {
			vr = &vendorRow{Vendor: name}
			vendors[name] = vr
		}
		return vr
	}
	var ending, after []contractRow
	var roster []contractRow
	for _, p := range people {
		if !ri.maysee(p.ID) {
			continue
		}
		vendorOf[p.ID] = p.Vendor
		vr := get(p.Vendor)
		vr.Agents++
		ls := last[p.ID]
		if !ls.IsZero() && now.Sub(ls) < 7*24*time.Hour {
			vr.Active++
		}
		row := contractRow{Agent: v.Agent(p.ID), Person: p, LastSeen: ls}
		if !p.ContractEnd.IsZero() {
			row.Days = int(p.ContractEnd.Sub(now).Hours() / 24)
			if p.ContractEnd.After(now) && p.ContractEnd.Sub(now) <= c.cfg.ContractsWithin {
				ending = append(ending, row)
				vr.EndingSoon++
			}
			if ls.After(p.ContractEnd) {
				row.After = ls.Sub(p.ContractEnd)
				after = append(after, row)
				vr.AfterEnd++
			}
		}
		if vendorFilter == "" || vendorFilter == p.Vendor || (vendorFilter == "-" && p.Vendor == "") {
			roster = append(roster, row)
		}
	}
	for _, cr := range cases {
		if !cr.Open() {
			continue
		}
		vr := get(vendorOf[cr.F.Actor.ID])
		vr.OpenCases++
		switch cr.F.Severity {
		case finding.Critical:
			vr.Critical++
		case finding.High:
			vr.High++
		}
		vr.SumRisk += cr.F.Risk
		if cr.F.Risk > vr.MaxRisk {
			vr.MaxRisk, vr.TopAgent, vr.HasTopAgent = cr.F.Risk, cr.Agent, true
		}
	}
	counts, err := c.src.AlertCounts(ctx, now.Add(-7*24*time.Hour))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, ac := range counts {
		if vendor, ok := vendorOf[ac.Actor]; ok {
			get(vendor).Alerts7d += ac.N
		}
	}
	vlist := make([]*vendorRow, 0, len(vendors))
	for _, vr := range vendors {
		if vr.Agents > 0 || vr.OpenCases > 0 {
			vlist = append(vlist, vr)
		}
	}
	sort.Slice(vlist, func(i, j int) bool {
		if vlist[i].SumRisk != vlist[j].SumRisk {
			return vlist[i].SumRisk > vlist[j].SumRisk
		}
		return vlist[i].Vendor < vlist[j].Vendor
	})
	sort.Slice(ending, func(i, j int) bool { return ending[i].Person.ContractEnd.Before(ending[j].Person.ContractEnd) })
	sort.Slice(after, func(i, j int) bool { return after[i].After > after[j].After })
	sort.Slice(roster, func(i, j int) bool {
		a, b := roster[i].Person, roster[j].Person
		if a.Vendor != b.Vendor {
			return a.Vendor < b.Vendor
		}
		if a.Team != b.Team {
			return a.Team < b.Team
		}
		return roster[i].Agent.Label < roster[j].Agent.Label
	})
	total := len(roster)
	if len(roster) > maxShown {
		roster = roster[:maxShown]
	}
	c.page(w, r, "roster", "Roster and vendors", map[string]any{
		"V": v, "Vendors": vlist, "Ending": ending, "After": after, "Roster": roster, "RosterTotal": total,
		"Now": now, "Within": int(c.cfg.ContractsWithin.Hours() / 24), "VendorFilter": vendorFilter,
	})
}

func vendorName(s string) string {
	if strings.TrimSpace(s) == "" {
		return "in-house"
	}
	return s
}
