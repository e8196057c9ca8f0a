package baseline

import (
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/wording"
)

// Period is the length of time a feature is counted over.
type Period uint8

// Periods. Both close on event time, at UTC boundaries.
const (
	Day Period = iota
	Hour
)

func (p Period) String() string {
	if p == Hour {
		return "hour"
	}
	return "day"
}

// Access is what one event means for the features, worked out once per event
// from the actor's period state, so each feature's rule is one line.
type Access struct {
	In *engine.Input
	// Touch: an allowed access to a customer's data.
	Touch bool
	// NewCustomer: the first touch of this customer today; NewCustomerHour:
	// in this hour.
	NewCustomer, NewCustomerHour bool
	// NoTicket: the ticket index found no ticket of the actor's about the
	// customer (any verdict but Justified). NewNoTicket: the first such touch
	// of this customer today.
	NoTicket, NewNoTicket bool
	// OthersTicket: the only ticket about the customer is a colleague's;
	// NewOthersTicket: the first such touch of this customer today.
	OthersTicket, NewOthersTicket bool
	// HighValue: the customer holds at least Config.HighValueUSD or is of a
	// high-value tier.
	HighValue bool
	// NewIdentity: the first time today the actor saw this customer's
	// identity data (Config.IdentityResources or IdentityFields).
	NewIdentity bool
	// NewFields: fields of this customer first shown today.
	NewFields int
	// NewTicket: the first access today justified by this ticket.
	NewTicket bool
	// NewHour: the actor's first event in this hour.
	NewHour bool
	// NewIP, NewDevice, NewCountry: a source the actor has not used lately;
	// only once the actor has a history (every source is new on day one).
	NewIP, NewDevice, NewCountry bool
	// Dwell: seconds the record stayed on screen, if reported.
	Dwell float64
	// LongDwell: at least Config.LongDwell.
	LongDwell bool
}

// Fact is a set of things an event can be (the Access fields, a few
// actions): a feature names those without which it adds nothing, so the
// per-event loop calls only the features the event can move.
type Fact uint32

// Facts.
const (
	OnTouch Fact = 1 << iota
	OnNewCustomer
	OnNewCustomerHour
	OnNewNoTicket
	OnNewOthersTicket
	OnNewIdentity
	OnNewFields
	OnNewTicket
	OnNewHour
	OnNewIP
	OnNewDevice
	OnNewCountry
	OnDwell
	OnLongDwell
	OnReveal
	OnExport
	OnReset
	nFacts = iota
)

