package breach

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/golden"
)

func rankOf(a *Attribution, actor string) (int, *Suspect) {
	for _, s := range a.Suspects {
		if s.Actor == actor {
			return s.Rank, s
		}
	}
	return 0, nil
}

// baseOrg is 30 agents working 15 tickets a day for 20 days among 3,000
// customers, and one agent on the busiest queue working 250 a day: they see
// about 80% of all customers.
func baseOrg(seed uint64) *org {
	o := newOrg(seed, 3000)
	for i := range 30 {
		id := fmt.Sprintf("a-%02d", i)
		o.person(id, []string{"payments", "kyc", "recovery"}[i%3])
		o.work(id, 20, 15)
	}
	o.person("a-busy", "payments")
	o.work("a-busy", 20, 250)
	return o
}

// A single leaker looked at 80 customers without tickets; 60 of them and
// 20 other customers leaked. The busy agent saw more of the leaked set
// than the leaker did, and must still rank below them.
func TestAttributeSingleLeaker(t *testing.T) {
	o := baseOrg(1)
	avoid := map[string]bool{}
	harvested := o.pick(80, avoid)
	o.harvest("a-07", 12, harvested)
	leaked := append(slices.Clone(harvested[:60]), o.pick(20, avoid)...)

	a, err := Attribute(context.Background(), o.m, AttributionQuery{Customers: append(leaked, "c-99999", leaked[0]), Top: 100}, win)
	if err != nil {
		t.Fatal(err)
	}
	if a.Leaked != 81 || len(a.Unseen) != 1 || a.Unseen[0] != "c-99999" || a.Seen != 80 {
		t.Errorf("leaked %d, seen %d, unseen %v", a.Leaked, a.Seen, a.Unseen)
	}
	_, leaker := rankOf(a, "a-07")
	rBusy, busy := rankOf(a, "a-busy")
	if leaker == nil || busy == nil {
		t.Fatalf("leaker %v, busy %v in %d suspects", leaker, busy, len(a.Suspects))
	}
	if busy.Covered <= leaker.Covered {
		t.Fatalf("the test needs the busy agent to cover more than the leaker: %d vs %d", busy.Covered, leaker.Covered)
	}
	if leaker.Rank != 1 || rBusy <= 1 {
		t.Errorf("leaker rank %d (score %.1f), busy rank %d (score %.1f)", leaker.Rank, leaker.Score, rBusy, busy.Score)
	}
	if leaker.NoTicket < 60 || leaker.Score < 30 || busy.Score > 3 {
		t.Errorf("leaker no-ticket %d score %.1f; busy score %.1f", leaker.NoTicket, leaker.Score, busy.Score)
	}
	if busy.NoTicket != 0 || busy.Reach < 2000 {
		t.Errorf("busy agent: no-ticket %d, reach %d", busy.NoTicket, busy.Reach)
	}
	if leaker.First.After(o.at(12, 500)) || !leaker.Last.Equal(o.at(17, 509)) {
		t.Errorf("leaker span %s .. %s", leaker.First, leaker.Last)
	}
	if len(leaker.Evidence) != DefaultEvidence || leaker.Evidence[0].Verdict != "no_ticket" || leaker.Evidence[0].Resource != "kyc_document" {
		t.Errorf("evidence %+v", leaker.Evidence)
	}
	if !strings.Contains(leaker.Reason, "without a matching ticket") {
		t.Errorf("reason %q", leaker.Reason)
	}
	if len(a.Pairs) != 0 {
		t.Errorf("pairs reported for a single leaker: %+v", a.Pairs[0])
	}

	// A window before the harvest began: the leaker explains nothing.
	before, err := Attribute(context.Background(), o.m, AttributionQuery{Customers: leaked, Window: Window{Until: o.at(12, 0)}, Top: 100}, win)
	if err != nil {
		t.Fatal(err)
	}
	if r, s := rankOf(before, "a-07"); r == 1 || (s != nil && s.NoTicket > 0) {
		t.Errorf("before the harvest the leaker ranks %d: %+v", r, s)
	}
}

