package baseline

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/wording"
)

// group is a peer group's members active today, with the norm of each
// feature cached for the current checkpoint.
type group struct {
	key       string
	label, by string
	members   []*actor
	// usual is d.usual[key] as the group formed: it changes only when a
	// day closes, and the groups with it, so judging needs no lookup by
	// the long key.
	usual   []norm
	norms   []norm
	stamps  []int64
	factors []float64
	fstamps []int64
	fn      []int
}

// advance closes every hour before h. Hours close in order, so alerts come
// out in event-time order and the same input always closes the same way.
func (d *Detector) advance(h int64, emit engine.Emit) {
	if d.hour < 0 {
		d.hour = h
		return
	}
	for d.hour < h {
		last := d.hour%24 == 23
		d.checkpoint(emit, last)
		d.hour++
		if last {
			d.closeDay()
		}
		if len(d.active) == 0 {
			d.hour = h // nothing open: skip the quiet hours
		}
	}
}

// Flush judges the open day as if it had closed: the end of input.
func (d *Detector) Flush(emit engine.Emit) {
	if d.hour < 0 || len(d.active) == 0 {
		return
	}
	d.dirty = true
	d.checkpoint(emit, true)
	d.closeDay()
	d.free, d.pool = nil, tablePool{} // pooled for a next day, which the end of input does not have
}

// checkpoint closes the open hour: hour features are judged and learned,
// and each day count so far is judged against full days (counts only grow,
// so a day that is already unusual will end unusual). When final, the day
// closes too: every day feature is judged and learned.
func (d *Detector) checkpoint(emit engine.Emit, final bool) {
	if !d.dirty && !final {
		return
	}
	d.dirty = false
	d.stamp++
	H := d.hour
	all := uint64(1)<<len(d.feats) - 1
	for _, a := range d.active {
		w := a.w
		// A feature no event moved since the last checkpoint cannot have
		// become more unusual: its count stands still while its peers' and
		// the population's only grow (and an hour feature's is none).
		judge := w.touched
		if final {
			judge = all
		}
		w.touched = 0
		w.capv = w.capv[:0] // thresholds crossed at this checkpoint
		if judge == 0 {
			continue
		}
		for ; judge != 0; judge &= judge - 1 {
			i := bits.TrailingZeros64(judge)
			x, ok := d.value(a, i, final)
			// Nothing is unusual about none; and a count that has not moved
			// since it was last judged is judged already.
			if !ok || x <= 0 || (!final && d.feats[i].Period == Day && x == w.judged[i]) {
				continue
			}
			w.judged[i] = x
			d.judge(a, i, x, final, emit)
		}
	}
	for _, a := range d.active {
		w := a.w
		first := d.nDay // before the day's end only the hour features learn
		if final {
			d.rings = a.hist.decode(d.rings[:0], d.nDay)
			first = 0
		} else if w.lastHour != d.hour {
			continue // not active this hour: its hour features hold nothing
		}
		for i := first; i < len(d.feats); i++ {
			f := &d.feats[i]
			if f.Period == Hour {
				if x, ok := d.value(a, i, final); ok {
					a.hourHist.push(i-d.nDay, int(H%24), learned(x, w.capv.get(i, math.NaN())))
				}
				w.num[i] = 0
				if f.den >= 0 {
					w.den[f.den] = 0
				}
				w.fired.del(i)
				w.ev[i].n = 0
				continue
			}
			if final {
				if x, ok := d.value(a, i, final); ok {
					d.rings[i].push(learned(x, w.capv.get(i, math.NaN())), w.weekend)
				}
			}
		}
		w.evHour.reset()
		if final {
			d.keep(a)
		}
	}
}

// keep encodes the day's rings, d.rings, as a's history, and counts the day.
func (d *Detector) keep(a *actor) {
	d.enc = encodeDays(d.enc[:0], d.rings)
	if n := len(d.enc); cap(a.hist) < n || cap(a.hist) > n+64 {
		a.hist = slices.Clone(d.enc) // sized to need: the history only grows for its first days
	} else {
		a.hist = append(a.hist[:0], d.enc...)
	}
	if a.days < math.MaxUint16 {
		a.days++
	}
}

