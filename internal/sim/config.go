// Package sim generates a synthetic support organisation: a roster of agents
// at in-house and outsourced sites in several time zones, customers, the
// ticket queue and the access events of their work, with benign behaviour
// that traps naive detectors and labelled insider scenarios. It is how
// Custos measures its own detection quality (see internal/eval) and feeds
// demos and benchmarks.
//
// Generation is a pure function of the Config: randomness comes from PCG
// generators seeded from Config.Seed and the (agent, day) being generated,
// never from the wall clock or map order, so the same Config writes the same
// bytes.
package sim

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Config sizes the organisation and sets its behaviour. The zero value is
// not useful; start from Default.
type Config struct {
	Seed uint64 `yaml:"seed"`
	// Start is the first simulated day (YYYY-MM-DD, UTC).
	Start string `yaml:"start"`
	Days  int    `yaml:"days"`
	// Agents is the roster size, every role included.
	Agents      int `yaml:"agents"`
	Customers   int `yaml:"customers"`
	Honeytokens int `yaml:"honeytokens"`
	// TicketsPerDay is how many tickets a full-time agent works in a shift.
	TicketsPerDay float64 `yaml:"tickets_per_day"`

	Traps    Traps    `yaml:"traps"`
	Insiders Insiders `yaml:"insiders"`
}

// Traps are the benign behaviours that look suspicious to a naive detector.
// A zero rate or false switches one off.
type Traps struct {
	// NewHires is the share of agents whose contract starts during the
	// period (no history; slower at first).
	NewHires float64 `yaml:"new_hires"`
	// ContractEnds is the share of outsourced agents whose contract ends
	// during the period, cleanly: no access after it.
	ContractEnds float64 `yaml:"contract_ends"`
	// Overtime is the chance an agent-day runs one to three hours over.
	Overtime float64 `yaml:"overtime"`
	// WeekendRotation is the share of agents who work weekends and take two
	// weekdays off instead.
	WeekendRotation float64 `yaml:"weekend_rotation"`
	// SickDays is the chance an agent misses a working day.
	SickDays float64 `yaml:"sick_days"`
	// Leave is the share of agents away for one to two weeks mid-period who
	// come back to normal work.
	Leave float64 `yaml:"leave"`
	// PanicDay is the 1-based day on which a market panic doubles ticket
	// volume for everyone; 0 means none.
	PanicDay int `yaml:"panic_day"`
	// Travel is the chance an agent-day logs in through a VPN exit or from
	// another country while travelling, doing normal work.
	Travel float64 `yaml:"travel"`
	// Typos is the chance that an event cites a mistyped ticket id.
	Typos float64 `yaml:"typos"`
	// HotDesk is the chance an agent at a hot-desking site (Manila, Cebu,
	// Bogotá, Bangalore) works a day at another workstation than usual: a
	// device the agent may never have used.
	HotDesk float64 `yaml:"hot_desk"`
	// QASampling: QA reviewers open other agents' solved tickets, citing them.
	QASampling bool `yaml:"qa_sampling"`
	// LeadEscalations: team leads work their team members' open tickets.
	LeadEscalations bool `yaml:"lead_escalations"`
	// FraudInvestigations: fraud investigators look at many customers
	// without tickets.
	FraudInvestigations bool `yaml:"fraud_investigations"`
	// Unexplained is the mean number per agent-day of lookups no ticket
	// explains (callbacks, a linked or family account under the same
	// ticket, habit). Each agent's own rate is drawn around it: most have
	// few, some many.
	Unexplained float64 `yaml:"unexplained"`
}

// Scenario parameterises one kind of insider. Days are 1-based simulated
// days; an insider's scenario starts on a day drawn from [FirstDay, LastDay]
// and goes on for Days calendar days (on the days the actor works, for the
// scenarios that happen during shifts).
type Scenario struct {
	// Count is how many insiders (for collusion: how many pairs).
	Count    int `yaml:"count"`
	FirstDay int `yaml:"first_day"`
	LastDay  int `yaml:"last_day"`
	Days     int `yaml:"days"`
	// PerDayMin and PerDayMax bound the scenario's volume per active day:
	// customers pulled, records scraped, resets done (see each scenario).
	PerDayMin int `yaml:"per_day_min"`
	PerDayMax int `yaml:"per_day_max"`
	// MinBalance targets customers holding at least this much (USD).
	MinBalance float64 `yaml:"min_balance"`
	// NoTicketShare is, for scenarios that mostly hide inside ticketed work
	// (identity-document harvesting, photographing), the share of their
	// targets pulled without any ticket.
	NoTicketShare float64 `yaml:"no_ticket_share"`
}

