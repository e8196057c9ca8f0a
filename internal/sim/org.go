package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// site is an office: a vendor's (empty vendor = in-house) location in one
// time zone, whose agents reach the console through a few egress addresses.
type site struct {
	name, vendor, country string
	offset                int64 // seconds east of UTC (fixed; DST is not modelled)
	ips                   []string
	hotDesk               bool // agents take any free workstation
}

var sites = []*site{
	{name: "lisbon", vendor: "", country: "PT", offset: 0},
	{name: "austin", vendor: "", country: "US", offset: -6 * 3600},
	{name: "manila", vendor: "bpo-north", country: "PH", offset: 8 * 3600, hotDesk: true},
	{name: "cebu", vendor: "bpo-north", country: "PH", offset: 8 * 3600, hotDesk: true},
	{name: "bogota", vendor: "bpo-south", country: "CO", offset: -5 * 3600, hotDesk: true},
	{name: "cape-town", vendor: "bpo-south", country: "ZA", offset: 2 * 3600},
	{name: "krakow", vendor: "bpo-east", country: "PL", offset: 1 * 3600},
	{name: "bangalore", vendor: "bpo-east", country: "IN", offset: 5*3600 + 1800, hotDesk: true},
}

func init() {
	for i, s := range sites {
		for j := range 4 {
			s.ips = append(s.ips, fmt.Sprintf("198.51.%d.%d", 10+i, 20+j))
		}
	}
}

func siteNamed(name string) *site {
	for _, s := range sites {
		if s.name == name {
			return s
		}
	}
	panic("sim: unknown site " + name)
}

// Teams and roles.
const (
	teamGeneral  = "general"
	teamPayments = "payments"
	teamIDV      = "identity-verification"
	teamRecovery = "account-recovery"
	teamVIP      = "vip-desk"
	teamQuality  = "quality"
	teamFraud    = "fraud"

	roleAgent  = "agent"
	roleSenior = "senior_agent"
	roleLead   = "team_lead"
	roleQA     = "qa"
	roleFraud  = "fraud_investigator"
)

// part is one part of a customer record as the console shows it.
type part struct {
	resource string
	fields   []string
}

var (
	partProfile  = part{"profile", []string{"name", "email", "phone"}}
	partContact  = part{"contact", []string{"email", "phone", "address"}}
	partTx       = part{"transactions", []string{"amount", "merchant", "date"}}
	partBalance  = part{"balance", []string{"balance"}}
	partPayment  = part{"payment_method", []string{"card_last4", "iban"}}
	partKYC      = part{"kyc_document", []string{"document_type", "id_number", "dob"}}
	partCreds    = part{"credentials", []string{"login_email", "mfa_method"}}
	partNotes    = part{"notes", []string{"notes"}}
	fieldsDOB    = []string{"dob", "id_number"}
	fieldsPhone  = []string{"phone"}
	fieldsEmail  = []string{"email"}
	fieldsIBAN   = []string{"iban"}
	fieldsNotes  = []string{"notes"}
	fieldsContUp = []string{"email", "phone"}
)

// teamSpec is how a team works a ticket: which record parts it opens, how
// often it needs the identity document, how often a ticket ends in a reset.
type teamSpec struct {
	parts   []part
	weights []float64
	kyc     float64 // chance a ticket opens the identity document
	resets  float64 // chance a ticket ends in a credential or MFA reset
	vip     bool    // works VIP customers
}

var teamSpecs = map[string]*teamSpec{
	teamGeneral:  {parts: []part{partContact, partTx, partBalance, partPayment, partNotes}, weights: []float64{3, 3, 2, 1, 1}, kyc: 0.03, resets: 0.02},
	teamPayments: {parts: []part{partTx, partPayment, partBalance, partContact}, weights: []float64{45, 30, 20, 5}, kyc: 0.03},
	teamIDV:      {parts: []part{partContact, partProfile, partNotes}, weights: []float64{5, 3, 2}, kyc: 0.9, resets: 0.03},
	teamRecovery: {parts: []part{partCreds, partContact, partTx}, weights: []float64{5, 3, 2}, kyc: 0.15, resets: 0.5},
	teamVIP:      {parts: []part{partBalance, partTx, partPayment, partContact}, weights: []float64{3, 3, 2, 2}, kyc: 0.05, resets: 0.05, vip: true},
}

