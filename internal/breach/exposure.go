package breach

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// Scope selects whose accesses an exposure report covers: exactly one of
// the fields is set. Vendor, Site and Team select roster members by their
// current roster entry.
type Scope struct {
	Actor  string `json:"actor,omitempty"`
	Vendor string `json:"vendor,omitempty"`
	Site   string `json:"site,omitempty"`
	Team   string `json:"team,omitempty"`
	// InHouse selects the roster members of no vendor (the console's
	// "in-house" choice); a vendor id cannot say that.
	InHouse bool `json:"in_house,omitempty"`
}

// String names the scope: "vendor bpo-north".
func (s Scope) String() string {
	switch {
	case s.Actor != "":
		return "actor " + s.Actor
	case s.Vendor != "":
		return "vendor " + s.Vendor
	case s.Site != "":
		return "site " + s.Site
	case s.InHouse:
		return "in-house staff"
	}
	return "team " + s.Team
}

// Validate checks that exactly one selector is set.
func (s Scope) Validate() error {
	n := 0
	for _, v := range []string{s.Actor, s.Vendor, s.Site, s.Team} {
		if v != "" {
			n++
		}
	}
	if s.InHouse {
		n++
	}
	if n != 1 {
		return userErrorf("exposure scope: give exactly one of actor, vendor, site or team")
	}
	return nil
}

func (s Scope) matches(p *event.Person) bool {
	switch {
	case s.Vendor != "":
		return p.Vendor == s.Vendor
	case s.Site != "":
		return p.Site == s.Site
	case s.Team != "":
		return p.Team == s.Team
	case s.InHouse:
		return p.Vendor == ""
	}
	return p.ID == s.Actor
}

// ExposureQuery asks which customers a scope saw in a window.
type ExposureQuery struct {
	Scope  Scope
	Window Window
	// Detail keeps every access of every customer in the report.
	Detail bool
}

// Exposure is the answer: one entry per customer whose record was shown.
type Exposure struct {
	Scope  Scope  `json:"scope"`
	Window Window `json:"-"`
	// Actors are the actors in scope (for a vendor, site or team: its roster
	// members), whether or not they accessed anyone.
	Actors    []string            `json:"actors"`
	Customers []*CustomerExposure `json:"customers"`
	// Honeytokens are decoy customers the scope touched: not people to
	// notify, but evidence for the investigation.
	Honeytokens []*CustomerExposure `json:"honeytokens,omitempty"`
	Summary     ExposureSummary     `json:"summary"`
}

// ExposureSummary is the headline a privacy officer reads first.
type ExposureSummary struct {
	Customers int `json:"customers"`
	// IdentityDocuments counts customers whose identity document
	// (resource kyc_document) was shown; DatesOfBirth those whose date of
	// birth (field dob) was; Either those with one or the other.
	IdentityDocuments int `json:"identity_documents"`
	DatesOfBirth      int `json:"dates_of_birth"`
	Either            int `json:"identity_document_or_date_of_birth"`
	Accesses          int `json:"accesses"`
	// UnjustifiedAccesses had no matching ticket; UnjustifiedCustomers were
	// accessed at least once that way.
	UnjustifiedAccesses  int       `json:"unjustified_accesses"`
	UnjustifiedCustomers int       `json:"unjustified_customers"`
	ActorsWithAccess     int       `json:"actors_with_access"`
	First                time.Time `json:"first_access,omitzero"`
	Last                 time.Time `json:"last_access,omitzero"`
	// Denied attempts showed nothing and are not counted above.
	Denied int `json:"denied_attempts"`
	// Searches and bulk exports name no customer, so the records they showed
	// cannot be itemised; they are counted so the report does not hide them.
	Searches    int `json:"searches"`
	BulkExports int `json:"bulk_exports"`
	BulkRecords int `json:"bulk_export_records"`
}