// Insiders configures each scenario. Labels name them by their YAML key.
type Insiders struct {
	BribedAgent         Scenario `yaml:"bribed_agent"`
	CitesOthersTickets  Scenario `yaml:"cites_others_tickets"`
	AccountTakeover     Scenario `yaml:"account_takeover"`
	AfterContract       Scenario `yaml:"after_contract"`
	Honeytoken          Scenario `yaml:"honeytoken"`
	IDHarvest           Scenario `yaml:"id_harvest"`
	ScreenPhotographing Scenario `yaml:"screen_photographing"`
	ResetNoVerification Scenario `yaml:"reset_no_verification"`
	Collusion           Scenario `yaml:"collusion"`
	DormantWakeup       Scenario `yaml:"dormant_wakeup"`
}

// Scenario names, as used in labels.json and flags.
const (
	BribedAgent         = "bribed_agent"
	CitesOthersTickets  = "cites_others_tickets"
	AccountTakeover     = "account_takeover"
	AfterContract       = "after_contract"
	Honeytoken          = "honeytoken"
	IDHarvest           = "id_harvest"
	ScreenPhotographing = "screen_photographing"
	ResetNoVerification = "reset_no_verification"
	Collusion           = "collusion"
	DormantWakeup       = "dormant_wakeup"
)

// ScenarioNames lists every scenario in a fixed order.
var ScenarioNames = []string{
	BribedAgent, CitesOthersTickets, AccountTakeover, AfterContract, Honeytoken,
	IDHarvest, ScreenPhotographing, ResetNoVerification, Collusion, DormantWakeup,
}

// Scenario returns the parameters of the named scenario, for changing them.
func (in *Insiders) Scenario(name string) (*Scenario, bool) {
	switch name {
	case BribedAgent:
		return &in.BribedAgent, true
	case CitesOthersTickets:
		return &in.CitesOthersTickets, true
	case AccountTakeover:
		return &in.AccountTakeover, true
	case AfterContract:
		return &in.AfterContract, true
	case Honeytoken:
		return &in.Honeytoken, true
	case IDHarvest:
		return &in.IDHarvest, true
	case ScreenPhotographing:
		return &in.ScreenPhotographing, true
	case ResetNoVerification:
		return &in.ResetNoVerification, true
	case Collusion:
		return &in.Collusion, true
	case DormantWakeup:
		return &in.DormantWakeup, true
	}
	return nil, false
}

// Trap names, as used in labels.json (benign entries) and flags.
const (
	TrapNewHire         = "new_hire"
	TrapContractEnd     = "contract_end"
	TrapOvertime        = "overtime"
	TrapWeekendRotation = "weekend_rotation"
	TrapSickDays        = "sick_days"
	TrapLeave           = "leave"
	TrapPanicDay        = "panic_day"
	TrapTravel          = "travel"
	TrapTypos           = "typos"
	TrapHotDesk         = "hot_desk"
	TrapQASampling      = "qa_sampling"
	TrapLeadEscalations = "lead_escalations"
	TrapFraud           = "fraud_investigations"
	TrapUnexplained     = "unexplained"
)

// TrapNames lists every trap in a fixed order.
var TrapNames = []string{
	TrapNewHire, TrapContractEnd, TrapOvertime, TrapWeekendRotation, TrapSickDays, TrapLeave,
	TrapPanicDay, TrapTravel, TrapTypos, TrapHotDesk, TrapQASampling, TrapLeadEscalations, TrapFraud, TrapUnexplained,
}

