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
// no error when nothing was asked yet.
func (c *Console) parseExposure(ctx context.Context, r *http.Request) (exposureForm, ExposureQuery, string, error) {
	q := r.URL.Query()
	f := exposureForm{Agent: strings.TrimSpace(q.Get("agent")), Vendor: q.Get("vendor"), From: q.Get("from"), Until: q.Get("until")}
	var eq ExposureQuery
	if f.Agent == "" && f.Vendor == "" {
		return f, eq, "", nil
	}
	var err error
	if eq.From, err = parseDay(f.From); err != nil {
		return f, eq, "from: " + err.Error(), nil
	}
	if eq.Until, err = parseDay(f.Until); err != nil {
		return f, eq, "until: " + err.Error(), nil
	}
	if len(f.Until) == len(time.DateOnly) {
		eq.Until = eq.Until.Add(24 * time.Hour) // a date includes its whole day
	}
	if !eq.From.IsZero() && !eq.Until.IsZero() && !eq.Until.After(eq.From) {
		return f, eq, "until must be after from.", nil
	}
	switch {
	case f.Agent != "":
		id, ok, err := c.resolveActor(ctx, f.Agent)
		if err != nil {
			return f, eq, "", err
		}
		if !ok {
			return f, eq, fmt.Sprintf("No agent has the pseudonym %q (agents are named by pseudonym, e.g. ag-k3v9…).", f.Agent), nil
		}
		eq.Actors = []string{id}
	default:
		people, err := c.src.People(ctx)
		if err != nil {
			return f, eq, "", err
		}
		vendor := f.Vendor
		if vendor == "-" {
			vendor = ""
		}
		eq.Actors = vendorActors(people, vendor)
		if len(eq.Actors) == 0 {
			return f, eq, fmt.Sprintf("No agent on the roster works for %q.", f.Vendor), nil
		}
	}
	return f, eq, "", nil
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
	if msg == "" && len(q.Actors) > 0 {
		rows, err := c.breach.Exposure(ctx, q)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.record(r, AuditRecord{Action: AuditSearch, Target: "exposure", Detail: f.Query(), Count: len(rows)})
		custs, agents, fields := map[string]bool{}, map[string]bool{}, map[string]int{}
		for _, row := range rows {
			custs[row.Subject] = true
			agents[row.Actor] = true
			for _, fl := range row.Fields {
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
		data["Ran"] = true
		data["Customers"], data["Agents"], data["Fields"] = len(custs), len(agents), fcs
		data["Total"] = len(rows)
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
	if msg != "" || len(q.Actors) == 0 {
		http.Error(w, "exposure export: "+or(msg, "give an agent or a vendor"), http.StatusBadRequest)
		return
	}
	rows, err := c.breach.Exposure(ctx, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.record(r, AuditRecord{Action: AuditExport, Target: "exposure", Detail: f.Query(), Count: len(rows)})
	v := c.viewer(ctx, info(r), nil)
	c.csv(w, "exposure", []string{"customer", "agent", "fields", "resources", "actions", "events", "first", "last"}, len(rows), func(i int) []string {
		x := rows[i]
		return []string{x.Subject, v.Agent(x.Actor).Label, strings.Join(x.Fields, ";"), strings.Join(x.Resources, ";"),
			strings.Join(x.Actions, ";"), strconv.Itoa(x.Events), x.First.UTC().Format(time.RFC3339), x.Last.UTC().Format(time.RFC3339)}
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

func parseAttribution(r *http.Request) (attributionForm, AttributionQuery, string) {
	q := r.URL.Query()
	f := attributionForm{Customers: q.Get("customers"), From: q.Get("from"), Until: q.Get("until")}
	var aq AttributionQuery
	seen := map[string]bool{}
	for _, s := range strings.FieldsFunc(f.Customers, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if !seen[s] {
			seen[s] = true
			aq.Subjects = append(aq.Subjects, s)
		}
	}
	if len(aq.Subjects) == 0 {
		return f, aq, ""
	}
	if len(aq.Subjects) > maxAttributionCustomers {
		return f, aq, fmt.Sprintf("At most %d customers per query; got %d.", maxAttributionCustomers, len(aq.Subjects))
	}
	var err error
	if aq.From, err = parseDay(f.From); err != nil {
		return f, aq, "from: " + err.Error()
	}
	if aq.Until, err = parseDay(f.Until); err != nil {
		return f, aq, "until: " + err.Error()
	}
	if len(f.Until) == len(time.DateOnly) {
		aq.Until = aq.Until.Add(24 * time.Hour)
	}
	return f, aq, ""
}

func (c *Console) attributionPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, q, msg := parseAttribution(r)
	data := map[string]any{"Form": f, "Error": msg}
	v := c.viewer(ctx, info(r), nil)
	data["V"] = v
	if msg == "" && len(q.Subjects) > 0 {
		rows, err := c.breach.Attribution(ctx, q)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.record(r, AuditRecord{Action: AuditSearch, Target: "attribution", Detail: attributionDetail(f, len(q.Subjects)), Count: len(rows)})
		all := 0
		for _, row := range rows {
			if row.Seen == row.Of {
				all++
			}
		}
		data["Ran"], data["Asked"], data["SawAll"], data["Total"] = true, len(q.Subjects), all, len(rows)
		if len(rows) > maxShown {
			rows = rows[:maxShown]
		}
		data["Rows"] = rows
		data["CSV"] = "/attribution.csv?" + f.Query()
	}
	c.page(w, r, "attribution", "Attribution", data)
}

func (c *Console) attributionCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, q, msg := parseAttribution(r)
	if msg != "" || len(q.Subjects) == 0 {
		http.Error(w, "attribution export: "+or(msg, "give the customers"), http.StatusBadRequest)
		return
	}
	rows, err := c.breach.Attribution(ctx, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.record(r, AuditRecord{Action: AuditExport, Target: "attribution", Detail: attributionDetail(f, len(q.Subjects)), Count: len(rows)})
	v := c.viewer(ctx, info(r), nil)
	c.csv(w, "attribution", []string{"agent", "vendor", "team", "role", "customers_seen", "customers_asked", "events", "first", "last"}, len(rows), func(i int) []string {
		x := rows[i]
		a := v.Agent(x.Actor)
		var vendor, team, role string
		if a.Person != nil {
			vendor, team, role = a.Person.Vendor, a.Person.Team, a.Person.Role
		}
		return []string{a.Label, vendor, team, role, strconv.Itoa(x.Seen), strconv.Itoa(x.Of), strconv.Itoa(x.Events),
			x.First.UTC().Format(time.RFC3339), x.Last.UTC().Format(time.RFC3339)}
	})
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
