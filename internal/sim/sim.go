package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"time"
)

// Labels is the ground truth of a simulation, written as labels.json next
// to the NDJSON files. docs/simulate.md describes it.
type Labels struct {
	Version   int    `json:"version"`
	Seed      uint64 `json:"seed"`
	Start     string `json:"start"` // first simulated day, YYYY-MM-DD (UTC)
	Days      int    `json:"days"`
	Agents    int    `json:"agents"`
	Customers int    `json:"customers"`
	// PanicDay is the date of the market-panic day, if any.
	PanicDay    string    `json:"panic_day,omitempty"`
	Honeytokens []string  `json:"honeytokens"`
	Insiders    []Insider `json:"insiders"`
	Benign      []Benign  `json:"benign"`
}

// Insider labels one actor's insider scenario.
type Insider struct {
	Actor    string `json:"actor"`
	Scenario string `json:"scenario"`
	// Start is the time of the scenario's first malicious event; End of its
	// last. Time to detect is measured from Start.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Events counts the malicious events.
	Events int `json:"events"`
	// Targets are the customers the scenario touched, for scenarios that
	// touch specific customers (sorted).
	Targets []string `json:"targets,omitempty"`
	// Group links actors acting together (collusion pairs).
	Group string `json:"group,omitempty"`
}

// Benign labels an actor with a benign trap it was given, so an evaluation
// can say which trap a false case fell into. Start is when the trap takes
// effect, where that is a moment (a contract start or end, a day abroad).
type Benign struct {
	Actor string     `json:"actor"`
	Trap  string     `json:"trap"`
	Start *time.Time `json:"start,omitempty"`
}

// LabelsVersion is the version of labels.json this package writes and reads.
const LabelsVersion = 1

// ReadLabels reads and checks a labels.json file.
func ReadLabels(path string) (*Labels, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading labels: %w", err)
	}
	var l Labels
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Version != LabelsVersion {
		return nil, fmt.Errorf("%s: version %d, want %d", path, l.Version, LabelsVersion)
	}
	if _, err := time.Parse(time.DateOnly, l.Start); err != nil || l.Days < 1 {
		return nil, fmt.Errorf("%s: start %q and days %d do not describe a period", path, l.Start, l.Days)
	}
	for i, in := range l.Insiders {
		if in.Actor == "" || in.Scenario == "" || in.Start.IsZero() {
			return nil, fmt.Errorf("%s: insiders[%d]: actor, scenario and start are required", path, i)
		}
	}
	return &l, nil
}

// Summary counts what a simulation wrote.
type Summary struct {
	Agents, Customers, Insiders int
	Tickets, TicketChanges      int64
	Events                      int64
}

// Streams of the generator's randomness: one per purpose, and one per
// agent-day, so turning a trap off leaves the rest of the organisation as it
// was as far as possible.
const (
	streamCustomers uint64 = 1 + iota
	streamOrg
	streamTraps
	streamInsiders
)

