package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// Stage is when a rule runs: as the event arrives, or once its ticket
// grace window has passed and the ticket verdict is known.
type Stage uint8

// Stages.
const (
	Immediate Stage = iota
	Settled
)

func (s Stage) String() string {
	if s == Settled {
		return "settled"
	}
	return "immediate"
}

// Rule is one compiled rule. It is immutable and may be shared by any
// number of evaluators.
type Rule struct {
	ID          string
	Title       string
	Description string
	Severity    finding.Severity
	Risk        float64
	Tags        []string
	Stage       Stage
	// File is where the rule came from, as errors name it.
	File string
	// Line and Col are where its examples (or, without any, its id) are.
	Line, Col int

	actions     actionSet // events the condition is tried on
	trigger     actionSet // events the rule must see (actions, aggregates, steps)
	cond        *cond
	aggs        []*aggregate
	seq         *sequence
	exc         exceptions
	suppressFor time.Duration
	suppressKey *value
	summary     *template.Template
	summaryUses []string            // the top-level names of its data the summary reads
	summarySub  map[string][]string // and the fields of a namespace it reads only by name; nil: all
	plain       []piece             // the summary without text/template, if it is plain (plainSummary)
	details     []detail
	usesHistory bool
	// readsContract says an expression of the rule may read the actor's
	// contract (its dates, before_contract, after_contract, tenure_days).
	readsContract bool
	tests         []testCase
}

// Actions lists the actions the rule's condition is tried on.
func (r *Rule) Actions() []event.Action { return r.actions.list() }

type detail struct {
	name string
	prog *vm.Program
}

type exceptions struct {
	roles, teams, vendors, actors []string
	when                          []*cond
	lists                         bool // some list is not empty: excluded may say yes
	// first: the lists are checked before anything else, as the rule keeps
	// no state an excluded actor's events must still reach (no aggregate
	// or sequence).
	first bool
}

type aggKind uint8

const (
	aggCount aggKind = iota
	aggDistinct
	aggSum
)

// partition is whose events one window counts. It is a number, not the
// spec's word, because every aggregate of every event switches on it.
type partition uint8

// Aggregate partitions.
const (
	perActor partition = iota
	perTeam
	perVendor
	perSite
	perSubject
	perAll
	// Sequences also key on both.
	perActorSubject
)

// partitionOf reads a partition's name in a spec.
func partitionOf(name string) (partition, bool) {
	switch name {
	case "actor":
		return perActor, true
	case "team":
		return perTeam, true
	case "vendor":
		return perVendor, true
	case "site":
		return perSite, true
	case "subject":
		return perSubject, true
	case "all":
		return perAll, true
	case "actor_subject":
		return perActorSubject, true
	}
	return 0, false
}

type aggregate struct {
	name    string
	slot    int
	kind    aggKind
	of      *value
	window  time.Duration
	actions actionSet
	where   *cond
	per     partition
	by      *value
}

type sequence struct {
	per    partition
	within time.Duration
	steps  []step
}

type step struct {
	name    string
	actions actionSet
	where   *cond
}

// actionSet is a bit set over event.Actions.
type actionSet uint16

func actionBit(a event.Action) actionSet {
	switch a {
	case event.Login:
		return 1 << 0
	case event.Logout:
		return 1 << 1
	case event.Search:
		return 1 << 2
	case event.View:
		return 1 << 3
	case event.Reveal:
		return 1 << 4
	case event.Export:
		return 1 << 5
	case event.Update:
		return 1 << 6
	case event.CredentialReset:
		return 1 << 7
	case event.MFAReset:
		return 1 << 8
	}
	return 0
}

const allActions actionSet = 1<<9 - 1

func (s actionSet) has(a event.Action) bool { return s&actionBit(a) != 0 }

func (s actionSet) list() []event.Action {
	var out []event.Action
	for _, a := range event.Actions {
		if s.has(a) {
			out = append(out, a)
		}
	}
	return out
}

var (
	idPattern     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	attackPattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	verdicts      = []string{"justified", "other_subject", "other_assignee", "no_ticket"}
)

// compiler turns one parsed spec into a Rule, recording every problem in
// the source's error list rather than stopping at the first.
type compiler struct {
	src  *source
	spec *ruleSpec
	rule *Rule
	// references found while compiling, to derive the stage
	ticketRef, historyRef string // first path that used them
	contractRef           bool   // some expression may read the actor's contract
	aggNames              map[string]int
}

