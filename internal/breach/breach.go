// Package breach answers the two questions a data breach raises on day one,
// from the stored access history:
//
//   - exposure: which customers, and which of their fields and record parts,
//     did this actor (or every actor of a vendor, site or team) see between
//     two dates, and was each access justified by a ticket? The answer is the
//     notification list.
//   - attribution: these customers' records leaked together; which actors'
//     access histories explain the set, ranked by how unlikely their coverage
//     would be by chance given how many customers they see anyway, so the
//     busiest queue is not blamed for its volume.
//
// It also mints canary customers: honeytoken records shown to one team or
// site only, so a canary in a leak names where it leaked from.
//
// The package reads the store through small interfaces declared here, and
// judges accesses with the engine's own ticket index (engine.Tickets), so a
// breach report and a detection agree on what "justified" means.
package breach

import (
	"context"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// Window is a time range [Since, Until). A zero bound is open.
type Window struct {
	Since time.Time
	Until time.Time
}

// Contains reports whether t is inside the window.
func (w Window) Contains(t time.Time) bool {
	return (w.Since.IsZero() || !t.Before(w.Since)) && (w.Until.IsZero() || t.Before(w.Until))
}

// Validate rejects a window that ends before it starts.
func (w Window) Validate() error {
	if !w.Since.IsZero() && !w.Until.IsZero() && !w.Until.After(w.Since) {
		return userErrorf("time range: until %s is not after since %s",
			w.Until.Format(time.RFC3339), w.Since.Format(time.RFC3339))
	}
	return nil
}

// EventReader reads stored access events.
type EventReader interface {
	// EachActorEvent calls fn with every event of actor in w, in time order,
	// including events that name no customer (searches, bulk exports).
	EachActorEvent(ctx context.Context, actor string, w Window, fn func(*event.Event) error) error
	// EachSubjectEvent calls fn with every event in w that names one of
	// subjects, in no particular order.
	EachSubjectEvent(ctx context.Context, subjects []string, w Window, fn func(*event.Event) error) error
}

// TicketReader reads stored ticket changes.
type TicketReader interface {
	// TicketChanges calls fn with every change of every ticket that is (or
	// was) about one of subjects or whose id is in ids, in time order, so
	// the engine's ticket index can be rebuilt for just those customers.
	TicketChanges(ctx context.Context, subjects, ids []string, fn func(*event.TicketChange) error) error
}

// Directory reads the roster and customer records.
type Directory interface {
	// People calls fn with every roster entry.
	People(ctx context.Context, fn func(*event.Person) error) error
	// SubjectRecords returns the stored records of those of ids that are
	// known, by id.
	SubjectRecords(ctx context.Context, ids []string) (map[string]*event.Subject, error)
}

// ReachCounter says how many distinct customers actors saw, for the
// attribution background. An approximation is acceptable where documented by
// the implementation, as long as it never undercounts by much: undercounting
// a busy actor's reach would blame them for volume.
type ReachCounter interface {
	// Reach returns, for each of actors, how many distinct customers they
	// accessed in w, and how many distinct customers anyone accessed in w
	// (the population). Actors with no access may be absent from the map.
	Reach(ctx context.Context, actors []string, w Window) (map[string]int, int, error)
}

// CanaryStore records which team or site each canary customer was shown to.
type CanaryStore interface {
	// PutCanaries stores canaries and their customer records (honeytoken
	// set) in one transaction; an existing canary id is replaced.
	PutCanaries(ctx context.Context, cs []Canary, subjects []*event.Subject) error
	// Canaries returns the stored canaries among ids; nil ids returns all.
	Canaries(ctx context.Context, ids []string) ([]Canary, error)
}

// Canary is a honeytoken customer minted for one team or one site.
type Canary struct {
	Subject string    `json:"customer"`
	Team    string    `json:"team,omitempty"`
	Site    string    `json:"site,omitempty"`
	Minted  time.Time `json:"minted,omitzero"`
	Seed    string    `json:"seed,omitempty"`
}

// Scope names the group a canary was shown to: "team payments".
func (c *Canary) Scope() string {
	switch {
	case c.Team != "":
		return "team " + c.Team
	case c.Site != "":
		return "site " + c.Site
	}
	return "no one (a honeytoken)"
}

// verdicts judges accesses against a ticket index rebuilt from the stored
// ticket changes of the customers concerned.
type verdicts struct {
	idx *engine.Tickets
	win engine.Windows
}

func loadVerdicts(ctx context.Context, tr TicketReader, win engine.Windows, subjects, cited []string) (*verdicts, error) {
	v := &verdicts{idx: engine.NewTickets(), win: win}
	if len(subjects) == 0 && len(cited) == 0 {
		return v, nil
	}
	err := tr.TicketChanges(ctx, subjects, cited, func(tc *event.TicketChange) error {
		v.idx.Apply(tc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading ticket changes: %w", err)
	}
	return v, nil
}

func (v *verdicts) judge(e *event.Event) engine.TicketMatch {
	return v.idx.Match(e.Actor.ID, e.Subject, e.Ticket, e.Time, v.win)
}

// exposes reports whether e showed or changed one identified customer's
// record: actions that touch customer data, naming the customer, and not
// denied. A denied access showed nothing.
func exposes(e *event.Event) bool {
	return e.Subject != "" && e.Action.TouchesSubject() && !e.Denied
}