// Disable switches the named trap off.
func (t *Traps) Disable(name string) error {
	switch name {
	case TrapNewHire:
		t.NewHires = 0
	case TrapContractEnd:
		t.ContractEnds = 0
	case TrapOvertime:
		t.Overtime = 0
	case TrapWeekendRotation:
		t.WeekendRotation = 0
	case TrapSickDays:
		t.SickDays = 0
	case TrapLeave:
		t.Leave = 0
	case TrapPanicDay:
		t.PanicDay = 0
	case TrapTravel:
		t.Travel = 0
	case TrapTypos:
		t.Typos = 0
	case TrapHotDesk:
		t.HotDesk = 0
	case TrapQASampling:
		t.QASampling = false
	case TrapLeadEscalations:
		t.LeadEscalations = false
	case TrapFraud:
		t.FraudInvestigations = false
	case TrapUnexplained:
		t.Unexplained = 0
	default:
		return fmt.Errorf("unknown trap %q (want one of %s)", name, strings.Join(TrapNames, ", "))
	}
	return nil
}

// Default returns the shipped configuration: 400 agents for 28 days.
func Default() Config {
	return Config{
		Seed:          1,
		Start:         "2026-03-02",
		Days:          28,
		Agents:        400,
		Customers:     100_000,
		Honeytokens:   5,
		TicketsPerDay: 22,
		Traps: Traps{
			NewHires:            0.04,
			ContractEnds:        0.03,
			Overtime:            0.08,
			WeekendRotation:     0.2,
			SickDays:            0.025,
			Leave:               0.03,
			PanicDay:            17,
			Travel:              0.01,
			Typos:               0.005,
			HotDesk:             0.15,
			QASampling:          true,
			LeadEscalations:     true,
			FraudInvestigations: true,
			Unexplained:         1.5,
		},
		Insiders: Insiders{
			BribedAgent:         Scenario{Count: 2, FirstDay: 8, LastDay: 18, Days: 10, PerDayMin: 10, PerDayMax: 40, MinBalance: 100_000},
			CitesOthersTickets:  Scenario{Count: 2, FirstDay: 8, LastDay: 18, Days: 7, PerDayMin: 5, PerDayMax: 15},
			AccountTakeover:     Scenario{Count: 2, FirstDay: 8, LastDay: 24, Days: 1, PerDayMin: 150, PerDayMax: 400, MinBalance: 10_000},
			AfterContract:       Scenario{Count: 2, FirstDay: 8, LastDay: 20, Days: 3, PerDayMin: 5, PerDayMax: 20, MinBalance: 10_000},
			Honeytoken:          Scenario{Count: 2, FirstDay: 8, LastDay: 24, Days: 1, PerDayMin: 1, PerDayMax: 1, MinBalance: 100_000},
			IDHarvest:           Scenario{Count: 2, FirstDay: 8, LastDay: 18, Days: 10, PerDayMin: 15, PerDayMax: 30, NoTicketShare: 0.3},
			ScreenPhotographing: Scenario{Count: 2, FirstDay: 8, LastDay: 18, Days: 10, PerDayMin: 15, PerDayMax: 30, MinBalance: 10_000, NoTicketShare: 0.3},
			ResetNoVerification: Scenario{Count: 2, FirstDay: 8, LastDay: 20, Days: 7, PerDayMin: 1, PerDayMax: 3, MinBalance: 50_000},
			Collusion:           Scenario{Count: 1, FirstDay: 8, LastDay: 18, Days: 10, PerDayMin: 5, PerDayMax: 12, MinBalance: 100_000},
			DormantWakeup:       Scenario{Count: 2, FirstDay: 15, LastDay: 26, Days: 1, PerDayMin: 30, PerDayMax: 80, MinBalance: 10_000},
		},
	}
}

// LoadParams reads a YAML parameter file over c. Unknown keys are errors
// with their line and column.
func LoadParams(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading simulation parameters: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b), yaml.Strict())
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return fmt.Errorf("simulation parameters %s:%s", path, yaml.FormatError(err, false, true))
	}
	return c.Validate()
}

// MarshalParams renders c as a YAML parameter file that LoadParams reads.
func (c Config) MarshalParams() ([]byte, error) {
	return yaml.Marshal(c)
}

// maxAgents keeps agent numbers within the digits reserved for them in
// ticket and event ids.
const maxAgents = 99_999

// maxTicketsPerAgentDay keeps ticket numbers within their three digits.
const maxTicketsPerAgentDay = 999