func compileRule(src *source, spec *ruleSpec) *Rule {
	c := &compiler{src: src, spec: spec, rule: &Rule{File: src.name}, aggNames: map[string]int{}}
	n := len(*src.errs)
	c.meta()
	c.aggregates()
	c.sequence()
	c.condition()
	c.exceptions()
	c.suppress()
	c.details()
	c.stage()
	c.summary()
	c.tests()
	if len(*src.errs) > n {
		return nil
	}
	return c.rule
}

func (c *compiler) errorf(path, format string, args ...any) { c.src.errorf(path, format, args...) }

func (c *compiler) meta() {
	s, r := c.spec, c.rule
	switch {
	case s.ID == "":
		c.errorf("id", "missing")
	case !idPattern.MatchString(s.ID):
		c.errorf("id", "%q: want lower-case letters, digits and underscores, starting with a letter", s.ID)
	}
	r.ID = s.ID
	if len(s.Tests) > 0 {
		r.Line, r.Col = c.src.pos("tests")
	} else {
		r.Line, r.Col = c.src.pos("id")
	}
	r.Title = strings.TrimSpace(s.Title)
	if r.Title == "" {
		c.errorf("title", "missing")
	}
	r.Description = strings.TrimSpace(s.Description)
	if r.Description == "" {
		c.errorf("description", "missing: say what the rule catches")
	}
	if s.Severity == "" {
		c.errorf("severity", "missing (want info, low, medium, high or critical)")
	} else if sev, err := finding.ParseSeverity(s.Severity); err != nil {
		c.errorf("severity", "%v", err)
	} else {
		r.Severity = sev
	}
	switch {
	case s.Risk == nil:
		c.errorf("risk", "missing: the risk points an alert adds")
	case *s.Risk < 0 || *s.Risk > 1000:
		c.errorf("risk", "%v is out of range 0 to 1000", *s.Risk)
	default:
		r.Risk = *s.Risk
	}
	for i, t := range s.Tags {
		if t == "" {
			c.errorf(fmt.Sprintf("tags[%d]", i), "empty tag")
		}
		if len(t) > 1 && t[0] == 'T' && t[1] >= '0' && t[1] <= '9' && !attackPattern.MatchString(t) {
			c.errorf(fmt.Sprintf("tags[%d]", i), "%q looks like a MITRE ATT&CK technique id but is not one (want T1234 or T1234.001)", t)
		}
	}
	r.Tags = s.Tags
	if s.Actions != nil {
		r.actions = c.actionList("actions", s.Actions)
	}
}

func (c *compiler) actionList(path string, names []string) actionSet {
	if len(names) == 0 {
		c.errorf(path, "empty: list at least one action")
		return 0
	}
	var set actionSet
	for i, n := range names {
		a := event.Action(n)
		if !a.Valid() {
			c.errorf(fmt.Sprintf("%s[%d]", path, i), "unknown action %q (want one of %s)", n, actionNames())
			continue
		}
		set |= actionBit(a)
	}
	return set
}

func actionNames() string {
	s := make([]string, len(event.Actions))
	for i, a := range event.Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// parseDuration accepts Go durations and whole days ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (like 10m, 24h or 7d)", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 10m, 24h or 7d)", s)
	}
	return days + d, nil
}

func (c *compiler) duration(path, s string, required bool) time.Duration {
	if s == "" {
		if required {
			c.errorf(path, "missing (a duration like 10m, 24h or 7d)")
		}
		return 0
	}
	d, err := parseDuration(s)
	if err != nil {
		c.errorf(path, "%v", err)
		return 0
	}
	if d <= 0 {
		c.errorf(path, "must be positive, got %s", s)
	}
	return d
}

