// Package console is Custos's investigator console: server-rendered pages
// (html/template, htmx for interactivity, uPlot for charts, everything
// embedded) over the engine's findings and the stored events. It is watched
// itself: users log in (local passwords or OIDC), have roles and, for vendor
// supervisors, a vendor scope; agents appear under keyed-hash pseudonyms
// until someone reveals one with a reason; and every view of a case, an
// agent or a customer, every reveal and export is audited and can be fed back
// into the engine as access events.
package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/engine"
)

// Config is the console's configuration, the `console:` section of the
// configuration file.
type Config = config.Console

// OIDCConfig configures single sign-on.
type OIDCConfig = config.OIDC

// DefaultConfig returns the console's defaults.
func DefaultConfig() Config { return config.DefaultConsole() }

// Options are what a console is built from. Source and State are required.
type Options struct {
	Config Config
	Source Source
	State  State
	// Breach answers exposure and attribution; nil runs the breach package
	// over Source if it can be read that way (StoreSource can), and
	// otherwise shows the pages with an error.
	Breach Breach
	// Rules lists the loaded rules; nil lists only the rules seen in alerts.
	Rules RuleCatalog
	// Responder offers responses on the case page; nil offers none.
	Responder Responder
	// Journal shows the response actions run for a case and its alerts on
	// the case page; nil shows none.
	Journal ActionJournal
	// Access receives the audit as access events (if Config.AuditEvents).
	Access AccessSink
	// Tickets are the engine's ticket windows, so the actor page judges
	// accesses as the engine does; zero means 15m grace, 30m after close.
	Tickets engine.Windows
	// RiskHalfLife decays alert points in the actor's risk chart, as the
	// engine's scorer does; zero means 72h.
	RiskHalfLife time.Duration
	Logger       *slog.Logger
	// Now is the wall clock (sessions, audit); nil means time.Now.
	Now func() time.Time
	// DataNow is "now" for the data (case age, contracts ending soon); nil
	// means Now. A demo over simulated history sets it to the data's end.
	DataNow func(context.Context) time.Time
	// Banner is shown on every page (e.g. "Demo data").
	Banner string
}

// Console serves the investigator console.
type Console struct {
	cfg      Config
	src      Source
	state    State
	breach   Breach
	rules    RuleCatalog
	respond  Responder
	journal  ActionJournal
	access   AccessSink
	log      *slog.Logger
	now      func() time.Time
	dataNow  func(context.Context) time.Time
	banner   string
	halfLife time.Duration
	windows  engine.Windows

	pseudo  *Pseudonyms
	pages   *pages
	limiter *loginLimiter
	oidc    *oidcClient
	handler http.Handler
}

// New builds a console.
func New(ctx context.Context, o Options) (*Console, error) {
	if o.Source == nil || o.State == nil {
		return nil, errors.New("console: Source and State are required")
	}
	if o.Config.SessionIdle == 0 {
		o.Config = DefaultConfig()
	}
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	for k, v := range o.Config.OIDC.Roles {
		if _, err := ParseRole(v); err != nil {
			return nil, fmt.Errorf("console: console.oidc.roles[%q]: %w", k, err)
		}
	}
	c := &Console{
		cfg: o.Config, src: o.Source, state: o.State, breach: o.Breach, rules: o.Rules,
		respond: o.Responder, journal: o.Journal, access: o.Access, log: o.Logger, now: o.Now, dataNow: o.DataNow,
		banner: o.Banner, halfLife: o.RiskHalfLife,
	}
	if c.rules == nil {
		c.rules = noRules{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.dataNow == nil {
		c.dataNow = func(context.Context) time.Time { return c.now() }
	}
	c.windows = o.Tickets
	if c.windows == (engine.Windows{}) {
		c.windows = engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}
	}
	if c.breach == nil {
		if bs, ok := o.Source.(breachSource); ok {
			c.breach = BreachOver{Src: bs.BreachSource(), Windows: c.windows}
		} else {
			c.breach = noBreach{}
		}
	}
	if c.halfLife <= 0 {
		c.halfLife = 72 * time.Hour
	}
	key := []byte(o.Config.PseudonymKey)
	if len(key) == 0 {
		var err error
		key, err = o.State.Secret(ctx, "pseudonym_key", func() ([]byte, error) {
			b := make([]byte, 32)
			_, err := rand.Read(b)
			return b, err
		})
		if err != nil {
			return nil, fmt.Errorf("console: pseudonym key: %w", err)
		}
	}
	c.pseudo = NewPseudonyms(key)
	var err error
	if c.pages, err = loadPages(); err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	c.limiter = newLoginLimiter()
	if o.Config.OIDC.Issuer != "" {
		c.oidc = newOIDCClient(o.Config.OIDC)
	}
	c.handler = c.routes()
	return c, nil
}

// Handler returns the console's HTTP handler, to be mounted at "/".
func (c *Console) Handler() http.Handler { return c.handler }

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", assetHandler())
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.loginSubmit)
	mux.HandleFunc("GET /auth/oidc/login", c.oidcLogin)
	mux.HandleFunc("GET /auth/oidc/callback", c.oidcCallback)
	mux.Handle("POST /logout", c.authed(-1, c.logout))

	mux.Handle("GET /{$}", c.authed(PermViewCases, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/cases", http.StatusSeeOther)
	}))
	mux.Handle("GET /cases", c.authed(PermViewCases, c.casesPage))
	mux.Handle("GET /cases/{id}", c.authed(PermViewCases, c.casePage))
	mux.Handle("POST /cases/{id}/assign", c.authed(PermWorkCases, c.caseAssign))
	mux.Handle("POST /cases/{id}/comment", c.authed(PermComment, c.caseComment))
	mux.Handle("POST /cases/{id}/verdict", c.authed(PermWorkCases, c.caseVerdict))
	mux.Handle("POST /cases/{id}/close", c.authed(PermWorkCases, c.caseClose))
	mux.Handle("POST /cases/{id}/reopen", c.authed(PermWorkCases, c.caseReopen))
	mux.Handle("POST /cases/{id}/respond", c.authed(PermRespond, c.caseRespond))
	mux.Handle("GET /actors/{p}", c.authed(PermViewCases, c.actorPage))
	mux.Handle("POST /actors/{p}/reveal", c.authed(PermViewCases, c.actorReveal))
	mux.Handle("GET /customers/{id}", c.authed(PermCustomers, c.customerPage))
	mux.Handle("GET /exposure", c.authed(PermBreach, c.exposurePage))
	mux.Handle("GET /exposure.csv", c.authed(PermBreach, c.exposureCSV))
	mux.Handle("GET /attribution", c.authed(PermBreach, c.attributionPage))
	mux.Handle("GET /attribution.csv", c.authed(PermBreach, c.attributionCSV))
	mux.Handle("GET /roster", c.authed(PermViewCases, c.rosterPage))
	mux.Handle("GET /rules", c.authed(PermViewCases, c.rulesPage))
	mux.Handle("GET /admin/audit", c.authed(PermAudit, c.auditPage))
	mux.Handle("GET /admin/users", c.authed(PermUsers, c.usersPage))
	mux.Handle("POST /admin/users", c.authed(PermUsers, c.usersSubmit))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders sets what every response needs: no framing, no sniffing,
// scripts only from the console itself, no caching of pages that show
// personal data.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if len(r.URL.Path) < 8 || r.URL.Path[:8] != "/assets/" {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}
