package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/rules"
	"github.com/custos-io/custos/internal/store"
)

// openExisting opens the database for a question about what is in it: a
// missing file is a mistake (a wrong path), not a new empty database.
func openExisting(ctx context.Context, path string) (*store.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--db %s: %w (load events with custos replay --db or custos serve first)", path, err)
	}
	return store.Open(ctx, path)
}

// ticketRules explains accesses without a ticket with the pack's own
// no-ticket rules (no_ticket, ticket_not_theirs): an access is explained if
// neither fires on it, so attribution agrees with detection, exceptions
// and all. Without either rule in the pack it explains nothing.
func ticketRules(pack *rules.Pack) breach.Explainer {
	var drop []string
	keep := 0
	for _, r := range pack.Rules() {
		if r.ID == "no_ticket" || r.ID == "ticket_not_theirs" {
			keep++
		} else {
			drop = append(drop, r.ID)
		}
	}
	sub, err := pack.Without(drop...)
	if keep == 0 || err != nil {
		return nil
	}
	return func(people func(string) *event.Person) func(*event.Event, *event.Person, *engine.TicketMatch) bool {
		settled := rules.NewEvaluator(sub, people).Settled()
		return func(e *event.Event, p *event.Person, m *engine.TicketMatch) bool {
			fired := false
			settled.Detect(&engine.Input{Event: e, Person: p, Ticket: m}, func(engine.Alert) { fired = true })
			return !fired
		}
	}
}

// breachFlags are the flags exposure and attribute share.
type breachFlags struct {
	db, since, until, format, out string
}

func (f *breachFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "SQLite database file (default serve.db from the configuration)")
	cmd.Flags().StringVar(&f.since, "since", "", "only accesses at or after this time (RFC 3339, or a date YYYY-MM-DD, UTC)")
	cmd.Flags().StringVar(&f.until, "until", "", "only accesses before this time (a date includes that whole day)")
	cmd.Flags().StringVar(&f.format, "format", breach.FormatTable, "output format: table, csv or json")
	cmd.Flags().StringVarP(&f.out, "out", "o", "", "write the report to FILE instead of standard output")
}

// prepare loads the configuration, checks the flags and opens the store.
func (f *breachFlags) prepare(e *env, ctx context.Context) (config.Config, breach.Window, *store.Store, error) {
	cfg, err := e.config()
	if err != nil {
		return cfg, breach.Window{}, nil, err
	}
	if err := breach.CheckFormat(f.format); err != nil {
		return cfg, breach.Window{}, nil, fmt.Errorf("--format: %w", err)
	}
	w, err := breach.ParseWindow(f.since, f.until)
	if err != nil {
		return cfg, w, nil, fmt.Errorf("--%w", err)
	}
	f.db = cmp.Or(f.db, cfg.Serve.DB)
	st, err := openExisting(ctx, f.db)
	return cfg, w, st, err
}

