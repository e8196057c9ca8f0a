package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/console"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/server"
	"github.com/custos-io/custos/internal/sim"
	"github.com/custos-io/custos/internal/store"
)

// demoPassword is every demo login's password. The demo refuses to listen
// on anything but loopback, since the password is published.
const demoPassword = "custos-demo"

var demoUsers = []console.User{
	{Name: "admin", Display: "Demo admin", Role: console.Admin},
	{Name: "analyst", Display: "Demo analyst", Role: console.Analyst},
	{Name: "lead", Display: "Demo lead", Role: console.Lead},
	{Name: "privacy", Display: "Demo privacy officer", Role: console.PrivacyOfficer},
	{Name: "north", Display: "bpo-north supervisor", Role: console.VendorSupervisor, Vendor: "bpo-north"},
}

func newDemo(e *env) *cobra.Command {
	var addr, dir string
	var days, agents int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo [--addr 127.0.0.1:7410] [--dir DIR]",
		Short: "Simulate a small support organisation, detect on it, and serve the console with demo logins",
		Long: `Demo simulates a support organisation (custos simulate: outsourcing vendors
and in-house staff working tickets, benign traps, planted insiders),
replays it through the engine into an embedded database, and serves the
investigator console and the API on it. It prints the URL and the demo logins.
The data and database go to a temporary directory removed on exit, or to --dir,
which is kept. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if addr == "" {
				addr = cfg.Serve.Addr
			}
			if err := loopbackOnly(addr); err != nil {
				return err
			}
			log := e.logger(cfg)
			ctx := cmd.Context()

			keep := dir != ""
			if !keep {
				if dir, err = os.MkdirTemp("", "custos-demo-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				return err
			}
			sc := sim.Default()
			sc.Seed, sc.Days, sc.Agents = seed, days, agents
			sc.Customers = max(2000, agents*150)
			// The history ends yesterday, so "now" in the console is now.
			sc.Start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days).Format(time.DateOnly)
			if err := sc.Validate(); err != nil {
				return err
			}
			sum, err := sim.WriteDir(ctx, sc, data, sim.Options{})
			if err != nil {
				return err
			}
			pack, err := cfg.Pack()
			if err != nil {
				return err
			}

			dbPath := filepath.Join(dir, "custos.db")
			if err := os.Remove(dbPath); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			st, err := store.Open(ctx, dbPath)
			if err != nil {
				return err
			}
			defer st.Close()
			// Only store the history: the server runs the engine over it as it
			// starts (as after any restart), so it is read once, not twice.
			counts, err := storeInto(ctx, cfg.Replay.Lateness, data, st)
			if err != nil {
				return err
			}

			state := console.StoreState{S: st}
			for _, u := range demoUsers {
				if u.PasswordHash, err = console.HashPassword(demoPassword); err != nil {
					return err
				}
				u.Via, u.Created = "local", time.Now().UTC()
				if err := state.PutUser(ctx, u); err != nil {
					return err
				}
			}

			// Configured response actions (respond.actions) are offered on
			// the case page, on request only: the demo runs no dispatcher,
			// so no when: trigger fires on the simulated cases.
			roster := &serveRoster{st: st}
			_, od, err := cfg.Respond.BuildAll(respond.Deps{Journal: st, Roster: roster, Logger: log})
			if err != nil {
				return err
			}
			defer od.Close()
			srv, err := withConsole(ctx, cfg, pack, st, server.Options{
				Token:           rand.Text(),
				MaxBody:         cfg.Serve.MaxBody,
				ShutdownTimeout: cfg.Serve.ShutdownTimeout,
				ReadTimeout:     cfg.Serve.ReadTimeout,
				NewEngine:       func(emit func(*finding.Finding)) server.Engine { return cfg.EngineWith(pack, emit, nil) },
				Logger:          log,
			}, od, log, "Demo data", nil)
			if err != nil {
				return err
			}
			roster.srv = srv
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			w := e.stdout
			fmt.Fprintf(w, "\nCustos demo: simulated %d agents, %d events and %d ticket changes in %s; detecting as the server starts.\n\n",
				counts.People, counts.Events, counts.Tickets, time.Since(started).Round(100*time.Millisecond))
			fmt.Fprintf(w, "  Open   http://%s/\n", ln.Addr())
			fmt.Fprintf(w, "  Logins (password %q for all):\n", demoPassword)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, u := range demoUsers {
				scope := ""
				if u.Vendor != "" {
					scope = "sees only " + u.Vendor
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\n", u.Name, u.Role.Label(), scope)
			}
			tw.Flush()
			fmt.Fprintf(w, "\n  %d insiders are planted among %d agents (%s lists them); the cases queue shows where to start.\n",
				sum.Insiders, counts.People, filepath.Join(data, "labels.json"))
			if keep {
				fmt.Fprintf(w, "  Data and database in %s (kept).\n", dir)
			}
			fmt.Fprintln(w, "  Ctrl-C stops the demo.")
			fmt.Fprintln(w)
			return srv.Run(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address, loopback only (default serve.addr, 127.0.0.1:7410)")
	cmd.Flags().StringVar(&dir, "dir", "", "write the simulated data and the database here and keep them")
	cmd.Flags().IntVar(&days, "days", 14, "days of history to simulate")
	cmd.Flags().IntVar(&agents, "agents", 80, "agents on the simulated roster")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "simulation seed (the same seed simulates the same organisation)")
	return cmd
}

// loopbackOnly refuses an address other processes or machines could reach.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--addr %s: the demo's logins have a published password, so it listens on loopback only (127.0.0.1)", addr)
	}
	return nil
}

// storeInto stores the replay directory dir in st, in the merged time
// order a replay feeds the engine, without running the engine.
func storeInto(ctx context.Context, lateness time.Duration, dir string, st *store.Store) (replay.Counts, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dbw := startDBWriter(ctx, st, cancel)
	counts, err := replay.Run(ctx, replay.Options{Dir: dir, Lateness: lateness}, teeSink{Sink: discard{}, w: dbw})
	if _, werr := dbw.wait(); werr != nil {
		return counts, werr
	}
	return counts, err
}

// discard is a replay sink that keeps nothing.
type discard struct{}

func (discard) SetPerson(*event.Person)    {}
func (discard) SetSubject(*event.Subject)  {}
func (discard) Ticket(*event.TicketChange) {}
func (discard) Event(*event.Event)         {}
func (discard) Flush()                     {}