// unitTemplates are the team units an organisation is built from, in the
// order they are filled: site, team and local shift start hour.
var unitTemplates = []struct {
	site, team string
	shift      int
}{
	{"manila", teamGeneral, 8}, {"manila", teamGeneral, 22}, {"manila", teamPayments, 8},
	{"bogota", teamGeneral, 9}, {"bangalore", teamIDV, 9}, {"krakow", teamRecovery, 8},
	{"lisbon", teamVIP, 9}, {"cape-town", teamGeneral, 8}, {"cebu", teamPayments, 14},
	{"austin", teamRecovery, 8}, {"manila", teamGeneral, 16}, {"bogota", teamPayments, 14},
	{"krakow", teamGeneral, 14}, {"bangalore", teamGeneral, 18}, {"lisbon", teamIDV, 9},
	{"cape-town", teamRecovery, 12}, {"cebu", teamGeneral, 22}, {"austin", teamVIP, 8},
	{"krakow", teamPayments, 8}, {"bogota", teamGeneral, 20},
}

const unitSize = 12

// unit is a team lead and the agents they lead, at one site on one shift.
type unit struct {
	idx     int
	site    *site
	team    string
	shift   int64 // local start, seconds after midnight
	lead    int   // agent index
	members []int
}

// agent is one workforce identity and how it behaves.
type agent struct {
	idx  int
	p    event.Person
	site *site
	unit int // -1 for QA and fraud investigators
	spec *teamSpec

	shift    int64   // local start, seconds after midnight
	workdays [7]bool // by time.Weekday
	speed    float64 // ticket-rate multiplier
	// unexplained is this agent's mean of lookups per day no ticket explains.
	unexplained float64
	device      string
	ip          string

	firstDay   int // first day of a new hire's contract (-1: not a new hire)
	leaveFrom  int // days away, inclusive; -1 if none
	leaveTo    int
	dormant    bool // no normal work at all (dormant account)
	contractTo int  // last working day of a clean contract end (-1: none)

	plan *plan // insider scenario, if any

	// recent are the agent's latest solved tickets, for callbacks.
	recent []pastTicket
}

type pastTicket struct {
	subject int32
	id      string
	solved  int64
}

// org is the roster.
type org struct {
	agents []*agent
	units  []*unit
}

