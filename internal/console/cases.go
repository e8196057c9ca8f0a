package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
)

// caseRow is one case as the queue and the case page show it.
type caseRow struct {
	F       finding.Finding
	St      CaseState
	Agent   agentRef
	Summary string
	Opened  time.Time
	Alerts  int
}

func (r *caseRow) Open() bool { return r.St.Status != StatusClosed }

// caseOpened is when a case first opened: the engine's details say so; a
// finding without them opened at its own time.
func caseOpened(f *finding.Finding) time.Time {
	switch v := f.Details["opened"].(type) {
	case time.Time:
		return v
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return f.Time
}

func caseAlertCount(f *finding.Finding) int {
	switch v := f.Details["alerts_total"].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return len(f.Alerts)
}

// caseFilter is the queue's filter form.
type caseFilter struct {
	Severity, Vendor, Team, Status, Age, Assignee, Verdict, Q, Sort string
}

func (f caseFilter) Query() string {
	v := url.Values{}
	for k, s := range map[string]string{"severity": f.Severity, "vendor": f.Vendor, "team": f.Team, "status": f.Status,
		"age": f.Age, "assignee": f.Assignee, "verdict": f.Verdict, "q": f.Q, "sort": f.Sort} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

var ages = []struct{ Key, Label string }{{"24h", "24 hours"}, {"7d", "7 days"}, {"30d", "30 days"}, {"90d", "90 days"}}

func ageDur(s string) time.Duration {
	switch s {
	case "24h":
		return 24 * time.Hour
	case "7d":
		return 7 * 24 * time.Hour
	case "30d":
		return 30 * 24 * time.Hour
	case "90d":
		return 90 * 24 * time.Hour
	}
	return 0
}

const maxQueue = 500

// loadCases returns the cases this request may see, with their state.
func (c *Console) loadCases(ctx context.Context, ri *reqInfo, v *viewer) ([]*caseRow, error) {
	fs, err := c.src.Cases(ctx)
	if err != nil {
		return nil, err
	}
	states, err := c.state.CaseStates(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]*caseRow, 0, len(fs))
	for i := range fs {
		f := fs[i]
		if !ri.maysee(f.Actor.ID) {
			continue
		}
		rows = append(rows, &caseRow{
			F: f, St: states[f.ID], Agent: v.Agent(f.Actor.ID),
			Summary: v.Mask(f.Summary, f.Actor.ID), Opened: caseOpened(&f), Alerts: caseAlertCount(&f),
		})
	}
	return rows, nil
}

func (c *Console) casesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := info(r)
	q := r.URL.Query()
	f := caseFilter{
		Severity: q.Get("severity"), Vendor: q.Get("vendor"), Team: q.Get("team"), Status: q.Get("status"),
		Age: q.Get("age"), Assignee: q.Get("assignee"), Verdict: q.Get("verdict"), Q: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"),
	}
	if f.Status == "" {
		f.Status = StatusOpen
	}
	people, err := c.src.People(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.viewer(ctx, ri, people)
	all, err := c.loadCases(ctx, ri, v)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	now := c.dataNow(ctx)
	minSev := finding.Severity(f.Severity).Rank()
	age := ageDur(f.Age)
	vendors, teams := map[string]bool{}, map[string]bool{}
	counts := map[string]int{}
	var rows []*caseRow
	for _, row := range all {
		p := row.Agent.Person
		vendor, team := "", ""
		if p != nil {
			vendor, team = p.Vendor, p.Team
		}
		if vendor != "" {
			vendors[vendor] = true
		}
		if team != "" {
			teams[team] = true
		}
		if row.Open() {
			counts[string(row.F.Severity)]++
			counts["open"]++
			if row.St.Assignee == "" {
				counts["unassigned"]++
			}
		}
		switch {
		case f.Status == StatusOpen && !row.Open(), f.Status == StatusClosed && row.Open():
			continue
		case minSev > 0 && row.F.Severity.Rank() < minSev:
			continue
		case f.Vendor != "" && (p == nil || vendor != f.Vendor) && !(f.Vendor == "-" && vendor == ""):
			continue
		case f.Team != "" && team != f.Team:
			continue
		case age > 0 && row.Opened.Before(now.Add(-age)):
			continue
		case f.Assignee == "me" && row.St.Assignee != ri.user.Name,
			f.Assignee == "none" && row.St.Assignee != "":
			continue
		case f.Verdict == "none" && row.St.Verdict != "",
			f.Verdict != "" && f.Verdict != "none" && row.St.Verdict != f.Verdict:
			continue
		case f.Q != "" && !matches(row, f.Q):
			continue
		}
		rows = append(rows, row)
	}
	sortCases(rows, f.Sort)
	total := len(rows)
	if len(rows) > maxQueue {
		rows = rows[:maxQueue]
	}
	maxRisk := 0.0
	for _, row := range rows {
		maxRisk = max(maxRisk, row.F.Risk)
	}
	c.page(w, r, "cases", "Cases", map[string]any{
		"V": v, "Rows": rows, "Total": total, "Shown": len(rows), "Filter": f, "Now": now, "MaxRisk": maxRisk,
		"Vendors": sortedKeys(vendors), "Teams": sortedKeys(teams), "Ages": ages, "Counts": counts,
		"Severities": []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low},
	})
}

