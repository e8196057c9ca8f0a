package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/custos-io/custos/internal/event"
)

// plan is one insider's scenario.
type plan struct {
	scenario string
	sc       Scenario
	agent    *agent
	from     int // first day (0-based)
	label    Insider
	touched  map[string]struct{}

	// targets is this actor's list (collusion: its half of the pair's);
	// otherwise targets are drawn as needed, never twice.
	targets []int32
	next    int
	used    map[int32]bool

	// Shift scenarios run on the first sc.Days days the actor works from
	// `from`; activeOn remembers its answer per day.
	worked   int
	memoDay  int
	memoLive bool
}

// duringShift reports whether the scenario happens inside the actor's
// working shifts (the others come at night or instead of work).
func (p *plan) duringShift() bool {
	switch p.scenario {
	case AccountTakeover, AfterContract, DormantWakeup:
		return false
	}
	return true
}

// activeOn reports whether day d is one of the scenario's days. For shift
// scenarios that is one of the first sc.Days scheduled days from `from`;
// for the others, calendar days.
func (p *plan) activeOn(g *gen, a *agent, d int) bool {
	if !p.duringShift() {
		return d >= p.from && d < p.from+p.sc.Days
	}
	if d == p.memoDay {
		return p.memoLive
	}
	p.memoDay = d
	p.memoLive = d >= p.from && p.worked < p.sc.Days && g.scheduled(a, d)
	if p.memoLive {
		p.worked++
	}
	return p.memoLive
}

// mark records a malicious event.
func (p *plan) mark(t int64, subject string) {
	at := unixTime(t)
	if p.label.Events == 0 || at.Before(p.label.Start) {
		p.label.Start = at
	}
	if at.After(p.label.End) {
		p.label.End = at
	}
	p.label.Events++
	if subject != "" {
		p.touched[subject] = struct{}{}
	}
}

// target returns the next customer to pull: from the actor's own list, or
// drawn from the customers holding at least the scenario's minimum.
func (p *plan) target(c *customers, r *rand.Rand) int32 {
	if p.targets != nil {
		t := p.targets[p.next%len(p.targets)]
		p.next++
		return t
	}
	pool := c.richerThan(p.sc.MinBalance)
	for range 20 {
		t := pool[r.IntN(len(pool))]
		if !p.used[t] {
			p.used[t] = true
			return t
		}
	}
	return pool[r.IntN(len(pool))]
}

// planInsiders picks the insiders and sets their scenarios up. Each actor
// gets at most one scenario; none is a new hire, a leaver or on leave, so a
// label is never mixed with a benign trap.
func (g *gen) planInsiders(r *rand.Rand) error {
	taken := map[int]bool{}
	pick := func(name string, want func(*agent) bool) (*agent, error) {
		var cands []*agent
		var fallback []*agent
		for _, a := range g.org.agents {
			if taken[a.idx] || a.unit < 0 || (a.p.Role != roleAgent && a.p.Role != roleSenior) ||
				a.firstDay >= 0 || a.contractTo >= 0 || a.leaveFrom >= 0 {
				continue
			}
			fallback = append(fallback, a)
			if want == nil || want(a) {
				cands = append(cands, a)
			}
		}
		if len(cands) == 0 {
			cands = fallback
		}
		if len(cands) == 0 {
			return nil, fmt.Errorf("not enough agents for the %s insiders: raise agents or lower insiders.%s.count", name, name)
		}
		a := cands[r.IntN(len(cands))]
		taken[a.idx] = true
		return a, nil
	}
	notTeam := func(teams ...string) func(*agent) bool {
		return func(a *agent) bool { return !slices.Contains(teams, a.p.Team) }
	}
	inTeam := func(team string) func(*agent) bool {
		return func(a *agent) bool { return a.p.Team == team }
	}
	wants := map[string]func(*agent) bool{
		BribedAgent:         notTeam(teamVIP),
		IDHarvest:           notTeam(teamIDV),
		ScreenPhotographing: notTeam(teamVIP),
		ResetNoVerification: inTeam(teamRecovery),
		Collusion:           notTeam(teamVIP),
		AfterContract:       func(a *agent) bool { return a.site.vendor != "" },
	}
	days := g.cfg.Days
	groups := 0
	for _, name := range ScenarioNames {
		sc, _ := g.cfg.Insiders.Scenario(name)
		for range sc.Count {
			from := min(days-1, sc.FirstDay-1+r.IntN(sc.LastDay-sc.FirstDay+1))
			if name == AfterContract || name == DormantWakeup {
				from = max(1, from)
			}
			n := 1
			if name == Collusion {
				n = 2
			}
			var pair []*plan
			for range n {
				a, err := pick(name, wants[name])
				if err != nil {
					return err
				}
				p := &plan{scenario: name, sc: *sc, agent: a, from: from, memoDay: -1,
					touched: map[string]struct{}{}, used: map[int32]bool{}}
				p.label = Insider{Actor: a.p.ID, Scenario: name}
				a.plan = p
				switch name {
				case AfterContract:
					a.p.ContractEnd = g.contractEndBefore(a, from)
				case DormantWakeup:
					a.dormant = true
				}
				g.plans = append(g.plans, p)
				pair = append(pair, p)
			}
			if name == Collusion {
				groups++
				group := "collusion-" + strconv.Itoa(groups)
				list := slices.Clone(g.cust.richerThan(sc.MinBalance))
				r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
				list = list[:min(len(list), 2*sc.Days*sc.PerDayMax)]
				for i, p := range pair {
					p.label.Group = group
					for j := i; j < len(list); j += 2 {
						p.targets = append(p.targets, list[j])
					}
				}
			}
		}
	}
	return nil
}