var firstNames = []string{"Ana", "Ben", "Carla", "Dev", "Elif", "Farah", "Gabe", "Hana", "Ivan", "Jo", "Kiri", "Luis",
	"Maya", "Nico", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe"}
var lastNames = []string{"Reyes", "Okafor", "Park", "Adams", "Santos", "Nowak", "Iyer", "Mendes", "Cruz", "Dlamini",
	"Silva", "Kowalski", "Rao", "Garcia", "Lim", "Torres", "Naidoo", "Costa", "Bautista", "Patel"}

func agentID(i int) string { return "a-" + pad(i+1, 4) }

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// newOrg builds the roster: a few QA reviewers and fraud investigators
// in-house, and team units of a lead and about a dozen agents filled from
// unitTemplates in turn.
func newOrg(cfg *Config, day0 time.Time, r *rand.Rand) *org {
	o := &org{}
	n := cfg.Agents
	nQA := max(1, n*3/100)
	nFraud := max(1, n*3/100)
	rest := n - nQA - nFraud
	nUnits := max(1, (rest+unitSize-1)/unitSize)
	for i := range nUnits {
		t := unitTemplates[i%len(unitTemplates)]
		o.units = append(o.units, &unit{idx: i, site: siteNamed(t.site), team: t.team, shift: int64(t.shift) * 3600, lead: -1})
	}
	add := func(s *site, team, role string, u int, shift int64) *agent {
		a := &agent{idx: len(o.agents), site: s, unit: u, shift: shift, firstDay: -1, leaveFrom: -1, leaveTo: -1, contractTo: -1}
		a.p = event.Person{
			ID:      agentID(a.idx),
			Name:    firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))],
			Vendor:  s.vendor,
			Team:    team,
			Role:    role,
			Site:    s.name,
			Country: s.country,
			Status:  event.Active,
		}
		years := 1 + r.IntN(4)
		if s.vendor == "" {
			years = 1 + r.IntN(7)
		}
		a.p.ContractStart = day0.AddDate(-years, -r.IntN(12), -r.IntN(28))
		a.spec = teamSpecs[team]
		for wd := time.Monday; wd <= time.Friday; wd++ {
			a.workdays[wd] = true
		}
		a.speed = math.Exp(r.NormFloat64() * 0.2)
		a.ip = s.ips[r.IntN(len(s.ips))]
		if s.hotDesk {
			a.device = fmt.Sprintf("ws-%s-%03d", s.name, r.IntN(400))
		} else {
			a.device = fmt.Sprintf("lt-%s", a.p.ID)
		}
		// A lognormal rate: most agents have few unexplained lookups, a
		// few have many. Its mean is the configured rate.
		const sigma = 0.9
		if cfg.Traps.Unexplained > 0 {
			a.unexplained = cfg.Traps.Unexplained * math.Exp(sigma*r.NormFloat64()-sigma*sigma/2)
		}
		o.agents = append(o.agents, a)
		return a
	}
	lisbon, austin := siteNamed("lisbon"), siteNamed("austin")
	for i := range nQA {
		s := lisbon
		if i%2 == 1 {
			s = austin
		}
		add(s, teamQuality, roleQA, -1, 9*3600)
	}
	for i := range nFraud {
		s := lisbon
		if i%2 == 1 {
			s = austin
		}
		add(s, teamFraud, roleFraud, -1, 9*3600)
	}
	for i := range rest {
		u := o.units[i%nUnits]
		role := roleAgent
		switch {
		case u.lead < 0:
			role = roleLead
		case r.Float64() < 0.2:
			role = roleSenior
		}
		a := add(u.site, u.team, role, u.idx, u.shift)
		if role == roleLead {
			u.lead = a.idx
		} else {
			u.members = append(u.members, a.idx)
		}
	}
	for _, u := range o.units {
		if u.lead < 0 {
			continue
		}
		lead := o.agents[u.lead].p.ID
		for _, m := range u.members {
			o.agents[m].p.Manager = lead
		}
	}
	return o
}