func rng(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// agentDayStream is the stream of one agent on one day; the top byte keeps
// it apart from the purpose streams above.
func agentDayStream(agent, day int) uint64 { return 1<<56 | uint64(day)<<24 | uint64(agent) }

// pooled is a ticket worked on a day, for the people who look at other
// people's tickets: QA reviewers, team leads, an insider citing them.
type pooled struct {
	id       string
	subject  int32
	assignee int32
	unit     int32
	open     int64 // assigned and being worked from
	solved   int64 // solved at (or expected to be, for pending tickets)
}

type gen struct {
	cfg     Config
	day0    int64 // unix seconds of the first day's UTC midnight
	end     int64 // end of the period
	org     *org
	cust    *customers
	ev, tk  *sorter
	pools   [][]pooled
	byUnit  [][]int32 // today's pool positions by unit, for team leads
	plans   []*plan
	travel  []Benign // benign days abroad, in generation order
	tickets int64
	x       day // reused per agent-day
}

// Generate writes a simulated organisation to w. It stops early if ctx is
// cancelled.
func Generate(ctx context.Context, cfg Config, w Writers) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	start, _ := cfg.startTime()
	g := &gen{cfg: cfg, day0: start.Unix()}
	g.end = g.day0 + int64(cfg.Days)*daySec
	g.cust = newCustomers(&g.cfg, rng(cfg.Seed, streamCustomers))
	g.org = newOrg(&g.cfg, start, rng(cfg.Seed, streamOrg))
	benign := g.org.applyTraps(&g.cfg, g, rng(cfg.Seed, streamTraps))
	if err := g.planInsiders(rng(cfg.Seed, streamInsiders)); err != nil {
		return Summary{}, err
	}

	var buf []byte
	for _, a := range g.org.agents {
		buf = appendPerson(buf, &a.p)
	}
	if _, err := w.Roster.Write(buf); err != nil {
		return Summary{}, fmt.Errorf("writing roster: %w", err)
	}
	buf = buf[:0]
	for i := range g.cust.ids {
		s := g.cust.subject(int32(i))
		buf = appendSubject(buf, &s)
		if len(buf) > 1<<20 {
			if _, err := w.Subjects.Write(buf); err != nil {
				return Summary{}, fmt.Errorf("writing subjects: %w", err)
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Subjects.Write(buf); err != nil {
		return Summary{}, fmt.Errorf("writing subjects: %w", err)
	}

	// Records may come up to a day before the first day (night shifts east
	// of UTC, emails waiting since the evening before).
	origin := g.day0 - 3*daySec
	g.ev, g.tk = newSorter(w.Events, origin), newSorter(w.Tickets, origin)
	g.pools = make([][]pooled, cfg.Days)
	var phase2 []*agent
	for _, a := range g.org.agents {
		if g.needsPool(a) {
			phase2 = append(phase2, a)
		}
	}
	for d := range cfg.Days {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		for _, a := range g.org.agents {
			if !g.needsPool(a) {
				g.agentDay(a, d)
			}
		}
		g.indexUnits(d)
		for _, a := range phase2 {
			g.agentDay(a, d)
		}
		// Everything generated from here on is later than this day's start
		// (see day.workShift), so earlier days are final.
		if err := g.flush(g.dayStart(d)); err != nil {
			return Summary{}, err
		}
	}
	if err := g.flush(1 << 62); err != nil {
		return Summary{}, err
	}

	labels := g.labels(benign)
	lb, err := json.MarshalIndent(labels, "", "  ")
	if err != nil {
		return Summary{}, fmt.Errorf("encoding labels: %w", err)
	}
	if _, err := w.Labels.Write(append(lb, '\n')); err != nil {
		return Summary{}, fmt.Errorf("writing labels: %w", err)
	}
	return Summary{
		Agents:        len(g.org.agents),
		Customers:     len(g.cust.ids),
		Insiders:      len(labels.Insiders),
		Tickets:       g.tickets,
		TicketChanges: g.tk.lines,
		Events:        g.ev.lines,
	}, nil
}

func (g *gen) flush(limit int64) error {
	if err := g.ev.flush(limit); err != nil {
		return fmt.Errorf("writing events: %w", err)
	}
	if err := g.tk.flush(limit); err != nil {
		return fmt.Errorf("writing tickets: %w", err)
	}
	return nil
}

// needsPool reports whether the agent's day needs the tickets everyone else
// worked that day, so is generated after them.
func (g *gen) needsPool(a *agent) bool {
	return a.p.Role == roleQA || a.p.Role == roleLead || (a.plan != nil && a.plan.scenario == CitesOthersTickets)
}

func (g *gen) indexUnits(d int) {
	if g.byUnit == nil {
		g.byUnit = make([][]int32, len(g.org.units))
	}
	for u := range g.byUnit {
		g.byUnit[u] = g.byUnit[u][:0]
	}
	for i, p := range g.pools[d] {
		if p.unit >= 0 {
			g.byUnit[p.unit] = append(g.byUnit[p.unit], int32(i))
		}
	}
}

// dayStart is UTC midnight of day d.
func (g *gen) dayStart(d int) int64 { return g.day0 + int64(d)*daySec }

// nominalStart is when agent a's shift of local day d starts, in unix
// seconds.
func (g *gen) nominalStart(a *agent, d int) int64 {
	return g.dayStart(d) + a.shift - a.site.offset
}

// maxShift bounds a shift with overtime and jitter, for contract checks.
const maxShift = 12 * 3600

// contractEndBefore returns a contract end (the last instant of a UTC date)
// that falls before agent a's shift of day d.
func (g *gen) contractEndBefore(a *agent, d int) time.Time {
	s := g.nominalStart(a, d) - 3600
	return time.Unix(s-mod(s, daySec), 0).UTC().Add(-time.Nanosecond)
}

// inContract reports whether the whole of a's shift of day d lies within
// its contract.
func (g *gen) inContract(a *agent, d int) bool {
	s := g.nominalStart(a, d)
	if !a.p.ContractStart.IsZero() && s-900 < a.p.ContractStart.Unix() {
		return false
	}
	if !a.p.ContractEnd.IsZero() && s+maxShift > a.p.ContractEnd.Unix() {
		return false
	}
	return true
}

// scheduled reports whether local day d is one of a's working days by
// pattern (weekday, leave, dormancy, contract), before sickness.
func (g *gen) scheduled(a *agent, d int) bool {
	if a.dormant || (a.leaveFrom >= 0 && d >= a.leaveFrom && d <= a.leaveTo) {
		return false
	}
	s := g.nominalStart(a, d)
	if !a.workdays[time.Unix(s+a.site.offset, 0).UTC().Weekday()] {
		return false
	}
	return g.inContract(a, d)
}

func (g *gen) labels(benign []Benign) *Labels {
	l := &Labels{
		Version:   LabelsVersion,
		Seed:      g.cfg.Seed,
		Start:     g.cfg.Start,
		Days:      g.cfg.Days,
		Agents:    len(g.org.agents),
		Customers: len(g.cust.ids),
		Benign:    append(benign, g.travel...),
	}
	if pd := g.cfg.Traps.PanicDay; pd > 0 && pd <= g.cfg.Days {
		l.PanicDay = time.Unix(g.dayStart(pd-1), 0).UTC().Format(time.DateOnly)
	}
	l.Honeytokens = make([]string, 0, len(g.cust.honeytokens))
	for _, h := range g.cust.honeytokens {
		l.Honeytokens = append(l.Honeytokens, g.cust.ids[h])
	}
	l.Insiders = []Insider{}
	for _, p := range g.plans {
		if p.label.Events == 0 {
			continue // the scenario found nothing to do (a tiny organisation)
		}
		in := p.label
		for c := range p.touched {
			in.Targets = append(in.Targets, c)
		}
		// Customer ids are zero-padded, so this is numeric order.
		slices.Sort(in.Targets)
		l.Insiders = append(l.Insiders, in)
	}
	slices.SortStableFunc(l.Benign, func(a, b Benign) int {
		if a.Actor != b.Actor {
			if a.Actor < b.Actor {
				return -1
			}
			return 1
		}
		return 0
	})
	return l
}

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

func unixPtr(s int64) *time.Time { t := unixTime(s); return &t }
