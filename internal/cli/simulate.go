package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/sim"
)

func newSimulate(e *env) *cobra.Command {
	var (
		params, insiders, noTraps string
		noInsiders, gz, print     bool
	)
	cfg := sim.Default()
	cmd := &cobra.Command{
		Use:   "simulate [flags] DIR",
		Short: "Write a simulated support organisation with labelled insiders to DIR",
		Long: `Simulate writes a synthetic support organisation to DIR: roster.ndjson,
subjects.ndjson, tickets.ndjson and events.ndjson (FORMATS.md), and labels.json,
which names each insider, its scenario and when it started (docs/simulate.md).
The output is a pure function of the parameters: the same seed writes the same
bytes.

Parameters come from the defaults, then --params FILE (YAML; --print-params shows
every key), then the flags. Benign traps can be switched off with --no-trap and
insider counts set with --insiders.

Scenarios: ` + strings.Join(sim.ScenarioNames, ", ") + `.
Traps: ` + strings.Join(sim.TrapNames, ", ") + `.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if print {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c := sim.Default()
			if params != "" {
				if err := sim.LoadParams(params, &c); err != nil {
					return err
				}
			}
			// Flags given on the command line win over the file.
			fl := cmd.Flags()
			if fl.Changed("seed") {
				c.Seed = cfg.Seed
			}
			if fl.Changed("agents") {
				c.Agents = cfg.Agents
			}
			if fl.Changed("days") {
				c.Days = cfg.Days
			}
			if fl.Changed("customers") {
				c.Customers = cfg.Customers
			}
			if fl.Changed("start") {
				c.Start = cfg.Start
			}
			if fl.Changed("honeytokens") {
				c.Honeytokens = cfg.Honeytokens
			}
			if noInsiders {
				c.Insiders.None()
			}
			if insiders != "" {
				if err := c.Insiders.SetCounts(insiders); err != nil {
					return err
				}
			}
			for t := range strings.SplitSeq(noTraps, ",") {
				if t = strings.TrimSpace(t); t != "" {
					if err := c.Traps.Disable(t); err != nil {
						return err
					}
				}
			}
			if err := c.Validate(); err != nil {
				return err
			}
			if print {
				b, err := c.MarshalParams()
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(b)
				return err
			}
			start := time.Now()
			sum, err := sim.WriteDir(cmd.Context(), c, args[0], sim.Options{Gzip: gz})
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			fmt.Fprintf(e.stderr, "simulate: %d agents, %d customers, %d insiders, %d tickets, %d ticket changes, %d events in %s (%.0f events/s) -> %s\n",
				sum.Agents, sum.Customers, sum.Insiders, sum.Tickets, sum.TicketChanges, sum.Events,
				elapsed.Round(time.Millisecond), float64(sum.Events)/max(elapsed.Seconds(), 1e-9), args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed writes the same bytes")
	f.IntVar(&cfg.Agents, "agents", cfg.Agents, "agents on the roster, every role included")
	f.IntVar(&cfg.Days, "days", cfg.Days, "days to simulate")
	f.IntVar(&cfg.Customers, "customers", cfg.Customers, "customers")
	f.StringVar(&cfg.Start, "start", cfg.Start, "first day, YYYY-MM-DD (UTC)")
	f.IntVar(&cfg.Honeytokens, "honeytokens", cfg.Honeytokens, "decoy customers")
	f.StringVar(&params, "params", "", "YAML file of simulation parameters (see --print-params)")
	f.BoolVar(&print, "print-params", false, "print the parameters that would be used, as YAML, and exit")
	f.StringVar(&insiders, "insiders", "", "insider counts, e.g. bribed_agent=3,collusion=2 (pairs for collusion)")
	f.BoolVar(&noInsiders, "no-insiders", false, "no insiders at all (before --insiders)")
	f.StringVar(&noTraps, "no-trap", "", "comma-separated benign traps to switch off, e.g. unexplained,travel")
	f.BoolVar(&gz, "gzip", false, "write NAME.ndjson.gz instead of NAME.ndjson")
	return cmd
}
