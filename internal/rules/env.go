package rules

import (
	"time"
	"unsafe"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// Env is what rule expressions see: the event at the top level, its context
// in namespaces (actor, customer, ticket, history, agg) and helper functions.
// The names in expressions are the expr tags; docs/rules.md lists them.
//
// One Env per evaluator is filled once per event and stage and reused by
// every rule, so the hot path does not allocate for it.
type Env struct {
	ID           string    `expr:"id"`
	Time         time.Time `expr:"time"`
	Hour         int       `expr:"hour"`    // hour of day, UTC, 0-23
	Weekday      int       `expr:"weekday"` // 0 = Sunday, UTC
	Action       string    `expr:"action"`
	Subject      string    `expr:"subject"` // the customer id, "" if none
	Resource     string    `expr:"resource"`
	Fields       []string  `expr:"fields"`
	Reason       string    `expr:"reason"`
	Query        string    `expr:"query"`
	Count        int       `expr:"count"`
	DurationMS   int       `expr:"duration_ms"`
	Verification string    `expr:"verification"`
	Denied       bool      `expr:"denied"`
	App          string    `expr:"app"`

	Actor    ActorEnv    `expr:"actor"`
	Customer CustomerEnv `expr:"customer"`
	Ticket   TicketEnv   `expr:"ticket"`
	History  HistoryEnv  `expr:"history"`
	Agg      AggEnv      `expr:"agg"`

	// Person looks up anyone's roster entry by actor id.
	Person func(id string) PersonEnv `expr:"person"`
}

// ActorEnv is the acting identity: where it acted from (from the event) and
// its roster entry (zero values when it is not on the roster).
type ActorEnv struct {
	ID      string `expr:"id"`
	Session string `expr:"session"`
	IP      string `expr:"ip"`
	Device  string `expr:"device"`
	Country string `expr:"country"` // where the event came from

	OnRoster      bool      `expr:"on_roster"`
	Name          string    `expr:"name"`
	Vendor        string    `expr:"vendor"`
	Team          string    `expr:"team"`
	Role          string    `expr:"role"`
	Site          string    `expr:"site"`
	SiteCountry   string    `expr:"site_country"` // the roster's country
	Status        string    `expr:"status"`
	Manager       string    `expr:"manager"`
	ContractStart time.Time `expr:"contract_start"` // zero if none
	ContractEnd   time.Time `expr:"contract_end"`   // zero if none
	// BeforeContract and AfterContract compare the event time with the
	// contract dates, false when a date is absent.
	BeforeContract bool `expr:"before_contract"`
	AfterContract  bool `expr:"after_contract"`
	// TenureDays is how long the contract has run at the event, in days; 0
	// when there is no contract_start.
	TenureDays float64 `expr:"tenure_days"`
}

// PersonEnv is a roster entry, as returned by person(id).
type PersonEnv struct {
	ID            string    `expr:"id"`
	OnRoster      bool      `expr:"on_roster"`
	Name          string    `expr:"name"`
	Vendor        string    `expr:"vendor"`
	Team          string    `expr:"team"`
	Role          string    `expr:"role"`
	Site          string    `expr:"site"`
	SiteCountry   string    `expr:"site_country"`
	Status        string    `expr:"status"`
	Manager       string    `expr:"manager"`
	ContractStart time.Time `expr:"contract_start"`
	ContractEnd   time.Time `expr:"contract_end"`
}

// CustomerEnv is the customer the event touches; Known is false when there
// is none or it is not in the customer records.
type CustomerEnv struct {
	ID         string  `expr:"id"`
	Known      bool    `expr:"known"`
	Tier       string  `expr:"tier"`
	BalanceUSD float64 `expr:"balance_usd"`
	Country    string  `expr:"country"`
	Honeytoken bool    `expr:"honeytoken"`
}

// TicketEnv is the ticket context. Cited is the ticket the event named and
// is always set; the rest is the ticket index's verdict, known only at the
// settled stage (a rule that reads it runs there) and only for events that
// touch a customer (Verdict is "" otherwise).
type TicketEnv struct {
	Cited        string `expr:"cited"`
	Verdict      string `expr:"verdict"` // justified, other_subject, other_assignee, no_ticket
	ID           string `expr:"id"`      // the ticket behind the verdict
	Assignee     string `expr:"assignee"`
	AssigneeTeam string `expr:"assignee_team"`
	Subject      string `expr:"subject"` // for other_subject: whom the cited ticket is about
	CitedExists  bool   `expr:"cited_exists"`
	CitedSubject string `expr:"cited_subject"`
}

// HistoryEnv describes the actor's past before this event, from what this
// engine has seen. Only available at the immediate stage.
type HistoryEnv struct {
	Events     int       `expr:"events"`      // events seen before this one
	DaysActive int       `expr:"days_active"` // distinct UTC days with activity (aged: halves past 60)
	FirstSeen  time.Time `expr:"first_seen"`  // zero if none
	IdleDays   float64   `expr:"idle_days"`   // days since the previous event; 0 if none
	NewDevice  bool      `expr:"new_device"`  // device set and never seen for this actor before (needs history)
	NewCountry bool      `expr:"new_country"` // source country set and never seen before (needs history)
	NewIP      bool      `expr:"new_ip"`
	// HourShare is the share of the actor's active days with activity
	// within two hours of this event's hour of day (UTC): near 0 means the
	// actor does not work at this time.
	HourShare float64 `expr:"hour_share"`
	// WatchedDays is how long this engine has been seeing events (from the
	// earliest it saw, anyone's), in days: how much silence "no history"
	// means.
	WatchedDays float64 `expr:"watched_days"`
}

// maxAggregates bounds the aggregates one rule declares: each is a fixed
// slot of AggEnv so reading one costs a field load, not a map lookup.
const maxAggregates = 8

// AggEnv holds the current values of a rule's aggregates; expressions name
// them agg.<name>, which compiling rewrites to the slot.
type AggEnv struct {
	A0 int `expr:"a0"`
	A1 int `expr:"a1"`
	A2 int `expr:"a2"`
	A3 int `expr:"a3"`
	A4 int `expr:"a4"`
	A5 int `expr:"a5"`
	A6 int `expr:"a6"`
	A7 int `expr:"a7"`
}

// slot returns the field behind aggregate slot i (0 to maxAggregates-1):
// expr reads the fields by name, the evaluator by number. The fields are
// maxAggregates ints in a row, so they are indexed as an array (a switch
// cost a jump and a compare chain per aggregate per event).
func (a *AggEnv) slot(i int) *int {
	return &(*[maxAggregates]int)(unsafe.Pointer(a))[i]
}

var slotNames = [maxAggregates]string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}

