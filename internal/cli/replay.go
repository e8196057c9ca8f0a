package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
	"github.com/custos-io/custos/internal/store"
)

// replayGCPercent is the garbage collector's target for replay unless GOGC
// is set: a replay is a batch job whose live heap (mostly the ticket index)
// grows steadily, and at the default 100 collection took about a fifth of
// its CPU. 400 trades roughly 1.5x the peak memory (350 MiB -> 560 MiB on
// 400 agents x 28 days) for about 20 % less CPU.
const replayGCPercent = 400

// replayMemoryShare is the part of the machine's memory a replay may grow
// to before the collector works harder (a soft limit, unless GOMEMLIMIT is
// set). Without it, GOGC 400 lets a large replay's heap reach five times
// its live size: 10.6 GB of RSS for a 2.4 GB live heap at 100,000 actors.
const replayMemoryShare = 4 // a quarter

// replayGCNote describes gcForReplay's policy for reports.
var replayGCNote = fmt.Sprintf("custos replay's: GOGC %d and a soft memory limit of 1/%d of RAM, unless the environment sets GOGC or GOMEMLIMIT", replayGCPercent, replayMemoryShare)

// gcForReplay sets replay's collector policy unless the environment sets
// one, and returns a function restoring the previous policy.
func gcForReplay() (restore func()) {
	var undo []func()
	if os.Getenv("GOGC") == "" {
		old := debug.SetGCPercent(replayGCPercent)
		undo = append(undo, func() { debug.SetGCPercent(old) })
	}
	if total := physicalMemory(); os.Getenv("GOMEMLIMIT") == "" && total > 0 {
		old := debug.SetMemoryLimit(int64(total / replayMemoryShare))
		undo = append(undo, func() { debug.SetMemoryLimit(old) })
	}
	return func() {
		for _, f := range undo {
			f()
		}
	}
}

// shownRejects is how many rejected records replay prints before it only
// counts them; --rejects writes them all.
const shownRejects = 20

