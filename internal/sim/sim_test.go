package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// smallConfig is a small organisation with every trap and every scenario
// on, quick enough for unit tests.
func smallConfig(seed uint64) Config {
	c := Default()
	c.Seed = seed
	c.Agents = 90
	c.Days = 21
	c.Customers = 8000
	c.TicketsPerDay = 12
	c.Traps.PanicDay = 10
	return c
}

type output struct {
	roster, subjects, tickets, events, labels bytes.Buffer
	sum                                       Summary
}

func generate(t testing.TB, c Config) *output {
	t.Helper()
	var o output
	sum, err := Generate(context.Background(), c, Writers{Roster: &o.roster, Subjects: &o.subjects, Tickets: &o.tickets, Events: &o.events, Labels: &o.labels})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	o.sum = sum
	return &o
}

// world is a generated organisation decoded with the event decoders.
type world struct {
	out      *output
	labels   Labels
	people   map[string]event.Person
	subjects map[string]event.Subject
	events   []event.Event
	byActor  map[string][]*event.Event
	tickets  []event.TicketChange
	channel  map[string]string
	history  map[string][]event.TicketChange
}

var (
	worldOnce sync.Once
	theWorld  *world
)

func decodeAll[T any](t testing.TB, name string, b []byte, dec func([]byte) (T, error)) []T {
	t.Helper()
	var out []T
	err := event.Decode(bytes.NewReader(b), name, dec, func(v T) error {
		out = append(out, v)
		return nil
	}, func(e *event.RecordError) { t.Errorf("generated line does not decode: %v", e) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func load(t testing.TB) *world {
	worldOnce.Do(func() {
		o := generate(t, smallConfig(7))
		w := &world{out: o, people: map[string]event.Person{}, subjects: map[string]event.Subject{},
			byActor: map[string][]*event.Event{}, channel: map[string]string{}, history: map[string][]event.TicketChange{}}
		if err := json.Unmarshal(o.labels.Bytes(), &w.labels); err != nil {
			t.Fatalf("labels.json: %v", err)
		}
		for _, p := range decodeAll(t, "roster.ndjson", o.roster.Bytes(), event.DecodePerson) {
			w.people[p.ID] = p
		}
		for _, s := range decodeAll(t, "subjects.ndjson", o.subjects.Bytes(), event.DecodeSubject) {
			w.subjects[s.ID] = s
		}
		w.events = decodeAll(t, "events.ndjson", o.events.Bytes(), event.DecodeEvent)
		for i := range w.events {
			e := &w.events[i]
			w.byActor[e.Actor.ID] = append(w.byActor[e.Actor.ID], e)
		}
		w.tickets = decodeAll(t, "tickets.ndjson", o.tickets.Bytes(), event.DecodeTicketChange)
		for _, tc := range w.tickets {
			w.history[tc.ID] = append(w.history[tc.ID], tc)
			var extra struct{ Channel string }
			_ = json.Unmarshal(tc.Raw, &extra)
			w.channel[tc.ID] = extra.Channel
		}
		theWorld = w
	})
	if theWorld == nil {
		t.Fatal("generating the test organisation failed")
	}
	return theWorld
}

func TestSameSeedSameBytes(t *testing.T) {
	c := smallConfig(3)
	c.Agents, c.Days = 40, 10
	a, b := generate(t, c), generate(t, c)
	for _, f := range []struct {
		name string
		x, y *bytes.Buffer
	}{{"roster", &a.roster, &b.roster}, {"subjects", &a.subjects, &b.subjects}, {"tickets", &a.tickets, &b.tickets},
		{"events", &a.events, &b.events}, {"labels", &a.labels, &b.labels}} {
		if !bytes.Equal(f.x.Bytes(), f.y.Bytes()) {
			t.Errorf("%s differs between two runs with the same seed", f.name)
		}
	}
	c.Seed = 4
	d := generate(t, c)
	if bytes.Equal(a.events.Bytes(), d.events.Bytes()) || bytes.Equal(a.tickets.Bytes(), d.tickets.Bytes()) {
		t.Error("a different seed wrote the same events or tickets")
	}
}

func TestFilesDecodeAndAreInTimeOrder(t *testing.T) {
	w := load(t)
	if len(w.events) == 0 || len(w.tickets) == 0 || len(w.people) != 90 || len(w.subjects) != 8000 {
		t.Fatalf("got %d events, %d ticket changes, %d people, %d customers", len(w.events), len(w.tickets), len(w.people), len(w.subjects))
	}
	if int64(len(w.events)) != w.out.sum.Events || int64(len(w.tickets)) != w.out.sum.TicketChanges {
		t.Errorf("summary says %d events and %d changes, files hold %d and %d", w.out.sum.Events, w.out.sum.TicketChanges, len(w.events), len(w.tickets))
	}
	ids := map[string]bool{}
	for i, e := range w.events {
		if ids[e.ID] {
			t.Fatalf("event id %s repeats", e.ID)
		}
		ids[e.ID] = true
		if i > 0 && e.Time.Before(w.events[i-1].Time) {
			t.Fatalf("events.ndjson line %d goes back in time: %s after %s", i+1, e.Time, w.events[i-1].Time)
		}
		if _, ok := w.people[e.Actor.ID]; !ok {
			t.Fatalf("event %s by %s, who is not on the roster", e.ID, e.Actor.ID)
		}
		if e.Subject != "" {
			if _, ok := w.subjects[e.Subject]; !ok {
				t.Fatalf("event %s touches unknown customer %s", e.ID, e.Subject)
			}
		}
	}
	for i := 1; i < len(w.tickets); i++ {
		if w.tickets[i].Time.Before(w.tickets[i-1].Time) {
			t.Fatalf("tickets.ndjson line %d goes back in time", i+1)
		}
	}
	actions := map[event.Action]int{}
	for _, e := range w.events {
		actions[e.Action]++
	}
	for _, a := range event.Actions {
		if actions[a] == 0 {
			t.Errorf("no %s events generated", a)
		}
	}
}

// firstLook returns the first event by actor touching subject in [from, to].
func (w *world) firstLook(actor, subject string, from, to time.Time) *event.Event {
	evs := w.byActor[actor]
	i := sort.Search(len(evs), func(i int) bool { return !evs[i].Time.Before(from) })
	for ; i < len(evs) && !evs[i].Time.After(to); i++ {
		if evs[i].Subject == subject {
			return evs[i]
		}
	}
	return nil
}

func TestTicketLifeCycles(t *testing.T) {
	w := load(t)
	const grace = 15 * time.Minute
	var phones, phonesAfter, emails int
	citing := map[string]*event.Event{} // first event citing each ticket about each customer
	for i := range w.events {
		if e := &w.events[i]; e.Ticket != "" && citing[e.Ticket+" "+e.Subject] == nil {
			citing[e.Ticket+" "+e.Subject] = e
		}
	}
	for id, h := range w.history {
		first := h[0]
		var assigned *event.TicketChange
		for i := range h {
			if h[i].Assignee != "" && h[i].Status == event.TicketOpen {
				assigned = &h[i]
				break
			}
		}
		if assigned == nil {
			t.Fatalf("ticket %s is never assigned", id)
		}
		if h[len(h)-1].Status.Working() && h[len(h)-1].Time.Before(time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("ticket %s is still %s at the end", id, h[len(h)-1].Status)
		}
		switch w.channel[id] {
		case "phone":
			phones++
			look := w.firstLook(assigned.Assignee, assigned.Subject, first.Time.Add(-grace), first.Time.Add(time.Hour))
			if look == nil {
				t.Fatalf("phone ticket %s: its agent never looked at customer %s", id, assigned.Subject)
			}
			if d := first.Time.Sub(look.Time); d > grace {
				t.Errorf("phone ticket %s filed %s after the first look, beyond the %s grace", id, d, grace)
			} else if d > 0 {
				phonesAfter++
			}
		case "email":
			emails++
			if first.Status != event.TicketNew || first.Assignee != "" {
				t.Errorf("email ticket %s starts as %s assigned to %q, want new and unassigned", id, first.Status, first.Assignee)
			}
			// (A typo can cite this id for another customer: the typo trap.)
			if e := citing[id+" "+assigned.Subject]; e != nil && e.Time.Before(assigned.Time) {
				t.Errorf("email ticket %s: cited at %s before it was assigned at %s", id, e.Time, assigned.Time)
			}
		}
	}
	if phones == 0 || emails == 0 {
		t.Fatalf("%d phone and %d email tickets", phones, emails)
	}
	// Nearly every phone ticket is filed after the first look (a few land
	// on the same second).
	if phonesAfter < phones*9/10 {
		t.Errorf("only %d of %d phone tickets were filed after the first look", phonesAfter, phones)
	}
}

func TestContractsAndNewHires(t *testing.T) {
	w := load(t)
	insiders := map[string]bool{}
	for _, in := range w.labels.Insiders {
		insiders[in.Actor] = true
	}
	var ends, hires int
	for id, p := range w.people {
		if insiders[id] {
			continue
		}
		for _, e := range w.byActor[id] {
			if !p.ContractEnd.IsZero() && e.Time.After(p.ContractEnd) {
				t.Fatalf("%s acted at %s after the contract ended %s", id, e.Time, p.ContractEnd)
			}
			if e.Time.Before(p.ContractStart) {
				t.Fatalf("%s acted at %s before the contract started %s", id, e.Time, p.ContractStart)
			}
		}
	}
	for _, b := range w.labels.Benign {
		p := w.people[b.Actor]
		switch b.Trap {
		case TrapContractEnd:
			ends++
			if p.ContractEnd.IsZero() || len(w.byActor[b.Actor]) == 0 {
				t.Errorf("%s: labelled contract_end but no end date or no work", b.Actor)
			}
		case TrapNewHire:
			hires++
			if evs := w.byActor[b.Actor]; len(evs) == 0 || evs[0].Time.Sub(p.ContractStart) > 7*24*time.Hour {
				t.Errorf("%s: new hire from %s who does not start work within a week", b.Actor, p.ContractStart)
			}
		}
	}
	if ends == 0 || hires == 0 {
		t.Errorf("%d clean contract ends and %d new hires; want some of each", ends, hires)
	}
}

func TestLabelsMatchEvents(t *testing.T) {
	w := load(t)
	cfg := smallConfig(7)
	seen := map[string]int{}
	groups := map[string][]Insider{}
	for _, in := range w.labels.Insiders {
		seen[in.Scenario]++
		t.Run(in.Scenario+"/"+in.Actor, func(t *testing.T) {
			checkInsider(t, w, cfg, in)
		})
		if in.Group != "" {
			groups[in.Group] = append(groups[in.Group], in)
		}
	}
	for _, name := range ScenarioNames {
		sc, _ := cfg.Insiders.Scenario(name)
		want := sc.Count
		if name == Collusion {
			want *= 2
		}
		if seen[name] != want {
			t.Errorf("%d %s insiders labelled, want %d", seen[name], name, want)
		}
	}
	for g, pair := range groups {
		if len(pair) != 2 || pair[0].Actor == pair[1].Actor {
			t.Errorf("group %s: %d members", g, len(pair))
			continue
		}
		for _, c := range pair[0].Targets {
			if slices.Contains(pair[1].Targets, c) {
				t.Errorf("group %s: both pulled %s; a pair splits its list", g, c)
			}
		}
	}
	// Decoys and unverified resets are the insiders' alone.
	honey := map[string]bool{}
	for _, h := range w.labels.Honeytokens {
		honey[h] = true
	}
	scenarioOf := map[string]string{}
	for _, in := range w.labels.Insiders {
		scenarioOf[in.Actor] = in.Scenario
	}
	for _, e := range w.events {
		if honey[e.Subject] && scenarioOf[e.Actor.ID] != Honeytoken {
			t.Errorf("%s (%s) touched honeytoken %s", e.Actor.ID, scenarioOf[e.Actor.ID], e.Subject)
		}
		if e.Verification == "none" && scenarioOf[e.Actor.ID] != ResetNoVerification {
			t.Errorf("%s reset %s without verification but is not a labelled insider", e.Actor.ID, e.Subject)
		}
	}
}

func checkInsider(t *testing.T, w *world, cfg Config, in Insider) {
	evs := w.byActor[in.Actor]
	var during, before []*event.Event
	for _, e := range evs {
		switch {
		case e.Time.Before(in.Start):
			before = append(before, e)
		case !e.Time.After(in.End):
			during = append(during, e)
		}
	}
	if in.Events < 1 || len(during) < in.Events {
		t.Fatalf("label counts %d malicious events; the actor has %d between start and end", in.Events, len(during))
	}
	if during[0].Time != in.Start {
		t.Errorf("start %s is not the time of an event of the actor (first after it: %s)", in.Start, during[0].Time)
	}
	touched := map[string]bool{}
	for _, e := range during {
		touched[e.Subject] = true
	}
	for _, c := range in.Targets {
		if !touched[c] {
			t.Errorf("target %s was not touched between start and end", c)
		}
	}
	sc, _ := cfg.Insiders.Scenario(in.Scenario)
	p := w.people[in.Actor]
	noTicketViews := func(list []*event.Event) int {
		n := 0
		for _, e := range list {
			if e.Action == event.View && e.Ticket == "" {
				n++
			}
		}
		return n
	}
	switch in.Scenario {
	case BribedAgent, Collusion:
		if len(in.Targets) < sc.PerDayMin {
			t.Errorf("%d targets, want at least %d", len(in.Targets), sc.PerDayMin)
		}
		for _, c := range in.Targets {
			if b := w.subjects[c].BalanceUSD; b < sc.MinBalance && w.subjects[c].Tier != "vip" {
				t.Errorf("target %s holds $%.0f, under the scenario's $%.0f", c, b, sc.MinBalance)
			}
		}
		if noTicketViews(during) < len(in.Targets) {
			t.Errorf("%d views without a ticket for %d targets", noTicketViews(during), len(in.Targets))
		}
	case CitesOthersTickets:
		cited := 0
		for _, e := range during {
			if e.Ticket == "" || e.Subject == "" {
				continue
			}
			if h := w.history[e.Ticket]; len(h) > 0 && h[len(h)-1].Assignee != in.Actor {
				cited++
			}
		}
		if cited < sc.PerDayMin {
			t.Errorf("%d events cite other agents' tickets, want at least %d", cited, sc.PerDayMin)
		}
	case AccountTakeover, DormantWakeup:
		devices := map[string]bool{}
		for _, e := range before {
			devices[e.Actor.Device] = true
		}
		first := during[0]
		if first.Action != event.Login || first.Actor.Country == p.Country || devices[first.Actor.Device] {
			t.Errorf("starts with %s from %s on %s; want a login from a new country and device (works in %s)", first.Action, first.Actor.Country, first.Actor.Device, p.Country)
		}
		if views := noTicketViews(during); views < sc.PerDayMin {
			t.Errorf("%d views, want at least %d", views, sc.PerDayMin)
		}
		if in.Scenario == DormantWakeup && len(before) > 0 {
			t.Errorf("a dormant account with %d events before waking", len(before))
		}
		if in.Scenario == AccountTakeover {
			if h := first.Time.Add(time.Duration(w.siteOffset(p.Site)) * time.Second).Hour(); h >= 8 && h < 20 && !w.worksNights(in.Actor) {
				t.Errorf("takeover at %02d:00 local for a day-shift agent; want night", h)
			}
		}
	case AfterContract:
		if p.ContractEnd.IsZero() || !in.Start.After(p.ContractEnd) {
			t.Fatalf("contract end %s, scenario start %s", p.ContractEnd, in.Start)
		}
		for _, e := range before {
			if e.Time.After(p.ContractEnd) {
				t.Errorf("event at %s after the contract end but before the labelled start", e.Time)
			}
		}
	case Honeytoken:
		hit := false
		for _, e := range during {
			hit = hit || w.subjects[e.Subject].Honeytoken
		}
		if !hit {
			t.Error("no honeytoken touched")
		}
	case IDHarvest:
		n := 0
		for _, e := range during {
			if e.Resource == "kyc_document" {
				n++
			}
		}
		if n < sc.PerDayMin {
			t.Errorf("%d identity-document events, want at least %d", n, sc.PerDayMin)
		}
	case ScreenPhotographing:
		// Ordinary work has a long tail of dwell too (an agent on a long
		// call), so a few long views followed by notes are fine; the
		// insider's are not followed by any work.
		long, worked := 0, 0
		for i, e := range during {
			if e.Action != event.View || e.DurationMS < 120_000 {
				continue
			}
			long++
			for _, f := range during[i+1:] {
				if f.Actor.Session != e.Actor.Session {
					break
				}
				if f.Action == event.Update && f.Subject == e.Subject {
					worked++
					break
				}
			}
		}
		if long < sc.PerDayMin || worked*10 > long {
			t.Errorf("%d long views, %d of them followed by work on the record; want at least %d, nearly none worked", long, worked, sc.PerDayMin)
		}
	case ResetNoVerification:
		n := 0
		for _, e := range during {
			if (e.Action == event.CredentialReset || e.Action == event.MFAReset) && e.Verification == "none" {
				n++
				if b := w.subjects[e.Subject].BalanceUSD; b < sc.MinBalance && w.subjects[e.Subject].Tier != "vip" {
					t.Errorf("unverified reset of %s holding $%.0f, under $%.0f", e.Subject, b, sc.MinBalance)
				}
			}
		}
		if n < sc.PerDayMin {
			t.Errorf("%d unverified resets", n)
		}
	default:
		t.Fatalf("unknown scenario %q", in.Scenario)
	}
}

func (w *world) siteOffset(name string) int64 { return siteNamed(name).offset }

func (w *world) worksNights(actor string) bool {
	for _, e := range w.byActor[actor] {
		if e.Action == event.Login {
			h := e.Time.Add(time.Duration(w.siteOffset(w.people[actor].Site)) * time.Second).Hour()
			if h >= 19 || h < 6 {
				return true
			}
		}
	}
	return false
}

// perLocalDay counts events per UTC date.
func perDate(evs []event.Event) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		out[e.Time.Format(time.DateOnly)]++
	}
	return out
}

func TestPanicDayDoublesVolume(t *testing.T) {
	w := load(t)
	days := perDate(w.events)
	panic, week := days["2026-03-11"], days["2026-03-04"]
	if float64(panic) < 1.6*float64(week) {
		t.Errorf("panic day 2026-03-11 has %d events, the same weekday a week earlier %d; want about double", panic, week)
	}
}

func TestTrapSwitches(t *testing.T) {
	c := smallConfig(11)
	c.Agents, c.Days = 50, 14
	c.Insiders.None()
	for _, name := range TrapNames {
		if err := c.Traps.Disable(name); err != nil {
			t.Fatal(err)
		}
	}
	o := generate(t, c)
	var l Labels
	if err := json.Unmarshal(o.labels.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Benign) != 0 || len(l.Insiders) != 0 || l.PanicDay != "" {
		t.Errorf("with every trap and scenario off, labels list %d benign traps, %d insiders, panic day %q", len(l.Benign), len(l.Insiders), l.PanicDay)
	}
	roster := map[string]event.Person{}
	for _, p := range decodeAll(t, "roster", o.roster.Bytes(), event.DecodePerson) {
		roster[p.ID] = p
	}
	last := map[string]time.Time{}
	device := map[string]string{}
	for _, e := range decodeAll(t, "events", o.events.Bytes(), event.DecodeEvent) {
		p := roster[e.Actor.ID]
		// A shift starts with a login after a long break; its local weekday
		// is a working day (a Friday night shift may run into Saturday).
		if prev, ok := last[e.Actor.ID]; e.Action == event.Login && (!ok || e.Time.Sub(prev) > 4*time.Hour) {
			local := e.Time.Add(time.Duration(siteNamed(p.Site).offset) * time.Second)
			if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Fatalf("%s starts a shift at %s local (%s) with weekend rotations off", e.Actor.ID, local.Format(time.DateTime), wd)
			}
		}
		last[e.Actor.ID] = e.Time
		if e.Actor.Country != p.Country {
			t.Fatalf("%s connects from %s but works in %s with travel off", e.Actor.ID, e.Actor.Country, p.Country)
		}
		if d, ok := device[e.Actor.ID]; ok && d != e.Actor.Device {
			t.Fatalf("%s moves from device %s to %s with hot desking off", e.Actor.ID, d, e.Actor.Device)
		}
		device[e.Actor.ID] = e.Actor.Device
		if e.Ticket != "" && p.Role == roleQA {
			t.Fatalf("QA reviewer %s cites ticket %s with QA sampling off", e.Actor.ID, e.Ticket)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Start = "2026-13-01" }, "start"},
		{func(c *Config) { c.Agents = 3 }, "agents"},
		{func(c *Config) { c.Days = 0 }, "days"},
		{func(c *Config) { c.Traps.Travel = 1.5 }, "traps.travel"},
		{func(c *Config) { c.Insiders.BribedAgent.PerDayMax = 1 }, "insiders.bribed_agent"},
		{func(c *Config) { c.Honeytokens = 0 }, "honeytoken"},
	} {
		c := Default()
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error about %s", err, tc.want)
		}
	}
	var in Insiders
	if err := in.SetCounts("bribed_agent=3,collusion=1"); err != nil || in.BribedAgent.Count != 3 || in.Collusion.Count != 1 {
		t.Errorf("SetCounts: %v, %+v", err, in)
	}
	for _, bad := range []string{"bribed=3", "bribed_agent", "bribed_agent=x", "honeytoken=-1"} {
		if err := in.SetCounts(bad); err == nil {
			t.Errorf("SetCounts(%q) accepted", bad)
		}
	}
	var traps Traps
	if err := traps.Disable("coffee"); err == nil || !strings.Contains(err.Error(), "unknown trap") {
		t.Errorf("Disable(coffee): %v", err)
	}
}