// Validate checks the configuration and says what is wrong.
func (c *Config) Validate() error {
	if _, err := c.startTime(); err != nil {
		return err
	}
	switch {
	case c.Days < 1:
		return fmt.Errorf("days must be at least 1, got %d", c.Days)
	case c.Agents < 10 || c.Agents > maxAgents:
		return fmt.Errorf("agents must be between 10 and %d, got %d", maxAgents, c.Agents)
	case c.Customers < 100:
		return fmt.Errorf("customers must be at least 100, got %d", c.Customers)
	case c.Honeytokens < 0 || c.Honeytokens > c.Customers/100:
		return fmt.Errorf("honeytokens must be between 0 and customers/100 (%d), got %d", c.Customers/100, c.Honeytokens)
	case c.TicketsPerDay <= 0 || c.TicketsPerDay > 200:
		return fmt.Errorf("tickets_per_day must be in (0, 200], got %v", c.TicketsPerDay)
	case c.Traps.PanicDay < 0:
		return fmt.Errorf("traps.panic_day must not be negative, got %d", c.Traps.PanicDay)
	case c.Traps.Unexplained < 0:
		return fmt.Errorf("traps.unexplained must not be negative, got %v", c.Traps.Unexplained)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{
		{"new_hires", c.Traps.NewHires}, {"contract_ends", c.Traps.ContractEnds},
		{"overtime", c.Traps.Overtime}, {"weekend_rotation", c.Traps.WeekendRotation},
		{"sick_days", c.Traps.SickDays}, {"leave", c.Traps.Leave},
		{"travel", c.Traps.Travel}, {"typos", c.Traps.Typos}, {"hot_desk", c.Traps.HotDesk},
	} {
		if p.v < 0 || p.v > 1 {
			return fmt.Errorf("traps.%s must be a share between 0 and 1, got %v", p.name, p.v)
		}
	}
	for _, name := range ScenarioNames {
		s, _ := c.Insiders.Scenario(name)
		if s.Count == 0 {
			continue
		}
		switch {
		case s.Count < 0:
			return fmt.Errorf("insiders.%s.count must not be negative, got %d", name, s.Count)
		case s.FirstDay < 1 || s.LastDay < s.FirstDay:
			return fmt.Errorf("insiders.%s: want 1 <= first_day <= last_day, got %d and %d", name, s.FirstDay, s.LastDay)
		case s.Days < 1:
			return fmt.Errorf("insiders.%s.days must be at least 1, got %d", name, s.Days)
		case s.PerDayMin < 1 || s.PerDayMax < s.PerDayMin:
			return fmt.Errorf("insiders.%s: want 1 <= per_day_min <= per_day_max, got %d and %d", name, s.PerDayMin, s.PerDayMax)
		case s.NoTicketShare < 0 || s.NoTicketShare > 1:
			return fmt.Errorf("insiders.%s.no_ticket_share must be between 0 and 1, got %v", name, s.NoTicketShare)
		case s.MinBalance < 0:
			return fmt.Errorf("insiders.%s.min_balance must not be negative, got %v", name, s.MinBalance)
		}
		if name == Honeytoken && c.Honeytokens == 0 {
			return fmt.Errorf("insiders.honeytoken needs honeytokens > 0")
		}
	}
	return nil
}

func (c *Config) startTime() (time.Time, error) {
	t, err := time.Parse(time.DateOnly, c.Start)
	if err != nil {
		return t, fmt.Errorf("start: %q is not a date (YYYY-MM-DD)", c.Start)
	}
	return t, nil
}

// SetCounts parses "name=count,name=count" and sets those scenarios' counts.
func (in *Insiders) SetCounts(spec string) error {
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, ok := strings.Cut(part, "=")
		var count int
		if _, err := fmt.Sscanf(n, "%d", &count); !ok || err != nil || count < 0 {
			return fmt.Errorf("insiders: %q is not name=count", part)
		}
		s, found := in.Scenario(name)
		if !found {
			return fmt.Errorf("insiders: unknown scenario %q (want one of %s)", name, strings.Join(ScenarioNames, ", "))
		}
		s.Count = count
	}
	return nil
}

// None sets every scenario's count to zero.
func (in *Insiders) None() {
	for _, name := range ScenarioNames {
		s, _ := in.Scenario(name)
		s.Count = 0
	}
}
