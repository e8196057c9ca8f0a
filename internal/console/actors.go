package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// maxActorEvents bounds the events the actor page reads for its tables.
const maxActorEvents = 5000

// resolveActor turns a pseudonym from a URL into an actor id, learning the
// roster and the actors with events on a miss (a new agent, a restart).
func (c *Console) resolveActor(ctx context.Context, p string) (string, bool, error) {
	if !IsPseudonym(p) {
		return "", false, nil
	}
	if id, ok := c.pseudo.Resolve(p); ok {
		return id, true, nil
	}
	people, err := c.src.People(ctx)
	if err != nil {
		return "", false, err
	}
	for _, q := range people {
		c.pseudo.Learn(q.ID)
	}
	spans, err := c.src.ActorSpans(ctx)
	if err != nil {
		return "", false, err
	}
	for _, s := range spans {
		c.pseudo.Learn(s.Actor)
	}
	id, ok := c.pseudo.Resolve(p)
	return id, ok, nil
}

// requestActor resolves the pseudonym the URL names, answering 404 itself
// when it names nobody.
func (c *Console) requestActor(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok, err := c.resolveActor(r.Context(), r.PathValue("p"))
	switch {
	case err != nil:
		c.fail(w, r, err)
	case !ok:
		c.notFound(w, r, "There is no agent with this pseudonym.")
	default:
		return id, true
	}
	return "", false
}

// canReveal: roles with PermRevealAny may reveal any agent they may see;
// vendor supervisors their own vendor's agents; analysts only an agent with
// an open case, so a name is revealed only where a case needs it.
func (c *Console) canReveal(ctx context.Context, ri *reqInfo, actor string) bool {
	switch {
	case !ri.maysee(actor):
		return false
	case ri.user.Role.Can(PermRevealAny), ri.user.Role == VendorSupervisor:
		return true
	case ri.user.Role == Analyst:
		cases, err := c.src.Cases(ctx)
		if err != nil {
			return false
		}
		states, err := c.state.CaseStates(ctx)
		if err != nil {
			return false
		}
		for _, f := range cases {
			if f.Actor.ID == actor && states[f.ID].Status != StatusClosed {
				return true
			}
		}
	}
	return false
}