// learned is what the history keeps of a value: an anomaly only up to the
// threshold it crossed, so an insider who keeps going does not teach the
// baseline that this is normal.
func learned(x, capv float64) float64 {
	if !math.IsNaN(capv) && x > capv {
		return capv
	}
	return x
}

func (d *Detector) closeDay() {
	// Remember each group's usual day (the order of this loop writes
	// nothing out).
	for _, lvl := range d.groups {
		for _, g := range lvl {
			u := g.usual
			for i := range d.nDay {
				if nm := d.groupNorm(g, i, true); nm.n >= d.cfg.MinPeers {
					if u == nil {
						u = make([]norm, d.nDay)
						d.usual[g.key], g.usual = u, u
					}
					u[i] = nm
				}
			}
		}
	}
	for _, a := range d.active {
		d.release(a)
	}
	clear(d.active)
	d.active = d.active[:0]
	for _, g := range d.groups {
		clear(g)
	}
	clear(d.all.members)
	d.all.members = d.all.members[:0]
}

// value is an actor's value of feature i in the closing period; ok is false
// when it has none to judge (not active this hour, too few customers for a
// share, a share before the day's end).
func (d *Detector) value(a *actor, i int, final bool) (float64, bool) {
	f, w := &d.feats[i], a.w
	if f.Period == Hour && w.lastHour != d.hour {
		return 0, false
	}
	if f.Period == Day && !f.Count && !final {
		return 0, false
	}
	if f.Ratio {
		if w.den[f.den] < f.MinDen {
			return 0, false
		}
		return w.num[i] / w.den[f.den], true
	}
	return w.num[i], true
}

// groupNorm is the norm of feature i among g's members in the closing period.
func (d *Detector) groupNorm(g *group, i int, final bool) norm {
	if g.stamps[i] == d.stamp {
		return g.norms[i]
	}
	xs := d.scratch[:0]
	for _, m := range g.members {
		if v, ok := d.value(m, i, final); ok {
			xs = append(xs, v)
		}
	}
	var nm norm
	nm.n = len(xs)
	if nm.n > 0 {
		nm.med, nm.mad, d.scratch2 = medianMAD(xs, d.scratch2)
	}
	d.scratch = xs
	g.norms[i], g.stamps[i] = nm, d.stamp
	return nm
}

// populationFactor is the group factor of the actor's most specific peer
// group where enough members have a history, or else of everyone active: a
// market-panic day moves every team, so a small team borrows the shift it
// cannot measure itself.
func (d *Detector) populationFactor(w *window, i int, final bool) float64 {
	for _, g := range w.groups {
		if f, n := d.groupFactor(g, i, final); n >= d.cfg.MinPeers {
			return f
		}
	}
	f, _ := d.groupFactor(d.all, i, final)
	return f
}

// groupFactor is how far g's members stand above their own usual in the
// closing period, as the median of each member's value over its own norm;
// at least 1, and 1 when too few members have a history. On a day when
// everyone is twice as busy it is 2, and the own norm of every member is
// scaled by it: a population-wide shift raises no one, even the member who
// is always the busiest.
func (d *Detector) groupFactor(g *group, i int, final bool) (float64, int) {
	if g.fstamps[i] == d.stamp {
		return g.factors[i], g.fn[i]
	}
	xs := d.scratch[:0]
	for _, m := range g.members {
		own, _ := m.w.own(i)
		if own.n == 0 || own.med <= 0 {
			continue
		}
		if v, ok := d.value(m, i, final); ok {
			xs = append(xs, v/own.med)
		}
	}
	f := 1.0
	if len(xs) >= d.cfg.MinPeers {
		f = max(1, median(xs))
	}
	d.scratch = xs
	g.factors[i], g.fstamps[i], g.fn[i] = f, d.stamp, len(xs)
	return f, len(xs)
}