func (x *day) perDay(p *plan) int { return p.sc.PerDayMin + x.r.IntN(p.sc.PerDayMax-p.sc.PerDayMin+1) }

// scheduleInsider plans the day's malicious work of a shift scenario.
func (x *day) scheduleInsider(p *plan) {
	r := x.r
	n := x.perDay(p)
	at := func() int64 { return x.t + 600 + r.Int64N(max(1, x.end-x.t-1200)) }
	add := func(kind uint8, k int, arg int32) {
		for range k {
			x.extras = append(x.extras, extra{at: at(), kind: kind, arg: arg})
		}
	}
	switch p.scenario {
	case BribedAgent, Collusion:
		add(exPull, n, 0)
	case CitesOthersTickets:
		add(exCite, n, 0)
	case Honeytoken:
		add(exHoneytoken, 1, int32(n))
	case IDHarvest:
		k := int(float64(n)*p.sc.NoTicketShare + 0.5)
		add(exHarvest, k, 0)
		x.harvestLeft = n - k
	case ScreenPhotographing:
		k := int(float64(n)*p.sc.NoTicketShare + 0.5)
		add(exPhoto, k, 0)
		x.photoLeft = n - k
	case ResetNoVerification:
		x.resetLeft = n
	}
}

func (x *day) runInsiderExtra(ex extra) {
	p, g, r := x.a.plan, x.g, x.r
	c := g.cust
	x.bad = true
	defer func() { x.bad = false }()
	switch ex.kind {
	case exPull:
		s := p.target(c, r)
		x.search(x.query(s), 1, "")
		x.view(s, partProfile, "", x.dwell())
		if r.Float64() < 0.7 {
			x.view(s, []part{partBalance, partTx, partContact}[r.IntN(3)], "", x.dwell())
		}
	case exHarvest:
		s := c.regular[r.IntN(len(c.regular))]
		x.search(x.query(s), 1, "")
		x.view(s, partKYC, "", x.dwell())
		x.reveal(s, "kyc_document", fieldsDOB, "", "")
	case exPhoto:
		s := p.target(c, r)
		x.search(x.query(s), 1, "")
		x.view(s, partProfile, "", 120+r.Int64N(360))
		if r.Float64() < 0.5 {
			x.view(s, partPayment, "", 60+r.Int64N(240))
		}
	case exCite:
		t, ok := x.othersTicket()
		if !ok {
			return
		}
		x.view(t.subject, partProfile, t.id, x.dwell())
		x.view(t.subject, partContact, t.id, x.dwell())
		if r.Float64() < 0.5 {
			x.view(t.subject, partBalance, t.id, x.dwell())
		}
	case exHoneytoken:
		x.search("tier:vip", 20+r.IntN(30), "")
		for range 2 + r.IntN(3) {
			s := p.target(c, r)
			x.view(s, partProfile, "", x.dwell())
		}
		for range ex.arg {
			h := c.honeytokens[r.IntN(len(c.honeytokens))]
			x.view(h, partProfile, "", x.dwell())
			x.view(h, partBalance, "", x.dwell())
		}
	}
}

