// Package baseline learns what normal looks like for each actor and each
// peer group, and raises anomaly alerts (rule "anomaly:<feature>") when an
// actor departs from both. Features (the Features table) are counted per
// actor per period in event time; a period closes when the watermark passes
// its end. Each value is judged against the actor's own history (by day of
// week or hour of day where the data supports it) and against its peer
// group in the same period, with medians and median absolute deviations, so
// a day when everyone is busier raises no one, and a new hire is judged
// against peers until it has a history.
package baseline

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/hashtable"
)

// RulePrefix starts the rule id of every anomaly alert.
const RulePrefix = "anomaly:"

// Config tunes the baselines. See docs/detection.md.
type Config struct {
	// Enabled switches the baselines on.
	Enabled bool `yaml:"enabled"`
	// Significance is the robust score (spreads above the norm) at which a
	// value is an anomaly.
	Significance float64 `yaml:"significance"`
	// MinHistory is how many worked days of its own an actor needs before
	// its own history is used (and before a new IP or device counts as new).
	MinHistory int `yaml:"min_history"`
	// MinPeers is how many actors of a peer group must be active in the
	// period for the group to be a norm.
	MinPeers int `yaml:"min_peers"`
	// PeerGroups lists the roster attributes that make a peer group, most
	// specific first; the first with MinPeers active members is used.
	// Attributes: vendor, team, role, site, country, manager.
	PeerGroups [][]string `yaml:"peer_groups"`
	// ColdStartFactor raises the significance for an actor judged by its
	// peers alone (no history of its own, and no usual day of its group
	// known yet).
	ColdStartFactor float64 `yaml:"cold_start_factor"`
	// HighValueUSD and HighValueTiers say which customers are high-value.
	HighValueUSD   float64  `yaml:"high_value_usd"`
	HighValueTiers []string `yaml:"high_value_tiers"`
	// IdentityResources and IdentityFields say which accesses show identity
	// data (documents, dates of birth).
	IdentityResources []string `yaml:"identity_resources"`
	IdentityFields    []string `yaml:"identity_fields"`
	// LongDwell: a record on screen this long counts as a long dwell.
	LongDwell time.Duration `yaml:"long_dwell"`
	// Risk is the risk points of an anomaly at the significance, times the
	// feature's weight; a stronger anomaly earns up to MaxRiskFactor times it.
	Risk          float64 `yaml:"risk"`
	MaxRiskFactor float64 `yaml:"max_risk_factor"`
	// Features overrides settings of single features by name.
	Features map[string]FeatureConfig `yaml:"features"`
}

// FeatureConfig overrides one feature; zero values keep the default.
type FeatureConfig struct {
	Disabled     bool    `yaml:"disabled"`
	Significance float64 `yaml:"significance"`
	MinExcess    float64 `yaml:"min_excess"`
	Weight       float64 `yaml:"weight"`
}

// Defaults returns the shipped configuration.
func Defaults() Config {
	return Config{
		Enabled:           true,
		Significance:      5,
		MinHistory:        3,
		MinPeers:          4,
		PeerGroups:        [][]string{{"vendor", "team", "role"}, {"team", "role"}},
		ColdStartFactor:   2,
		HighValueUSD:      100000,
		HighValueTiers:    []string{"vip"},
		IdentityResources: []string{"kyc_document", "identity", "id_document"},
		IdentityFields:    []string{"dob", "date_of_birth", "ssn", "national_id", "passport", "id_number", "document_number", "tax_id"},
		LongDwell:         2 * time.Minute,
		Risk:              20,
		MaxRiskFactor:     3,
	}
}

var attributes = []string{"vendor", "team", "role", "site", "country", "manager"}

