package breach

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// AttributionQuery asks who explains a set of leaked customers.
type AttributionQuery struct {
	// Customers are the leaked customer ids; duplicates are ignored.
	Customers []string
	Window    Window
	// Top is how many suspects to report (0: DefaultTop); Evidence how many
	// evidence accesses per suspect (0: DefaultEvidence); Pairs how many
	// collusion pairs at most (0: DefaultPairs).
	Top, Evidence, Pairs int
	// Explainer, if set, judges the accesses the ticket index does not
	// justify by the configured rules (see Explainer); those it explains do
	// not count as without a ticket.
	Explainer Explainer
}

// Explainer makes, for one attribution, a judge of accesses the ticket
// index does not justify (m): true if the detections would still not call
// the access unexplained, as the no-ticket rules' exceptions do for fraud
// investigators, QA reviewing an existing ticket, or a lead working their
// team's tickets. people looks up roster entries. The judge is used by one
// goroutine.
type Explainer func(people func(string) *event.Person) func(e *event.Event, p *event.Person, m *engine.TicketMatch) bool

// Defaults of AttributionQuery.
const (
	DefaultTop      = 10
	DefaultEvidence = 5
	DefaultPairs    = 5
	// pairCandidates bounds the collusion search: pairs are formed among the
	// best this many actors by score and this many by coverage, so the cost
	// is at most (2*pairCandidates)^2/2 set unions whatever the org size.
	pairCandidates = 40
)

// AttributionSource is what attribution reads.
type AttributionSource interface {
	EventReader
	TicketReader
	Directory
	ReachCounter
	// Canaries returns the stored canaries among ids.
	Canaries(ctx context.Context, ids []string) ([]Canary, error)
}

// Attribution is the answer: suspects ranked by how well their access
// history explains the leaked set.
type Attribution struct {
	Leaked int `json:"leaked"`
	// Seen leaked customers were accessed by someone in the window; the
	// Unseen were not, which points at another source for those records.
	Seen   int      `json:"seen"`
	Unseen []string `json:"unseen"`
	// Population is how many distinct customers anyone accessed in the
	// window: the background the scores are computed against.
	Population int `json:"population"`
	// Candidates is how many actors accessed at least one leaked customer.
	Candidates int         `json:"candidates"`
	Canaries   []CanaryHit `json:"canaries"`
	Suspects   []*Suspect  `json:"suspects"`
	Pairs      []*Pair     `json:"pairs"`
	Window     Window      `json:"-"`
}

// CanaryHit is a canary customer found in the leak.
type CanaryHit struct {
	Canary
	// AccessedBy are the actors who opened the canary in the window.
	AccessedBy []string `json:"accessed_by"`
	// Members are the current roster members of the canary's team or site.
	Members []string `json:"members"`
}

// Suspect is one actor's account of the leaked set.
type Suspect struct {
	Rank   int    `json:"rank"`
	Actor  string `json:"actor"`
	Name   string `json:"name,omitempty"`
	Vendor string `json:"vendor,omitempty"`
	Team   string `json:"team,omitempty"`
	Role   string `json:"role,omitempty"`
	Site   string `json:"site,omitempty"`
	// Covered is how many leaked customers the actor accessed; Coverage is
	// that as a share of the leaked customers anyone accessed.
	Covered  int     `json:"covered"`
	Coverage float64 `json:"coverage"`
	// NoTicket is how many of the covered customers the actor accessed at
	// least once without a matching ticket.
	NoTicket int `json:"no_ticket"`
	// Accesses is how many times the actor accessed leaked customers.
	Accesses int `json:"accesses"`
	// Reach is how many distinct customers the actor accessed in the window;
	// Expected is the coverage a random actor with that reach would have.
	Reach    int     `json:"reach"`
	Expected float64 `json:"expected"`
	// Score is -log10 of the chance that an actor with this reach covers at
	// least this many leaked customers at random (hypergeometric tail).
	Score float64 `json:"score"`
	// GlobalScore is that chance against the whole population. PeerScore
	// compares the actor with their peers (same team and role): Peers of
	// them accessed anyone, PeerRate is the median share of their customers
	// who are in the leak, PeerExpected the coverage that share (or the
	// population's, if higher) predicts for the actor's reach. The coverage
	// score is the lower of the two, so a desk that serves exactly the
	// leaked kind of customer is not a suspect for it; PeerScore is absent
	// without enough peers.
	GlobalScore float64 `json:"global_score"`
	// NoTicketScore is the chance of seeing NoTicket leaked customers
	// without a ticket at the rate peers do (or everyone does, if that is
	// higher); NoTicketExpected is what that rate predicts. Score is the
	// higher of this and the coverage score.
	NoTicketScore    float64   `json:"no_ticket_score"`
	NoTicketExpected float64   `json:"no_ticket_expected"`
	PeerScore        *float64  `json:"peer_score,omitempty"`
	Peers            int       `json:"peers"`
	PeerRate         float64   `json:"peer_rate"`
	PeerExpected     float64   `json:"peer_expected"`
	First            time.Time `json:"first_access"`
	Last             time.Time `json:"last_access"`
	Canaries         []string  `json:"canaries,omitempty"`
	Reason           string    `json:"reason"`
	Evidence         []Access  `json:"evidence"`

	covered map[string]bool // customer -> accessed without a ticket at least once
	rate    float64         // the share of customers in the leak expected by chance
	ntRate  float64         // the same, seen without a ticket
}