// othersTicket finds a ticket another agent is working right now, from the
// insider's own team first.
func (x *day) othersTicket() (pooled, bool) {
	g, r := x.g, x.r
	pool := g.pools[x.d]
	if len(pool) == 0 {
		return pooled{}, false
	}
	ok := func(p pooled) bool { return int(p.assignee) != x.a.idx && p.open <= x.t && p.solved >= x.t+300 }
	if idx := g.byUnit[x.a.unit]; len(idx) > 0 {
		for range 20 {
			if p := pool[idx[r.IntN(len(idx))]]; ok(p) {
				return p, true
			}
		}
	}
	for range 200 {
		if p := pool[r.IntN(len(pool))]; ok(p) {
			return p, true
		}
	}
	// Nobody's ticket is open right now: cite one already worked today or
	// yesterday.
	if x.d > 0 {
		pool = append(slices.Clip(pool), g.pools[x.d-1]...)
	}
	for range 200 {
		if p := pool[r.IntN(len(pool))]; int(p.assignee) != x.a.idx && p.open <= x.t {
			return p, true
		}
	}
	return pooled{}, false
}

// afterShift runs the scenarios that happen outside the actor's shifts.
func (x *day) afterShift(p *plan) {
	if p.duringShift() || !p.activeOn(x.g, x.a, x.d) {
		return
	}
	switch p.scenario {
	case AccountTakeover:
		x.takeover(p)
	case AfterContract:
		x.afterContract(p)
	case DormantWakeup:
		x.dormantWakeup(p)
	}
}

var attackerCountries = []string{"RU", "NG", "BR", "VN", "RO", "UA", "ID"}

// foreign returns an address, device and country the actor never used.
func (x *day) foreign() event.Actor {
	r, a := x.r, x.a
	country := attackerCountries[r.IntN(len(attackerCountries))]
	for country == a.site.country {
		country = attackerCountries[r.IntN(len(attackerCountries))]
	}
	return event.Actor{
		ID:      a.p.ID,
		IP:      fmt.Sprintf("45.%d.%d.%d", 10+r.IntN(200), r.IntN(256), 1+r.IntN(254)),
		Device:  fmt.Sprintf("d-%08x", r.Uint32()),
		Country: country,
	}
}

// takeover is someone else in the agent's account, scraping in bulk at
// night from a place and device the agent never used.
func (x *day) takeover(p *plan) {
	g, r, a := x.g, x.r, x.a
	t := g.dayStart(x.d+1) - a.site.offset + 2*3600 + r.Int64N(2*3600)
	for _, d := range []int{x.d, x.d + 1} {
		if s := g.nominalStart(a, d); t > s-3600 && t < s+maxShift {
			t = g.nominalStart(a, x.d) + 13*3600 + r.Int64N(3600)
		}
	}
	x.t = t
	x.actor = x.foreign()
	x.bad = true
	defer func() { x.bad = false }()
	x.login()
	n := x.perDay(p)
	for i := range n {
		if i%25 == 0 {
			x.search([]string{"tier:vip", "balance>10000", "country:US", "tier:plus"}[r.IntN(4)], 25+r.IntN(75), "")
		}
		s := p.target(g.cust, r)
		x.view(s, partProfile, "", 2+r.Int64N(4))
		if r.Float64() < 0.5 {
			x.view(s, partContact, "", 1+r.Int64N(3))
		}
	}
	x.e.Action, x.e.Resource, x.e.Count = event.Export, "customer_list", n
	x.put()
	x.t += 30
	x.logout()
}

// afterContract is a former contractor whose account was never revoked
// logging in from home after the contract ended.
func (x *day) afterContract(p *plan) {
	g, r, a := x.g, x.r, x.a
	x.t = g.nominalStart(a, x.d) + r.Int64N(3600)
	x.actor = event.Actor{ID: a.p.ID, IP: fmt.Sprintf("100.%d.%d.%d", 64+r.IntN(60), r.IntN(256), 1+r.IntN(254)), Device: a.device, Country: a.site.country}
	x.bad = true
	defer func() { x.bad = false }()
	x.login()
	for range x.perDay(p) {
		s := p.target(g.cust, r)
		x.search(x.query(s), 1, "")
		x.view(s, partProfile, "", x.dwell())
		x.view(s, partBalance, "", x.dwell())
		x.t += 30 + r.Int64N(150)
	}
	x.logout()
}

// dormantWakeup is an account unused all period that wakes up from
// elsewhere in the small hours of its site.
func (x *day) dormantWakeup(p *plan) {
	g, r, a := x.g, x.r, x.a
	x.t = g.dayStart(x.d) - a.site.offset + 3600 + r.Int64N(4*3600)
	x.actor = x.foreign()
	x.bad = true
	defer func() { x.bad = false }()
	x.login()
	for range x.perDay(p) {
		s := p.target(g.cust, r)
		x.view(s, partProfile, "", x.dwell())
		if r.Float64() < 0.6 {
			x.view(s, []part{partBalance, partContact, partKYC}[r.IntN(3)], "", x.dwell())
		}
		x.t += 20 + r.Int64N(70)
	}
	x.logout()
}