// Validate reports the first setting that cannot work, naming its key.
func (c *Config) Validate() error {
	switch {
	case c.Significance <= 0:
		return fmt.Errorf("baseline.significance must be positive, got %v", c.Significance)
	case c.MinHistory < 1 || c.MinHistory > historyDays:
		return fmt.Errorf("baseline.min_history must be between 1 and %d days, got %d", historyDays, c.MinHistory)
	case c.ColdStartFactor < 1:
		return fmt.Errorf("baseline.cold_start_factor must be at least 1, got %v", c.ColdStartFactor)
	case c.MinPeers < 2:
		return fmt.Errorf("baseline.min_peers must be at least 2, got %d", c.MinPeers)
	case c.HighValueUSD < 0:
		return fmt.Errorf("baseline.high_value_usd must not be negative, got %v", c.HighValueUSD)
	case c.LongDwell <= 0:
		return fmt.Errorf("baseline.long_dwell must be positive, got %s", c.LongDwell)
	case c.Risk < 0:
		return fmt.Errorf("baseline.risk must not be negative, got %v", c.Risk)
	case c.MaxRiskFactor < 1:
		return fmt.Errorf("baseline.max_risk_factor must be at least 1, got %v", c.MaxRiskFactor)
	}
	for i, g := range c.PeerGroups {
		for _, a := range g {
			if !slices.Contains(attributes, a) {
				return fmt.Errorf("baseline.peer_groups[%d]: unknown attribute %q (want one of %s)", i, a, strings.Join(attributes, ", "))
			}
		}
	}
	names := map[string]bool{}
	for _, f := range Features() {
		names[f.Name] = true
	}
	for name, fc := range c.Features {
		if !names[name] {
			return fmt.Errorf("baseline.features: unknown feature %q", name)
		}
		if fc.Significance < 0 || fc.MinExcess < 0 || fc.Weight < 0 {
			return fmt.Errorf("baseline.features.%s: values must not be negative", name)
		}
	}
	return nil
}

// People looks up a roster entry; nil if unknown.
type People func(id string) *event.Person

// feature is a Feature with its configuration applied.
type feature struct {
	Feature
	sig  float64
	part int // index of Part, or -1
	den  int // index of its denominator in window.den; -1 unless a ratio
}

// Detector is the baseline detector: an engine.Detector for the settled
// stage (it needs the ticket verdict) and an engine.Flusher. Not safe for
// concurrent use; the engine's goroutine owns it.
type Detector struct {
	cfg    Config
	people People
	feats  []feature
	nDay   int // day features come first in feats, hour features after
	nRatio int
	// byFact[k] is the features whose On holds fact 1<<k; always those
	// with no On; hourly the hour features. One bit per feature.
	byFact         [nFacts]uint64
	always, hourly uint64
	hi             map[string]bool
	// A few names each, looked up per event: a scan costs less than a
	// map's hashing of the name (the fields' hashes are at hand already).
	idRes []string
	idFld hashedNames
	tiers []string

	actors engine.Actors[actor]
	active []*actor // active today, in order of first activity
	groups []map[string]*group
	all    *group // everyone active today, for the population factor
	// usual is each peer group's norm of each day feature on the last day
	// it closed with enough members: an actor with no history of its own
	// is held to it as well as to today's peers.
	usual map[string][]norm
	free  []*window
	pool  tablePool

	hour  int64 // the open hour, hours since the Unix epoch; -1 before any event
	dirty bool  // an event arrived since the last checkpoint
	stamp int64 // checkpoint counter, for group statistics caches
	stats Stats

	scratch, scratch2 []float64
	rings             []dayRing // an actor's history, decoded
	enc               dayHistory
	x                 Access
}

// Stats counts what the detector saw.
type Stats struct {
	Late  int64 // events of a period already closed, left out
	Alert int64
}

// New returns a detector; cfg must be valid.
func New(cfg Config, people People) *Detector {
	d := &Detector{cfg: cfg, people: people, hour: -1, usual: map[string][]norm{},
		idRes: cfg.IdentityResources, idFld: newHashedNames(cfg.IdentityFields), tiers: cfg.HighValueTiers}
	all := Features()
	idx := map[string]int{}
	for _, p := range []Period{Day, Hour} {
		for _, f := range all {
			fc := cfg.Features[f.Name]
			if f.Period != p || fc.Disabled {
				continue
			}
			ff := feature{Feature: f, sig: cfg.Significance, part: -1, den: -1}
			if f.Ratio {
				ff.den = d.nRatio
				d.nRatio++
			}
			if fc.Significance > 0 {
				ff.sig = fc.Significance
			}
			if fc.MinExcess > 0 {
				ff.MinExcess = fc.MinExcess
			}
			if fc.Weight > 0 {
				ff.Weight = fc.Weight
			}
			idx[f.Name] = len(d.feats)
			d.feats = append(d.feats, ff)
		}
		if p == Day {
			d.nDay = len(d.feats)
		}
	}
	if len(d.feats) > 64 {
		panic("baseline: more than 64 features do not fit a feature mask")
	}
	for i := range d.feats {
		f := &d.feats[i]
		if j, ok := idx[f.Part]; ok {
			f.part = j
		}
		if f.Period == Hour {
			d.hourly |= 1 << i
		}
		if f.On == 0 {
			d.always |= 1 << i
		}
		for k := range d.byFact {
			if f.On&(1<<k) != 0 {
				d.byFact[k] |= 1 << i
			}
		}
	}
	d.all = d.newGroup("everyone", "")
	d.groups = make([]map[string]*group, len(cfg.PeerGroups))
	for i := range d.groups {
		d.groups[i] = map[string]*group{}
	}
	return d
}