// Pair is two actors who together cover much more of the leak than either
// alone: possible collusion, or one person using two accounts.
type Pair struct {
	Actors  [2]string `json:"actors"`
	Covered int       `json:"covered"`
	Each    [2]int    `json:"each"`
	Overlap int       `json:"overlap"`
	Score   float64   `json:"score"`
	Reason  string    `json:"reason"`
}

type actorAcc struct {
	actor    string
	accesses []*judged
	covered  map[string]bool // customer -> accessed without a ticket at least once
	first    time.Time
	last     time.Time
}

type judged struct {
	e *event.Event
	m engine.TicketMatch
}

// Attribute ranks the actors whose access history explains q.Customers.
func Attribute(ctx context.Context, src AttributionSource, q AttributionQuery, win engine.Windows) (*Attribution, error) {
	if err := q.Window.Validate(); err != nil {
		return nil, err
	}
	leaked := dedupe(q.Customers)
	if len(leaked) == 0 {
		return nil, userErrorf("attribution: no leaked customer ids given")
	}
	q.Top = cmp.Or(q.Top, DefaultTop)
	q.Evidence = cmp.Or(q.Evidence, DefaultEvidence)
	q.Pairs = cmp.Or(q.Pairs, DefaultPairs)

	index := make(map[string]int, len(leaked))
	for i, id := range leaked {
		index[id] = i
	}
	byActor := map[string]*actorAcc{}
	var all []*judged
	cited := map[string]bool{}
	seen := map[string][]string{} // customer -> actors
	err := src.EachSubjectEvent(ctx, leaked, q.Window, func(e *event.Event) error {
		if _, ok := index[e.Subject]; !ok || !exposes(e) || !q.Window.Contains(e.Time) {
			return nil
		}
		a := byActor[e.Actor.ID]
		if a == nil {
			a = &actorAcc{actor: e.Actor.ID, covered: map[string]bool{}, first: e.Time, last: e.Time}
			byActor[e.Actor.ID] = a
		}
		j := &judged{e: e}
		a.accesses = append(a.accesses, j)
		all = append(all, j)
		if _, ok := a.covered[e.Subject]; !ok {
			a.covered[e.Subject] = false
			seen[e.Subject] = append(seen[e.Subject], e.Actor.ID)
		}
		a.first, a.last = minTime(a.first, e.Time), maxTime(a.last, e.Time)
		if e.Ticket != "" {
			cited[e.Ticket] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading accesses to the leaked customers: %w", err)
	}

	v, err := loadVerdicts(ctx, src, win, sortedKeys(seen), sortedKeys(cited))
	if err != nil {
		return nil, err
	}
	people := map[string]*event.Person{}
	if err := src.People(ctx, func(p *event.Person) error { people[p.ID] = p; return nil }); err != nil {
		return nil, fmt.Errorf("reading the roster: %w", err)
	}
	var explained func(*event.Event, *event.Person, *engine.TicketMatch) bool
	if q.Explainer != nil {
		explained = q.Explainer(func(id string) *event.Person { return people[id] })
	}
	for _, j := range all {
		j.m = v.judge(j.e)
		if j.m.Verdict == engine.Justified || (explained != nil && explained(j.e, people[j.e.Actor.ID], &j.m)) {
			continue
		}
		byActor[j.e.Actor.ID].covered[j.e.Subject] = true
	}

	actors := sortedKeys(byActor)
	groups := newPeerGroups(people)
	counted := map[string]bool{}
	for _, id := range actors {
		counted[id] = true
		for _, p := range groups.peersOf(id, people[id]) {
			counted[p] = true
		}
	}
	reach, pop, err := src.Reach(ctx, sortedKeys(counted), q.Window)
	if err != nil {
		return nil, fmt.Errorf("counting customers seen: %w", err)
	}
	res := &Attribution{Leaked: len(leaked), Seen: len(seen), Population: max(pop, len(seen)), Candidates: len(actors), Window: q.Window}
	for _, id := range leaked {
		if _, ok := seen[id]; !ok {
			res.Unseen = append(res.Unseen, id)
		}
	}
	if res.Unseen == nil {
		res.Unseen = []string{}
	}

	if res.Canaries, err = canaryHits(ctx, src, leaked, seen, people); err != nil {
		return nil, err
	}
	canariesBy := map[string][]string{}
	for _, h := range res.Canaries {
		for _, a := range h.AccessedBy {
			canariesBy[a] = append(canariesBy[a], h.Subject)
		}
	}

	// The pooled share of customers seen that are leaked and were seen
	// without a ticket, over everyone counted but the actor: the floor of
	// the no-ticket comparison, never zero.
	var ntAll, reachAll int
	for id, n := range reach {
		reachAll += n
		if a := byActor[id]; a != nil {
			for _, nt := range a.covered {
				if nt {
					ntAll++
				}
			}
		}
	}
	ntFloor := func(nt, reach int) float64 {
		return max(float64(ntAll-nt)/float64(max(reachAll-reach, 1)), 1/float64(res.Population))
	}
	suspects := make([]*Suspect, 0, len(actors))
	for _, id := range actors {
		a := byActor[id]
		s := &Suspect{Actor: id, Covered: len(a.covered), Accesses: len(a.accesses), First: a.first, Last: a.last,
			Canaries: canariesBy[id], covered: a.covered}
		for _, noTicket := range a.covered {
			if noTicket {
				s.NoTicket++
			}
		}
		s.Reach = max(reach[id], s.Covered)
		s.Coverage = float64(s.Covered) / float64(res.Seen)
		s.Expected = float64(s.Reach) * float64(res.Seen) / float64(res.Population)
		s.GlobalScore = surprise(hypergeomTail(res.Population, res.Seen, s.Reach, s.Covered))
		s.Score = s.GlobalScore
		// The chance share: what a random actor would have, raised to what
		// the actor's peers have if that is more.
		s.rate = float64(res.Seen) / float64(res.Population)
		p := people[id]
		if p != nil {
			s.Name, s.Vendor, s.Team, s.Role, s.Site = p.Name, p.Vendor, p.Team, p.Role, p.Site
		}
		peers := groups.peersOf(id, p)
		if rate, n, ok := peerRate(peers, reach, coveredBy(byActor, false)); ok {
			s.Peers, s.PeerRate = n, rate
			s.rate = max(s.rate, rate)
			s.PeerExpected = float64(s.Reach) * s.rate
			ps := surprise(binomTail(s.Reach, s.rate, s.Covered))
			s.PeerScore = &ps
			s.Score = min(s.GlobalScore, ps)
		}
		// Leaked customers seen without a ticket, against the share of
		// peers (or, without enough peers, of everyone) who did the same:
		// a desk that sees the leaked kind of customer on tickets is not a
		// suspect, one of its members who looked at them without is.
		ntRate := ntFloor(s.NoTicket, reach[id])
		if rate, _, ok := peerRate(peers, reach, coveredBy(byActor, true)); ok {
			ntRate = max(rate, ntRate)
		}
		s.ntRate = ntRate
		s.NoTicketExpected = float64(s.Reach) * ntRate
		s.NoTicketScore = surprise(binomTail(s.Reach, ntRate, s.NoTicket))
		s.Score = max(s.Score, s.NoTicketScore)
		suspects = append(suspects, s)
	}
	slices.SortFunc(suspects, func(a, b *Suspect) int {
		return cmp.Or(
			cmp.Compare(len(b.Canaries), len(a.Canaries)),
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(b.Covered, a.Covered),
			strings.Compare(a.Actor, b.Actor))
	})
	res.Pairs = pairs(suspects, res, index, q.Pairs)

	for i, s := range suspects[:min(q.Top, len(suspects))] {
		s.Rank = i + 1
		s.Reason = s.reason(res, people)
		acc := byActor[s.Actor].accesses
		// Accesses with no ticket first: they are the evidence; then by time.
		slices.SortStableFunc(acc, func(x, y *judged) int {
			return cmp.Or(cmp.Compare(y.m.Verdict, x.m.Verdict), x.e.Time.Compare(y.e.Time), strings.Compare(x.e.ID, y.e.ID))
		})
		s.Evidence = make([]Access, 0, min(q.Evidence, len(acc)))
		for _, j := range acc[:min(q.Evidence, len(acc))] {
			s.Evidence = append(s.Evidence, access(j))
		}
		res.Suspects = append(res.Suspects, s)
	}
	if res.Suspects == nil {
		res.Suspects = []*Suspect{}
	}
	return res, nil
}

// coveredBy counts an actor's leaked customers, or only those seen without
// a ticket.
func coveredBy(byActor map[string]*actorAcc, noTicket bool) func(string) int {
	return func(id string) int {
		a := byActor[id]
		if a == nil {
			return 0
		}
		if !noTicket {
			return len(a.covered)
		}
		n := 0
		for _, nt := range a.covered {
			if nt {
				n++
			}
		}
		return n
	}
}

func access(j *judged) Access {
	e := j.e
	return Access{Event: e.ID, Time: e.Time, Actor: e.Actor.ID, Action: string(e.Action), Customer: e.Subject,
		Resource: e.Resource, Fields: e.Fields, Ticket: e.Ticket, Verdict: j.m.Verdict.String(), By: j.m.Ticket}
}

func (s *Suspect) reason(res *Attribution, people map[string]*event.Person) string {
	var b strings.Builder
	for _, h := range res.Canaries {
		if !slices.Contains(s.Canaries, h.Subject) {
			continue
		}
		if h.Team == "" && h.Site == "" {
			fmt.Fprintf(&b, "opened honeytoken %s, a decoy no work leads to, which is in the leak; ", h.Subject)
		} else {
			fmt.Fprintf(&b, "opened canary %s, shown only to %s, which is in the leak; ", h.Subject, h.Scope())
		}
	}
	fmt.Fprintf(&b, "saw %d of the %d leaked customers anyone accessed (%.0f%%)",
		s.Covered, res.Seen, 100*s.Coverage)
	if s.NoTicket > 0 {
		fmt.Fprintf(&b, ", %d of them without a matching ticket", s.NoTicket)
	}
	fmt.Fprintf(&b, ", between %s and %s; ", s.First.Format(time.DateOnly), s.Last.Format(time.DateOnly))
	fmt.Fprintf(&b, "an actor seeing %s at random would cover about %.1f", plural(s.Reach, "customer"), s.Expected)
	if s.PeerScore != nil {
		fmt.Fprintf(&b, ", at the rate of their %s about %.1f", plural(s.Peers, "peer"), s.PeerExpected)
	}
	switch {
	case s.NoTicket > 0 && s.NoTicketExpected < 0.1:
		b.WriteString(", and almost none without a ticket")
	case s.NoTicket > 0:
		fmt.Fprintf(&b, ", and about %.1f without a ticket", s.NoTicketExpected)
	}
	switch {
	case s.Score >= maxScore:
		b.WriteString(" (chance below 1e-1000)")
	case s.Score >= 2:
		fmt.Fprintf(&b, " (chance about 1e-%.0f)", s.Score)
	default:
		b.WriteString(" (not unusual for their volume)")
	}
	return b.String()
}

func canaryHits(ctx context.Context, src AttributionSource, leaked []string, seen map[string][]string, people map[string]*event.Person) ([]CanaryHit, error) {
	cs, err := src.Canaries(ctx, leaked)
	if err != nil {
		return nil, fmt.Errorf("reading canaries: %w", err)
	}
	// A honeytoken customer that was not minted for a team or site is a
	// decoy too: no one explains it, and whoever opened it ranks first.
	minted := map[string]bool{}
	for _, c := range cs {
		minted[c.Subject] = true
	}
	recs, err := src.SubjectRecords(ctx, sortedKeys(seen))
	if err != nil {
		return nil, fmt.Errorf("reading customer records: %w", err)
	}
	for _, id := range sortedKeys(recs) {
		if recs[id].Honeytoken && !minted[id] {
			cs = append(cs, Canary{Subject: id})
		}
	}
	hits := make([]CanaryHit, 0, len(cs))
	for _, c := range cs {
		h := CanaryHit{Canary: c, AccessedBy: slices.Sorted(slices.Values(seen[c.Subject])), Members: []string{}}
		if h.AccessedBy == nil {
			h.AccessedBy = []string{}
		}
		for _, p := range people {
			if (c.Team != "" && p.Team == c.Team) || (c.Team == "" && c.Site != "" && p.Site == c.Site) {
				h.Members = append(h.Members, p.ID)
			}
		}
		sort.Strings(h.Members)
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b CanaryHit) int { return strings.Compare(a.Subject, b.Subject) })
	return hits, nil
}

// pairs finds actors who together cover much more of the leak than either
// alone. Only pairs among the strongest candidates are tried, so the cost is
// bounded; a pair is reported when its union is at least half again the
// better member's coverage and its chance under the null (one actor with
// both reaches) is at least 100 times smaller than either member's alone,
// and beyond what trying that many pairs would produce by luck.
func pairs(suspects []*Suspect, res *Attribution, index map[string]int, limit int) []*Pair {
	cands := suspects[:min(pairCandidates, len(suspects))]
	byCov := slices.Clone(suspects)
	slices.SortFunc(byCov, func(a, b *Suspect) int {
		return cmp.Or(cmp.Compare(b.Covered, a.Covered), strings.Compare(a.Actor, b.Actor))
	})
	for _, s := range byCov[:min(pairCandidates, len(byCov))] {
		if !slices.Contains(cands, s) {
			cands = append(cands, s)
		}
	}
	sets := make(map[*Suspect]bitset, len(cands))
	nts := make(map[*Suspect]bitset, len(cands))
	for _, s := range cands {
		b, nt := newBitset(len(index)), newBitset(len(index))
		for c, noTicket := range s.covered {
			b.set(index[c])
			if noTicket {
				nt.set(index[c])
			}
		}
		sets[s], nts[s] = b, nt
	}
	tried := len(cands) * (len(cands) - 1) / 2
	floor := 2 + math.Log10(float64(max(tried, 1)))
	var out []*Pair
	for i, a := range cands {
		for _, b := range cands[i+1:] {
			u := sets[a].unionCount(sets[b])
			best := max(a.Covered, b.Covered)
			if 2*u < 3*best || u-best < 2 {
				continue
			}
			// Scored as one actor with both reaches, the same two ways as a
			// suspect.
			n := min(a.Reach+b.Reach, res.Population)
			score := min(surprise(hypergeomTail(res.Population, res.Seen, n, u)), surprise(binomTail(n, max(a.rate, b.rate), u)))
			score = max(score, surprise(binomTail(n, max(a.ntRate, b.ntRate), nts[a].unionCount(nts[b]))))
			if score < floor || score < max(a.Score, b.Score)+2 {
				continue
			}
			x, y := a, b
			if y.Actor < x.Actor {
				x, y = y, x
			}
			out = append(out, &Pair{
				Actors:  [2]string{x.Actor, y.Actor},
				Covered: u, Each: [2]int{x.Covered, y.Covered},
				Overlap: x.Covered + y.Covered - u,
				Score:   score,
				Reason: fmt.Sprintf("together saw %d of %d leaked customers (%d and %d alone, %d in common)",
					u, res.Seen, x.Covered, y.Covered, x.Covered+y.Covered-u),
			})
		}
	}
	slices.SortFunc(out, func(a, b *Pair) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(b.Covered, a.Covered),
			strings.Compare(a.Actors[0], b.Actors[0]), strings.Compare(a.Actors[1], b.Actors[1]))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []*Pair{}
	}
	return out
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int) { b[i/64] |= 1 << (i % 64) }

func (b bitset) unionCount(o bitset) int {
	n := 0
	for i := range b {
		n += bits.OnesCount64(b[i] | o[i])
	}
	return n
}
