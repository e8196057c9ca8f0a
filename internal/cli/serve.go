package cli

import (
	"errors"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/finding"
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
not exist. SIGINT or SIGTERM stops it gracefully. See docs/api.md.`,
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
			opts := server.Options{
				Token:           token,
				MaxBody:         cfg.Serve.MaxBody,
				ShutdownTimeout: cfg.Serve.ShutdownTimeout,
				NewEngine:       func(emit func(*finding.Finding)) server.Engine { return cfg.EngineWith(pack, emit) },
				Logger:          log,
			}
			if len(cfg.Sinks) > 0 {
				// Built before the engine runs, so every sink has a cursor
				// before the first finding reaches the outbox.
				sinks, err := sink.BuildAll(cfg.Sinks, sink.BuildOptions{Product: product()})
				if err != nil {
					st.Close()
					return err
				}
				d, err := sink.NewDispatcher(ctx, st.Outbox(), sinks, sink.Options{Logger: log})
				if err != nil {
					for _, s := range sinks {
						s.Sender.Close()
					}
					st.Close()
					return err
				}
				opts.Sinks = d
				log.Info("sinks", "count", len(sinks))
			}
			srv, err := server.New(opts, st)
			if err != nil {
				st.Close()
				return err
			}
			ln, err := net.Listen("tcp", cfg.Serve.Addr)
			if err != nil {
				st.Close()
				return fmt.Errorf("serve.addr: %w", err)
			}
			log.Info("starting", "db", cfg.Serve.DB, "addr", ln.Addr().String())
			runErr := srv.Run(ctx, ln)
			return errors.Join(runErr, st.Close())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (overrides serve.addr)")
	cmd.Flags().StringVar(&db, "db", "", "SQLite database file (overrides serve.db)")
	return cmd
}