// hashedNames are names with their fnv64 hashes, to look one up by the
// hash of a name already hashed for another purpose.
type hashedNames struct {
	mask   uint64 // bit h%64 set for the hash h of each name: most fields miss at once
	hashes []uint64
	names  []string
}

func newHashedNames(xs []string) hashedNames {
	n := hashedNames{names: xs}
	for _, x := range xs {
		h := fnv64(x)
		n.mask |= 1 << (h % 64)
		n.hashes = append(n.hashes, h)
	}
	return n
}

// has reports whether s, whose fnv64 is h, is one of the names.
func (n *hashedNames) has(s string, h uint64) bool {
	if n.mask&(1<<(h%64)) == 0 {
		return false
	}
	for i, x := range n.hashes {
		if x == h && n.names[i] == s {
			return true
		}
	}
	return false
}

// Stats returns the counts so far.
func (d *Detector) Stats() Stats { return d.stats }

// Actors returns how many actors have state.
func (d *Detector) Actors() int { return d.actors.Len() }

// evidenceK is how many evidence events an alert names per feature and
// period: the first ones, which show how it started.
const evidenceK = 4

// actor is one actor's lasting state: its own history. Everything about the
// open day is in its window, which exists only while it is active.
type actor struct {
	id       string
	hist     dayHistory // a ring per day feature
	hourHist hourHistory
	ips      recentSet
	devices  recentSet
	country  recentSet
	days     uint16 // worked days closed into the history
	// customers and tickets the window of its last day held: a size for the
	// next day's tables
	customers, tickets uint16
	w                  *window
}

// window is an actor's state for the open day (and its open hour).
type window struct {
	groups []*group  // per peer-group level
	num    []float64 // per feature
	den    []float64 // per ratio feature
	judged []float64 // per feature: the value last judged today
	fired  sparse    // per feature: score of the last alert in this period
	capv   sparse    // per feature: threshold crossed at this checkpoint
	// per day feature, the own history's norm for today: its median and
	// MAD, and its n << 2 | 0 all days, 1 weekdays, 2 weekends (n = 0 if too
	// short); in the window's one slab of floats, not a 24-byte norm each
	ownMed, ownMad []float64
	ownN           []uint8
	evDay          evidenceList          // evidence of the day features
	evHour         evidenceList          // of the hour features, this hour
	ev             []evidence            // per feature, positions in evDay or evHour
	seen           hashtable.Table[seen] // customers, by hashtable.String of the id
	tickets        keySet                // tickets that justified an access, by hashtable.String of the id
	seenClass      uint8                 // sizeClass of seen when it came from the pool
	hours          uint32                // hours of the day with activity
	lastHour       int64                 // last hour with activity
	weekend        bool
	// touched has a bit per feature an event moved since the last
	// checkpoint: only those can be judged anew before the day's end.
	touched uint64
}

// seen is what a window remembers of one customer today. Six
// bytes, so a slot of the table with its 64-bit key is 16 bytes, not 24: a
// window's hours are all of one day, so the hour of day tells them apart.
type seen struct {
	fields uint32 // fields shown, one bit per field name hash
	hod    uint8  // hour of day of the last touch, plus one; 0: none
	flags  uint8
}

const (
	seenNoTicket uint8 = 1 << iota
	seenIdentity
	seenOthers
)

// maxSeen bounds the customers and tickets a window remembers per day; an
// actor past it is counted as seeing a new customer at every access, which
// overstates an already extreme day rather than growing without bound.
const maxSeen = 8192

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// Detect counts one settled event into its actor's period state, first
// closing every period that event time has passed.
func (d *Detector) Detect(in *engine.Input, emit engine.Emit) {
	ev := in.Event
	h := hourOf(ev.Time)
	d.advance(h, emit)
	if ev.Denied {
		return
	}
	if h/24 != d.hour/24 {
		d.stats.Late++
		return
	}
	a := d.actors.Get(in)
	if a == nil {
		a = &actor{devices: recentSet{size: 4}, country: recentSet{size: 4}}
		a.id = d.actors.Put(in, a) // owned
	}
	if a.w == nil {
		d.open(a, ev.Time)
	}
	d.dirty = true
	w := a.w
	// One Access reused: passed to the features' functions it would escape
	// to the heap on every event.
	x := &d.x
	*x = Access{In: in}
	d.facts(a, w, h, x)
	cand := d.always
	for on := x.facts(); on != 0; on &= on - 1 {
		cand |= d.byFact[bits.TrailingZeros32(uint32(on))]
	}
	if h != d.hour { // an earlier hour of today: counts for the day only
		cand &^= d.hourly
	}
	dayAt, hourAt := -1, -1 // the event's position in evDay, evHour
	for ; cand != 0; cand &= cand - 1 {
		i := bits.TrailingZeros64(cand)
		f := &d.feats[i]
		n, dn := f.Add(x)
		if n == 0 && dn == 0 {
			continue
		}
		w.touched |= 1 << i
		w.num[i] += n
		if f.den >= 0 {
			w.den[f.den] += dn
		}
		if e := &w.ev[i]; n > 0 && e.n < evidenceK {
			list, at := &w.evDay, &dayAt
			if f.Period == Hour {
				list, at = &w.evHour, &hourAt
			}
			if *at < 0 {
				*at = list.add(ev)
			}
			e.at[e.n] = uint8(*at)
			e.n++
		}
	}
}