// Two insiders each took half of the leaked set. Each ranks at the top,
// and the pair is reported because together they cover all of it.
func TestAttributePair(t *testing.T) {
	o := baseOrg(2)
	avoid := map[string]bool{}
	h1, h2 := o.pick(40, avoid), o.pick(40, avoid)
	o.harvest("a-03", 5, h1)
	o.harvest("a-11", 9, h2)
	a, err := Attribute(context.Background(), o.m, AttributionQuery{Customers: append(slices.Clone(h1), h2...)}, win)
	if err != nil {
		t.Fatal(err)
	}
	top := []string{a.Suspects[0].Actor, a.Suspects[1].Actor}
	slices.Sort(top)
	if !slices.Equal(top, []string{"a-03", "a-11"}) {
		t.Errorf("top two %v", top)
	}
	if len(a.Pairs) == 0 {
		t.Fatal("no pair reported")
	}
	p := a.Pairs[0]
	if p.Actors != [2]string{"a-03", "a-11"} || p.Covered < 80 || p.Score <= a.Suspects[0].Score {
		t.Errorf("pair %+v (best single score %.1f)", p, a.Suspects[0].Score)
	}
	for _, q := range a.Pairs {
		if !slices.Contains(q.Actors[:], "a-03") && !slices.Contains(q.Actors[:], "a-11") {
			t.Errorf("pair of bystanders reported: %+v", q)
		}
	}
}