func (c *Console) actorReveal(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := info(r)
	id, ok := c.requestActor(w, r)
	if !ok {
		return
	}
	if !c.canReveal(ctx, ri, id) {
		c.forbidden(w, r, "You may not reveal this agent's identity.")
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) < 10 || len(reason) > 500 {
		c.badRequest(w, r, "A reveal needs a reason of 10 to 500 characters: it is kept in the audit trail.")
		return
	}
	now := c.now().UTC()
	rv := Reveal{User: ri.user.Name, Actor: id, Reason: reason, Case: r.PostFormValue("case"), Time: now, Until: now.Add(c.cfg.RevealFor)}
	if err := c.state.AddReveal(ctx, rv); err != nil {
		c.fail(w, r, err)
		return
	}
	detail := reason
	if rv.Case != "" {
		detail = "case " + rv.Case + ": " + reason
	}
	c.audit(r, AuditReveal, "actor:"+id, detail)
	back := r.PostFormValue("back")
	if back == "" || !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") {
		back = "/actors/" + url.PathEscape(r.PathValue("p"))
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// customerRow is one customer an agent touched.
type customerRow struct {
	Subject  string
	Info     *event.Subject
	Accesses int
	Justified,
	Unjustified int
	Last    time.Time
	Fields  []string
	Verdict string // the worst verdict seen
}

type deviceRow struct {
	Device    string
	IPs       []string
	Countries []string
	Sessions  int
	Events    int
	First     time.Time
	Last      time.Time
}

func (c *Console) actorPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := info(r)
	id, ok := c.requestActor(w, r)
	if !ok {
		return
	}
	if !ri.maysee(id) {
		c.forbidden(w, r, "This agent works for another vendor.")
		return
	}
	c.audit(r, AuditViewActor, "actor:"+id, "")
	people, err := c.src.People(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.viewer(ctx, ri, people)
	agent := v.Agent(id)

	// The page covers the 60 days up to the agent's last activity (or now).
	end := c.dataNow(ctx)
	spans, err := c.src.ActorSpans(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var span ActorSpan
	for _, s := range spans {
		if s.Actor == id {
			span = s
		}
	}
	if !span.Last.IsZero() && span.Last.Before(end) {
		end = span.Last
	}
	day := 24 * time.Hour
	until := end.Truncate(day).Add(day)
	from := until.Add(-60 * day)
	if first := span.First.Truncate(day).Add(-2 * day); !span.First.IsZero() && first.After(from) {
		from = first // no empty weeks before the agent started
	}

	peers, label := peersOf(people, agent.Person)
	peers = scoped(ri, peers)
	fs, err := c.src.ActorFindings(ctx, id, from.Add(-30*day))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var marks []time.Time
	var alerts []alertRow
	var cases []finding.Finding
	for _, f := range fs {
		if f.Kind == finding.KindCase {
			cases = append(cases, f)
			continue
		}
		marks = append(marks, f.Time)
		if !f.Time.Before(from) {
			alerts = append(alerts, alertRow{F: f, Summary: v.Mask(f.Summary, id)})
		}
	}
	slices.Reverse(alerts)
	if len(alerts) > 200 {
		alerts = alerts[:200]
	}
	daily, err := c.activityChart(ctx, id, peers, label, from, until, day, marks)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	hourUntil := end.Truncate(time.Hour).Add(time.Hour)
	hourly, err := c.activityChart(ctx, id, peers, label, hourUntil.Add(-72*time.Hour), hourUntil, time.Hour, marks)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	risk := c.riskChart(fs, from, until.Add(-day))
	riskNow := 0.0
	if m := risk.Metrics[0].Actor; len(m) > 0 && m[len(m)-1] != nil {
		riskNow = *m[len(m)-1]
	}

	evs, err := c.src.ActorEvents(ctx, id, from, until, maxActorEvents)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	customers, devices, err := c.accessTables(ctx, id, evs)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, d := range devices {
		d.Device = v.Device(id, d.Device)
	}
	with, without := 0, 0
	for _, cr := range customers {
		if cr.Unjustified > 0 {
			without++
		} else {
			with++
		}
	}
	if len(customers) > 300 {
		customers = customers[:300]
	}
	states, err := c.state.CaseStates(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var caseRows []*caseRow
	for i := range cases {
		f := cases[i]
		caseRows = append(caseRows, &caseRow{F: f, St: states[f.ID], Agent: agent, Summary: v.Mask(f.Summary, id), Opened: caseOpened(&f), Alerts: caseAlertCount(&f)})
	}
	slices.Reverse(caseRows)
	var manager agentRef
	if agent.Person != nil && agent.Person.Manager != "" {
		manager = v.Agent(agent.Person.Manager)
	}
	c.page(w, r, "actor", "Agent "+agent.Label, map[string]any{
		"V": v, "Agent": agent, "Manager": manager, "Span": span, "From": from, "Until": until, "Now": c.dataNow(ctx),
		"Daily": daily, "Hourly": hourly, "Risk": risk, "RiskNow": riskNow, "Alerts": alerts, "Cases": caseRows,
		"Customers": customers, "With": with, "Without": without, "Devices": devices, "EventsRead": len(evs),
		"EventsCapped": len(evs) == maxActorEvents, "CanReveal": c.canReveal(ctx, ri, id),
		"CanCustomers": ri.user.Role.Can(PermCustomers), "Peers": label, "PeerN": len(peers),
	})
}

// accessTables groups an agent's events by customer (with the ticket
// index's verdict for each access, as the engine judges them) and by device.
func (c *Console) accessTables(ctx context.Context, actor string, evs []event.Event) ([]*customerRow, []*deviceRow, error) {
	var subjects []string
	seen := map[string]bool{}
	for i := range evs {
		if s := evs[i].Subject; s != "" && !seen[s] {
			seen[s] = true
			subjects = append(subjects, s)
		}
	}
	tcs, err := c.src.TicketChanges(ctx, subjects)
	if err != nil {
		return nil, nil, err
	}
	idx := engine.NewTickets()
	for i := range tcs {
		idx.Apply(&tcs[i])
	}
	byCust := map[string]*customerRow{}
	byDev := map[string]*deviceRow{}
	sessions := map[string]map[string]bool{}
	for i := range evs {
		e := &evs[i]
		dev := e.Actor.Device
		if dev == "" {
			dev = "(unknown device)"
		}
		d := byDev[dev]
		if d == nil {
			d = &deviceRow{Device: dev, First: e.Time, Last: e.Time}
			byDev[dev] = d
			sessions[dev] = map[string]bool{}
		}
		d.Events++
		if e.Actor.IP != "" {
			d.IPs = addAll(d.IPs, e.Actor.IP)
		}
		if e.Actor.Country != "" {
			d.Countries = addAll(d.Countries, e.Actor.Country)
		}
		if e.Actor.Session != "" && !sessions[dev][e.Actor.Session] {
			sessions[dev][e.Actor.Session] = true
			d.Sessions++
		}
		widen(&d.First, &d.Last, e.Time)

		if e.Subject == "" || !e.Action.TouchesSubject() {
			continue
		}
		cr := byCust[e.Subject]
		if cr == nil {
			cr = &customerRow{Subject: e.Subject, Verdict: "justified"}
			byCust[e.Subject] = cr
		}
		cr.Accesses++
		if e.Time.After(cr.Last) {
			cr.Last = e.Time
		}
		cr.Fields = addAll(cr.Fields, e.Fields...)
		m := idx.Match(actor, e.Subject, e.Ticket, e.Time, c.windows)
		if m.Verdict == engine.Justified {
			cr.Justified++
		} else {
			cr.Unjustified++
			if cr.Verdict == "justified" || m.Verdict > verdictOf(cr.Verdict) {
				cr.Verdict = m.Verdict.String()
			}
		}
	}
	customers := make([]*customerRow, 0, len(byCust))
	for _, cr := range byCust {
		cr.Info, _ = c.src.Subject(ctx, cr.Subject)
		customers = append(customers, cr)
	}
	sort.Slice(customers, func(i, j int) bool {
		a, b := customers[i], customers[j]
		if (a.Unjustified > 0) != (b.Unjustified > 0) {
			return a.Unjustified > 0
		}
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		return a.Subject < b.Subject
	})
	devices := make([]*deviceRow, 0, len(byDev))
	for _, d := range byDev {
		devices = append(devices, d)
	}
	sort.Slice(devices, func(i, j int) bool { return devices[i].Events > devices[j].Events })
	return customers, devices, nil
}

func verdictOf(s string) engine.Verdict {
	for v := engine.Justified; v <= engine.NoTicket; v++ {
		if v.String() == s {
			return v
		}
	}
	return engine.Justified
}

// addAll adds ys to the set xs, keeping first-seen order.
func addAll(xs []string, ys ...string) []string {
	for _, y := range ys {
		if !slices.Contains(xs, y) {
			xs = append(xs, y)
		}
	}
	return xs
}

// widen stretches [first, last] to include t.
func widen(first, last *time.Time, t time.Time) {
	if t.Before(*first) {
		*first = t
	}
	if t.After(*last) {
		*last = t
	}
}

// customerPage shows one customer: the record, and who touched it.
func (c *Console) customerPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := info(r)
	id := r.PathValue("id")
	s, err := c.src.Subject(ctx, id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	evs, err := c.src.SubjectEvents(ctx, id, time.Time{}, time.Time{}, 500)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if s == nil && len(evs) == 0 {
		c.notFound(w, r, "No customer with this id is known.")
		return
	}
	c.audit(r, AuditViewCustomer, "customer:"+id, "")
	v := c.viewer(ctx, ri, nil)
	type who struct {
		Agent       agentRef
		Events      int
		First, Last time.Time
	}
	byActor := map[string]*who{}
	var order []string
	for _, e := range evs {
		wr := byActor[e.Actor.ID]
		if wr == nil {
			wr = &who{Agent: v.Agent(e.Actor.ID), First: e.Time, Last: e.Time}
			byActor[e.Actor.ID] = wr
			order = append(order, e.Actor.ID)
		}
		wr.Events++
		widen(&wr.First, &wr.Last, e.Time)
	}
	whos := make([]*who, len(order))
	for i, a := range order {
		whos[i] = byActor[a]
	}
	tcs, err := c.src.TicketChanges(ctx, []string{id})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	slices.Reverse(tcs)
	if len(tcs) > 100 {
		tcs = tcs[:100]
	}
	c.page(w, r, "customer", "Customer "+id, map[string]any{
		"V": v, "ID": id, "Subject": s, "Events": evs, "Who": whos, "Tickets": tcs, "Capped": len(evs) == 500,
	})
}