// facts is the set of facts true of x.
func (x *Access) facts() Fact {
	var f Fact
	set := func(b bool, g Fact) {
		if b {
			f |= g
		}
	}
	set(x.Touch, OnTouch)
	set(x.NewCustomer, OnNewCustomer)
	set(x.NewCustomerHour, OnNewCustomerHour)
	set(x.NewNoTicket, OnNewNoTicket)
	set(x.NewOthersTicket, OnNewOthersTicket)
	set(x.NewIdentity, OnNewIdentity)
	set(x.NewFields != 0, OnNewFields)
	set(x.NewTicket, OnNewTicket)
	set(x.NewHour, OnNewHour)
	set(x.NewIP, OnNewIP)
	set(x.NewDevice, OnNewDevice)
	set(x.NewCountry, OnNewCountry)
	set(x.Dwell != 0, OnDwell)
	set(x.LongDwell, OnLongDwell)
	switch x.In.Event.Action {
	case event.Reveal:
		f |= OnReveal
	case event.Export:
		f |= OnExport
	case event.CredentialReset, event.MFAReset:
		f |= OnReset
	}
	return f
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Feature is one behavioural measure of an actor over a period. Its value
// is Num, or Num/Den for a ratio, summed over the period's events.
type Feature struct {
	Name   string
	Period Period
	// Add says how one event contributes to the numerator and, for a ratio,
	// the denominator. An event that adds to the numerator is evidence.
	Add func(x *Access) (num, den float64)
	// On is the facts of which an event needs one for Add to return
	// anything but 0, 0; none: Add is called for every event.
	On Fact
	// Ratio features are Num/Den and judged only when Den >= MinDen.
	Ratio  bool
	MinDen float64
	// Count features are counts of things: their spread is at least
	// Poisson's, and they only grow during a period, so a day's count is
	// judged against full days at every hour, which detects early at no cost
	// in false alarms.
	Count bool
	// MinScale is the smallest spread a score divides by, in the feature's
	// unit; MinExcess the smallest excess over the norm worth an alert.
	MinScale, MinExcess float64
	// Weight multiplies the risk points of its alerts.
	Weight float64
	// Percent values are shares, written as percentages.
	Percent bool
	// Part names a count feature that counts a part of this one's things
	// ("of those, the high-value ones"); its share is told with Of.
	Part string
	Of   string
	// Says renders the actor's value as the start of a sentence.
	Says func(v float64, c *Config) string
}

// Features is the table of every feature, in the order their alerts and
// details are written. Adding one is adding an entry (and, if it needs a
// fact no entry uses yet, a field of Access).
func Features() []Feature {
	return []Feature{
		{Name: "views", On: OnTouch, Period: Day, Count: true, MinScale: 5, MinExcess: 40, Weight: 0.25,
			Add:  func(x *Access) (float64, float64) { return b2f(x.Touch), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Opened %s customer records", num(v)) }},
		{Name: "customers", On: OnNewCustomer, Period: Day, Count: true, MinScale: 3, MinExcess: 20, Weight: 0.5,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewCustomer), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Viewed %s customers", num(v)) }},
		{Name: "no_ticket_customers", On: OnNewNoTicket, Period: Day, Count: true, MinScale: 1.5, MinExcess: 6, Weight: 1,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewNoTicket), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Viewed %s customers with no ticket", num(v)) },
			Part: "no_ticket_high_value", Of: "held over %s or were VIP"},
		{Name: "no_ticket_high_value", On: OnNewNoTicket, Period: Day, Count: true, MinScale: 1, MinExcess: 4, Weight: 1,
			Add: func(x *Access) (float64, float64) { return b2f(x.NewNoTicket && x.HighValue), 0 },
			Says: func(v float64, c *Config) string {
				return fmt.Sprintf("Viewed %s customers holding over %s or VIP with no ticket", num(v), wording.Money(c.HighValueUSD))
			}},
		{Name: "others_tickets_customers", On: OnNewOthersTicket, Period: Day, Count: true, MinScale: 1.5, MinExcess: 6, Weight: 1,
			Add: func(x *Access) (float64, float64) { return b2f(x.NewOthersTicket), 0 },
			Says: func(v float64, _ *Config) string {
				return fmt.Sprintf("Viewed %s customers whose tickets are assigned to someone else", num(v))
			}},
		{Name: "high_value_share", On: OnNewCustomer, Period: Day, Ratio: true, Percent: true, MinDen: 10, MinScale: 0.05, MinExcess: 0.15, Weight: 1,
			Add: func(x *Access) (float64, float64) { return b2f(x.NewCustomer && x.HighValue), b2f(x.NewCustomer) },
			Says: func(v float64, c *Config) string {
				return fmt.Sprintf("%.0f %% of the customers viewed held over %s or were VIP", 100*v, wording.Money(c.HighValueUSD))
			}},
		{Name: "identity_customers", On: OnNewIdentity, Period: Day, Count: true, MinScale: 1.5, MinExcess: 6, Weight: 1,
			Add: func(x *Access) (float64, float64) { return b2f(x.NewIdentity), 0 },
			Says: func(v float64, _ *Config) string {
				return fmt.Sprintf("Saw identity documents or dates of birth of %s customers", num(v))
			}},
		{Name: "reveals", On: OnReveal, Period: Day, Count: true, MinScale: 1.5, MinExcess: 8, Weight: 0.75,
			Add:  func(x *Access) (float64, float64) { return b2f(x.Touch && x.In.Event.Action == event.Reveal), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Revealed masked fields %s times", num(v)) }},
		{Name: "exported_records", On: OnExport, Period: Day, Count: true, MinScale: 3, MinExcess: 20, Weight: 1,
			Add: func(x *Access) (float64, float64) {
				ev := x.In.Event
				if ev.Action != event.Export || ev.Denied {
					return 0, 0
				}
				return float64(max(ev.Count, 1)), 0
			},
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Exported %s records", num(v)) }},
		{Name: "resets", On: OnReset, Period: Day, Count: true, MinScale: 1, MinExcess: 4, Weight: 1,
			Add: func(x *Access) (float64, float64) {
				a := x.In.Event.Action
				return b2f(x.Touch && (a == event.CredentialReset || a == event.MFAReset)), 0
			},
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Reset credentials or MFA %s times", num(v)) }},
		{Name: "fields_per_customer", On: OnNewFields | OnNewCustomer, Period: Day, Ratio: true, MinDen: 10, MinScale: 0.5, MinExcess: 1.5, Weight: 0.5,
			Add:  func(x *Access) (float64, float64) { return float64(x.NewFields), b2f(x.NewCustomer) },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Saw %.1f fields per customer", v) }},
		{Name: "dwell_seconds", On: OnDwell, Period: Day, Ratio: true, MinDen: 10, MinScale: 5, MinExcess: 30, Weight: 0.5,
			Add: func(x *Access) (float64, float64) {
				if x.Dwell <= 0 {
					return 0, 0
				}
				return x.Dwell, 1
			},
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Kept records on screen %.0f s on average", v) }},
		{Name: "long_dwell_views", On: OnLongDwell, Period: Day, Count: true, MinScale: 1, MinExcess: 5, Weight: 1,
			Add: func(x *Access) (float64, float64) { return b2f(x.LongDwell), 0 },
			Says: func(v float64, c *Config) string {
				return fmt.Sprintf("Kept %s records on screen for over %s", num(v), minutes(c.LongDwell))
			}},
		{Name: "active_hours", On: OnNewHour, Period: Day, Count: true, MinScale: 1, MinExcess: 4, Weight: 0.25,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewHour), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Was active in %s different hours", num(v)) }},
		{Name: "new_ips", On: OnNewIP, Period: Day, Count: true, MinScale: 1, MinExcess: 2, Weight: 0.25,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewIP), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Connected from %s new IP addresses", num(v)) }},
		{Name: "new_devices", On: OnNewDevice, Period: Day, Count: true, MinScale: 0.25, MinExcess: 2, Weight: 0.25,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewDevice), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Used %s new devices", num(v)) }},
		{Name: "new_countries", On: OnNewCountry, Period: Day, Count: true, MinScale: 0.25, MinExcess: 1, Weight: 0.5,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewCountry), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Connected from %s new countries", num(v)) }},
		{Name: "customers_per_ticket", On: OnNewCustomer | OnNewTicket, Period: Day, Ratio: true, MinDen: 3, MinScale: 0.5, MinExcess: 2, Weight: 0.75,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewCustomer), b2f(x.NewTicket) },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Looked at %.1f customers per ticket worked", v) }},
		{Name: "customers_per_hour", On: OnNewCustomerHour, Period: Hour, Count: true, MinScale: 2, MinExcess: 15, Weight: 0.5,
			Add:  func(x *Access) (float64, float64) { return b2f(x.NewCustomerHour), 0 },
			Says: func(v float64, _ *Config) string { return fmt.Sprintf("Viewed %s customers in one hour", num(v)) }},
	}
}

// num formats a count or a value: 31, 4.5.
func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// minutes says a duration as people do: "2 min", "90 s".
func minutes(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}