// write writes the report to --out, or standard output.
func (f *breachFlags) write(e *env, report func(io.Writer) error) error {
	if f.out == "" {
		if err := report(e.stdout); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		return nil
	}
	file, err := os.Create(f.out)
	if err != nil {
		return fmt.Errorf("creating --out: %w", err)
	}
	if err := report(file); err != nil {
		file.Close()
		return fmt.Errorf("writing --out %s: %w", f.out, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("writing --out %s: %w", f.out, err)
	}
	return nil
}

func newExposure(e *env) *cobra.Command {
	var f breachFlags
	var scope breach.Scope
	var detail bool
	cmd := &cobra.Command{
		Use:   "exposure --db FILE (--actor A | --vendor V | --site S | --team T) [--since T] [--until T] [--format table|csv|json]",
		Short: "List the customers an actor, vendor, site or team saw, for breach notification",
		Long: `Exposure lists every customer whose record the actor (or every roster member
of the vendor, site or team) viewed, revealed, exported or changed in the time
range: first and last access, how many, the fields and record parts shown, the
tickets cited, and how many accesses had no matching ticket. Honeytoken
customers are listed apart; denied attempts, searches and bulk exports that
name no customer are counted in the summary.

--format csv is the notification list: RFC 4180, one row per customer, fixed
columns; the summary goes to standard error. See docs/breach-response.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := scope.Validate(); err != nil {
				return errors.New("give exactly one of --actor, --vendor, --site or --team")
			}
			cfg, w, st, err := f.prepare(e, cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			x, err := breach.Exposures(cmd.Context(), st, breach.ExposureQuery{Scope: scope, Window: w, Detail: detail}, cfg.TicketWindows())
			if err != nil {
				return err
			}
			if err := f.write(e, func(w io.Writer) error { return breach.WriteExposure(w, x, f.format) }); err != nil {
				return err
			}
			if f.format != breach.FormatTable {
				for _, line := range x.SummaryLines() {
					fmt.Fprintln(e.stderr, line)
				}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&scope.Actor, "actor", "", "one actor id")
	cmd.Flags().StringVar(&scope.Vendor, "vendor", "", "every roster member of this vendor")
	cmd.Flags().StringVar(&scope.Site, "site", "", "every roster member at this site")
	cmd.Flags().StringVar(&scope.Team, "team", "", "every roster member of this team")
	cmd.Flags().BoolVar(&detail, "detail", false, "list every access with its ticket verdict (table and json)")
	return cmd
}

func newAttribute(e *env) *cobra.Command {
	var f breachFlags
	var column string
	var top, evidence int
	cmd := &cobra.Command{
		Use:   "attribute --db FILE LEAKED_FILE [--since T] [--until T] [--format table|csv|json]",
		Short: "Rank the actors whose access history explains a set of leaked customers",
		Long: `Attribute reads the leaked customer ids from LEAKED_FILE ("-" for standard
input): one per line, NDJSON objects, or CSV with a header (the column named
customer, customer_id, subject, subject_id or id, or --column). It ranks the
actors who accessed them by how unlikely their coverage would be for someone
who sees as many customers as they do (score = -log10 of that chance), shows
how many they saw without a ticket, when, and the evidence accesses, names
the team or site of any canary in the leak, and reports pairs of actors who
together cover much more than either alone. See docs/breach-response.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = os.Stdin
			name := "stdin"
			if args[0] != "-" {
				file, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("leaked list: %w", err)
				}
				defer file.Close()
				in, name = file, args[0]
			}
			ids, rejected, err := breach.ReadLeaked(in, name, column)
			if err != nil {
				return err
			}
			for i, r := range rejected {
				if i == shownRejects {
					fmt.Fprintf(e.stderr, "rejected: %d more not shown\n", len(rejected)-shownRejects)
					break
				}
				fmt.Fprintln(e.stderr, "rejected:", r)
			}
			cfg, w, st, err := f.prepare(e, cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			pack, err := cfg.Pack()
			if err != nil {
				return err
			}
			res, err := breach.Attribute(cmd.Context(), st, breach.AttributionQuery{Customers: ids, Window: w, Top: top, Evidence: evidence, Explainer: ticketRules(pack)}, cfg.TicketWindows())
			if err != nil {
				return err
			}
			e.logger(cfg).Debug("attribution done", "leaked", len(ids), "candidates", res.Candidates, "duration", time.Since(start))
			return f.write(e, func(w io.Writer) error { return breach.WriteAttribution(w, res, f.format) })
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&column, "column", "", "the CSV column or NDJSON key holding the customer id")
	cmd.Flags().IntVar(&top, "top", breach.DefaultTop, "how many suspects to report")
	cmd.Flags().IntVar(&evidence, "evidence", breach.DefaultEvidence, "evidence accesses shown per suspect")
	return cmd
}

func newCanary(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "canary",
		Short: "Mint and list canary customers: decoys shown to one team or site",
	}
	cmd.AddCommand(newCanaryMint(e), newCanaryList(e))
	return cmd
}

func newCanaryMint(e *env) *cobra.Command {
	var db string
	req := breach.MintRequest{}
	cmd := &cobra.Command{
		Use:   "mint --db FILE (--team X | --site S) --count N --seed SECRET",
		Short: "Mint honeytoken customers unique to a team or site",
		Long: `Mint makes --count decoy customer records for one team or site, stores them
(honeytoken set, and which team or site they are for) and writes them to
standard output as subjects NDJSON: load them into the support tool so only
that team or site is ever shown them. Any access to one raises the
honeytoken detection; one found in a leak names its team or site in
custos attribute. The same --seed, scope and count mint the same ids again;
keep the seed secret. See docs/breach-response.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			db = cmp.Or(db, cfg.Serve.DB)
			st, err := store.Open(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			req.At = time.Now().UTC()
			cs, subs, err := breach.Mint(cmd.Context(), st, req)
			if err != nil {
				return err
			}
			raw := make([][]byte, len(subs))
			for i, s := range subs {
				raw[i] = s.Raw
			}
			if err := breach.WriteCanaries(e.stdout, raw); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "canary: %d canaries for %s stored in %s\n", len(cs), cs[0].Scope(), db)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "SQLite database file (default serve.db from the configuration)")
	cmd.Flags().StringVar(&req.Team, "team", "", "the team the canaries are shown to")
	cmd.Flags().StringVar(&req.Site, "site", "", "the site the canaries are shown to")
	cmd.Flags().IntVar(&req.Count, "count", 5, "how many canaries")
	cmd.Flags().StringVar(&req.Seed, "seed", "", "secret that makes the ids (required; the same seed mints the same ids)")
	cmd.Flags().StringVar(&req.Prefix, "prefix", breach.DefaultMintPrefix, "customer id prefix, to look like real ids")
	cmd.Flags().IntVar(&req.Digits, "digits", breach.DefaultMintDigits, "decimal digits after the prefix")
	cmd.Flags().StringVar(&req.Tier, "tier", breach.DefaultMintTier, "customer tier written to the records")
	cmd.Flags().StringVar(&req.Country, "country", "", "customer country written to the records")
	cmd.Flags().StringVar(&req.EmailDomain, "email-domain", breach.DefaultMintDomain, "domain of the decoy email addresses (use one whose mail you watch)")
	return cmd
}

func newCanaryList(e *env) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "list --db FILE",
		Short: "List the canaries and the team or site each was minted for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			db = cmp.Or(db, cfg.Serve.DB)
			st, err := openExisting(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			cs, err := st.Canaries(cmd.Context(), nil)
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintf(e.stdout, "%s\t%s\tminted %s\n", c.Subject, c.Scope(), c.Minted.Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "SQLite database file (default serve.db from the configuration)")
	return cmd
}
