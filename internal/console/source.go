package console

import (
	"context"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

// Source is what the console reads: the engine's findings, the stored
// events and tickets, and the context (roster, customers). The embedded
// store implements it through StoreSource; MemSource holds it in memory.
// Every method returns real ids: the console pseudonymises on the way out.
type Source interface {
	// Cases returns the latest version of every case.
	Cases(ctx context.Context) ([]finding.Finding, error)
	// FindingsByID returns the findings with these ids; unknown ids are
	// left out.
	FindingsByID(ctx context.Context, ids []string) ([]finding.Finding, error)
	// ActorFindings returns an actor's alerts and cases with time >= since,
	// oldest first.
	ActorFindings(ctx context.Context, actor string, since time.Time) ([]finding.Finding, error)
	// AlertCounts counts alerts with time >= since per actor and rule.
	AlertCounts(ctx context.Context, since time.Time) ([]AlertCount, error)

	// Events returns the events with these ids, oldest first; unknown ids
	// are left out.
	Events(ctx context.Context, ids []string) ([]event.Event, error)
	// ActorEvents returns up to limit of actor's events in [from, until),
	// newest first.
	ActorEvents(ctx context.Context, actor string, from, until time.Time, limit int) ([]event.Event, error)
	// SubjectEvents returns up to limit of the events that touched customer
	// subject in [from, until), newest first.
	SubjectEvents(ctx context.Context, subject string, from, until time.Time, limit int) ([]event.Event, error)
	// Activity counts the actors' events in [from, until) per bucket.
	Activity(ctx context.Context, actors []string, from, until time.Time, bucket time.Duration) ([]Bucket, error)
	// ActorSpans returns every actor that has events, with its first and
	// last event time.
	ActorSpans(ctx context.Context) ([]ActorSpan, error)
	// TicketChanges returns the ticket changes about these customers, in
	// time order.
	TicketChanges(ctx context.Context, subjects []string) ([]event.TicketChange, error)

	// People returns the roster.
	People(ctx context.Context) ([]event.Person, error)
	// Subject returns a customer record, or nil if unknown.
	Subject(ctx context.Context, id string) (*event.Subject, error)
}

// Bucket is one actor's activity in one time bucket.
type Bucket struct {
	Actor     string
	Start     time.Time
	Events    int // every event
	Accesses  int // events that touched a customer
	Customers int // distinct customers touched
	Bulk      int // exports and reveals
	NoTicket  int // accesses that cited no ticket
}

// AlertCount is how many alerts one rule raised about one actor.
type AlertCount struct {
	Actor, Rule string
	N           int
}

// ActorSpan is when an actor was active.
type ActorSpan struct {
	Actor       string
	First, Last time.Time
	Events      int
}

// Breach answers the two questions a breach raises. BreachOver, over the
// store, is the breach package's own code, the one the CLI and the API run;
// the console adds the forms, pseudonyms, scoping, CSV and audit.
type Breach interface {
	Exposure(ctx context.Context, q breach.ExposureQuery) (*breach.Exposure, error)
	Attribution(ctx context.Context, q breach.AttributionQuery) (*breach.Attribution, error)
}

// RuleInfo describes one loaded rule.
type RuleInfo struct {
	ID          string
	Severity    string
	Description string
	Source      string // "built-in", a rule file, "baseline"
}

// RuleCatalog lists the loaded rules. The rule pack plugs in here; the
// default lists the built-in detections.
type RuleCatalog interface {
	Rules(ctx context.Context) ([]RuleInfo, error)
}

// Responder triggers configured responses (suspend in the identity
// provider, block in the gateway). The console only offers what it lists.
type Responder interface {
	Actions() []ResponseAction
	Respond(ctx context.Context, r ResponseRequest) (result string, err error)
}

// ResponseAction is one response a case page offers.
type ResponseAction struct {
	Name        string
	Label       string
	Description string
}

// ResponseRequest asks for one response against a case's actor.
type ResponseRequest struct {
	Action string
	Case   string
	Actor  string // the real id
	User   string // who asked
	Note   string // why (required)
	// Finding is the case itself, as the page showed it.
	Finding *finding.Finding
}

// ActionJournal reads the response actions journal (respond's, the
// store's response_actions table): what the configured actions did for
// which finding. The case page shows it.
type ActionJournal interface {
	ActionsFor(ctx context.Context, findingIDs []string) ([]respond.Action, error)
}

// AccessSink receives the console's own audit as access events, so the
// engine can run rules on investigators too (watch the watchers).
type AccessSink interface {
	Access(ctx context.Context, evs []event.Event) error
}

// AccessFunc adapts a function to AccessSink.
type AccessFunc func(ctx context.Context, evs []event.Event) error

// Access calls f.
func (f AccessFunc) Access(ctx context.Context, evs []event.Event) error { return f(ctx, evs) }
