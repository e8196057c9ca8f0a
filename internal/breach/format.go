package breach

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats a report can be written in.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
)

// CheckFormat rejects an unknown format name.
func CheckFormat(f string) error {
	switch f {
	case FormatTable, FormatCSV, FormatJSON:
		return nil
	}
	return fmt.Errorf("unknown format %q (want table, csv or json)", f)
}

// ExposureCSVHeader is the notification CSV's columns, in their fixed order.
// Multi-valued cells are sorted and joined with ";".
var ExposureCSVHeader = []string{
	"customer", "first_access", "last_access", "accesses", "justified_accesses", "unjustified_accesses",
	"identity_document", "date_of_birth", "fields", "resources", "actions", "actors", "tickets", "tier", "country",
}

// WriteExposure writes x in format. The CSV is RFC 4180 (CRLF line ends,
// one header row, one row per customer) with no summary, so it can go
// straight into a mail merge; the summary line is Summary's String.
func WriteExposure(w io.Writer, x *Exposure, format string) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, exposureJSON{Exposure: x, Window: jsonWindow(x.Window)})
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		if err := cw.Write(ExposureCSVHeader); err != nil {
			return err
		}
		for _, c := range x.Customers {
			if err := cw.Write([]string{
				c.Customer, stamp(c.First), stamp(c.Last), strconv.Itoa(c.Accesses), strconv.Itoa(c.Justified),
				strconv.Itoa(c.Unjustified), yesNo(c.IdentityDocument), yesNo(c.DateOfBirth),
				strings.Join(c.Fields, ";"), strings.Join(c.Resources, ";"), strings.Join(c.Actions, ";"),
				strings.Join(c.Actors, ";"), strings.Join(c.Tickets, ";"), c.Tier, c.Country,
			}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOMER\tFIRST ACCESS\tLAST ACCESS\tACCESSES\tNO TICKET\tID DOC\tDOB\tFIELDS\tRESOURCES\tTICKETS")
	for _, c := range x.Customers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Customer, stamp(c.First), stamp(c.Last),
			c.Accesses, c.Unjustified, yesNo(c.IdentityDocument), yesNo(c.DateOfBirth),
			dash(strings.Join(c.Fields, ",")), dash(strings.Join(c.Resources, ",")), dash(strings.Join(c.Tickets, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, c := range x.Customers {
		if i == 0 && len(c.Detail) > 0 {
			fmt.Fprintln(bw, "\nACCESSES")
		}
		if len(c.Detail) > 0 {
			fmt.Fprintf(bw, "%s:\n", c.Customer)
		}
		for _, a := range c.Detail {
			fmt.Fprintf(bw, "   %s %s %s by %s%s (%s)\n", stamp(a.Time), a.Event, a.Action, a.Actor, accessWhat(a), a.Verdict)
		}
	}
	fmt.Fprintln(bw)
	for _, line := range x.SummaryLines() {
		fmt.Fprintln(bw, line)
	}
	return bw.Flush()
}

// SummaryLines is the exposure summary in sentences: the headline first.
func (x *Exposure) SummaryLines() []string {
	s := x.Summary
	lines := []string{fmt.Sprintf("%s, %s: %s, of which %d with identity documents and %d with dates of birth seen (%d with either).",
		x.Scope, describeWindow(x.Window), plural(s.Customers, "customer"), s.IdentityDocuments, s.DatesOfBirth, s.Either)}
	if s.Customers > 0 {
		lines = append(lines, fmt.Sprintf("%s by %d of %s in scope, %s to %s; %s to %s had no matching ticket.",
			plural(s.Accesses, "access"), s.ActorsWithAccess, plural(len(x.Actors), "actor"), stamp(s.First), stamp(s.Last),
			plural(s.UnjustifiedAccesses, "access"), plural(s.UnjustifiedCustomers, "customer")))
	}
	if s.Searches+s.BulkExports > 0 {
		lines = append(lines, fmt.Sprintf("Not itemised: %s and %s naming no customer (%s); their results are not in the list.",
			plural(s.Searches, "search"), plural(s.BulkExports, "export"), plural(s.BulkRecords, "record")))
	}
	if s.Denied > 0 {
		lines = append(lines, fmt.Sprintf("%s showed nothing and %s not counted.", plural(s.Denied, "denied attempt"), isAre(s.Denied)))
	}
	if len(x.Honeytokens) > 0 {
		ids := make([]string, len(x.Honeytokens))
		for i, c := range x.Honeytokens {
			ids[i] = c.Customer
		}
		lines = append(lines, fmt.Sprintf("Honeytoken (decoy) customers touched, not listed: %s.", strings.Join(ids, ", ")))
	}
	return lines
}

type exposureJSON struct {
	*Exposure
	Window windowJSON `json:"window"`
}

type windowJSON struct {
	Since *time.Time `json:"since"`
	Until *time.Time `json:"until"`
}

func jsonWindow(w Window) windowJSON {
	var j windowJSON
	if !w.Since.IsZero() {
		j.Since = &w.Since
	}
	if !w.Until.IsZero() {
		j.Until = &w.Until
	}
	return j
}

// AttributionCSVHeader is the suspects CSV's columns, in their fixed order.
var AttributionCSVHeader = []string{
	"rank", "actor", "name", "vendor", "team", "role", "site", "covered", "coverage", "no_ticket", "accesses",
	"reach", "expected", "peer_expected", "no_ticket_expected", "score", "global_score", "peer_score", "no_ticket_score", "first_access", "last_access", "canaries", "reason",
}

// WriteAttribution writes a in format. The CSV has one row per suspect.
func WriteAttribution(w io.Writer, a *Attribution, format string) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, attributionJSON{Attribution: a, Window: jsonWindow(a.Window)})
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		if err := cw.Write(AttributionCSVHeader); err != nil {
			return err
		}
		for _, s := range a.Suspects {
			if err := cw.Write([]string{
				strconv.Itoa(s.Rank), s.Actor, s.Name, s.Vendor, s.Team, s.Role, s.Site, strconv.Itoa(s.Covered),
				strconv.FormatFloat(s.Coverage, 'f', 4, 64), strconv.Itoa(s.NoTicket), strconv.Itoa(s.Accesses),
				strconv.Itoa(s.Reach), strconv.FormatFloat(s.Expected, 'f', 2, 64), peerCell(s, s.PeerExpected, 2),
				strconv.FormatFloat(s.NoTicketExpected, 'f', 2, 64), strconv.FormatFloat(s.Score, 'f', 1, 64), strconv.FormatFloat(s.GlobalScore, 'f', 1, 64), peerCell(s, deref(s.PeerScore), 1),
				strconv.FormatFloat(s.NoTicketScore, 'f', 1, 64), stamp(s.First), stamp(s.Last), strings.Join(s.Canaries, ";"), s.Reason,
			}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Leaked customers: %d; %d accessed by someone %s, %d by no one. Background: %d customers accessed; %d actors saw at least one leaked customer.\n",
		a.Leaked, a.Seen, describeWindow(a.Window), len(a.Unseen), a.Population, a.Candidates)
	if len(a.Unseen) > 0 {
		fmt.Fprintf(bw, "Never accessed (the leak has another source for these): %s\n", listSome(a.Unseen, 10))
	}
	if len(a.Canaries) > 0 {
		fmt.Fprintln(bw, "\nCANARIES AND HONEYTOKENS IN THE LEAK")
		for _, h := range a.Canaries {
			if h.Team == "" && h.Site == "" {
				fmt.Fprintf(bw, "  %s is a honeytoken customer, a decoy no work leads to; opened by %s\n", h.Subject, orNone(listSome(h.AccessedBy, 10)))
				continue
			}
			fmt.Fprintf(bw, "  %s was shown only to %s (minted %s); opened by %s; members now: %s\n", h.Subject, h.Scope(),
				h.Minted.Format(time.DateOnly), orNone(listSome(h.AccessedBy, 10)), orNone(listSome(h.Members, 20)))
		}
	}
	fmt.Fprintln(bw, "\nSUSPECTS")
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tACTOR\tTEAM\tCOVERED\tNO TICKET\tREACH\tCHANCE\tPEERS\tSCORE\tFIRST\tLAST")
	for _, s := range a.Suspects {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d (%.0f%%)\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\n", s.Rank, s.Actor, dash(s.Team), s.Covered,
			100*s.Coverage, s.NoTicket, s.Reach, s.Expected, dash(peerCell(s, s.PeerExpected, 1)), score(s.Score),
			s.First.Format(time.DateOnly), s.Last.Format(time.DateOnly))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range a.Suspects {
		fmt.Fprintf(bw, "\n%d. %s: %s\n", s.Rank, describeSuspect(s), s.Reason)
		for _, e := range s.Evidence {
			fmt.Fprintf(bw, "   %s %s %s %s%s (%s)\n", stamp(e.Time), e.Event, e.Action, e.Customer, accessWhat(e), e.Verdict)
		}
	}
	if len(a.Pairs) > 0 {
		fmt.Fprintln(bw, "\nPAIRS THAT TOGETHER EXPLAIN MUCH MORE")
		for _, p := range a.Pairs {
			fmt.Fprintf(bw, "  %s + %s: %s; score %s\n", p.Actors[0], p.Actors[1], p.Reason, score(p.Score))
		}
	}
	return bw.Flush()
}

type attributionJSON struct {
	*Attribution
	Window windowJSON `json:"window"`
}

// WriteCanaries writes minted canaries' customer records as subjects
// NDJSON (FORMATS.md section 3), ready for subjects.ndjson and the
// support tool.
func WriteCanaries(w io.Writer, recs [][]byte) error {
	bw := bufio.NewWriter(w)
	for _, r := range recs {
		bw.Write(r)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// accessWhat names the part of the record and the ticket: " profile [name,email] ticket T-1".
func accessWhat(a Access) string {
	var b strings.Builder
	if a.Resource != "" {
		b.WriteString(" " + a.Resource)
	}
	if len(a.Fields) > 0 {
		b.WriteString(" [" + strings.Join(a.Fields, ",") + "]")
	}
	if a.Ticket != "" {
		b.WriteString(" ticket " + a.Ticket)
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "ch") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// peerCell formats a peer figure, empty without a peer comparison.
func peerCell(s *Suspect, v float64, prec int) string {
	if s.PeerScore == nil {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func describeSuspect(s *Suspect) string {
	var parts []string
	for _, p := range []string{s.Name, s.Vendor, s.Team, s.Role, s.Site} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return s.Actor + " (not on the roster)"
	}
	return s.Actor + " (" + strings.Join(parts, ", ") + ")"
}

func describeWindow(w Window) string {
	switch {
	case w.Since.IsZero() && w.Until.IsZero():
		return "all time"
	case w.Until.IsZero():
		return "since " + stamp(w.Since)
	case w.Since.IsZero():
		return "before " + stamp(w.Until)
	}
	return "from " + stamp(w.Since) + " to " + stamp(w.Until)
}

func score(v float64) string {
	if v >= maxScore {
		return ">1000"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no one"
	}
	return s
}

func listSome(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}
