package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/console"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/rules"
	"github.com/custos-io/custos/internal/server"
	"github.com/custos-io/custos/internal/store"
)

// withConsole builds the API server of opts over an open store, with the
// investigator console at /. The console's audit reaches the engine through
// the server, which is created after the console (it serves the console's
// handler); srv is read only when the first audit event is emitted. The
// case page offers od's actions on request, if there are any.
func withConsole(ctx context.Context, cfg config.Config, pack *rules.Pack, st *store.Store, opts server.Options, od *respond.OnDemand, log *slog.Logger, banner string, dataNow func(context.Context) time.Time) (*server.Server, error) {
	var srv *server.Server
	var responder console.Responder
	if len(od.Actions()) > 0 {
		responder = console.RespondOver{D: od}
	}
	con, err := console.New(ctx, console.Options{
		Config: cfg.Console,
		Source: console.StoreSource{S: st},
		State:  console.StoreState{S: st},
		Rules:  console.PackRules{Pack: pack},
		// The same breach code, windows and no-ticket rules as the API's
		// /v1/exposure and /v1/attribution and the CLI.
		Breach:    console.BreachOver{Src: st, Windows: cfg.TicketWindows(), Explainer: ticketRules(pack)},
		Journal:   st,
		Responder: responder,
		Access: console.AccessFunc(func(ctx context.Context, evs []event.Event) error {
			if srv == nil {
				return errors.New("the server is not running")
			}
			_, err := srv.IngestEvents(ctx, evs)
			return err
		}),
		Tickets:      cfg.TicketWindows(),
		RiskHalfLife: cfg.Risk.HalfLife,
		Logger:       log,
		DataNow:      dataNow,
		Banner:       banner,
	})
	if err != nil {
		return nil, err
	}
	opts.Console = con.Handler()
	srv, err = server.New(opts, st)
	return srv, err
}

func newUsers(e *env) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the console's local users (add, list, disable, enable, passwd)",
		Long: `The investigator console's local users live in the database (serve.db).
Roles: analyst, lead, privacy_officer, vendor_supervisor (with --vendor), admin.
Passwords are read from the terminal, or from the first line of standard
input with --password-stdin, and stored as argon2id hashes.`,
	}
	cmd.PersistentFlags().StringVar(&db, "db", "", "SQLite database file (overrides serve.db)")
	open := func(cmd *cobra.Command) (console.State, func() error, error) {
		cfg, err := e.config()
		if err != nil {
			return nil, nil, err
		}
		if db != "" {
			cfg.Serve.DB = db
		}
		st, err := store.Open(cmd.Context(), cfg.Serve.DB)
		if err != nil {
			return nil, nil, err
		}
		return console.StoreState{S: st}, st.Close, nil
	}

	var role, vendor, display string
	var fromStdin bool
	add := &cobra.Command{
		Use:   "add NAME --role ROLE [--vendor VENDOR] [--password-stdin]",
		Short: "Add a local console user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := console.ParseRole(role)
			if err != nil {
				return err
			}
			u := console.User{Name: args[0], Display: display, Role: r, Vendor: vendor, Via: "local", Created: time.Now().UTC()}
			if err := console.ValidateUser(u); err != nil {
				return err
			}
			state, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			if _, err := state.User(cmd.Context(), u.Name); err == nil {
				return fmt.Errorf("a user named %s exists (custos users passwd %s changes the password)", u.Name, u.Name)
			}
			if err := setPassword(cmd, e, state, &u, fromStdin); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added %s (%s%s)\n", u.Name, u.Role, map[bool]string{true: ", vendor " + u.Vendor}[u.Vendor != ""])
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "analyst, lead, privacy_officer, vendor_supervisor or admin")
	add.Flags().StringVar(&vendor, "vendor", "", "the vendor a vendor_supervisor sees")
	add.Flags().StringVar(&display, "display", "", "display name")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	_ = add.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the console's users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			us, err := state.Users(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tVENDOR\tSIGN-IN\tSTATUS")
			for _, u := range us {
				status := "active"
				if u.Disabled {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Vendor, u.Via, status)
			}
			return tw.Flush()
		},
	}

	setDisabled := func(disable bool) *cobra.Command {
		verb := map[bool]string{true: "disable", false: "enable"}[disable]
		return &cobra.Command{
			Use:   verb + " NAME",
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " a console user" + map[bool]string{true: " and end their sessions", false: ""}[disable],
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				state, closeFn, err := open(cmd)
				if err != nil {
					return err
				}
				defer closeFn()
				u, err := state.User(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("no user named %s", args[0])
				}
				u.Disabled = disable
				if err := state.PutUser(cmd.Context(), u); err != nil {
					return err
				}
				if disable {
					if err := state.DeleteSessions(cmd.Context(), u.Name); err != nil {
						return err
					}
				}
				fmt.Fprintf(e.stdout, "%sd %s\n", verb, u.Name)
				return nil
			},
		}
	}

	var pwStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME [--password-stdin]",
		Short: "Set a local user's password and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			state, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			u, err := state.User(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("no user named %s", args[0])
			}
			if u.Via != "local" {
				return fmt.Errorf("%s signs in through %s; its password is not Custos's", u.Name, u.Via)
			}
			if err := setPassword(cmd, e, state, &u, pwStdin); err != nil {
				return err
			}
			if err := state.DeleteSessions(cmd.Context(), u.Name); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "password of %s changed\n", u.Name)
			return nil
		},
	}
	passwd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")

	cmd.AddCommand(add, list, setDisabled(true), setDisabled(false), passwd)
	return cmd
}

// setPassword reads a password, hashes it into u and stores u.
func setPassword(cmd *cobra.Command, e *env, state console.State, u *console.User, fromStdin bool) error {
	pw, err := readPassword(cmd.InOrStdin(), e.stderr, fromStdin)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = console.HashPassword(pw); err != nil {
		return err
	}
	return state.PutUser(cmd.Context(), *u)
}

// readPassword reads a password from the terminal (twice) or, with
// fromStdin, from the first line of in.
func readPassword(in io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal to read the password from: use --password-stdin")
	}
	fmt.Fprint(prompt, "Password: ")
	a, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", err
	}
	fmt.Fprint(prompt, "Again: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", errors.New("the passwords differ")
	}
	return string(a), nil
}