// A canary shown only to the kyc team is in the leak: the kyc agent who
// opened it ranks first, above a leaker with a far larger coverage, and
// the canary names its team. A second canary nobody opened still names
// its team and members.
func TestAttributeCanary(t *testing.T) {
	o := baseOrg(3)
	ctx := context.Background()
	cs, _, err := Mint(ctx, o.m, MintRequest{Team: "kyc", Count: 2, Seed: "s3cret", At: o.at(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	o.view("a-04", cs[0].Subject, "", o.at(14, 30), "profile", "name")
	avoid := map[string]bool{}
	h := o.pick(50, avoid)
	o.harvest("a-07", 12, h)
	a, err := Attribute(ctx, o.m, AttributionQuery{Customers: append(slices.Clone(h), cs[0].Subject, cs[1].Subject)}, win)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Canaries) != 2 {
		t.Fatalf("canaries %+v", a.Canaries)
	}
	var opened, unopened CanaryHit
	for _, c := range a.Canaries {
		if c.Subject == cs[0].Subject {
			opened = c
		} else {
			unopened = c
		}
	}
	if opened.Scope() != "team kyc" || !slices.Equal(opened.AccessedBy, []string{"a-04"}) || !slices.Contains(opened.Members, "a-04") {
		t.Errorf("opened canary %+v", opened)
	}
	if len(unopened.AccessedBy) != 0 || len(unopened.Members) != 10 || unopened.Team != "kyc" {
		t.Errorf("unopened canary %+v", unopened)
	}
	s := a.Suspects[0]
	if s.Actor != "a-04" || !slices.Equal(s.Canaries, []string{cs[0].Subject}) || !strings.Contains(s.Reason, "shown only to team kyc") {
		t.Errorf("first suspect %+v", s)
	}
	if a.Suspects[1].Actor != "a-07" {
		t.Errorf("second suspect %s, want the leaker", a.Suspects[1].Actor)
	}
}

func TestAttributeFormats(t *testing.T) {
	o := newOrg(4, 200)
	for i := range 6 {
		id := fmt.Sprintf("a-%02d", i)
		o.person(id, "payments")
		o.work(id, 5, 6)
	}
	h := o.pick(12, map[string]bool{})
	o.harvest("a-02", 3, h)
	a, err := Attribute(context.Background(), o.m, AttributionQuery{Customers: h, Top: 3, Evidence: 2}, win)
	if err != nil {
		t.Fatal(err)
	}
	if a.Suspects[0].Actor != "a-02" || len(a.Suspects) != 3 {
		t.Fatalf("suspects %+v", a.Suspects)
	}
	for _, f := range []string{FormatTable, FormatCSV, FormatJSON} {
		var b bytes.Buffer
		if err := WriteAttribution(&b, a, f); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "testdata/attribution."+f, b.Bytes())
	}
}

func TestAttributeErrors(t *testing.T) {
	m := newMemory()
	if _, err := Attribute(context.Background(), m, AttributionQuery{Customers: []string{"", ""}}, win); err == nil || !strings.Contains(err.Error(), "no leaked customer ids") {
		t.Errorf("empty list: %v", err)
	}
	a, err := Attribute(context.Background(), m, AttributionQuery{Customers: []string{"c-1"}}, win)
	if err != nil {
		t.Fatal(err)
	}
	if a.Seen != 0 || len(a.Suspects) != 0 || len(a.Unseen) != 1 {
		t.Errorf("nobody saw anything: %+v", a)
	}
	_, err = Attribute(context.Background(), m, AttributionQuery{Customers: []string{"c-1"}, Window: Window{Since: time.Unix(9, 0), Until: time.Unix(9, 0)}}, win)
	if err == nil {
		t.Error("empty window accepted")
	}
}

// A VIP desk serves 120 high-value customers; a leak of 40 of them is no
// surprise from any VIP-desk agent, however rare VIPs are overall. The
// general-queue agent who harvested them ranks first; so does a VIP-desk
// agent who harvested 40 VIPs beyond their tickets, against their peers.
func TestAttributePeers(t *testing.T) {
	for _, insiderTeam := range []string{"general", "vip"} {
		t.Run(insiderTeam, func(t *testing.T) {
			o := newOrg(6, 3000)
			vips := o.custs[:120]
			for i := range 20 {
				id := fmt.Sprintf("a-g%02d", i)
				o.person(id, "general")
				o.work(id, 20, 15)
			}
			general := o.custs
			for i := range 6 {
				id := fmt.Sprintf("a-v%d", i)
				o.person(id, "vip")
				o.custs = vips
				o.work(id, 20, 6)
				o.custs = general
			}
			insider := "a-g07"
			if insiderTeam == "vip" {
				insider = "a-v3"
			}
			leak := slices.Clone(vips[40:80])
			o.harvest(insider, 10, leak)
			a, err := Attribute(context.Background(), o.m, AttributionQuery{Customers: leak, Top: 30}, win)
			if err != nil {
				t.Fatal(err)
			}
			if a.Suspects[0].Actor != insider {
				t.Fatalf("first suspect %s (score %.1f), want %s:\n%+v", a.Suspects[0].Actor, a.Suspects[0].Score, insider, a.Suspects[:3])
			}
			for _, s := range a.Suspects[1:] {
				if s.Team == "vip" && (s.PeerScore == nil || s.Score > 3 || s.GlobalScore < 10) {
					t.Errorf("VIP-desk agent %s: score %.1f (global %.1f, peers %v)", s.Actor, s.Score, s.GlobalScore, s.PeerScore)
				}
			}
			if a.Suspects[0].Score < 10 {
				t.Errorf("insider score %.1f", a.Suspects[0].Score)
			}
		})
	}
}

func TestBinomTail(t *testing.T) {
	for _, c := range []struct {
		n, k int
		q    float64
	}{{10, 3, 0.2}, {100, 40, 0.33}, {100, 10, 0.33}, {300, 72, 0.01}, {50, 0, 0.5}, {20, 20, 0.9}} {
		want := 0.0
		for x := c.k; x <= c.n; x++ {
			want += math.Exp(lchoose(c.n, x) + float64(x)*math.Log(c.q) + float64(c.n-x)*math.Log1p(-c.q))
		}
		if got := binomTail(c.n, c.q, c.k); math.Abs(got-math.Log10(want)) > 1e-6*max(1, math.Abs(math.Log10(want))) {
			t.Errorf("binomTail(%d, %v, %d) = %v, want %v", c.n, c.q, c.k, got, math.Log10(want))
		}
	}
}

// A fraud investigator works without tickets by design: with an Explainer
// that says so (as the shipped no_ticket rule's exception does), their
// accesses are not "without a ticket", and the leaker ranks first.
func TestAttributeExplainedByRole(t *testing.T) {
	o := baseOrg(8)
	o.m.people = append(o.m.people, &event.Person{ID: "a-fraud", Team: "fraud", Role: "fraud_investigator"})
	avoid := map[string]bool{}
	h := o.pick(60, avoid)
	o.harvest("a-07", 12, h)
	// The investigator looks at 30 of them, and 200 others, without tickets.
	o.harvest("a-fraud", 2, append(slices.Clone(h[:30]), o.pick(200, avoid)...))
	q := AttributionQuery{Customers: h, Top: 5}
	a, err := Attribute(context.Background(), o.m, q, win)
	if err != nil {
		t.Fatal(err)
	}
	if _, f := rankOf(a, "a-fraud"); f == nil || f.NoTicket != 30 || f.NoTicketScore < 5 {
		t.Fatalf("without role rules the investigator's accesses are without a ticket: %+v", f)
	}
	// As the shipped no_ticket rule's exception does.
	q.Explainer = func(people func(string) *event.Person) func(*event.Event, *event.Person, *engine.TicketMatch) bool {
		return func(e *event.Event, p *event.Person, m *engine.TicketMatch) bool {
			return p != nil && p.Role == "fraud_investigator" && people(e.Actor.ID) == p
		}
	}
	if a, err = Attribute(context.Background(), o.m, q, win); err != nil {
		t.Fatal(err)
	}
	r, f := rankOf(a, "a-fraud")
	if a.Suspects[0].Actor != "a-07" || r < 2 || f.NoTicket != 0 || f.NoTicketScore != 0 {
		t.Errorf("investigator rank %d: %+v; first %s", r, f, a.Suspects[0].Actor)
	}
	if _, l := rankOf(a, "a-07"); l.NoTicket != 60 {
		t.Errorf("the leaker's no-ticket accesses are still counted: %+v", l)
	}
}
