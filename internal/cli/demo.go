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
	"github.com/custos-io/custos/internal/demo"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
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
	var days, scale int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo [--addr 127.0.0.1:7410] [--dir DIR]",
		Short: "Simulate a small support organisation, detect on it, and serve the console with demo logins",
		Long: `Demo writes a simulated support organisation (two outsourcing vendors and
in-house staff working tickets, a few sloppy agents, three planted insiders),
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
			o := demo.Defaults()
			o.Seed, o.Days, o.Scale = seed, days, scale
			// The history ends yesterday, so "now" in the console is now.
			o.Start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days)
			if err := demo.Write(data, o); err != nil {
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
			newEngine := func(emit func(*finding.Finding)) replay.Sink { return cfg.Engine(emit) }
			counts, findings, err := replayInto(ctx, newEngine, cfg.Replay.Lateness, data, st)
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

			srv, err := serverWithConsole(ctx, cfg, st, rand.Text(), log, "Demo data", nil)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			w := e.stdout
			fmt.Fprintf(w, "\nCustos demo: %d agents, %d events, %d ticket changes, %d findings (%d cases), ready in %s.\n\n",
				counts.People, counts.Events, counts.Tickets, findings.all, findings.cases, time.Since(started).Round(100*time.Millisecond))
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
			fmt.Fprintf(w, "\n  Three insiders are planted among %d agents; the cases queue shows where to start.\n", counts.People)
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
	cmd.Flags().IntVar(&scale, "scale", 2, "agents per team, as a multiple of the smallest organisation (22 agents)")
	cmd.Flags().Uint64Var(&seed, "seed", 7, "simulation seed (the same seed simulates the same organisation)")
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

type findingCounts struct{ all, cases int }

// replayInto replays dir through a fresh engine into st, as replay --db
// does, without writing findings anywhere else.
func replayInto(ctx context.Context, newEngine func(emit func(*finding.Finding)) replay.Sink, lateness time.Duration, dir string, st *store.Store) (replay.Counts, findingCounts, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dbw := startDBWriter(ctx, st, cancel)
	var fc findingCounts
	cases := map[string]bool{}
	eng := newEngine(func(f *finding.Finding) {
		dbw.finding(f)
		if f.Kind == finding.KindAlert {
			fc.all++
		} else if !cases[f.ID] {
			cases[f.ID] = true
			fc.all++
			fc.cases++
		}
	})
	counts, err := replay.Run(ctx, replay.Options{Dir: dir, Lateness: lateness}, teeSink{Sink: eng, w: dbw})
	if _, werr := dbw.wait(); werr != nil {
		return counts, fc, werr
	}
	return counts, fc, err
}
