package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/store"
)

func newRoster(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roster",
		Short: "Report on the stored workforce roster",
	}
	cmd.AddCommand(newRosterExpiring(e))
	return cmd
}

func newRosterExpiring(e *env) *cobra.Command {
	var within, db, format, at string
	cmd := &cobra.Command{
		Use:   "expiring [--within 7d] [--db FILE] [--format table|csv|json] [--at TIME]",
		Short: "List contracts ending soon, and identities still active after their contract ended",
		Long: `Expiring reads the roster stored in the database (serve.db, or --db) and lists
the contracts that end within the window (--within, default 7d; any status but
terminated), and those that have already ended while the roster still lists
the identity as active: the identities the lifecycle check of custos serve
alerts on (rule identity_active_after_contract). Soonest end first. A contract
given as a date ends at the end of that day (UTC).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := parseWindow(within)
			if err != nil {
				return fmt.Errorf("--within: %w", err)
			}
			now := time.Now().UTC()
			if at != "" {
				if now, err = event.ParseTime("--at", at); err != nil {
					return err
				}
			}
			switch format {
			case "table", "csv", "json":
			default:
				return fmt.Errorf("--format: unknown value %q (want table, csv or json)", format)
			}
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if db == "" {
				db = cfg.Serve.DB
			}
			// A report must not create an empty database where none was.
			if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("database %s does not exist (custos serve creates it; --db names another)", db)
			} else if err != nil {
				return fmt.Errorf("database %s: %w", db, err)
			}
			st, err := store.Open(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := respond.Expiring(cmd.Context(), st, now, w)
			if err != nil {
				return err
			}
			switch format {
			case "csv":
				return writeExpiringCSV(e.stdout, list)
			case "json":
				return writeExpiringJSON(e.stdout, list)
			}
			return writeExpiringTable(e.stdout, list, within)
		},
	}
	cmd.Flags().StringVar(&within, "within", "7d", "window: days (7d), a Go duration (36h) or both (1d12h)")
	cmd.Flags().StringVar(&db, "db", "", "SQLite database file (default serve.db)")
	cmd.Flags().StringVar(&format, "format", "table", "output: table, csv or json")
	cmd.Flags().StringVar(&at, "at", "", "report as of this RFC 3339 time instead of now")
	return cmd
}

// parseWindow reads "7d", "36h", "1d12h" or "0".
func parseWindow(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want days (7d), a duration (36h) or both (1d12h)", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return 0, fmt.Errorf("%q: want days (7d), a duration (36h) or both (1d12h)", s)
		}
	}
	return days + d, nil
}

// state says where a contract stands: "ends in 2d 4h", "ended 3d ago, still
// active".
func state(x respond.Expiry) string {
	if x.Ended {
		return "ended " + span(-x.Left) + " ago, still active"
	}
	return "ends in " + span(x.Left)
}

// span shows a duration to the hour (to the minute under a day).
func span(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		days, hours := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour
		if hours == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd %dh", days, hours)
	case d >= time.Hour && d%time.Hour < time.Minute:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

func writeExpiringTable(w io.Writer, list []respond.Expiry, within string) error {
	if len(list) == 0 {
		_, err := fmt.Fprintf(w, "No contract ends within %s, and no identity is active after its contract ended.\n", within)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tVENDOR\tTEAM\tROLE\tSTATUS\tCONTRACT END\tSTATE")
	ended := 0
	for _, x := range list {
		p := x.Person
		if x.Ended {
			ended++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, dash(p.Name), dash(p.Vendor), dash(p.Team), dash(p.Role),
			p.Status, respond.FormatContractEnd(p.ContractEnd), state(x))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d ended but still active, %d ending within %s.\n", ended, len(list)-ended, within)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// expiringRecord is one line of the csv and json reports.
type expiringRecord struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Vendor      string `json:"vendor,omitempty"`
	Team        string `json:"team,omitempty"`
	Role        string `json:"role,omitempty"`
	Status      string `json:"status"`
	ContractEnd string `json:"contract_end"`
	// Ended: the contract is over and the identity still active.
	Ended bool `json:"ended"`
	// SecondsLeft until the contract is over; negative once it is.
	SecondsLeft int64 `json:"seconds_left"`
}

func expiringRecords(list []respond.Expiry) []expiringRecord {
	out := make([]expiringRecord, len(list))
	for i, x := range list {
		p := x.Person
		out[i] = expiringRecord{ID: p.ID, Name: p.Name, Vendor: p.Vendor, Team: p.Team, Role: p.Role, Status: string(p.Status),
			ContractEnd: respond.FormatContractEnd(p.ContractEnd), Ended: x.Ended, SecondsLeft: int64(x.Left / time.Second)}
	}
	return out
}

func writeExpiringCSV(w io.Writer, list []respond.Expiry) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "name", "vendor", "team", "role", "status", "contract_end", "ended", "seconds_left"})
	for _, r := range expiringRecords(list) {
		cw.Write([]string{r.ID, r.Name, r.Vendor, r.Team, r.Role, r.Status, r.ContractEnd,
			strconv.FormatBool(r.Ended), strconv.FormatInt(r.SecondsLeft, 10)})
	}
	cw.Flush()
	return cw.Error()
}

func writeExpiringJSON(w io.Writer, list []respond.Expiry) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	recs := expiringRecords(list)
	if err := enc.Encode(recs); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
