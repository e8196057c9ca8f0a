package cli

import (
	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/bench"
	"github.com/custos-io/custos/internal/sim"
)

func newBench(e *env) *cobra.Command {
	o := bench.Options{Sim: sim.Default()}
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure scanning, decoding, replay, serve ingest and finding latency on a simulated organisation",
		Long: `Bench generates a simulated organisation (custos simulate; or uses --dir if it
already holds one) and measures in one process, one after the other:
splitting the event lines, decoding them with encoding/json and with the fast
path (one core), a full replay with the configured rule pack and baselines
(findings marshalled as replay writes them), ingest into custos serve over
loopback HTTP (durable before each acknowledgement; p50/p99 acknowledgement
latency; events alone, then events with their ticket changes), the time from offering an event to the engine emitting the finding
it triggers at a fixed offered load, and peak memory. It prints a Markdown
report with wall and CPU time, so ratios come from the same machine state.
docs/BENCHMARKS.md is written from it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			o.Config = cfg
			o.Progress = e.stderr
			o.ReplayGC = &bench.GCPolicy{Note: replayGCNote, Set: gcForReplay}
			rep, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			return rep.Write(e.stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Sim.Agents, "agents", o.Sim.Agents, "agents of the simulated organisation")
	f.IntVar(&o.Sim.Days, "days", o.Sim.Days, "days of the simulated organisation")
	f.Uint64Var(&o.Sim.Seed, "seed", o.Sim.Seed, "simulation seed")
	f.StringVar(&o.Dir, "dir", "", "directory of the organisation: used if it holds one, else written there (default: a temporary directory)")
	f.IntVar(&o.ServeEvents, "serve-events", 200_000, "events posted to serve (0 skips the serve ingest test)")
	f.IntVar(&o.ServeClients, "serve-clients", 4, "concurrent HTTP clients of the serve ingest test")
	f.IntVar(&o.ServeBatch, "serve-batch", 1000, "events per request in the serve ingest test")
	f.IntVar(&o.LatencyRate, "latency-rate", 50_000, "offered load of the event-to-finding test, events/s")
	f.IntVar(&o.LatencyEvents, "latency-events", 250_000, "events offered in the event-to-finding test (0 skips it)")
	f.IntVar(&o.Runs, "runs", 1, "measure every stage this many times, in rounds, and report medians")
	return cmd
}