func matches(row *caseRow, q string) bool {
	q = strings.ToLower(q)
	return strings.Contains(strings.ToLower(row.Summary), q) || strings.Contains(strings.ToLower(row.Agent.Label), q) ||
		strings.HasPrefix(row.F.ID, q) || strings.Contains(row.F.ID, q)
}

func sortCases(rows []*caseRow, by string) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		switch by {
		case "updated":
			if !a.F.Time.Equal(b.F.Time) {
				return a.F.Time.After(b.F.Time)
			}
		case "opened":
			if !a.Opened.Equal(b.Opened) {
				return a.Opened.After(b.Opened)
			}
		case "severity":
			if a.F.Severity.Rank() != b.F.Severity.Rank() {
				return a.F.Severity.Rank() > b.F.Severity.Rank()
			}
		}
		if a.F.Risk != b.F.Risk {
			return a.F.Risk > b.F.Risk
		}
		if a.F.Severity.Rank() != b.F.Severity.Rank() {
			return a.F.Severity.Rank() > b.F.Severity.Rank()
		}
		return a.F.ID < b.F.ID
	})
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ruleGroup is one rule's part in a case: how often it fired and its
// strongest alert, the one that explains it best.
type ruleGroup struct {
	Rule        string
	N           int
	Points      float64
	First, Last time.Time
	Top         alertRow
}

func groupAlerts(alerts []alertRow) []ruleGroup {
	idx := map[string]int{}
	var gs []ruleGroup
	for _, a := range alerts {
		i, ok := idx[a.F.Rule]
		if !ok {
			i = len(gs)
			idx[a.F.Rule] = i
			gs = append(gs, ruleGroup{Rule: a.F.Rule, First: a.F.Time, Top: a})
		}
		g := &gs[i]
		g.N++
		g.Points += a.F.Risk
		widen(&g.First, &g.Last, a.F.Time)
		if a.F.Severity.Rank() > g.Top.F.Severity.Rank() || (a.F.Severity == g.Top.F.Severity && a.F.Risk > g.Top.F.Risk) {
			g.Top = a
		}
	}
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i].Top.F, gs[j].Top.F
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		return gs[i].Points > gs[j].Points
	})
	return gs
}

// alertRow is one contributing alert with the numbers behind it.
type alertRow struct {
	F       finding.Finding
	Summary string
	Numbers []kv
	Anomaly *anomaly
}

// anomaly is the baseline's explanation of an anomaly alert.
type anomaly struct {
	Feature, Period, Group string
	From, To               time.Time
	Value, Own, Peer, Norm float64
	Ratio, Score           float64
	HasOwn, HasPeer        bool
	PeerN                  int
}

type kv struct{ K, V string }

// flatten lists a details map as sorted key/value pairs, nested maps as
// "peers.median", so every alert shows the numbers behind its sentence.
func flatten(prefix string, m map[string]any, out *[]kv) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case map[string]any:
			flatten(prefix+k+".", v, out)
		case float64:
			*out = append(*out, kv{prefix + k, num(v)})
		case nil:
		default:
			*out = append(*out, kv{prefix + k, fmt.Sprint(v)})
		}
	}
}