// facts works out what the event means for the features.
func (d *Detector) facts(a *actor, w *window, h int64, x *Access) {
	ev := x.In.Event
	hod := uint32(1) << (h % 24)
	x.NewHour = w.hours&hod == 0
	w.hours |= hod
	if h > w.lastHour {
		w.lastHour = h
	}
	learned := int(a.days) >= d.cfg.MinHistory
	if ev.Actor.IP != "" && !a.ips.seen(uint32(hashtable.String(ev.Actor.IP))) {
		x.NewIP = learned
	}
	if ev.Actor.Device != "" && !a.devices.seen(uint32(hashtable.String(ev.Actor.Device))) {
		x.NewDevice = learned
	}
	if ev.Actor.Country != "" && !a.country.seen(uint32(hashtable.String(ev.Actor.Country))) {
		x.NewCountry = learned
	}
	if ev.DurationMS > 0 {
		x.Dwell = float64(ev.DurationMS) / 1000
		x.LongDwell = time.Duration(ev.DurationMS)*time.Millisecond >= d.cfg.LongDwell
	}
	if !ev.Action.TouchesSubject() || ev.Subject == "" {
		return
	}
	x.Touch = true
	if s := x.In.Subject; s != nil {
		x.HighValue = (d.cfg.HighValueUSD > 0 && s.BalanceUSD >= d.cfg.HighValueUSD) || slices.Contains(d.tiers, s.Tier)
	}
	m := x.In.Ticket
	if m != nil {
		// Without a matching ticket: nothing about this customer in the
		// queue, or a cited ticket about someone else. A ticket about the
		// customer that is a colleague's (leads, escalations) or closed (QA
		// review of a cited ticket) is its own fact, not this one.
		x.NoTicket = (m.Verdict == engine.NoTicket && !(m.CitedExists && m.CitedSubject == ev.Subject)) || m.Verdict == engine.OtherSubject
		x.OthersTicket = m.Verdict == engine.OtherAssignee
	}
	identity := slices.Contains(d.idRes, ev.Resource)
	var fields uint32
	for _, f := range ev.Fields {
		h := fnv64(f)
		fields |= 1 << (h % 32)
		if !identity && d.idFld.has(f, h) {
			identity = true
		}
	}

	k := hashtable.String(ev.Subject)
	s, ok := w.seen.Get(k)
	if !ok {
		x.NewCustomer = true
	}
	at := uint8((h%24+24)%24) + 1
	x.NewCustomerHour = s.hod != at
	s.hod = at
	x.NewFields = popcount(fields &^ s.fields)
	s.fields |= fields
	if x.NoTicket && s.flags&seenNoTicket == 0 {
		x.NewNoTicket = true
		s.flags |= seenNoTicket
	}
	if x.OthersTicket && s.flags&seenOthers == 0 {
		x.NewOthersTicket = true
		s.flags |= seenOthers
	}
	if identity && s.flags&seenIdentity == 0 {
		x.NewIdentity = true
		s.flags |= seenIdentity
	}
	if ok || w.seen.Len()+w.tickets.n < maxSeen {
		w.seen.Set(k, s)
	}
	if m != nil && m.Verdict == engine.Justified && m.Ticket != "" && w.seen.Len()+w.tickets.n < maxSeen {
		x.NewTicket = w.tickets.add(hashtable.String(m.Ticket))
	}
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// open starts an actor's day: a window, and its peer groups.
func (d *Detector) open(a *actor, t time.Time) {
	var w *window
	if n := len(d.free); n > 0 {
		w, d.free = d.free[n-1], d.free[:n-1]
	} else {
		nf := len(d.feats)
		fs := make([]float64, 2*nf+d.nRatio+2*d.nDay)
		o := 2*nf + d.nRatio
		w = &window{num: fs[:nf:nf], judged: fs[nf : 2*nf : 2*nf], den: fs[2*nf : o : o],
			ownMed: fs[o : o+d.nDay : o+d.nDay], ownMad: fs[o+d.nDay:], ownN: make([]uint8, d.nDay),
			ev: make([]evidence, nf), groups: make([]*group, len(d.groups))}
	}
	w.lastHour = -1
	d.pool.open(w, a.customers, a.tickets)
	wd := t.Weekday()
	w.weekend = wd == time.Saturday || wd == time.Sunday
	a.w = w
	// The own history only changes when a day closes: its norms for today
	// are worked out once.
	d.rings = a.hist.decode(d.rings[:0], d.nDay)
	for i := range d.nDay {
		w.ownMed[i], w.ownMad[i], w.ownN[i] = 0, 0, 0
		r := &d.rings[i]
		if int(r.n) < d.cfg.MinHistory {
			continue
		}
		xs, byDay := r.values(d.scratch[:0], w.weekend, d.cfg.MinHistory)
		w.ownMed[i], w.ownMad[i], d.scratch2 = medianMAD(xs, d.scratch2)
		d.scratch = xs
		var seasonal uint8
		if byDay {
			seasonal = 1
			if w.weekend {
				seasonal = 2
			}
		}
		w.ownN[i] = uint8(len(xs))<<2 | seasonal
	}
	p := d.people(a.id)
	for lvl, attrs := range d.cfg.PeerGroups {
		key, label := groupKey(p, attrs)
		g := d.groups[lvl][key]
		if g == nil {
			g = d.newGroup(label, strings.Join(attrs, ","))
			g.key = fmt.Sprint(lvl) + "\x00" + key
			g.usual = d.usual[g.key]
			d.groups[lvl][key] = g
		}
		g.members = append(g.members, a)
		w.groups[lvl] = g
	}
	d.active = append(d.active, a)
	d.all.members = append(d.all.members, a)
}

func (d *Detector) newGroup(label, by string) *group {
	n := len(d.feats)
	return &group{label: label, by: by, norms: make([]norm, n), stamps: make([]int64, n),
		factors: make([]float64, n), fstamps: make([]int64, n), fn: make([]int, n)}
}

// release returns a closed day's window to the free list.
func (d *Detector) release(a *actor) {
	w := a.w
	a.w = nil
	clear(w.num)
	clear(w.den)
	clear(w.judged)
	w.fired, w.capv = w.fired[:0], w.capv[:0]
	clear(w.ev)
	w.evDay.reset()
	w.evHour.reset()
	a.customers = uint16(min(w.seen.Len(), math.MaxUint16))
	a.tickets = uint16(min(w.tickets.n, math.MaxUint16))
	d.pool.release(w)
	clear(w.groups)
	w.hours, w.touched = 0, 0
	d.free = append(d.free, w)
}

// groupKey names an actor's peer group at one level, and labels it for
// people: "bpo-a payments agents".
func groupKey(p *event.Person, attrs []string) (key, label string) {
	if p == nil {
		return "\x00unknown", "actors not on the roster"
	}
	var k, l []string
	for _, a := range attrs {
		v := attr(p, a)
		k = append(k, a+"="+v)
		if v == "" {
			continue
		}
		v = strings.ReplaceAll(v, "_", " ")
		if a == "role" {
			v = plural(v)
		}
		l = append(l, v)
	}
	if len(l) == 0 {
		l = append(l, "peers")
	} else if !slices.Contains(attrs, "role") {
		l = append(l, "staff")
	}
	return strings.Join(k, "\x00"), strings.Join(l, " ")
}

func attr(p *event.Person, name string) string {
	switch name {
	case "vendor":
		if p.Vendor == "" {
			return "in-house"
		}
		return p.Vendor
	case "team":
		return p.Team
	case "role":
		return p.Role
	case "site":
		return p.Site
	case "country":
		return p.Country
	case "manager":
		return p.Manager
	}
	return ""
}

func plural(s string) string {
	switch {
	case s == "qa":
		return "QA reviewers"
	case strings.HasSuffix(s, "s"):
		return s
	}
	return s + "s"
}

// round keeps three decimals, so details read cleanly.
func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

// index returns the position of the named feature, or -1 if it is off.
func (d *Detector) index(name string) int {
	for i := range d.feats {
		if d.feats[i].Name == name {
			return i
		}
	}
	return -1
}