// fill sets the event, actor and customer parts. The ticket part is set by
// the caller for the stage; history and aggregates by the evaluator. The
// actor's contract is set only if contract is: without, it is left as it
// was until fillContract.
func (e *Env) fill(in *engine.Input, contract bool) {
	ev := in.Event
	e.ID = ev.ID
	e.Time = ev.Time
	day, hour := utcDayHour(ev.Time)
	e.Hour = hour
	wd := (day + 4) % 7 // 1970-01-01 was a Thursday (4)
	if wd < 0 {
		wd += 7
	}
	e.Weekday = int(wd)
	e.Action = string(ev.Action)
	e.Subject = ev.Subject
	e.Resource = ev.Resource
	e.Fields = ev.Fields
	e.Reason = ev.Reason
	e.Query = ev.Query
	e.Count = ev.Count
	e.DurationMS = int(ev.DurationMS)
	e.Verification = ev.Verification
	e.Denied = ev.Denied
	e.App = ev.App

	// Field by field: assigning a whole ActorEnv built it on the stack and
	// copied it, twice the stores.
	a := &e.Actor
	a.ID, a.Session, a.IP, a.Device, a.Country = ev.Actor.ID, ev.Actor.Session, ev.Actor.IP, ev.Actor.Device, ev.Actor.Country
	if p := in.Person; p != nil {
		a.OnRoster = true
		a.Name, a.Vendor, a.Team, a.Role, a.Site, a.SiteCountry = p.Name, p.Vendor, p.Team, p.Role, p.Site, p.Country
		a.Status, a.Manager = string(p.Status), p.Manager
	} else {
		a.OnRoster = false
		a.Name, a.Vendor, a.Team, a.Role, a.Site, a.SiteCountry, a.Status, a.Manager = "", "", "", "", "", "", "", ""
	}
	if contract {
		e.fillContract(ev.Time, in.Person)
	}

	c := &e.Customer
	*c = CustomerEnv{ID: ev.Subject}
	if s := in.Subject; s != nil {
		c.Known, c.Tier, c.BalanceUSD, c.Country, c.Honeytoken = true, s.Tier, s.BalanceUSD, s.Country, s.Honeytoken
	}

	e.Ticket = TicketEnv{Cited: ev.Ticket}
	e.History = HistoryEnv{}
	e.Agg = AggEnv{}
}

// fillContract sets the actor's contract for an event at t: its dates and
// what they say of t (two comparisons and a division of times, which most
// of the settled stage's rules never read).
func (e *Env) fillContract(t time.Time, p *event.Person) {
	a := &e.Actor
	if p == nil {
		a.ContractStart, a.ContractEnd = time.Time{}, time.Time{}
		a.BeforeContract, a.AfterContract, a.TenureDays = false, false, 0
		return
	}
	a.ContractStart, a.ContractEnd = p.ContractStart, p.ContractEnd
	a.BeforeContract = !p.ContractStart.IsZero() && t.Before(p.ContractStart)
	a.AfterContract = !p.ContractEnd.IsZero() && t.After(p.ContractEnd)
	a.TenureDays = 0
	if !p.ContractStart.IsZero() && t.After(p.ContractStart) {
		a.TenureDays = daysSince(t, p.ContractStart)
	}
}

// fillTicket sets the settled stage's ticket verdict.
func (e *Env) fillTicket(m *engine.TicketMatch, people func(string) *event.Person) {
	if m == nil {
		return
	}
	t := &e.Ticket
	t.Verdict = m.Verdict.String()
	t.ID, t.Assignee, t.Subject = m.Ticket, m.Assignee, m.Subject
	t.CitedExists, t.CitedSubject = m.CitedExists, m.CitedSubject
	if m.Assignee != "" && people != nil {
		if p := people(m.Assignee); p != nil {
			t.AssigneeTeam = p.Team
		}
	}
}

func personEnv(id string, p *event.Person) PersonEnv {
	if p == nil {
		return PersonEnv{ID: id}
	}
	return PersonEnv{ID: id, OnRoster: true, Name: p.Name, Vendor: p.Vendor, Team: p.Team, Role: p.Role, Site: p.Site,
		SiteCountry: p.Country, Status: string(p.Status), Manager: p.Manager, ContractStart: p.ContractStart, ContractEnd: p.ContractEnd}
}
