package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
)

// testOrg writes the demo organisation (the defaults) to a temporary
// directory.
func testOrg(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeOrg(dir, orgDefaults()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tee feeds a replay to the engine and to a MemSource.
type tee struct {
	a, b replay.Sink
}

func (t tee) SetPerson(p *event.Person)     { t.a.SetPerson(p); t.b.SetPerson(p) }
func (t tee) SetSubject(s *event.Subject)   { t.a.SetSubject(s); t.b.SetSubject(s) }
func (t tee) Ticket(tc *event.TicketChange) { t.a.Ticket(tc); t.b.Ticket(tc) }
func (t tee) Event(e *event.Event)          { t.a.Event(e); t.b.Event(e) }
func (t tee) Flush()                        { t.a.Flush(); t.b.Flush() }

// replayed replays dir with the default configuration into a MemSource.
func replayed(t testing.TB, dir string) *MemSource {
	t.Helper()
	src := NewMemSource()
	cfg := config.Default()
	eng, err := cfg.Engine(func(f *finding.Finding) { src.AddFinding(f) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replay.Run(context.Background(), replay.Options{Dir: dir, Lateness: cfg.Replay.Lateness}, tee{eng, src}); err != nil {
		t.Fatal(err)
	}
	return src
}

// orgOptions shape the test organisation.
type orgOptions struct {
	// Seed makes the run reproducible: the same seed writes the same bytes.
	Seed uint64
	// Start is the first day (UTC); Days how many are written.
	Start time.Time
	Days  int
	// Scale multiplies the number of agents per team (1: 22 agents).
	Scale int
}

// orgDefaults: 14 days from 2 March 2026, 22 agents.
func orgDefaults() orgOptions {
	return orgOptions{Seed: 7, Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Days: 14, Scale: 1}
}

// writeOrg writes a small support organisation to dir as a replay
// directory: two BPO vendors and in-house staff working tickets, a few
// sloppy agents (the everyday false positives) and three planted insiders
// whose ids the tests know: n-pay-03 looks at identity documents after
// hours with no ticket, s-pay-02 opens the honeytoken c-9999, n-rec-04 keeps
// working after the contract ended. The same options write the same bytes.
// (custos demo uses internal/sim; the tests want a small organisation whose
// insiders they can name.)
func writeOrg(dir string, o orgOptions) error {
	if o.Days < 4 {
		return fmt.Errorf("test org: at least 4 days, got %d", o.Days)
	}
	if o.Scale < 1 {
		o.Scale = 1
	}
	rng := rand.New(rand.NewPCG(o.Seed, 11))
	start := o.Start.UTC().Truncate(24 * time.Hour)
	days := o.Days

	var people []person
	add := func(n int, prefix, vendor, team, role, site, country, manager string) {
		for i := 1; i <= n; i++ {
			id := fmt.Sprintf("%s%02d", prefix, i)
			people = append(people, person{ID: id, Name: fmt.Sprintf("Agent %s", id), Vendor: vendor, Team: team, Role: role,
				Site: site, Country: country, Start: "2025-06-01", Manager: manager})
		}
	}
	people = append(people, person{ID: "n-lead", Name: "Nora Lind", Vendor: "bpo-north", Team: "payments", Role: "team_lead", Site: "manila", Country: "PH", Start: "2024-01-01"})
	add(8*o.Scale, "n-pay-", "bpo-north", "payments", "agent", "manila", "PH", "n-lead")
	add(5*o.Scale, "n-rec-", "bpo-north", "account-recovery", "agent", "manila", "PH", "n-lead")
	add(6*o.Scale, "s-pay-", "bpo-south", "payments", "agent", "bogota", "CO", "")
	add(3*o.Scale, "h-fraud-", "", "fraud", "fraud_investigator", "lisbon", "PT", "")
	// The insiders.
	const bulk, honey, leaver = "n-pay-03", "s-pay-02", "n-rec-04"
	for i := range people {
		switch people[i].ID {
		case leaver:
			people[i].End = start.Add(9 * 24 * time.Hour).Format(time.DateOnly)
		case "s-pay-05":
			people[i].End = start.Add(time.Duration(days+12) * 24 * time.Hour).Format(time.DateOnly)
		}
	}

	var roster, subjects, tickets, events []map[string]any
	for _, p := range people {
		m := map[string]any{"id": p.ID, "name": p.Name, "vendor": p.Vendor, "team": p.Team, "role": p.Role,
			"site": p.Site, "country": p.Country, "contract_start": p.Start, "status": "active"}
		if p.End != "" {
			m["contract_end"] = p.End
		}
		if p.Manager != "" {
			m["manager"] = p.Manager
		}
		roster = append(roster, m)
	}
	nCust := 600 * o.Scale
	tiers := []string{"standard", "standard", "standard", "plus", "vip"}
	for i := 1; i <= nCust; i++ {
		subjects = append(subjects, map[string]any{"id": fmt.Sprintf("c-%04d", i), "tier": tiers[rng.IntN(len(tiers))],
			"balance_usd": float64(rng.IntN(250000)), "country": "US"})
	}
	subjects = append(subjects, map[string]any{"id": "c-9999", "tier": "vip", "balance_usd": 2.4e6, "honeytoken": true})

	seq := 0
	ev := func(at time.Time, actor, action, subject, resource, ticket string, fields []string) {
		seq++
		p := map[string]any{"id": fmt.Sprintf("ev-%06d", seq), "time": at.Format(time.RFC3339),
			"actor": map[string]any{"id": actor, "session": fmt.Sprintf("s-%s-%s", actor, at.Format("0102")), "ip": "198.51.100." + fmt.Sprint(10+len(actor)%50),
				"device": "d-" + actor, "country": countryOf(people, actor)},
			"action": action, "app": "support-console"}
		if subject != "" {
			p["subject"] = map[string]any{"id": subject}
		}
		if resource != "" {
			p["resource"] = resource
		}
		if ticket != "" {
			p["ticket"] = ticket
		}
		if len(fields) > 0 {
			p["fields"] = fields
		}
		events = append(events, p)
	}
	tk := 0
	for d := 0; d < days; d++ {
		day := start.Add(time.Duration(d) * 24 * time.Hour)
		for _, p := range people {
			if p.Role == "team_lead" || (d%7 >= 5 && rng.IntN(3) > 0 && p.ID != bulk) {
				continue // weekends are mostly off
			}
			if p.ID == leaver && d >= 9 && d < 12 {
				// After the contract ended: a few quiet logins and looks.
				at := day.Add(time.Duration(20+rng.IntN(3)) * time.Hour)
				ev(at, p.ID, "login", "", "", "", nil)
				for k := 0; k < 4; k++ {
					c := fmt.Sprintf("c-%04d", 1+rng.IntN(nCust))
					ev(at.Add(time.Duration(k+1)*3*time.Minute), p.ID, "view", c, "profile", "", []string{"name", "email", "phone"})
				}
				continue
			}
			if p.ID == leaver && d >= 12 {
				continue
			}
			shift := day.Add(time.Duration(1+rng.IntN(3)) * time.Hour)
			if p.Vendor == "bpo-south" {
				shift = day.Add(time.Duration(13+rng.IntN(2)) * time.Hour)
			}
			ev(shift, p.ID, "login", "", "", "", nil)
			n := 10 + rng.IntN(8)
			if p.Role == "fraud_investigator" {
				n = 4 + rng.IntN(4)
			}
			at := shift
			for k := 0; k < n; k++ {
				at = at.Add(time.Duration(10+rng.IntN(25)) * time.Minute)
				c := fmt.Sprintf("c-%04d", 1+rng.IntN(nCust))
				tk++
				tid := fmt.Sprintf("T-%05d", tk)
				// A few agents work sloppily every other day from day 5: all
				// their looks with no ticket, far from their own first days,
				// the false positives a queue has to cope with. (The draw
				// keeps the random sequence of the rest of the organisation.)
				sloppy := (p.ID == "n-pay-06" || p.ID == "s-pay-04" || p.ID == "n-rec-02") && d >= 5 && d%2 == 1 && rng.IntN(2) < 2
				if sloppy {
					tid = ""
				} else if p.Role != "fraud_investigator" {
					tickets = append(tickets, map[string]any{"time": at.Add(-2 * time.Minute).Format(time.RFC3339), "id": tid, "subject": c, "assignee": p.ID, "status": "open"})
					tickets = append(tickets, map[string]any{"time": at.Add(20 * time.Minute).Format(time.RFC3339), "id": tid, "subject": c, "assignee": p.ID, "status": "solved"})
				} else {
					tid = ""
				}
				ev(at, p.ID, "view", c, "profile", tid, []string{"name", "email"})
				if rng.IntN(3) == 0 {
					ev(at.Add(2*time.Minute), p.ID, "view", c, "transactions", tid, []string{"amount", "counterparty"})
				}
			}
			// The bulk insider, in the last four days: after the shift, many
			// customers with no ticket, high-value ones, with an export.
			if p.ID == bulk && d >= days-4 {
				t0 := day.Add(22 * time.Hour)
				for k := 0; k < 25+5*(d-(days-4)); k++ {
					c := fmt.Sprintf("c-%04d", 1+rng.IntN(nCust))
					ev(t0.Add(time.Duration(k)*70*time.Second), p.ID, "view", c, "kyc_document", "", []string{"name", "dob", "id_number", "address"})
				}
				if d == days-1 {
					ev(t0.Add(50*time.Minute), p.ID, "export", fmt.Sprintf("c-%04d", 1+rng.IntN(nCust)), "transactions", "", []string{"iban", "amount"})
				}
			}
			if p.ID == honey && d == days-3 {
				ev(at.Add(7*time.Minute), p.ID, "view", "c-9999", "profile", "", []string{"name", "email", "phone"})
			}
			ev(at.Add(30*time.Minute), p.ID, "logout", "", "", "", nil)
		}
	}
	sort.SliceStable(tickets, func(i, j int) bool { return tickets[i]["time"].(string) < tickets[j]["time"].(string) })
	sort.SliceStable(events, func(i, j int) bool { return events[i]["time"].(string) < events[j]["time"].(string) })
	for name, recs := range map[string][]map[string]any{"roster": roster, "subjects": subjects, "tickets": tickets, "events": events} {
		if err := writeNDJSON(filepath.Join(dir, name+".ndjson"), recs); err != nil {
			return err
		}
	}
	return nil
}

func writeNDJSON(path string, recs []map[string]any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("test org: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return fmt.Errorf("test org: writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("test org: writing %s: %w", path, err)
	}
	return f.Close()
}

type person struct {
	ID, Name, Vendor, Team, Role, Site, Country, Start, End, Manager string
}

func countryOf(people []person, id string) string {
	for _, p := range people {
		if p.ID == id {
			return p.Country
		}
	}
	return ""
}