func toAnomaly(d map[string]any) *anomaly {
	val, ok := d["value"].(float64)
	if !ok {
		return nil
	}
	a := &anomaly{Value: val}
	a.Feature, _ = d["feature"].(string)
	a.Period, _ = d["period"].(string)
	a.Norm, _ = d["norm"].(float64)
	a.Ratio, _ = d["ratio"].(float64)
	a.Score, _ = d["score"].(float64)
	a.From = anyTime(d["from"])
	a.To = anyTime(d["to"])
	if p, ok := d["peers"].(map[string]any); ok {
		a.HasPeer = true
		a.Peer, _ = p["median"].(float64)
		a.Group, _ = p["group"].(string)
		if n, ok := p["size"].(float64); ok {
			a.PeerN = int(n)
		}
	}
	if o, ok := d["own"].(map[string]any); ok {
		a.HasOwn = true
		a.Own, _ = o["median"].(float64)
	}
	return a
}

func anyTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case string:
		x, _ := time.Parse(time.RFC3339Nano, t)
		return x
	}
	return time.Time{}
}

// jsonish passes details through JSON so values from memory (time.Time,
// typed structs) and from the store (decoded JSON) look the same.
func jsonish(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return m
	}
	return out
}

// evRow is one evidence event.
type evRow struct {
	E        event.Event
	Rules    []string
	Customer *event.Subject
}

const maxEvidence = 500