// CustomerExposure is what the scope saw of one customer.
type CustomerExposure struct {
	Customer  string    `json:"customer"`
	First     time.Time `json:"first_access"`
	Last      time.Time `json:"last_access"`
	Accesses  int       `json:"accesses"`
	Justified int       `json:"justified_accesses"`
	// Unjustified accesses had no ticket about this customer assigned to
	// the actor around the access (engine verdicts other than justified).
	Unjustified int `json:"unjustified_accesses"`
	// Verdicts counts accesses by the engine's ticket verdict.
	Verdicts         map[string]int `json:"verdicts"`
	Actors           []string       `json:"actors"`
	Actions          []string       `json:"actions"`
	Resources        []string       `json:"resources"`
	Fields           []string       `json:"fields"`
	Tickets          []string       `json:"tickets"`
	IdentityDocument bool           `json:"identity_document"`
	DateOfBirth      bool           `json:"date_of_birth"`
	Tier             string         `json:"tier,omitempty"`
	Country          string         `json:"country,omitempty"`
	Honeytoken       bool           `json:"honeytoken,omitempty"`
	Detail           []Access       `json:"detail,omitempty"`
}

// Access is one judged access, for detail and evidence.
type Access struct {
	Event    string    `json:"event"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Customer string    `json:"customer"`
	Resource string    `json:"resource,omitempty"`
	Fields   []string  `json:"fields,omitempty"`
	Ticket   string    `json:"ticket,omitempty"`
	Verdict  string    `json:"verdict"`
	// By is the ticket behind the verdict: the one that justifies it, or
	// the other-assignee or other-customer ticket found instead.
	By string `json:"verdict_ticket,omitempty"`
}

// Sensitive parts of a record. The contract's names first; the synonyms are
// what support tools commonly call the same data.
var (
	identityResources = []string{"kyc_document", "identity_document", "id_document"}
	identityFields    = []string{"kyc_document", "id_document", "id_number", "passport", "passport_number", "national_id"}
	birthFields       = []string{"dob", "date_of_birth", "birth_date", "birthdate"}
)

// ExposureSource is what an exposure report reads.
type ExposureSource interface {
	EventReader
	TicketReader
	Directory
}

// pendingAccess is an access kept until the tickets are loaded: compact,
// because a vendor-wide report may hold millions.
type pendingAccess struct {
	c      *CustomerExposure
	actor  string
	ticket string
	at     time.Time
	detail int // index into c.Detail, or -1
}

// Exposures builds the exposure report for q. Accesses are judged with the
// ticket index rebuilt from the tickets about the customers seen and the
// tickets cited, using win as the engine does.
func Exposures(ctx context.Context, src ExposureSource, q ExposureQuery, win engine.Windows) (*Exposure, error) {
	if err := q.Scope.Validate(); err != nil {
		return nil, err
	}
	if err := q.Window.Validate(); err != nil {
		return nil, err
	}
	actors, err := scopeActors(ctx, src, q.Scope)
	if err != nil {
		return nil, err
	}
	x := &Exposure{Scope: q.Scope, Window: q.Window, Actors: actors}
	byCustomer := map[string]*CustomerExposure{}
	var pend []pendingAccess
	cited := map[string]bool{}
	active := map[string]bool{}
	for _, actor := range actors {
		err := src.EachActorEvent(ctx, actor, q.Window, func(e *event.Event) error {
			switch {
			case e.Denied:
				x.Summary.Denied++
				return nil
			case e.Action == event.Search:
				x.Summary.Searches++
				return nil
			case e.Action == event.Export && e.Subject == "":
				x.Summary.BulkExports++
				x.Summary.BulkRecords += e.Count
				return nil
			case !exposes(e):
				return nil
			}
			c := byCustomer[e.Subject]
			if c == nil {
				c = &CustomerExposure{Customer: e.Subject, First: e.Time, Last: e.Time, Verdicts: map[string]int{}}
				byCustomer[e.Subject] = c
			}
			active[actor] = true
			c.Accesses++
			if e.Time.Before(c.First) {
				c.First = e.Time
			}
			if e.Time.After(c.Last) {
				c.Last = e.Time
			}
			c.Actors = addSorted(c.Actors, actor)
			c.Actions = addSorted(c.Actions, string(e.Action))
			if e.Resource != "" {
				c.Resources = addSorted(c.Resources, e.Resource)
			}
			for _, f := range e.Fields {
				c.Fields = addSorted(c.Fields, f)
			}
			if e.Ticket != "" {
				c.Tickets = addSorted(c.Tickets, e.Ticket)
				cited[e.Ticket] = true
			}
			p := pendingAccess{c: c, actor: actor, ticket: e.Ticket, at: e.Time, detail: -1}
			if q.Detail {
				p.detail = len(c.Detail)
				c.Detail = append(c.Detail, Access{Event: e.ID, Time: e.Time, Actor: actor, Action: string(e.Action),
					Customer: e.Subject, Resource: e.Resource, Fields: e.Fields, Ticket: e.Ticket})
			}
			pend = append(pend, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading events of %s: %w", actor, err)
		}
	}

	ids := sortedKeys(byCustomer)
	v, err := loadVerdicts(ctx, src, win, ids, sortedKeys(cited))
	if err != nil {
		return nil, err
	}
	for i := range pend {
		p := &pend[i]
		m := v.idx.Match(p.actor, p.c.Customer, p.ticket, p.at, v.win)
		p.c.Verdicts[m.Verdict.String()]++
		if m.Verdict == engine.Justified {
			p.c.Justified++
		} else {
			p.c.Unjustified++
		}
		if p.detail >= 0 {
			p.c.Detail[p.detail].Verdict, p.c.Detail[p.detail].By = m.Verdict.String(), m.Ticket
		}
	}

	records, err := src.SubjectRecords(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("reading customer records: %w", err)
	}
	s := &x.Summary
	for _, id := range ids {
		c := byCustomer[id]
		if r := records[id]; r != nil {
			c.Tier, c.Country, c.Honeytoken = r.Tier, r.Country, r.Honeytoken
		}
		c.IdentityDocument = intersects(c.Resources, identityResources) || intersects(c.Fields, identityFields)
		c.DateOfBirth = intersects(c.Fields, birthFields)
		slices.SortStableFunc(c.Detail, func(a, b Access) int { return a.Time.Compare(b.Time) })
		for _, l := range []*[]string{&c.Resources, &c.Fields, &c.Tickets} {
			if *l == nil {
				*l = []string{}
			}
		}
		if c.Honeytoken {
			x.Honeytokens = append(x.Honeytokens, c)
			continue
		}
		x.Customers = append(x.Customers, c)
		s.Customers++
		s.Accesses += c.Accesses
		s.UnjustifiedAccesses += c.Unjustified
		if c.Unjustified > 0 {
			s.UnjustifiedCustomers++
		}
		if c.IdentityDocument {
			s.IdentityDocuments++
		}
		if c.DateOfBirth {
			s.DatesOfBirth++
		}
		if c.IdentityDocument || c.DateOfBirth {
			s.Either++
		}
		if s.First.IsZero() || c.First.Before(s.First) {
			s.First = c.First
		}
		if c.Last.After(s.Last) {
			s.Last = c.Last
		}
	}
	s.ActorsWithAccess = len(active)
	if x.Customers == nil {
		x.Customers = []*CustomerExposure{}
	}
	return x, nil
}

// scopeActors lists the actors a scope covers, sorted. A single actor is
// covered whether or not they are on the roster: the history is what counts.
func scopeActors(ctx context.Context, dir Directory, s Scope) ([]string, error) {
	if s.Actor != "" {
		return []string{s.Actor}, nil
	}
	var out []string
	err := dir.People(ctx, func(p *event.Person) error {
		if s.matches(p) {
			out = append(out, p.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the roster: %w", err)
	}
	if len(out) == 0 {
		return nil, userErrorf("exposure: no one on the roster has %s", s)
	}
	sort.Strings(out)
	return out, nil
}

// addSorted inserts v into the sorted set s.
func addSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func intersects(have, want []string) bool {
	for _, w := range want {
		if _, ok := slices.BinarySearch(have, w); ok {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