// judgement is one comparison of a value with a norm.
type judgement struct {
	norm
	ok    bool
	score float64
	cap   float64 // the value at which the score reaches significance
}

func (d *Detector) judge(a *actor, i int, x float64, final bool, emit engine.Emit) {
	f, w := &d.feats[i], a.w
	hod := int(d.hour % 24)

	// Cheap exit first: below its own threshold an actor is not an anomaly
	// whatever its peers do (the population factor only raises it).
	if f.Period == Day {
		if own, _ := w.own(i); own.n > 0 && (x < own.threshold(f.sig, f.MinScale, f.Count) || x-own.med < f.MinExcess) {
			return
		}
	}
	var peer judgement
	var g *group
	for _, pg := range w.groups {
		if nm := d.groupNorm(pg, i, final); nm.n >= d.cfg.MinPeers {
			peer.norm, peer.ok, g = nm, true, pg
			break
		}
	}

	var own judgement
	var seasonal string
	hourly := false
	factor := 1.0
	if f.Period == Hour {
		if r := a.hourHist.ring(i-d.nDay, hod); r != nil && r.n >= 3 {
			xs := r.values(d.scratch[:0])
			own.med, own.mad, d.scratch2 = medianMAD(xs, d.scratch2)
			own.n, own.ok = len(xs), true
			d.scratch = xs
			hourly = true // named only if it alerts: most judgements do not
		}
	} else if nm, days := w.own(i); nm.n > 0 {
		own.norm, own.ok = nm, true
		seasonal = [...]string{"all days", "weekdays", "weekends"}[days]
		factor = d.populationFactor(w, i, final)
		own.med *= factor
		own.mad *= factor
	}
	// No history of its own: the group's usual day stands in for it, and
	// without that the peers alone must see a stronger anomaly.
	sig := f.sig
	var usual judgement
	if !own.ok && f.Period == Day {
		for _, pg := range w.groups {
			if u := pg.usual; u != nil && u[i].n >= d.cfg.MinPeers {
				usual.norm, usual.ok = u[i], true
				usual.med *= factor
				usual.mad *= factor
				if g == nil {
					g = pg
				}
				break
			}
		}
		if !usual.ok {
			sig *= d.cfg.ColdStartFactor
		}
	}
	if !own.ok && !peer.ok && !usual.ok {
		return
	}
	z, excess, capv := math.Inf(1), math.Inf(1), math.Inf(-1)
	for _, j := range []*judgement{&own, &peer, &usual} {
		if !j.ok {
			continue
		}
		j.score = j.norm.score(x, f.MinScale, f.Count)
		j.cap = j.norm.threshold(sig, f.MinScale, f.Count)
		z, excess, capv = min(z, j.score), min(excess, x-j.med), max(capv, j.cap)
	}
	if z < sig || excess < f.MinExcess {
		return
	}
	w.capv.set(i, capv)
	// One alert per feature and period, and another only if it doubles.
	if fired := w.fired.get(i, 0); fired > 0 && z < 2*fired {
		return
	}
	w.fired.set(i, z)
	d.stats.Alert++
	if hourly {
		seasonal = fmt.Sprintf("hour %02d", hod)
	}
	emit(d.alert(a, i, x, z, final, own, seasonal, factor, peer, usual, g))
}