func newReplay(e *env) *cobra.Command {
	var out, rejects, db, rulesDir, report string
	cmd := &cobra.Command{
		Use:   "replay [--out FILE] [--db FILE] [--rules DIR] [--report FILE] DIR",
		Short: "Run a directory of recorded events through the engine and write findings",
		Long: `Replay reads DIR/roster.ndjson, DIR/subjects.ndjson, DIR/tickets.ndjson and
DIR/events.ndjson (each optionally .ndjson.gz; all but events may be absent),
runs the engine on event time and writes findings as NDJSON. The same inputs
and configuration always give the same bytes.

--db FILE also stores the roster, customers, ticket changes, events and
findings in the SQLite database FILE (created if missing; records already in
it are skipped), so that other commands and custos serve can use the history.
The findings output is the same with or without it.

--rules DIR backtests a candidate rule pack: it replaces the configured pack,
and a table of alerts and distinct actors per rule goes to standard error
(or to --report FILE); standard output still carries only findings.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			defer gcForReplay()()
			if rulesDir != "" {
				cfg.Rules.Dir = rulesDir
			}
			pack, err := cfg.Pack()
			if err != nil {
				return err
			}
			var w io.Writer = e.stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("creating --out: %w", err)
				}
				defer f.Close()
				w = f
			}
			var rejw *bufio.Writer
			if rejects != "" {
				f, err := os.Create(rejects)
				if err != nil {
					return fmt.Errorf("creating --rejects: %w", err)
				}
				defer f.Close()
				rejw = bufio.NewWriter(f)
				defer rejw.Flush()
			}

			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			var dbw *dbWriter
			if db != "" {
				st, err := store.Open(ctx, db)
				if err != nil {
					return fmt.Errorf("--db: %w", err)
				}
				defer st.Close()
				dbw = startDBWriter(ctx, st, cancel)
			}

			bw := bufio.NewWriterSize(w, 1<<20)
			var werr error
			var alerts, cases int64
			stats := newRuleStats(pack)
			fails := newRuleFailures(e.logger(cfg))
			eng := cfg.BatchEngineWith(pack, func(f *finding.Finding) {
				if dbw != nil {
					dbw.finding(f)
				}
				if f.Kind == finding.KindAlert {
					alerts++
					stats.add(f)
				} else {
					cases++
				}
				if werr != nil {
					return
				}
				line, err := finding.MarshalLine(f)
				if err == nil {
					_, err = bw.Write(line)
				}
				werr = err
			}, fails.record)

			var shown int
			opts := replay.Options{
				Dir:      args[0],
				Lateness: cfg.Replay.Lateness,
				Rejected: func(re *event.RecordError) {
					if rejw != nil {
						fmt.Fprintln(rejw, re)
					}
					if shown < shownRejects {
						fmt.Fprintln(e.stderr, "rejected:", re)
					}
					shown++
				},
			}
			start := time.Now()
			bar := &progress{start: start}
			if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				bar.w = f
				opts.Progress = bar.begin
			}
			var sink replay.Sink = eng
			if dbw != nil {
				sink = teeSink{Sink: eng, w: dbw}
			}
			eng.Start(ctx)
			counts, err := replay.Run(ctx, opts, sink)
			if cerr := eng.Close(); err == nil {
				err = cerr
			}
			bar.finish()
			if perr := e.heapProfile(); perr != nil {
				return perr
			}
			runtime.KeepAlive(eng) // live in the heap profile above
			var stored dbCounts
			if dbw != nil {
				var derr error
				if stored, derr = dbw.wait(); derr != nil {
					return derr // the cause of a cancelled replay
				}
			}
			if err != nil {
				return err
			}
			if err := bw.Flush(); werr == nil {
				werr = err
			}
			if werr != nil {
				return fmt.Errorf("writing findings: %w", werr)
			}
			if shown > shownRejects {
				hint := " (--rejects FILE lists them all)"
				if rejw != nil {
					hint = " (all listed in " + rejects + ")"
				}
				fmt.Fprintf(e.stderr, "rejected: %d more not shown%s\n", shown-shownRejects, hint)
			}
			if rulesDir != "" || report != "" {
				if err := writeRuleReport(e.stderr, report, stats); err != nil {
					return err
				}
			}
			fails.report(e.stderr, "replay")
			elapsed := time.Since(start)
			fmt.Fprintf(e.stderr, "replay: %d events, %d ticket changes, %d rejected, %d late, %d alerts, %d case findings in %s (%.0f events/s)\n",
				counts.Events, counts.Tickets, counts.Rejected, counts.Late, alerts, cases,
				elapsed.Round(time.Millisecond), float64(counts.Events)/max(elapsed.Seconds(), 1e-9))
			if dbw != nil {
				fmt.Fprintf(e.stderr, "replay: stored %d events, %d ticket changes (%d already stored), %d roster entries, %d customers, %d findings in %s\n",
					stored.Events, stored.Tickets, stored.Duplicates, stored.People, stored.Subjects, stored.Findings, db)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write findings to FILE instead of standard output")
	cmd.Flags().StringVar(&rejects, "rejects", "", "write every rejected record's error to FILE")
	cmd.Flags().StringVar(&db, "db", "", "also store the inputs and findings in the SQLite database FILE")
	cmd.Flags().StringVar(&rulesDir, "rules", "", "backtest the rule pack in DIR instead of the configured one, with a per-rule report")
	cmd.Flags().StringVar(&report, "report", "", "write the per-rule report (alerts, distinct actors) to FILE instead of standard error")
	return cmd
}

// progress shows a bar on a terminal, but only once the replay has run for
// a second: short replays stay quiet.
type progress struct {
	w     *os.File
	start time.Time
	bar   *progressbar.ProgressBar
}

func (p *progress) begin(total int64) func(int64) {
	return func(done int64) {
		if p.bar == nil {
			if time.Since(p.start) < time.Second {
				return
			}
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("replay"),
				progressbar.OptionShowBytes(true),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = p.bar.Set64(done)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
