package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/custos-io/custos/internal/event"
)

// Ticket channels.
const (
	chEmail uint8 = iota
	chChat
	chPhone
)

var channelNames = []string{"email", "chat", "phone"}

// Extra activities scheduled into a shift between tickets.
const (
	exCallback   uint8 = iota // call a past ticket's customer back
	exHabit                   // look someone up for no recorded reason
	exFollowUp                // a pending ticket's customer answered
	exPull                    // insider: pull a target without a ticket
	exHarvest                 // insider: identity document without a ticket
	exPhoto                   // insider: hold a record on screen, no ticket
	exCite                    // insider: cite another agent's ticket
	exHoneytoken              // insider: the search that leads to a decoy
)

type extra struct {
	at   int64
	kind uint8
	arg  int32
}

// Ticket work modes an insider hides inside ordinary tickets.
const (
	modeNormal uint8 = iota
	modeHarvest
	modePhoto
	modeScamReset
)

// work is the ticket being worked.
type work struct {
	id      string
	subject int32
	ch      uint8
	fileAt  int64 // phone: when the ticket gets filed
	filed   bool
	pool    int // position in today's pool
}

// day is one agent's day being generated. One is reused for every agent-day.
type day struct {
	g     *gen
	a     *agent
	d     int
	r     *rand.Rand
	t     int64 // the agent's clock: time of the next event
	end   int64 // planned end of the shift
	actor event.Actor
	e     event.Event
	idPre string
	nEv   int
	nTk   int
	nSess int

	extras     []extra
	follow     []work // pending tickets awaiting the customer
	cycle      float64
	linkedLeft int
	// in-ticket insider work left today
	harvestLeft, photoLeft, resetLeft int
	bad                               bool // the events being written are malicious
}

func (g *gen) agentDay(a *agent, d int) {
	x := &g.x
	*x = day{g: g, a: a, d: d, r: rng(g.cfg.Seed, agentDayStream(a.idx, d)),
		extras: x.extras[:0], follow: x.follow[:0]}
	x.idPre = "e-" + strconv.Itoa((d+1)*100_000+a.idx) + "-"
	p := a.plan
	onDuty := g.scheduled(a, d)
	if onDuty && !(p != nil && p.duringShift() && p.activeOn(g, a, d)) && x.r.Float64() < g.cfg.Traps.SickDays {
		onDuty = false
	}
	if onDuty {
		x.workShift()
	}
	if p != nil {
		x.afterShift(p)
	}
}