func (c *compiler) aggregates() {
	if len(c.spec.Aggregates) > maxAggregates {
		c.errorf("aggregates", "%d aggregates; a rule may declare at most %d", len(c.spec.Aggregates), maxAggregates)
		return
	}
	for i, a := range c.spec.Aggregates {
		path := fmt.Sprintf("aggregates[%d]", i)
		g := &aggregate{name: a.Name, slot: i}
		switch {
		case a.Name == "":
			c.errorf(path+".name", "missing")
		case !idPattern.MatchString(a.Name):
			c.errorf(path+".name", "%q: want lower-case letters, digits and underscores, starting with a letter", a.Name)
		default:
			if _, dup := c.aggNames[a.Name]; dup {
				c.errorf(path+".name", "aggregate %q declared twice", a.Name)
			}
			c.aggNames[a.Name] = i
		}
		switch a.Kind {
		case "count":
			g.kind = aggCount
			if a.Of != "" {
				c.errorf(path+".of", "a count counts events; of is for distinct and sum")
			}
		case "distinct":
			g.kind = aggDistinct
			if a.Of == "" {
				c.errorf(path+".of", "missing: what to count distinct values of, e.g. subject")
			} else {
				g.of = c.compileValue(path+".of", a.Of, kindString, false)
			}
		case "sum":
			g.kind = aggSum
			if a.Of == "" {
				c.errorf(path+".of", "missing: what to add up, e.g. count")
			} else {
				g.of = c.compileValue(path+".of", a.Of, kindInt, false)
			}
		case "":
			c.errorf(path+".kind", "missing (want count, distinct or sum)")
		default:
			c.errorf(path+".kind", "unknown kind %q (want count, distinct or sum)", a.Kind)
		}
		g.window = c.duration(path+".window", a.Window, true)
		if a.Actions != nil {
			g.actions = c.actionList(path+".actions", a.Actions)
		}
		if a.Where != "" {
			g.where = c.compileCond(path+".where", a.Where, false)
		}
		if p, ok := partitionOf(a.Per); ok && p != perActorSubject {
			g.per = p
		} else if a.Per != "" {
			c.errorf(path+".per", "unknown value %q (want actor, team, vendor, site, subject or all)", a.Per)
		}
		if a.By != "" {
			g.by = c.compileValue(path+".by", a.By, kindString, false)
		}
		c.rule.aggs = append(c.rule.aggs, g)
	}
}

func (c *compiler) sequence() {
	s := c.spec.Sequence
	if s == nil {
		return
	}
	q := &sequence{}
	if p, ok := partitionOf(s.Per); ok && (p == perActor || p == perSubject || p == perActorSubject) {
		q.per = p
	} else if s.Per != "" {
		c.errorf("sequence.per", "unknown value %q (want actor, subject or actor_subject)", s.Per)
	}
	q.within = c.duration("sequence.within", s.Within, true)
	if len(s.Steps) == 0 {
		c.errorf("sequence.steps", "missing: list the earlier steps; the rule's own condition is the last one")
	}
	if len(s.Steps) > 4 {
		c.errorf("sequence.steps", "%d steps; at most 4 earlier steps", len(s.Steps))
	}
	for i, st := range s.Steps {
		path := fmt.Sprintf("sequence.steps[%d]", i)
		x := step{name: st.Name}
		if st.Name == "" {
			c.errorf(path+".name", "missing")
		}
		if st.Actions == nil {
			c.errorf(path+".actions", "missing: the actions this step matches")
		} else {
			x.actions = c.actionList(path+".actions", st.Actions)
		}
		if st.Where != "" {
			x.where = c.compileCond(path+".where", st.Where, false)
		}
		q.steps = append(q.steps, x)
	}
	c.rule.seq = q
}

func (c *compiler) condition() {
	s, r := c.spec, c.rule
	if strings.TrimSpace(s.Condition) == "" {
		c.errorf("condition", "missing: an expression that is true when the rule should alert")
		return
	}
	r.cond = c.compileCond("condition", s.Condition, true)
	if s.Actions == nil {
		r.actions = deriveActions(s.Condition)
		if r.actions == 0 {
			r.actions = allActions
		}
	}
	r.trigger = r.actions
	for _, a := range r.aggs {
		if a.actions == 0 {
			a.actions = r.actions
		}
		r.trigger |= a.actions
	}
	if r.seq != nil {
		for _, st := range r.seq.steps {
			r.trigger |= st.actions
		}
	}
}

