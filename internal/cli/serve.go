package cli

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/console"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/server"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/store"
)

func newServe(e *env) *cobra.Command {
	var addr, db string
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--db FILE]",
		Short: "Serve the HTTP API: ingest events, tickets, roster and customers; detect; serve findings",
		Long: `Serve stores every accepted record in the SQLite database (serve.db) before
answering 2xx, runs it through the same engine as replay, and stores the
findings, which GET /v1/findings returns. On start the engine is rebuilt from
the database. Every /v1 endpoint needs a bearer token: serve.token, or the
contents of serve.token_file, which is generated (and printed once) if it does
not exist. GET /metrics serves Prometheus metrics. The respond: section of
the configuration adds response actions (SCIM deactivation, SOAR webhook,
roster suspension) and the contract lifecycle check. SIGINT or SIGTERM stops
it gracefully. See docs/api.md and docs/integrations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.Serve.Addr = addr
			}
			if db != "" {
				cfg.Serve.DB = db
			}
			log := e.logger(cfg)
			ctx := cmd.Context()

			token, err := server.ResolveToken(cfg.Serve.Token, cfg.Serve.TokenFile, e.stderr, log)
			if err != nil {
				return err
			}
			// A broken rule pack stops start-up with every problem listed,
			// before anything is opened.
			pack, err := cfg.Pack()
			if err != nil {
				return err
			}
			st, err := store.Open(ctx, cfg.Serve.DB)
			if err != nil {
				return err
			}
			rm := respond.NewMetrics()
			fails := newRuleFailures(log)
			opts := server.Options{
				Token:           token,
				MaxBody:         cfg.Serve.MaxBody,
				ShutdownTimeout: cfg.Serve.ShutdownTimeout,
				ReadTimeout:     cfg.Serve.ReadTimeout,
				NewEngine:       func(emit func(*finding.Finding)) server.Engine { return cfg.EngineWith(pack, emit, fails.record) },
				Collectors:      append(rm.Collectors(), fails),
				MetricsAuth:     cfg.Serve.MetricsAuth,
				Logger:          log,
				// Batches are acknowledged from the journal; the store
				// catches up behind it.
				Journal: cfg.Serve.DB + ".journal",
				Routes:  (&breach.API{Source: st, Windows: cfg.TicketWindows(), Explainer: ticketRules(pack), Logger: log}).Routes(),
			}
			// The suspend action writes the roster through the server (store
			// and engine), which exists only once the dispatcher is built.
			roster := &serveRoster{st: st}
			sinks, err := sink.BuildAll(cfg.Sinks, sink.BuildOptions{Product: product()})
			if err != nil {
				st.Close()
				return err
			}
			// The same actions run on the dispatcher (their when: triggers)
			// and on request from the console's case page.
			actions, od, err := cfg.Respond.BuildAll(respond.Deps{Journal: st, Roster: roster, Logger: log, Metrics: rm})
			if err != nil {
				closeSinks(sinks)
				st.Close()
				return err
			}
			if consumers := append(sinks, actions...); len(consumers) > 0 {
				// Built before the engine runs, so every sink and action has
				// a cursor before the first finding reaches the outbox.
				d, err := sink.NewDispatcher(ctx, st.Outbox(), consumers, sink.Options{Logger: log})
				if err != nil {
					closeSinks(consumers)
					st.Close()
					return err
				}
				opts.Sinks = d
				log.Info("outbox consumers", "sinks", len(sinks), "response_actions", cfg.Respond.ActionNames())
			}
			if lc := cfg.Respond.Lifecycle; lc.Enabled {
				opts.Lifecycle = respond.NewLifecycle(lc, st, rm)
				opts.LifecycleInterval = lc.Interval
				log.Info("contract lifecycle check", "interval", lc.Interval, "deprovision", lc.Deprovision)
			}
			srv, err := withConsole(ctx, cfg, pack, st, opts, od, log, "", nil)
			if err != nil {
				st.Close()
				return err
			}
			roster.srv = srv
			ln, err := net.Listen("tcp", cfg.Serve.Addr)
			if err != nil {
				st.Close()
				return fmt.Errorf("serve.addr: %w", err)
			}
			log.Info("starting", "db", cfg.Serve.DB, "addr", ln.Addr().String(), "console", "http://"+ln.Addr().String()+"/")
			if us, err := (console.StoreState{S: st}).Users(ctx); err == nil && len(us) == 0 && cfg.Console.OIDC.Issuer == "" {
				log.Warn("the console has no users yet: add one with `custos users add NAME --role admin`")
			}
			runErr := srv.Run(ctx, ln)
			return errors.Join(runErr, st.Close())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (overrides serve.addr)")
	cmd.Flags().StringVar(&db, "db", "", "SQLite database file (overrides serve.db)")
	return cmd
}

func closeSinks(ss []sink.Sink) {
	for _, s := range ss {
		s.Sender.Close()
	}
}

// serveRoster is the roster the suspend action reads from the store and
// writes through the server, so the engine sees the change in order with
// the events.
type serveRoster struct {
	st  *store.Store
	srv *server.Server
}

func (r *serveRoster) Person(ctx context.Context, id string) (*event.Person, bool, error) {
	return r.st.Person(ctx, id)
}

func (r *serveRoster) PutPerson(ctx context.Context, p *event.Person) error {
	return r.srv.PutPerson(ctx, p)
}
