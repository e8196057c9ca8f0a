// Package cli is the custos command line: one cobra command per subcommand,
// each a thin layer that parses flags, loads the configuration and calls the
// package that does the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/config"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// exitError carries a specific exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// env is what every subcommand shares: its streams and global flags.
type env struct {
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
	cpuProfile     string
	memProfile     string
	memWritten     bool
}

// heapProfile writes the --memprofile heap profile, once. Replay calls it
// while its engine is still live, so the profile shows the state a long run
// holds; other commands get one when they end.
func (e *env) heapProfile() error {
	if e.memProfile == "" || e.memWritten {
		return nil
	}
	e.memWritten = true
	f, err := os.Create(e.memProfile)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC() // the profile's in-use figures are as of the last collection
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", e.memProfile, err)
	}
	return f.Close()
}

func (e *env) config() (config.Config, error) {
	c, err := config.Load(e.configPath)
	if err != nil {
		return c, err
	}
	if e.logLevel != "" {
		c.Log.Level = e.logLevel
	}
	return c, c.Validate()
}

func (e *env) logger(c config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// Main runs the command line and returns the process exit status.
func Main(args []string) int {
	return run(context.Background(), args, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "custos:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "custos",
		Short:         "Insider-risk detection for people who already have access to customer data",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.PersistentFlags().StringVarP(&e.configPath, "config", "c", "", "YAML configuration file (defaults apply without one)")
	root.PersistentFlags().StringVar(&e.logLevel, "log-level", "", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&e.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the command to FILE")
	root.PersistentFlags().StringVar(&e.memProfile, "memprofile", "", "write a pprof heap profile to FILE (replay: at the end of input, engine state live)")
	var prof *os.File
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if e.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(e.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile %s: %w", e.cpuProfile, err)
		}
		prof = f
		return nil
	}
	root.PersistentPostRunE = func(*cobra.Command, []string) error {
		if err := e.heapProfile(); err != nil {
			return err
		}
		if prof == nil {
			return nil
		}
		pprof.StopCPUProfile()
		return prof.Close()
	}
	root.AddCommand(newReplay(e), newServe(e), newSinks(e), newRules(e), newRoster(e), newExposure(e), newAttribute(e), newCanary(e))
	root.AddCommand(newSimulate(e), newEval(e))
	root.AddCommand(newUsers(e), newDemo(e))
	root.AddCommand(newBench(e))
	return root
}