// workShift generates one shift. It starts no earlier than 10 minutes
// before the nominal start, which is at least 18 hours after the previous
// UTC midnight whatever the site's zone, and emails waiting for it were
// written at most 10 hours before: so nothing of day d is earlier than
// the start of UTC day d-1 (the writer's flush rule).
func (x *day) workShift() {
	g, a, r := x.g, x.a, x.r
	start := g.nominalStart(a, x.d) + r.Int64N(1200) - 600
	length := int64(8*3600 + 1800)
	panicDay := g.cfg.Traps.PanicDay == x.d+1
	ot := g.cfg.Traps.Overtime
	if panicDay {
		ot = max(ot, 0.5)
	}
	if r.Float64() < ot {
		length += 3600 + r.Int64N(2*3600)
	}
	x.t, x.end = start, start+length

	// Where the agent connects from today.
	x.actor = event.Actor{ID: a.p.ID, IP: a.ip, Device: a.device, Country: a.site.country}
	if a.site.hotDesk && r.Float64() < g.cfg.Traps.HotDesk {
		x.actor.Device = fmt.Sprintf("ws-%s-%03d", a.site.name, r.IntN(400))
	}
	if r.Float64() < 0.2 {
		x.actor.IP = a.site.ips[r.IntN(len(a.site.ips))]
	}
	if r.Float64() < g.cfg.Traps.Travel {
		vpn := vpnExits[r.IntN(len(vpnExits))]
		if vpn.country == a.site.country {
			vpn = vpnExits[(slices.Index(vpnExits, vpn)+1)%len(vpnExits)]
		}
		x.actor.IP, x.actor.Country = fmt.Sprintf(vpn.ip, r.IntN(250)+2), vpn.country
		g.travel = append(g.travel, Benign{Actor: a.p.ID, Trap: TrapTravel, Start: unixPtr(x.t)})
	}

	rate := 1.0
	switch a.p.Role {
	case roleLead:
		rate = 0.6
	case roleQA:
		rate = 25 / g.cfg.TicketsPerDay
	case roleFraud:
		rate = 35 / g.cfg.TicketsPerDay
	}
	rate *= a.speed
	if panicDay {
		rate *= 2
	}
	if a.firstDay >= 0 && x.d-a.firstDay < 5 {
		rate *= 0.5 // a new hire is still learning
	}
	work := float64(length - 45*60)
	// Mean seconds between the starts of two tickets, less what a ticket
	// itself takes (about two and a half minutes).
	x.cycle = work / (g.cfg.TicketsPerDay * rate)

	x.scheduleUnexplained()
	if p := a.plan; p != nil && p.duringShift() && p.activeOn(g, a, x.d) {
		x.scheduleInsider(p)
	}
	slices.SortStableFunc(x.extras, func(p, q extra) int { return cmp64(p.at, q.at) })

	x.login()
	lunch := start + length/2 + r.Int64N(1800) - 900
	lunched := false
	for x.t < x.end {
		x.runDue(x.t)
		if !lunched && x.t >= lunch {
			x.logout()
			x.t += 1800 + r.Int64N(900)
			x.login()
			lunched = true
			continue
		}
		x.activity()
		x.t += int64(math.Max(20, r.ExpFloat64()*(x.cycle-150)))
	}
	x.runDue(x.end + 2*3600)
	x.t += 5 + r.Int64N(60)
	// Pending tickets nobody came back to in the shift are solved when
	// the customer confirms, without more work.
	for _, w := range x.follow {
		if w.id == "" {
			continue
		}
		x.closeTicket(&w, x.t+r.Int64N(4*3600), false)
	}
	x.follow = x.follow[:0]
	x.logout()
}