// applyTraps gives agents the roster-level benign traps: weekend rotations,
// new hires, clean contract ends and leave. It returns the benign labels.
func (o *org) applyTraps(cfg *Config, g *gen, r *rand.Rand) []Benign {
	var out []Benign
	t := cfg.Traps
	for _, a := range o.agents {
		if a.unit < 0 || a.p.Role == roleLead {
			continue
		}
		if r.Float64() < t.WeekendRotation {
			off1 := time.Monday + time.Weekday(r.IntN(4))
			a.workdays = [7]bool{true, true, true, true, true, true, true}
			a.workdays[off1], a.workdays[off1+1] = false, false
			out = append(out, Benign{Actor: a.p.ID, Trap: TrapWeekendRotation})
		}
	}
	for _, a := range o.agents {
		if a.unit < 0 || a.p.Role == roleLead {
			continue
		}
		switch x := r.Float64(); {
		case x < t.NewHires && cfg.Days >= 4:
			a.firstDay = 2 + r.IntN(max(1, cfg.Days/2))
			s := g.nominalStart(a, a.firstDay) - 3600
			a.p.ContractStart = time.Unix(s-mod(s, daySec), 0).UTC()
			out = append(out, Benign{Actor: a.p.ID, Trap: TrapNewHire, Start: timePtr(a.p.ContractStart)})
		case x < t.NewHires+t.ContractEnds && a.site.vendor != "" && cfg.Days >= 6:
			a.contractTo = cfg.Days/3 + r.IntN(max(1, cfg.Days/2))
			a.p.ContractEnd = g.contractEndBefore(a, a.contractTo+1)
			out = append(out, Benign{Actor: a.p.ID, Trap: TrapContractEnd, Start: timePtr(a.p.ContractEnd)})
		case x < t.NewHires+t.ContractEnds+t.Leave && cfg.Days >= 10:
			a.leaveFrom = 1 + r.IntN(cfg.Days/2)
			a.leaveTo = min(cfg.Days-1, a.leaveFrom+7+r.IntN(8))
			out = append(out, Benign{Actor: a.p.ID, Trap: TrapLeave, Start: timePtr(time.Unix(g.dayStart(a.leaveTo+1), 0).UTC())})
		}
	}
	for _, a := range o.agents {
		if a.site.hotDesk && t.HotDesk > 0 {
			out = append(out, Benign{Actor: a.p.ID, Trap: TrapHotDesk})
		}
		if a.unexplained >= 4 {
			out = append(out, Benign{Actor: a.p.ID, Trap: TrapUnexplained})
		}
	}
	return out
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func timePtr(t time.Time) *time.Time { return &t }

// Customer tiers.
const (
	tierStandard uint8 = iota
	tierPlus
	tierVIP
)

var tierNames = []string{"standard", "plus", "vip"}

var customerCountries = []string{"US", "US", "US", "GB", "GB", "DE", "DE", "FR", "ES", "BR", "BR", "IN", "PH", "SG", "NG", "ZA", "MX", "PL"}

// customers holds every customer and the pools work draws from.
type customers struct {
	ids     []string
	tier    []uint8
	balance []float64
	country []string
	honey   []bool
	// regular are the non-VIP, non-decoy customers ordinary tickets are about.
	regular []int32
	// vip are VIP customers (decoys excluded).
	vip []int32
	// rich are all non-decoy customers, richest first.
	rich []int32
	// honeytokens are the decoys.
	honeytokens []int32
}

// newCustomers draws tiers and heavy-tailed balances: lognormal for the
// standard and plus tiers, Pareto above $250k for VIPs.
func newCustomers(cfg *Config, r *rand.Rand) *customers {
	n := cfg.Customers
	c := &customers{ids: make([]string, n), tier: make([]uint8, n), balance: make([]float64, n), country: make([]string, n), honey: make([]bool, n)}
	width := len(strconv.Itoa(n))
	for i := range n {
		c.ids[i] = "c-" + pad(i+1, width)
		c.country[i] = customerCountries[r.IntN(len(customerCountries))]
		switch x := r.Float64(); {
		case x < 0.03:
			c.tier[i] = tierVIP
			c.balance[i] = 250_000 / math.Pow(1-r.Float64(), 1/1.2)
		case x < 0.15:
			c.tier[i] = tierPlus
			c.balance[i] = 15_000 * math.Exp(1.5*r.NormFloat64())
		default:
			c.balance[i] = 500 * math.Exp(2*r.NormFloat64())
		}
		c.balance[i] = math.Round(min(c.balance[i], 5e8)*100) / 100
	}
	for len(c.honeytokens) < cfg.Honeytokens {
		i := r.IntN(n)
		if c.honey[i] {
			continue
		}
		// Decoys look like the customers an insider wants most.
		c.honey[i] = true
		c.tier[i] = tierVIP
		c.balance[i] = math.Round((1e6+r.Float64()*4e6)*100) / 100
		c.honeytokens = append(c.honeytokens, int32(i))
	}
	slices.Sort(c.honeytokens)
	for i := range n {
		switch {
		case c.honey[i]:
		case c.tier[i] == tierVIP:
			c.vip = append(c.vip, int32(i))
		default:
			c.regular = append(c.regular, int32(i))
		}
		if !c.honey[i] {
			c.rich = append(c.rich, int32(i))
		}
	}
	slices.SortStableFunc(c.rich, func(x, y int32) int {
		switch bx, by := c.balance[x], c.balance[y]; {
		case bx > by:
			return -1
		case bx < by:
			return 1
		}
		return 0
	})
	return c
}

// richerThan returns the customers holding at least min, richest first; at
// least the richest 1 % whatever min says, so small organisations still have
// targets.
func (c *customers) richerThan(min float64) []int32 {
	n, _ := slices.BinarySearchFunc(c.rich, min, func(i int32, m float64) int {
		if c.balance[i] >= m {
			return -1
		}
		return 1
	})
	return c.rich[:max(n, len(c.rich)/100, 1)]
}

func (c *customers) subject(i int32) event.Subject {
	return event.Subject{ID: c.ids[i], Tier: tierNames[c.tier[i]], BalanceUSD: c.balance[i], Country: c.country[i], Honeytoken: c.honey[i]}
}
