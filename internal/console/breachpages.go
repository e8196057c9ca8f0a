package console

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/breach"
)

// maxShown bounds the rows a breach page shows; the CSV has them all.
const maxShown = 1000

// exposureForm is the exposure page's query.
type exposureForm struct {
	Agent, Vendor, From, Until string
}

func (f exposureForm) Query() string {
	v := url.Values{}
	for k, s := range map[string]string{"agent": f.Agent, "vendor": f.Vendor, "from": f.From, "until": f.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// parseExposure reads the form into a query. It returns a zero query and
// no error when nothing was asked yet. A vendor supervisor may only ask
// about its own vendor's agents.
func (c *Console) parseExposure(ctx context.Context, r *http.Request) (exposureForm, breach.ExposureQuery, string, error) {
	q := r.URL.Query()
	f := exposureForm{Agent: strings.TrimSpace(q.Get("agent")), Vendor: q.Get("vendor"), From: q.Get("from"), Until: q.Get("until")}
	var eq breach.ExposureQuery
	if f.Agent == "" && f.Vendor == "" {
		return f, eq, "", nil
	}
	var err error
	if eq.Window, err = breach.ParseWindow(f.From, f.Until); err != nil {
		return f, eq, err.Error(), nil
	}
	ri := info(r)
	switch {
	case f.Agent != "":
		id, ok, err := c.resolveActor(ctx, f.Agent)
		if err != nil {
			return f, eq, "", err
		}
		if !ok || !ri.maysee(id) {
			return f, eq, fmt.Sprintf("No agent has the pseudonym %q (agents are named by pseudonym, e.g. ag-k3v9…).", f.Agent), nil
		}
		eq.Scope.Actor = id
	case f.Vendor == "-":
		eq.Scope.InHouse = true
	default:
		eq.Scope.Vendor = f.Vendor
	}
	if ri.user.Vendor != "" && f.Agent == "" && f.Vendor != ri.user.Vendor {
		return f, eq, "You can only ask about your own vendor's agents.", nil
	}
	return f, eq, "", nil
}

// runExposure runs q, turning a question the data cannot answer (a vendor
// with no one on the roster) into a message.
func (c *Console) runExposure(ctx context.Context, q breach.ExposureQuery) (*breach.Exposure, string, error) {
	x, err := c.breach.Exposure(ctx, q)
	if breach.IsUserError(err) {
		return nil, err.Error(), nil
	}
	return x, "", err
}

func (c *Console) exposurePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, q, msg, err := c.parseExposure(ctx, r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data := map[string]any{"Form": f, "Error": msg}
	people, err := c.src.People(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	vendors := map[string]bool{}
	for _, p := range people {
		if p.Vendor != "" {
			vendors[p.Vendor] = true
		}
	}
	data["Vendors"] = sortedKeys(vendors)
	v := c.viewer(ctx, info(r), people)
	data["V"] = v
	if msg == "" && q.Scope != (breach.Scope{}) {
		x, msg, err := c.runExposure(ctx, q)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if msg != "" {
			data["Error"] = msg
			c.page(w, r, "exposure", "Exposure", data)
			return
		}
		c.record(r, AuditRecord{Action: AuditSearch, Target: "exposure", Detail: f.Query(), Count: len(x.Customers)})
		fields := map[string]int{}
		for _, cu := range x.Customers {
			for _, fl := range cu.Fields {
				fields[fl]++
			}
		}
		type fc struct {
			Field string
			N     int
		}
		var fcs []fc
		for k, n := range fields {
			fcs = append(fcs, fc{k, n})
		}
		sort.Slice(fcs, func(i, j int) bool {
			if fcs[i].N != fcs[j].N {
				return fcs[i].N > fcs[j].N
			}
			return fcs[i].Field < fcs[j].Field
		})
		rows := x.Customers
		data["Ran"], data["X"], data["Fields"], data["Total"] = true, x, fcs, len(rows)
		if len(rows) > maxShown {
			rows = rows[:maxShown]
		}
		data["Rows"] = rows
		data["CSV"] = "/exposure.csv?" + f.Query()
	}
	c.page(w, r, "exposure", "Exposure", data)
}

func (c *Console) exposureCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, q, msg, err := c.parseExposure(ctx, r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if msg == "" && q.Scope == (breach.Scope{}) {
		msg = "give an agent or a vendor"
	}
	var x *breach.Exposure
	if msg == "" {
		if x, msg, err = c.runExposure(ctx, q); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	if msg != "" {
		http.Error(w, "exposure export: "+msg, http.StatusBadRequest)
		return
	}
	rows := x.Customers
	c.record(r, AuditRecord{Action: AuditExport, Target: "exposure", Detail: f.Query(), Count: len(rows)})
	v := c.viewer(ctx, info(r), nil)
	c.csv(w, "exposure", []string{"customer", "agents", "fields", "resources", "actions", "accesses", "unjustified_accesses", "identity_document", "date_of_birth", "tickets", "first", "last"}, len(rows), func(i int) []string {
		x := rows[i]
		return []string{x.Customer, strings.Join(v.Labels(x.Actors), ";"), strings.Join(x.Fields, ";"), strings.Join(x.Resources, ";"),
			strings.Join(x.Actions, ";"), strconv.Itoa(x.Accesses), strconv.Itoa(x.Unjustified), yesNo(x.IdentityDocument), yesNo(x.DateOfBirth),
			strings.Join(x.Tickets, ";"), x.First.UTC().Format(time.RFC3339), x.Last.UTC().Format(time.RFC3339)}
	})
}

type attributionForm struct {
	Customers, From, Until string
}

func (f attributionForm) Query() string {
	v := url.Values{}
	for k, s := range map[string]string{"customers": f.Customers, "from": f.From, "until": f.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

const maxAttributionCustomers = 10000

// attributionTop is how many suspects the page and its CSV rank; the CLI's
// default is 10, an analyst scrolling a page wants more.
const attributionTop = 100

func parseAttribution(r *http.Request) (attributionForm, breach.AttributionQuery, string) {
	q := r.URL.Query()
	f := attributionForm{Customers: q.Get("customers"), From: q.Get("from"), Until: q.Get("until")}
	aq := breach.AttributionQuery{Top: attributionTop}
	seen := map[string]bool{}
	for _, s := range strings.FieldsFunc(f.Customers, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if !seen[s] {
			seen[s] = true
			aq.Customers = append(aq.Customers, s)
		}
	}
	if len(aq.Customers) == 0 {
		return f, aq, ""
	}
	if len(aq.Customers) > maxAttributionCustomers {
		return f, aq, fmt.Sprintf("At most %d customers per query; got %d.", maxAttributionCustomers, len(aq.Customers))
	}
	var err error
	if aq.Window, err = breach.ParseWindow(f.From, f.Until); err != nil {
		return f, aq, err.Error()
	}
	return f, aq, ""
}

// runAttribution runs q and keeps, for a vendor-scoped user, only what
// concerns its vendor's agents.
func (c *Console) runAttribution(r *http.Request, q breach.AttributionQuery) (*breach.Attribution, string, error) {
	a, err := c.breach.Attribution(r.Context(), q)
	if breach.IsUserError(err) {
		return nil, err.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	return scopeAttribution(info(r), a), "", nil
}

// scopeAttribution drops the suspects, pairs and canary readers a scoped
// user may not see. Vendor supervisors have no breach permission today;
// this keeps the rule if one is ever given it.
func scopeAttribution(ri *reqInfo, a *breach.Attribution) *breach.Attribution {
	if ri.allowed == nil {
		return a
	}
	var ss []*breach.Suspect
	for _, s := range a.Suspects {
		if ri.maysee(s.Actor) {
			ss = append(ss, s)
		}
	}
	var ps []*breach.Pair
	for _, p := range a.Pairs {
		if ri.maysee(p.Actors[0]) && ri.maysee(p.Actors[1]) {
			ps = append(ps, p)
		}
	}
	cs := make([]breach.CanaryHit, len(a.Canaries))
	for i, h := range a.Canaries {
		h.AccessedBy, h.Members = scoped(ri, h.AccessedBy), scoped(ri, h.Members)
		cs[i] = h
	}
	b := *a
	b.Suspects, b.Pairs, b.Canaries, b.Candidates = ss, ps, cs, len(ss)
	return &b
}

func (c *Console) attributionPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, q, msg := parseAttribution(r)
	data := map[string]any{"Form": f}
	v := c.viewer(ctx, info(r), nil)
	data["V"] = v
	if msg == "" && len(q.Customers) > 0 {
		var a *breach.Attribution
		var err error
		if a, msg, err = c.runAttribution(r, q); err != nil {
			c.fail(w, r, err)
			return
		}
		if msg == "" {
			c.record(r, AuditRecord{Action: AuditSearch, Target: "attribution", Detail: attributionDetail(f, len(q.Customers)), Count: len(a.Suspects)})
			data["Ran"], data["A"], data["Asked"] = true, a, len(q.Customers)
			data["CSV"] = "/attribution.csv?" + f.Query()
		}
	}
	data["Error"] = msg
	c.page(w, r, "attribution", "Attribution", data)
}

func (c *Console) attributionCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, q, msg := parseAttribution(r)
	if msg == "" && len(q.Customers) == 0 {
		msg = "give the customers"
	}
	var a *breach.Attribution
	if msg == "" {
		var err error
		if a, msg, err = c.runAttribution(r, q); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	if msg != "" {
		http.Error(w, "attribution export: "+msg, http.StatusBadRequest)
		return
	}
	rows := a.Suspects
	c.record(r, AuditRecord{Action: AuditExport, Target: "attribution", Detail: attributionDetail(f, len(q.Customers)), Count: len(rows)})
	v := c.viewer(ctx, info(r), nil)
	c.csv(w, "attribution", []string{"rank", "agent", "vendor", "team", "role", "covered", "leaked_seen", "no_ticket", "accesses", "reach", "expected", "score", "first", "last", "reason"}, len(rows), func(i int) []string {
		x := rows[i]
		ag := v.Agent(x.Actor)
		return []string{strconv.Itoa(x.Rank), ag.Label, x.Vendor, x.Team, x.Role, strconv.Itoa(x.Covered), strconv.Itoa(a.Seen), strconv.Itoa(x.NoTicket),
			strconv.Itoa(x.Accesses), strconv.Itoa(x.Reach), strconv.FormatFloat(x.Expected, 'f', 1, 64), strconv.FormatFloat(x.Score, 'f', 1, 64),
			x.First.UTC().Format(time.RFC3339), x.Last.UTC().Format(time.RFC3339), x.Reason}
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// csv writes rows as an attachment. Cells that a spreadsheet would run as a
// formula are prefixed with a quote (CSV injection).
func (c *Console) csv(w http.ResponseWriter, name string, header []string, n int, row func(int) []string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="custos-%s-%s.csv"`, name, c.now().UTC().Format("20060102-150405")))
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for i := 0; i < n; i++ {
		cells := row(i)
		for j, s := range cells {
			if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
				cells[j] = "'" + s
			}
		}
		if err := cw.Write(cells); err != nil {
			return
		}
	}
	cw.Flush()
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func attributionDetail(f attributionForm, n int) string {
	d := fmt.Sprintf("%d customers", n)
	if f.From != "" {
		d += " from " + f.From
	}
	if f.Until != "" {
		d += " until " + f.Until
	}
	return d
}

// Labels names agents as the viewer may see them (pseudonyms unless
// revealed).
func (v *viewer) Labels(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = v.Agent(id).Label
	}
	return out
}
