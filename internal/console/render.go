package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/wording"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// assetVersion changes the asset URLs when the embedded files change, so
// browsers may cache them for a year.
var assetVersion = func() string {
	h := uint32(2166136261)
	_ = fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := assetFS.ReadFile(p)
		for _, c := range b {
			h = (h ^ uint32(c)) * 16777619
		}
		return nil
	})
	return fmt.Sprintf("%08x", h)
}()

func assetHandler() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"login", "cases", "case", "actor", "customer", "exposure", "attribution", "roster", "rules", "audit", "users", "error"}

func loadPages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	t := c.pages.byName[name]
	data["Asset"] = assetVersion
	var buf bytes.Buffer
	root := "layout"
	if name == "login" {
		root = "bare"
	}
	if err := t.ExecuteTemplate(&buf, root, data); err != nil {
		c.log.Error("console: rendering page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// page renders a logged-in page with the layout's data.
func (c *Console) page(w http.ResponseWriter, r *http.Request, name, title string, data map[string]any) {
	c.pageStatus(w, r, http.StatusOK, name, title, data)
}

func (c *Console) pageStatus(w http.ResponseWriter, r *http.Request, status int, name, title string, data map[string]any) {
	ri := info(r)
	if ri == nil { // before login: no layout to render into
		msg, _ := data["Message"].(string)
		http.Error(w, or(msg, title), status)
		return
	}
	data["Title"] = title
	data["Nav"] = name
	data["Banner"] = c.banner
	data["Me"] = ri.user
	data["CSRF"] = ri.session.CSRF
	data["CSRFHeader"] = fmt.Sprintf(`{%q: %q}`, csrfHeader, ri.session.CSRF)
	if _, ok := data["V"]; !ok {
		data["V"] = c.viewer(r.Context(), ri, nil)
	}
	c.render(w, r, status, name, data)
}

// forbidden answers 403 with a page that shows no data, and audits it.
func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, why string) {
	c.audit(r, AuditDenied, strings.TrimPrefix(r.URL.Path, "/"), why)
	c.pageStatus(w, r, http.StatusForbidden, "error", "Access denied", map[string]any{
		"Code": http.StatusForbidden, "Heading": "Access denied", "Message": why,
	})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, what string) {
	c.pageStatus(w, r, http.StatusNotFound, "error", "Not found", map[string]any{
		"Code": http.StatusNotFound, "Heading": "Not found", "Message": what,
	})
}

func (c *Console) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	c.pageStatus(w, r, http.StatusBadRequest, "error", "Bad request", map[string]any{
		"Code": http.StatusBadRequest, "Heading": "That did not work", "Message": msg,
	})
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.log.Error("console: request failed", "path", r.URL.Path, "err", err)
	c.pageStatus(w, r, http.StatusInternalServerError, "error", "Error", map[string]any{
		"Code": http.StatusInternalServerError, "Heading": "Something went wrong",
		"Message": "The console could not load this page. The error is in the server log.",
	})
}

// viewer shows ids to one user: agents under pseudonyms unless revealed to
// them, summaries with agent ids masked.
type viewer struct {
	c      *Console
	ri     *reqInfo
	people map[string]event.Person
}

func (c *Console) viewer(ctx context.Context, ri *reqInfo, people []event.Person) *viewer {
	v := &viewer{c: c, ri: ri, people: map[string]event.Person{}}
	if people == nil {
		people, _ = c.src.People(ctx)
	}
	for _, p := range people {
		v.people[p.ID] = p
	}
	return v
}

// agentRef is how a page shows one agent.
type agentRef struct {
	ID       string // the real id: only for revealed agents
	Label    string // what to show: pseudonym, or the id when revealed
	Name     string // the roster name, when revealed
	Href     string
	Revealed bool
	Person   *event.Person // roster facts other than identity
	Until    time.Time
}

// Agent returns how this viewer sees actor id.
func (v *viewer) Agent(id string) agentRef {
	ps := v.c.pseudo.Of(id)
	a := agentRef{Label: ps, Href: "/actors/" + ps}
	if p, ok := v.people[id]; ok {
		a.Person = &p
	}
	if rv, ok := v.ri.reveals[id]; ok || v.c.cfg.ShowIdentities {
		a.ID, a.Label, a.Revealed, a.Until = id, id, true, rv.Until
		if a.Person != nil {
			a.Name = a.Person.Name
		}
	}
	return a
}

// Device shows a device id, pseudonymised like its agent: fingerprints and
// host names often carry a person's name ("LAPTOP-ANA"), while a stable
// pseudonym still shows a device shared between agents.
func (v *viewer) Device(actor, dev string) string {
	if dev == "" || dev == "(unknown device)" {
		return dev
	}
	if v.Agent(actor).Revealed {
		return dev
	}
	return "dev-" + v.c.pseudo.tag("device\x00" + dev)[:8]
}

// Mask hides the agent ids in text from this viewer, the named agents and
// every roster id (summaries mention managers and ticket assignees).
func (v *viewer) Mask(text string, ids ...string) string {
	return maskText(text, func(w string) bool {
		if _, ok := v.people[w]; ok {
			return true
		}
		for _, id := range ids {
			if w == id {
				return true
			}
		}
		return false
	}, func(id string) string { return v.Agent(id).Label })
}

var funcs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"tss": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.DateOnly)
	},
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":     ago,
	"sevrank": func(s finding.Severity) int { return s.Rank() },
	"num":     num,
	"pct":     pct,
	"money":   wording.Money,
	"short":   shortID,
	"join":    strings.Join,
	"riskw": func(risk, max float64) int {
		if max <= 0 {
			return 0
		}
		return int(math.Round(100 * math.Min(risk, max) / max))
	},
	"jsondata": func(v any) (template.JS, error) {
		b, err := json.Marshal(v)
		// html/template escapes "</script>" inside script elements itself.
		return template.JS(b), err
	},
	"chart": func(id string, data any, label string, height int) chartRef {
		return chartRef{ID: id, Data: data, Label: label, Height: height}
	},
	"ratiow": func(a, b int) int {
		if b <= 0 {
			return 0
		}
		return 100 * a / b
	},
	"label": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"add":   func(a, b int) int { return a + b },
	"eq1":   func(s, t string) bool { return s == t },
}

type chartRef struct {
	ID     string
	Data   any
	Label  string
	Height int
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func pct(v float64) string { return fmt.Sprintf("%.0f %%", 100*v) }

// ago says how long before now t was: "3 h", "5 d".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + ago(now, t)
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d d", int(d/(24*time.Hour)))
}