func TestTooFewAgentsForInsiders(t *testing.T) {
	c := smallConfig(1)
	c.Agents = 12
	c.Insiders.BribedAgent.Count = 30
	_, err := Generate(context.Background(), c, Writers{Roster: &bytes.Buffer{}, Subjects: &bytes.Buffer{}, Tickets: &bytes.Buffer{}, Events: &bytes.Buffer{}, Labels: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "not enough agents") {
		t.Errorf("got %v, want a clear error", err)
	}
}

func TestEncodeEventMatchesDecoder(t *testing.T) {
	e := event.Event{ID: "e-1", Time: time.Date(2026, 3, 2, 4, 5, 6, 0, time.UTC), Actor: event.Actor{ID: "a-\"x\"", Session: "s", IP: "1.2.3.4", Device: "d", Country: "PT"},
		Action: event.Search, Query: "name:Zoë \\ \t\x01", Count: 7, Ticket: "T-1", DurationMS: 1500, Verification: "none", Denied: true, App: "console",
		Fields: []string{"a", "b"}, Resource: "r", Reason: "why"}
	got, err := event.DecodeEvent(appendEvent(nil, &e))
	if err != nil {
		t.Fatal(err)
	}
	got.Raw = nil
	if !eventsEqual(got, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
}

func eventsEqual(a, b event.Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Actor == b.Actor && a.Action == b.Action && a.Subject == b.Subject &&
		a.Resource == b.Resource && slices.Equal(a.Fields, b.Fields) && a.Ticket == b.Ticket && a.Reason == b.Reason &&
		a.Query == b.Query && a.Count == b.Count && a.DurationMS == b.DurationMS && a.Verification == b.Verification &&
		a.Denied == b.Denied && a.App == b.App
}