func (c *compiler) exceptions() {
	e := c.spec.Exceptions
	r := c.rule
	r.exc = exceptions{roles: e.Roles, teams: e.Teams, vendors: e.Vendors, actors: e.Actors,
		lists: len(e.Roles)+len(e.Teams)+len(e.Vendors)+len(e.Actors) > 0}
	r.exc.first = r.exc.lists && len(r.aggs) == 0 && r.seq == nil
	for i, w := range e.When {
		path := fmt.Sprintf("exceptions.when[%d]", i)
		if strings.TrimSpace(w) == "" {
			c.errorf(path, "empty expression")
			continue
		}
		if p := c.compileCond(path, w, true); p != nil {
			r.exc.when = append(r.exc.when, p)
		}
	}
}

func (c *compiler) suppress() {
	s := c.spec.Suppress
	if s.For != "" {
		c.rule.suppressFor = c.duration("suppress.for", s.For, false)
	}
	if s.Key != "" {
		if s.For == "" {
			c.errorf("suppress.key", "a key without suppress.for suppresses nothing")
		}
		// Read only for an alert, when the Env has the contract anyway.
		ref := c.contractRef
		c.rule.suppressKey = c.compileValue("suppress.key", s.Key, kindString, true)
		c.contractRef = ref
	}
}

func (c *compiler) details() {
	// Details are read only for an alert, when the Env has the contract.
	defer func(ref bool) { c.contractRef = ref }(c.contractRef)
	names := make([]string, 0, len(c.spec.Details))
	for n := range c.spec.Details {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := "details." + n
		if _, clash := c.aggNames[n]; clash {
			c.errorf(path, "%q is also an aggregate, whose value details carry already", n)
			continue
		}
		if p := c.compileExpr(path, c.spec.Details[n], kindAny, true); p != nil {
			c.rule.details = append(c.rule.details, detail{name: n, prog: p})
		}
	}
}

// stage derives when the rule runs from what it reads: the ticket verdict
// is known only once settled, the actor's history only as the event
// arrives.
func (c *compiler) stage() {
	r := c.rule
	r.usesHistory = c.historyRef != ""
	r.readsContract = c.contractRef
	switch c.spec.Stage {
	case "":
		if c.ticketRef != "" {
			r.Stage = Settled
		}
	case "immediate":
		if c.ticketRef != "" {
			c.errorf("stage", "immediate, but %s reads the ticket verdict, which is known only at the settled stage", c.ticketRef)
		}
	case "settled":
		r.Stage = Settled
	default:
		c.errorf("stage", "unknown stage %q (want immediate or settled)", c.spec.Stage)
	}
	if r.Stage == Settled && c.historyRef != "" {
		c.errorf(c.historyRef, "reads the actor's history, which is available only at the immediate stage, but the rule runs settled (it reads the ticket verdict in %s)", c.ticketRef)
	}
}

func (c *compiler) summary() {
	s := strings.TrimSpace(c.spec.Summary)
	if s == "" {
		c.errorf("summary", "missing: a sentence a support manager understands, e.g. {{.who}} {{.verb}} {{.cust}}")
		return
	}
	t, err := template.New(c.spec.ID).Option("missingkey=error").Funcs(templateFuncs).Parse(s)
	if err != nil {
		c.errorf("summary", "%s", templateMessage(err))
		return
	}
	c.rule.summaryUses, c.rule.summarySub = summaryUses(t)
	// Render once against an empty event so a misspelt name is a load
	// error, not a broken alert in production.
	var sample Env
	sample.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sample.Person = func(id string) PersonEnv { return PersonEnv{ID: id} }
	details := map[string]any{}
	for _, d := range c.rule.details {
		details[d.name], _ = vm.Run(d.prog, &sample)
	}
	want, err := render(t, c.rule, &sample, &alertContext{details: details}, nil)
	if err != nil {
		c.errorf("summary", "%s", templateMessage(err))
		return
	}
	c.rule.summary = t
	if ps := plainSummary(t, c.rule); ps != nil && renderPlain(ps, &sample, &alertContext{}, &renderScratch{}) == want {
		c.rule.plain = ps
	}
}

func templateMessage(err error) string {
	m := err.Error()
	// "template: no_ticket:1:5: executing ..." -> "1:5: executing ..."
	if i := strings.Index(m, ": "); strings.HasPrefix(m, "template: ") && i > 0 {
		m = strings.TrimPrefix(m, "template: ")
		if j := strings.IndexByte(m, ':'); j >= 0 {
			m = "template" + m[j:]
		}
	}
	return m
}