func (d *Detector) alert(a *actor, i int, x, z float64, final bool, own judgement, seasonal string, factor float64, peer, usual judgement, g *group) engine.Alert {
	f, w := &d.feats[i], a.w
	H := d.hour
	var from, to time.Time
	var when string
	day := time.Unix(H/24*86400, 0).UTC()
	partial := false
	switch {
	case f.Period == Hour:
		from = time.Unix(H*3600, 0).UTC()
		to = from.Add(time.Hour)
		when = fmt.Sprintf("between %s and %s UTC on %s", from.Format("15:04"), to.Format("15:04"), from.Format(time.DateOnly))
	case final:
		from, to = day, day.Add(24*time.Hour)
		when = "on " + day.Format(time.DateOnly)
	default:
		from, to = day, time.Unix((H+1)*3600, 0).UTC()
		partial = true
		when = fmt.Sprintf("on %s by %s UTC", day.Format(time.DateOnly), to.Format("15:04"))
	}

	var cmp []string
	var ratioTo float64
	det := map[string]any{
		"feature": f.Name, "period": f.Period.String(), "from": from, "to": to, "partial": partial,
		"value": round(x), "score": round(z), "significance": f.sig,
	}
	if peer.ok {
		det["peers"] = map[string]any{"group": g.label, "by": g.by, "size": peer.n,
			"median": round(peer.med), "mad": round(peer.mad), "score": round(peer.score)}
		cmp = append(cmp, compare(f, x, peer.med, "the norm for "+g.label))
		ratioTo = peer.med
	}
	if own.ok {
		det["own"] = map[string]any{"values": own.n, "median": round(own.med), "mad": round(own.mad),
			"score": round(own.score), "seasonal": seasonal, "population_factor": round(factor)}
		cmp = append(cmp, compare(f, x, own.med, "its own usual"))
		if !peer.ok {
			ratioTo = own.med
		}
	}
	if usual.ok {
		det["peers_usual"] = map[string]any{"group": g.label, "median": round(usual.med), "mad": round(usual.mad),
			"score": round(usual.score), "population_factor": round(factor)}
		cmp = append(cmp, compare(f, x, usual.med, "a usual day of "+g.label))
		if !peer.ok {
			ratioTo = usual.med
		}
	}
	det["norm"] = round(ratioTo)
	if ratioTo > 0 {
		det["ratio"] = round(x / ratioTo)
	}
	var b strings.Builder
	b.WriteString(f.Says(x, &d.cfg))
	b.WriteString(" ")
	b.WriteString(when)
	b.WriteString(", ")
	b.WriteString(strings.Join(cmp, " and "))
	if f.part >= 0 && x > 0 && w.num[f.part] > 0 {
		part := w.num[f.part]
		det[d.feats[f.part].Name] = round(part)
		fmt.Fprintf(&b, "; %.0f %% of them "+f.Of, 100*part/x, wording.Money(d.cfg.HighValueUSD))
	}

	var ids, subjects []string
	list := &w.evDay
	if f.Period == Hour {
		list = &w.evHour
	}
	e := &w.ev[i]
	for _, at := range e.at[:e.n] {
		id, s := list.event(int(at))
		ids = append(ids, id)
		if s != "" && !contains(subjects, s) {
			subjects = append(subjects, s)
		}
	}
	sev := finding.Medium
	if z >= 2*f.sig {
		sev = finding.High
	}
	return engine.Alert{
		Rule:     RulePrefix + f.Name,
		Severity: sev,
		Risk:     math.Round(d.cfg.Risk*f.Weight*min(max(z/f.sig, 1), d.cfg.MaxRiskFactor)*10) / 10,
		Subjects: subjects,
		Evidence: ids,
		Summary:  b.String(),
		Details:  det,
		Actor:    a.id,
		Key:      fmt.Sprintf("%s/%d", f.Name, H),
	}
}

// compare says how x stands against a norm: "9.1× the norm for bpo-a
// payments agents (3.4)".
func compare(f *feature, x, norm float64, what string) string {
	if norm <= 0 {
		return fmt.Sprintf("where %s is %s", what, fmtv(f, 0))
	}
	r := x / norm
	times := fmt.Sprintf("%.1f×", r)
	if r >= 10 {
		times = fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%s %s (%s)", times, what, fmtv(f, norm))
}

func fmtv(f *feature, v float64) string {
	if f.Percent {
		return fmt.Sprintf("%.0f %%", 100*v)
	}
	if f.Ratio {
		return fmt.Sprintf("%.1f", v)
	}
	return num(math.Round(v*10) / 10)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