var vpnExits = []struct{ ip, country string }{
	{"185.220.101.%d", "NL"}, {"104.28.12.%d", "US"}, {"89.187.170.%d", "DE"}, {"203.0.113.%d", "SG"}, {"192.0.2.%d", "GB"},
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// runDue runs the extras due by now.
func (x *day) runDue(now int64) {
	for len(x.extras) > 0 && x.extras[0].at <= now {
		ex := x.extras[0]
		x.extras = x.extras[1:]
		x.t = max(x.t, ex.at)
		x.runExtra(ex)
	}
}

// activity is one unit of the role's work.
func (x *day) activity() {
	switch x.a.p.Role {
	case roleQA:
		if x.g.cfg.Traps.QASampling {
			x.review()
		}
	case roleFraud:
		if x.g.cfg.Traps.FraudInvestigations {
			x.investigate()
		} else {
			x.ticket(modeNormal)
		}
	case roleLead:
		if x.g.cfg.Traps.LeadEscalations && x.r.Float64() < 0.5 && x.escalation() {
			return
		}
		x.ticket(modeNormal)
	default:
		mode := modeNormal
		// Spread the day's in-ticket insider work over the shift.
		left := float64(x.end-x.t) / x.cycle
		switch {
		case x.resetLeft > 0 && x.r.Float64()*left < float64(x.resetLeft):
			mode = modeScamReset
			x.resetLeft--
		case x.harvestLeft > 0 && x.r.Float64()*left < float64(x.harvestLeft):
			mode = modeHarvest
			x.harvestLeft--
		case x.photoLeft > 0 && x.r.Float64()*left < float64(x.photoLeft):
			mode = modePhoto
			x.photoLeft--
		}
		x.ticket(mode)
	}
}

// scheduleUnexplained plans the day's lookups no ticket explains: calling a
// past customer back, a linked or family account opened under the current
// ticket, and habit.
func (x *day) scheduleUnexplained() {
	n := poisson(x.r, x.a.unexplained)
	for range n {
		switch k := x.r.Float64(); {
		case k < 0.3:
			x.linkedLeft++
		case k < 0.7:
			x.extras = append(x.extras, extra{at: x.t + x.r.Int64N(max(1, x.end-x.t)), kind: exCallback})
		default:
			x.extras = append(x.extras, extra{at: x.t + x.r.Int64N(max(1, x.end-x.t)), kind: exHabit})
		}
	}
}

func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (x *day) runExtra(ex extra) {
	switch ex.kind {
	case exCallback:
		x.callback()
	case exHabit:
		x.habit()
	case exFollowUp:
		x.followUp(ex.arg)
	default:
		x.runInsiderExtra(ex)
	}
}

// --- emission

func (x *day) put() {
	e := &x.e
	x.nEv++
	e.ID = x.idPre + strconv.Itoa(x.nEv)
	e.Time = unixTime(x.t)
	e.Actor = x.actor
	e.App = "support-console"
	x.g.ev.event(e)
	if x.bad {
		x.a.plan.mark(x.t, e.Subject)
	}
	*e = event.Event{}
}

func (x *day) login() {
	x.nSess++
	x.actor.Session = "s-" + strconv.Itoa((x.d+1)*100_000+x.a.idx) + "-" + strconv.Itoa(x.nSess)
	x.e.Action = event.Login
	x.put()
	x.t += 10 + x.r.Int64N(120)
}

func (x *day) logout() {
	x.e.Action = event.Logout
	x.put()
}

func (x *day) search(query string, count int, ticket string) {
	x.e.Action, x.e.Query, x.e.Count, x.e.Ticket = event.Search, query, count, ticket
	x.put()
	x.t += 4 + x.r.Int64N(20)
}

// view shows part of customer c's record for about dwell seconds.
func (x *day) view(c int32, p part, ticket string, dwell int64) {
	x.e.Action, x.e.Subject, x.e.Resource, x.e.Fields, x.e.Ticket = event.View, x.g.cust.ids[c], p.resource, p.fields, ticket
	x.e.DurationMS = dwell*1000 + x.r.Int64N(1000)
	x.put()
	x.t += dwell + 1 + x.r.Int64N(8)
}

func (x *day) reveal(c int32, resource string, fields []string, ticket, reason string) {
	x.e.Action, x.e.Subject, x.e.Resource, x.e.Fields, x.e.Ticket, x.e.Reason = event.Reveal, x.g.cust.ids[c], resource, fields, ticket, reason
	x.e.DurationMS = 5000 + x.r.Int64N(15000)
	x.put()
	x.t += 6 + x.r.Int64N(20)
}

func (x *day) update(c int32, resource string, fields []string, ticket string) {
	x.e.Action, x.e.Subject, x.e.Resource, x.e.Fields, x.e.Ticket = event.Update, x.g.cust.ids[c], resource, fields, ticket
	x.put()
	x.t += 20 + x.r.Int64N(100)
}

func (x *day) reset(action event.Action, c int32, ticket, verification string) {
	x.e.Action, x.e.Subject, x.e.Resource, x.e.Ticket, x.e.Verification = action, x.g.cust.ids[c], "credentials", ticket, verification
	x.put()
	x.t += 15 + x.r.Int64N(60)
}

func (x *day) change(at int64, w *work, assignee string, st event.TicketStatus) {
	tc := event.TicketChange{Time: unixTime(at), ID: w.id, Subject: x.g.cust.ids[w.subject], Assignee: assignee, Status: st}
	x.g.tk.ticket(&tc, channelNames[w.ch])
}

// dwell draws how long a record stays on screen: about 25 seconds, with a
// long tail.
func (x *day) dwell() int64 { return int64(8 + 17*math.Exp(0.6*x.r.NormFloat64())) }

func (x *day) query(c int32) string {
	id := x.g.cust.ids[c]
	switch x.r.IntN(3) {
	case 0:
		return "id:" + id
	case 1:
		return "email:" + id[2:] + "@mail.example"
	}
	return "phone:" + id[2:]
}

// --- tickets

// cite is the ticket id an event carries: none before a phone ticket is
// filed (filing it once its time has come), and now and then a typo.
func (x *day) cite(w *work) string {
	if !w.filed {
		if w.ch != chPhone || x.t < w.fileAt {
			return ""
		}
		x.file(w)
	}
	if x.r.Float64() < x.g.cfg.Traps.Typos {
		return typo(w.id, x.r)
	}
	return w.id
}

func (x *day) file(w *work) {
	x.change(w.fileAt, w, x.a.p.ID, event.TicketOpen)
	w.filed = true
	x.g.pools[x.d][w.pool].open = w.fileAt
}

// typo swaps two neighbouring digits of a ticket id's tail.
func typo(id string, r *rand.Rand) string {
	b := []byte(id)
	i := len(b) - 2 - r.IntN(3)
	b[i], b[i+1] = b[i+1], b[i]
	return string(b)
}

func (x *day) newTicket(c int32, ch uint8) work {
	x.nTk++
	if x.nTk > maxTicketsPerAgentDay {
		x.nTk = maxTicketsPerAgentDay // ids stay unique: the shift is over long before
	}
	id := "T-" + strconv.Itoa((x.d+1)*100_000+x.a.idx) + pad(x.nTk, 3)
	x.g.tickets++
	x.g.pools[x.d] = append(x.g.pools[x.d], pooled{id: id, subject: c, assignee: int32(x.a.idx), unit: int32(x.a.unit), open: x.t, solved: x.t})
	// A phone ticket's filing time is known once the agent first looks.
	return work{id: id, subject: c, ch: ch, pool: len(x.g.pools[x.d]) - 1, fileAt: 1 << 62}
}

func (x *day) pickCustomer() int32 {
	c, r := x.g.cust, x.r
	if x.a.spec != nil && x.a.spec.vip {
		if r.Float64() < 0.9 && len(c.vip) > 0 {
			return c.vip[r.IntN(len(c.vip))]
		}
		top := c.richerThan(1e6)
		return top[r.IntN(len(top))]
	}
	if r.Float64() < 0.03 && len(c.vip) > 0 {
		return c.vip[r.IntN(len(c.vip))]
	}
	return c.regular[r.IntN(len(c.regular))]
}

// ticket works one ticket from the queue or the phone, start to finish.
func (x *day) ticket(mode uint8) {
	r, a := x.r, x.a
	spec := a.spec
	if spec == nil {
		spec = teamSpecs[teamGeneral]
	}
	c := x.pickCustomer()
	ch := chEmail
	switch k := r.Float64(); {
	case mode == modeScamReset:
		// The scammer calls in: the agent files the call as a ticket.
		ch = chPhone
		rich := x.g.cust.richerThan(a.plan.sc.MinBalance)
		c = rich[r.IntN(len(rich))]
	case k < 0.35:
		ch = chPhone
	case k < 0.55:
		ch = chChat
	}
	w := x.newTicket(c, ch)
	switch ch {
	case chEmail:
		// Waiting in the queue since the customer wrote, then assigned.
		created := x.t - 600 - r.Int64N(10*3600-600)
		x.change(created, &w, "", event.TicketNew)
		x.change(x.t, &w, a.p.ID, event.TicketOpen)
		w.filed = true
		x.t += 5 + r.Int64N(40)
	case chChat:
		x.change(x.t, &w, "", event.TicketNew)
		x.t += 2 + r.Int64N(20)
		x.change(x.t, &w, a.p.ID, event.TicketOpen)
		w.filed = true
		x.g.pools[x.d][w.pool].open = x.t
		x.t += 3 + r.Int64N(15)
	}

	// A queued ticket links the customer; a call or chat starts with a search.
	if ch != chEmail || r.Float64() < 0.5 {
		x.search(x.query(c), 1+r.IntN(2), x.cite(&w))
	}
	if ch == chPhone {
		// The agent looks first and files the call within the grace the
		// engine allows (15 minutes): 1 to 12 minutes after the first look.
		w.fileAt = x.t + 60 + r.Int64N(660)
	}
	switch mode {
	case modePhoto:
		// Held on screen for minutes; nothing typed, nothing changed.
		x.bad = true
		x.view(c, partProfile, x.cite(&w), 120+r.Int64N(360))
		if r.Float64() < 0.5 {
			x.view(c, partContact, x.cite(&w), 60+r.Int64N(240))
		}
		x.bad = false
		x.finish(&w, false)
		return
	case modeScamReset:
		x.bad = true
		x.view(c, partProfile, x.cite(&w), x.dwell())
		x.update(c, "contact", fieldsContUp, x.cite(&w))
		x.reset(event.CredentialReset, c, x.cite(&w), "none")
		if r.Float64() < 0.7 {
			x.reset(event.MFAReset, c, x.cite(&w), "none")
		}
		x.bad = false
		x.finish(&w, true)
		return
	}
	x.view(c, partProfile, x.cite(&w), x.dwell())
	for range 1 + r.IntN(4)/3 {
		x.view(c, spec.parts[weighted(r, spec.weights)], x.cite(&w), x.dwell())
	}
	if mode == modeHarvest {
		x.bad = true
		x.view(c, partKYC, x.cite(&w), x.dwell())
		x.reveal(c, "kyc_document", fieldsDOB, x.cite(&w), "")
		x.bad = false
	} else if r.Float64() < spec.kyc {
		x.view(c, partKYC, x.cite(&w), x.dwell())
		if r.Float64() < 0.3 {
			x.reveal(c, "kyc_document", fieldsDOB, x.cite(&w), "identity check")
		}
	}
	if r.Float64() < 0.12 {
		fields := fieldsPhone
		switch r.IntN(3) {
		case 0:
			fields = fieldsEmail
		case 1:
			fields = fieldsIBAN
		}
		x.reveal(c, "contact", fields, x.cite(&w), "customer verification")
	}
	if r.Float64() < spec.resets {
		verification := verifications[r.IntN(len(verifications))]
		if r.Float64() < 0.3 {
			// Moving the recovery channel calls for strong verification;
			// now and then an agent cuts the corner.
			x.update(c, "contact", fieldsContUp, x.cite(&w))
			verification = strongVerifications[r.IntN(len(strongVerifications))]
			if r.Float64() < 0.1 {
				verification = "kba"
			}
		}
		action := event.CredentialReset
		if r.Float64() < 0.4 {
			action = event.MFAReset
		}
		x.reset(action, c, x.cite(&w), verification)
	}
	if x.linkedLeft > 0 && r.Float64() < 0.3 {
		// A linked or family account, looked at under the same ticket.
		x.linkedLeft--
		x.view(x.g.cust.regular[r.IntN(len(x.g.cust.regular))], partProfile, x.cite(&w), x.dwell())
	}
	x.finish(&w, r.Float64() < 0.7)
}

var (
	verifications       = []string{"kba", "id_document", "callback", "push"}
	strongVerifications = []string{"id_document", "callback"}
)

func weighted(r *rand.Rand, w []float64) int {
	var sum float64
	for _, v := range w {
		sum += v
	}
	x := r.Float64() * sum
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// finish notes the ticket and solves it, or leaves it pending on the
// customer.
func (x *day) finish(w *work, notes bool) {
	r := x.r
	if notes {
		x.update(w.subject, "notes", fieldsNotes, x.cite(w))
	}
	if !w.filed {
		// The call ended before the ticket was filed: file it now.
		x.t = max(x.t, w.fileAt)
		x.file(w)
	}
	x.t += 10 + r.Int64N(110)
	// A ticket waits on the customer only after the agent wrote to them.
	if notes && r.Float64() < 0.2 {
		x.change(x.t, w, x.a.p.ID, event.TicketPending)
		x.follow = append(x.follow, *w)
		x.extras = append(x.extras, extra{at: x.t + 3600 + r.Int64N(3*3600), kind: exFollowUp, arg: int32(len(x.follow) - 1)})
		slices.SortStableFunc(x.extras, func(p, q extra) int { return cmp64(p.at, q.at) })
		x.g.pools[x.d][w.pool].solved = x.t + 4*3600
		return
	}
	x.closeTicket(w, x.t, notes && r.Float64() < 0.1)
}

// closeTicket solves a ticket at time at; wrapUp adds a late note within
// the engine's after-close window.
func (x *day) closeTicket(w *work, at int64, wrapUp bool) {
	r := x.r
	x.change(at, w, x.a.p.ID, event.TicketSolved)
	x.g.pools[x.d][w.pool].solved = at
	if wrapUp {
		x.t = at + 30 + r.Int64N(270)
		x.update(w.subject, "notes", fieldsNotes, w.id)
	}
	if closed := at + daySec + r.Int64N(2*daySec); closed < x.g.end {
		x.change(closed, w, x.a.p.ID, event.TicketClosed)
	}
	a := x.a
	a.recent = append(a.recent, pastTicket{subject: w.subject, id: w.id, solved: at})
	if len(a.recent) > 30 {
		a.recent = a.recent[len(a.recent)-30:]
	}
}

func (x *day) followUp(i int32) {
	w := &x.follow[i]
	if w.id == "" {
		return
	}
	r := x.r
	x.change(x.t, w, x.a.p.ID, event.TicketOpen)
	x.t += 5 + r.Int64N(30)
	x.view(w.subject, partProfile, x.cite(w), x.dwell())
	x.update(w.subject, "notes", fieldsNotes, x.cite(w))
	x.t += 10 + r.Int64N(60)
	x.closeTicket(w, x.t, false)
	w.id = "" // done; the end of the shift skips it
	x.follow[i] = *w
}

// --- the lookups no ticket explains

func (x *day) callback() {
	a, r := x.a, x.r
	var past *pastTicket
	for i := len(a.recent) - 1; i >= 0; i-- {
		if a.recent[i].solved < x.t-2*3600 {
			past = &a.recent[r.IntN(i+1)]
			break
		}
	}
	if past == nil {
		x.habit()
		return
	}
	cite := ""
	if r.Float64() < 0.5 {
		cite = past.id
	}
	x.view(past.subject, partProfile, cite, x.dwell())
	if r.Float64() < 0.4 {
		x.update(past.subject, "notes", fieldsNotes, cite)
	}
}

func (x *day) habit() {
	c := x.g.cust
	s := c.regular[x.r.IntN(len(c.regular))]
	if x.r.Float64() < 0.2 && len(c.vip) > 0 {
		s = c.vip[x.r.IntN(len(c.vip))]
	}
	x.view(s, partProfile, "", 4+x.r.Int64N(20))
}

// --- roles that look at other people's work

// review is a QA reviewer sampling another agent's solved ticket, citing it.
func (x *day) review() {
	g, r := x.g, x.r
	for range 8 {
		d := x.d - r.IntN(min(x.d+1, 4))
		pool := g.pools[d]
		if len(pool) == 0 {
			continue
		}
		p := pool[r.IntN(len(pool))]
		if p.solved > x.t-1800 || p.open >= p.solved || int(p.assignee) == x.a.idx {
			continue
		}
		other := g.org.agents[p.assignee]
		spec := other.spec
		if spec == nil {
			spec = teamSpecs[teamGeneral]
		}
		x.view(p.subject, partNotes, p.id, 30+r.Int64N(90))
		x.view(p.subject, spec.parts[weighted(r, spec.weights)], p.id, 20+r.Int64N(60))
		if r.Float64() < 0.2 {
			x.view(p.subject, partProfile, p.id, x.dwell())
		}
		return
	}
}

// investigate is a fraud investigator following an alert: many customers,
// no tickets, by design.
func (x *day) investigate() {
	c, r := x.g.cust, x.r
	s := c.regular[r.IntN(len(c.regular))]
	if r.Float64() < 0.4 {
		rich := c.richerThan(50_000)
		s = rich[r.IntN(len(rich))]
	}
	x.search("flag:"+[]string{"velocity", "chargeback", "mule", "ato"}[r.IntN(4)], 1+r.IntN(5), "")
	x.view(s, partTx, "", 60+r.Int64N(180))
	x.view(s, partProfile, "", x.dwell())
	if r.Float64() < 0.5 {
		x.view(s, partPayment, "", x.dwell())
	}
	if r.Float64() < 0.25 {
		x.update(s, "notes", fieldsNotes, "")
	}
}

// escalation is a team lead stepping into a ticket a member is working.
// It reports false if no member's ticket is open now.
func (x *day) escalation() bool {
	g, r := x.g, x.r
	idx := g.byUnit[x.a.unit]
	if len(idx) == 0 {
		return false
	}
	for range 12 {
		p := g.pools[x.d][idx[r.IntN(len(idx))]]
		if int(p.assignee) == x.a.idx || p.open > x.t || p.solved < x.t+300 {
			continue
		}
		x.view(p.subject, partProfile, p.id, x.dwell())
		spec := x.a.spec
		x.view(p.subject, spec.parts[weighted(r, spec.weights)], p.id, x.dwell())
		if r.Float64() < 0.3 {
			x.update(p.subject, "notes", fieldsNotes, p.id)
		}
		return true
	}
	return false
}