func (c *Console) caseByID(ctx context.Context, id string) (*finding.Finding, error) {
	fs, err := c.src.FindingsByID(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	for i := range fs {
		if fs[i].Kind == finding.KindCase {
			return &fs[i], nil
		}
	}
	return nil, nil
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := info(r)
	f, ok := c.requestCase(w, r)
	if !ok {
		return
	}
	c.audit(r, AuditViewCase, "case:"+f.ID, "agent "+c.pseudo.Of(f.Actor.ID))
	people, err := c.src.People(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.viewer(ctx, ri, people)
	states, err := c.state.CaseStates(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	row := &caseRow{F: *f, St: states[f.ID], Agent: v.Agent(f.Actor.ID), Summary: v.Mask(f.Summary, f.Actor.ID),
		Opened: caseOpened(f), Alerts: caseAlertCount(f)}

	alertFs, err := c.src.FindingsByID(ctx, f.Alerts)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	sort.SliceStable(alertFs, func(i, j int) bool { return alertFs[i].Time.Before(alertFs[j].Time) })
	var alerts []alertRow
	var evIDs []string
	ruleOf := map[string][]string{}
	var marks []time.Time
	for _, a := range alertFs {
		if a.Kind != finding.KindAlert {
			continue
		}
		d := jsonish(a.Details)
		ar := alertRow{F: a, Summary: v.Mask(a.Summary, f.Actor.ID), Anomaly: toAnomaly(d)}
		flatten("", d, &ar.Numbers)
		alerts = append(alerts, ar)
		marks = append(marks, a.Time)
		for _, e := range a.Evidence {
			if _, seen := ruleOf[e]; !seen {
				evIDs = append(evIDs, e)
			}
			if !slices.Contains(ruleOf[e], a.Rule) {
				ruleOf[e] = append(ruleOf[e], a.Rule)
			}
		}
	}
	if len(evIDs) > maxEvidence {
		evIDs = evIDs[:maxEvidence]
	}
	evs, err := c.src.Events(ctx, evIDs)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	evidence := make([]evRow, len(evs))
	for i, e := range evs {
		evidence[i] = evRow{E: e, Rules: ruleOf[e.ID]}
		if e.Subject != "" {
			evidence[i].Customer, _ = c.src.Subject(ctx, e.Subject)
		}
	}

	// The chart spans two weeks before the case opened to a day after its
	// latest evidence, by day, against the agent's peers.
	until := f.Time.Truncate(24 * time.Hour).Add(24 * time.Hour)
	from := row.Opened.Add(-14 * 24 * time.Hour)
	if until.Sub(from) > 60*24*time.Hour {
		from = until.Add(-60 * 24 * time.Hour)
	}
	peers, label := peersOf(people, row.Agent.Person)
	peers = scoped(ri, peers)
	chart, err := c.activityChart(ctx, f.Actor.ID, peers, label, from, until, 24*time.Hour, marks)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	actions, err := c.state.CaseActions(ctx, f.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var rules []kv
	if rs, ok := jsonish(f.Details)["rules"].([]any); ok {
		for _, x := range rs {
			if m, ok := x.(map[string]any); ok {
				name, _ := m["rule"].(string)
				n, _ := m["alerts"].(float64)
				pts, _ := m["points"].(float64)
				rules = append(rules, kv{name, fmt.Sprintf("%s alert(s), %s points", num(n), num(pts))})
			}
		}
	}
	users, err := c.assignees(ctx, ri)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var journal []respond.Action
	if c.journal != nil {
		ids := []string{f.ID}
		for _, a := range alerts {
			ids = append(ids, a.F.ID)
		}
		if journal, err = c.journal.ActionsFor(ctx, ids); err != nil {
			c.fail(w, r, err)
			return
		}
		sort.SliceStable(journal, func(i, j int) bool { return journal[i].Started.Before(journal[j].Started) })
	}
	var responses []ResponseAction
	if c.respond != nil && ri.user.Role.Can(PermRespond) {
		responses = c.respond.Actions()
	}
	c.page(w, r, "case", "Case "+shortID(f.ID), map[string]any{
		"V": v, "Case": row, "AlertRows": alerts, "Groups": groupAlerts(alerts), "ShowAll": len(alerts) <= 12, "Evidence": evidence, "EvidenceTotal": len(evIDs),
		"Chart": chart, "Actions": actions, "RuleTally": rules, "Assignees": users, "Responses": responses, "ResponseLog": journal,
		"CanWork": ri.user.Role.Can(PermWorkCases), "CanAssign": ri.user.Role.Can(PermAssignOthers),
		"CanCustomers": ri.user.Role.Can(PermCustomers), "CanReveal": c.canReveal(ctx, ri, f.Actor.ID),
		"CloseReasons": closeReasons, "Now": c.dataNow(ctx),
	})
}

// requestCase loads the case the URL names and checks the user may see it,
// answering 404 or 403 itself when not.
func (c *Console) requestCase(w http.ResponseWriter, r *http.Request) (*finding.Finding, bool) {
	f, err := c.caseByID(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
		c.fail(w, r, err)
	case f == nil:
		c.notFound(w, r, "There is no case with this id.")
	case !info(r).maysee(f.Actor.ID):
		c.forbidden(w, r, "This case is about an agent outside your vendor.")
	default:
		return f, true
	}
	return nil, false
}

func shortID(id string) string {
	if i := strings.IndexByte(id, '-'); i >= 0 && len(id) > i+9 {
		return id[i+1 : i+9]
	}
	return id
}

// scoped keeps the ids a vendor supervisor may see.
func scoped(ri *reqInfo, ids []string) []string {
	if ri.allowed == nil {
		return ids
	}
	var out []string
	for _, id := range ids {
		if ri.allowed[id] {
			out = append(out, id)
		}
	}
	return out
}

var closeReasons = []string{
	"Confirmed insider: escalated",
	"Confirmed misuse: handled with the vendor",
	"Justified by business need",
	"False positive: detection needs tuning",
	"Duplicate of another case",
	"Other (see comment)",
}

// assignees are the users a case may be assigned to by this user.
func (c *Console) assignees(ctx context.Context, ri *reqInfo) ([]string, error) {
	if !ri.user.Role.Can(PermAssignOthers) {
		return []string{ri.user.Name}, nil
	}
	us, err := c.state.Users(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range us {
		if !u.Disabled && u.Role.Can(PermWorkCases) {
			out = append(out, u.Name)
		}
	}
	return out, nil
}

// caseAction loads the case of a POST, checks scope, applies change to its
// state, records the action and returns to the case page.
func (c *Console) caseAction(w http.ResponseWriter, r *http.Request, kind string, change func(f *finding.Finding, st *CaseState, a *CaseAction) string) {
	ctx := r.Context()
	ri := info(r)
	f, ok := c.requestCase(w, r)
	if !ok {
		return
	}
	states, err := c.state.CaseStates(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	st := states[f.ID]
	st.CaseID = f.ID
	if st.Status == "" {
		st.Status = StatusOpen
	}
	a := CaseAction{CaseID: f.ID, Time: c.now().UTC(), User: ri.user.Name, Kind: kind}
	if msg := change(f, &st, &a); msg != "" {
		if msg == "forbidden" {
			c.forbidden(w, r, "Your role does not allow this action.")
			return
		}
		c.badRequest(w, r, msg)
		return
	}
	st.Updated = a.Time
	if err := c.state.AddCaseAction(ctx, a, st); err != nil {
		c.fail(w, r, err)
		return
	}
	c.audit(r, AuditCaseAction, "case:"+f.ID, kind+" "+a.Value)
	http.Redirect(w, r, "/cases/"+url.PathEscape(f.ID)+"#workflow", http.StatusSeeOther)
}

func (c *Console) caseAssign(w http.ResponseWriter, r *http.Request) {
	ri := info(r)
	to := strings.TrimSpace(r.PostFormValue("to"))
	c.caseAction(w, r, ActAssign, func(_ *finding.Finding, st *CaseState, a *CaseAction) string {
		if to != "" && to != ri.user.Name {
			if !ri.user.Role.Can(PermAssignOthers) {
				return "forbidden"
			}
			u, err := c.state.User(r.Context(), to)
			if err != nil || u.Disabled || !u.Role.Can(PermWorkCases) {
				return fmt.Sprintf("%q is not a user who can work cases.", to)
			}
		}
		st.Assignee, a.Value = to, to
		return ""
	})
}

func (c *Console) caseComment(w http.ResponseWriter, r *http.Request) {
	note := strings.TrimSpace(r.PostFormValue("note"))
	c.caseAction(w, r, ActComment, func(_ *finding.Finding, _ *CaseState, a *CaseAction) string {
		switch {
		case note == "":
			return "A comment needs some text."
		case len(note) > 4000:
			return "A comment may be at most 4000 characters."
		}
		a.Note = note
		return ""
	})
}

func (c *Console) caseVerdict(w http.ResponseWriter, r *http.Request) {
	verdict := r.PostFormValue("verdict")
	c.caseAction(w, r, ActVerdict, func(f *finding.Finding, st *CaseState, a *CaseAction) string {
		switch verdict {
		case VerdictTrue, VerdictFalse, "":
		default:
			return "The verdict must be true_positive or false_positive."
		}
		rules, err := c.caseRules(r.Context(), f)
		if err != nil {
			return "The case's alerts could not be read: " + err.Error()
		}
		st.Verdict, st.Rules, a.Value = verdict, rules, verdict
		a.Note = strings.TrimSpace(r.PostFormValue("note"))
		return ""
	})
}

// caseRules lists the distinct rules of a case's alerts, so a verdict can
// be counted against each.
func (c *Console) caseRules(ctx context.Context, f *finding.Finding) ([]string, error) {
	alerts, err := c.src.FindingsByID(ctx, f.Alerts)
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, a := range alerts {
		if a.Rule != "" && !slices.Contains(rules, a.Rule) {
			rules = append(rules, a.Rule)
		}
	}
	sort.Strings(rules)
	return rules, nil
}

func (c *Console) caseClose(w http.ResponseWriter, r *http.Request) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	note := strings.TrimSpace(r.PostFormValue("note"))
	c.caseAction(w, r, ActClose, func(_ *finding.Finding, st *CaseState, a *CaseAction) string {
		switch {
		case reason == "":
			return "Closing a case needs a reason."
		case st.Status == StatusClosed:
			return "The case is already closed."
		case len(note) > 4000:
			return "A note may be at most 4000 characters."
		}
		st.Status, st.CloseReason = StatusClosed, reason
		a.Value, a.Note = reason, note
		return ""
	})
}

func (c *Console) caseReopen(w http.ResponseWriter, r *http.Request) {
	c.caseAction(w, r, ActReopen, func(_ *finding.Finding, st *CaseState, a *CaseAction) string {
		if st.Status != StatusClosed {
			return "The case is not closed."
		}
		st.Status, st.CloseReason = StatusOpen, ""
		a.Note = strings.TrimSpace(r.PostFormValue("note"))
		return ""
	})
}

func (c *Console) caseRespond(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("action")
	note := strings.TrimSpace(r.PostFormValue("note"))
	c.caseAction(w, r, ActRespond, func(f *finding.Finding, _ *CaseState, a *CaseAction) string {
		if c.respond == nil {
			return "No responses are configured."
		}
		ok := false
		for _, x := range c.respond.Actions() {
			ok = ok || x.Name == name
		}
		switch {
		case !ok:
			return fmt.Sprintf("%q is not a configured response.", name)
		case note == "":
			return "A response needs a reason."
		case len(note) > 500:
			return "A reason may be at most 500 characters."
		}
		res, err := c.respond.Respond(r.Context(), ResponseRequest{Action: name, Case: f.ID, Actor: f.Actor.ID, User: info(r).user.Name, Note: note, Finding: f})
		a.Value = name
		if err != nil {
			a.Note = "failed: " + err.Error()
		} else {
			a.Note = res
		}
		return ""
	})
}
