package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/rules"
	shipped "github.com/custos-io/custos/rules"
)

func newRules(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check, test and list detection rules",
		Long: `The rules commands work on a rule directory (DIR), or without one on the
configured pack (rules.dir) or the pack built into the binary.`,
	}
	cmd.AddCommand(newRulesLint(e), newRulesTest(e), newRulesList(e), newRulesExport(e))
	return cmd
}

func newRulesExport(e *env) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the rule pack built into the binary to DIR, to start a pack of your own",
		Long: `Export writes the built-in rule files to DIR (created if missing). Point
rules.dir at DIR (or replay --rules DIR) to use your copy. Existing files are
left alone unless --force is given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("rules export: %w", err)
			}
			entries, err := fs.ReadDir(shipped.FS, ".")
			if err != nil {
				return err
			}
			var n int
			for _, en := range entries {
				b, err := fs.ReadFile(shipped.FS, en.Name())
				if err != nil {
					return err
				}
				path := filepath.Join(dir, en.Name())
				flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
				if force {
					flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
				}
				f, err := os.OpenFile(path, flag, 0o644)
				if err != nil {
					return fmt.Errorf("rules export: %w (--force overwrites)", err)
				}
				_, werr := f.Write(b)
				if cerr := f.Close(); werr == nil {
					werr = cerr
				}
				if werr != nil {
					return fmt.Errorf("rules export: writing %s: %w", path, werr)
				}
				n++
			}
			fmt.Fprintf(e.stdout, "rules export: %d rule files written to %s\n", n, dir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite files that exist")
	return cmd
}

// rulesDir is the directory a rules command works on: its argument, the
// configured one, or "" for the built-in pack.
func (e *env) rulesDir(args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	cfg, err := e.config()
	if err != nil {
		return "", err
	}
	return cfg.Rules.Dir, nil
}

func loadPack(dir string) (*rules.Pack, error) {
	if dir == "" {
		return rules.Shipped()
	}
	return rules.LoadDir(dir)
}

func newRulesLint(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Report every problem in every rule file, with file:line:column",
		Long: `Lint compiles every rule file and reports every problem: YAML syntax,
unknown fields, expressions that do not compile or have the wrong type,
unknown actions, severities and aggregates, bad templates and examples. It
also requires each rule to carry at least one must-match and one
must-not-match example. It exits 1 if there is any problem.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := e.rulesDir(args)
			if err != nil {
				return err
			}
			var errs rules.Errors
			if dir == "" {
				errs = rules.Lint(shipped.FS, "rules")
			} else {
				st, err := os.Stat(dir)
				if err != nil {
					return fmt.Errorf("rules directory: %w", err)
				}
				if !st.IsDir() {
					return fmt.Errorf("rules directory %s: not a directory", dir)
				}
				errs = rules.Lint(os.DirFS(dir), filepath.Clean(dir))
			}
			for _, x := range errs {
				fmt.Fprintln(e.stdout, x)
			}
			if len(errs) > 0 {
				files := map[string]bool{}
				for _, x := range errs {
					files[x.File] = true
				}
				return &exitError{code: 1, err: fmt.Errorf("rules lint: %d problem(s) in %d file(s)", len(errs), len(files))}
			}
			p, err := loadPack(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rules lint: %d rules, no problems\n", len(p.Rules()))
			return nil
		},
	}
}

func newRulesTest(e *env) *cobra.Command {
	var verbose bool
	var run string
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the examples inside each rule",
		Long: `Test runs every example of every rule through the engine (with the
configured ticket windows) and checks that the rule alerts on the last event
of each must-match example, with the expected summary if one is given, and
not on the last event of each must-not-match example. It names the rule,
the example and the reason of each failure, and exits 1 if any failed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			dir := cfg.Rules.Dir
			if len(args) > 0 {
				dir = args[0]
			}
			var re *regexp.Regexp
			if run != "" {
				if re, err = regexp.Compile(run); err != nil {
					return fmt.Errorf("--run: %w", err)
				}
			}
			p, err := loadPack(dir)
			if err != nil {
				var errs rules.Errors
				if errors.As(err, &errs) {
					for _, x := range errs {
						fmt.Fprintln(e.stdout, x)
					}
					return &exitError{code: 1, err: fmt.Errorf("rules test: the pack does not load (%d problem(s))", len(errs))}
				}
				return err
			}
			var passed, failed int
			for _, r := range p.Test(cfg.TicketWindows()) {
				if re != nil && !re.MatchString(r.Rule+"/"+r.Test) {
					continue
				}
				if r.Err != nil {
					failed++
					fmt.Fprintln(e.stdout, r)
				} else {
					passed++
					if verbose {
						fmt.Fprintln(e.stdout, r)
					}
				}
			}
			fmt.Fprintf(e.stdout, "rules: %d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("rules test: %d example(s) failed", failed)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing examples too")
	cmd.Flags().StringVar(&run, "run", "", "run only examples whose RULE/EXAMPLE matches this regular expression")
	return cmd
}

func newRulesList(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the rules of a pack: id, stage, severity, risk, actions, title",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := e.rulesDir(args)
			if err != nil {
				return err
			}
			p, err := loadPack(dir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTAGE\tSEVERITY\tRISK\tACTIONS\tTITLE")
			for _, r := range p.Rules() {
				acts := r.Actions()
				as := make([]string, len(acts))
				for i, a := range acts {
					as[i] = string(a)
				}
				actions := strings.Join(as, ",")
				if len(acts) == len(event.Actions) {
					actions = "all"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%g\t%s\t%s\n", r.ID, r.Stage, r.Severity, r.Risk, actions, r.Title)
			}
			return tw.Flush()
		},
	}
}
