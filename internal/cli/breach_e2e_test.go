package cli

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fraudCustomer is the k-th customer the fraud investigator looks at on day d.
func fraudCustomer(d, k int) int { return (d*37 + k*101 + 7) % 1500 }

// writeOrg writes a replay directory: 20 agents working tickets over two
// weeks, one of them on a queue ten times busier, and an insider who also
// opens 60 customers' identity documents with no ticket. It returns the
// directory and the insider's customers.
func writeOrg(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(42, 1))
	start := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	var roster, subjects, tickets, events strings.Builder
	for c := range 1500 {
		fmt.Fprintf(&subjects, `{"id":"c-%04d","tier":"standard"}`+"\n", c)
	}
	n := 0
	view := func(actor string, c int, ticket, resource, fields string, at time.Time) {
		n++
		tk := ""
		if ticket != "" {
			tk = fmt.Sprintf(`,"ticket":%q`, ticket)
		}
		fmt.Fprintf(&events, `{"id":"e-%06d","time":%q,"actor":{"id":%q},"action":"view","subject":{"id":"c-%04d"},"resource":%q,"fields":%s%s}`+"\n",
			n, at.Format(time.RFC3339), actor, c, resource, fields, tk)
	}
	type work struct {
		actor  string
		perDay int
	}
	var agents []work
	for i := range 20 {
		agents = append(agents, work{fmt.Sprintf("a-%02d", i), 8})
	}
	agents = append(agents, work{"a-busy", 250})
	for _, a := range agents {
		fmt.Fprintf(&roster, `{"id":%q,"vendor":"bpo-east","team":"kyc","role":"agent","site":"cebu"}`+"\n", a.actor)
	}
	// A fraud investigator works from alerts, not tickets (the shipped
	// rules exempt the role).
	fmt.Fprintln(&roster, `{"id":"a-fraud","team":"fraud","role":"fraud_investigator","site":"lisbon"}`)
	insider := rng.Perm(1500)[:60]
	for d := range 14 {
		for _, a := range agents {
			for k := range a.perDay {
				c := rng.IntN(1500)
				at := start.AddDate(0, 0, d).Add(time.Duration(k*480/a.perDay) * time.Minute)
				id := fmt.Sprintf("T-%s-%d-%d", a.actor, d, k)
				fmt.Fprintf(&tickets, `{"time":%q,"id":%q,"subject":"c-%04d","assignee":%q,"status":"open"}`+"\n", at.Format(time.RFC3339), id, c, a.actor)
				view(a.actor, c, id, "profile", `["name","email"]`, at.Add(time.Minute))
				fmt.Fprintf(&tickets, `{"time":%q,"id":%q,"subject":"c-%04d","assignee":%q,"status":"solved"}`+"\n", at.Add(3*time.Minute).Format(time.RFC3339), id, c, a.actor)
			}
		}
		for k := range 10 {
			view("a-fraud", fraudCustomer(d, k), "", "transactions", `["amount"]`, start.AddDate(0, 0, d).Add(10*time.Hour+time.Duration(k)*time.Minute))
		}
		if d >= 7 && d < 13 {
			for _, c := range insider[(d-7)*10 : (d-6)*10] {
				view("a-13", c, "", "kyc_document", `["name","dob","document_number"]`, start.AddDate(0, 0, d).Add(9*time.Hour+time.Duration(c%50)*time.Second))
			}
		}
	}
	for name, b := range map[string]*strings.Builder{"roster": &roster, "subjects": &subjects, "tickets": &tickets, "events": &events} {
		if err := os.WriteFile(filepath.Join(dir, name+".ndjson"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, len(insider))
	for i, c := range insider {
		ids[i] = fmt.Sprintf("c-%04d", c)
	}
	return dir, ids
}

// End to end through the command line: replay a history into a database,
// attribute a leak of 40 of the insider's customers and 20 a fraud
// investigator looked at without tickets (as the role does), and the
// insider ranks first although the busy agent saw more of the leak; the
// notification CSV of the insider lists their 60 customers with identity
// documents and dates of birth.
func TestBreachEndToEnd(t *testing.T) {
	dir, harvested := writeOrg(t)
	db := filepath.Join(t.TempDir(), "custos.db")
	if _, errOut, code := runCLI(t, "replay", "--db", db, "--out", os.DevNull, dir); code != 0 {
		t.Fatalf("replay --db: exit %d: %s", code, errOut)
	}
	leaked := append([]string{}, harvested[:40]...)
	for k := 0; len(leaked) < 60; k++ {
		leaked = append(leaked, fmt.Sprintf("c-%04d", fraudCustomer(k/10, k%10)))
	}
	list := filepath.Join(t.TempDir(), "leaked.txt")
	os.WriteFile(list, []byte(strings.Join(leaked, "\n")+"\n"), 0o644)

	out, errOut, code := runCLI(t, "attribute", "--db", db, "--format", "csv", "--top", "30", list)
	if code != 0 {
		t.Fatalf("attribute: exit %d: %s", code, errOut)
	}
	rows := strings.Split(strings.TrimSpace(out), "\r\n")
	if len(rows) < 3 || !strings.HasPrefix(rows[1], "1,a-13,") {
		t.Fatalf("the insider is not first:\n%s", out)
	}
	cover := func(row string) int {
		n, _ := strconv.Atoi(strings.Split(row, ",")[7])
		return n
	}
	busy := slices.IndexFunc(rows, func(r string) bool { return strings.Contains(r, ",a-busy,") })
	if busy < 0 || cover(rows[busy]) <= cover(rows[1]) {
		t.Errorf("the test needs the busy agent to cover more of the leak than the insider:\n%s", out)
	}
	f := slices.IndexFunc(rows, func(r string) bool { return strings.Contains(r, ",a-fraud,") })
	if f < 0 || strings.Split(rows[f], ",")[9] != "0" {
		t.Errorf("the fraud investigator is not a suspect, or their accesses count as without a ticket:\n%s", out)
	}

	out, errOut, code = runCLI(t, "exposure", "--db", db, "--actor", "a-13", "--since", "2026-04-08", "--format", "csv")
	if code != 0 {
		t.Fatalf("exposure: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "actor a-13, since 2026-04-08T00:00:00Z: ") ||
		strings.Count(out, ",yes,yes,") != 60 {
		t.Errorf("insider exposure: %s\n%s", errOut, out)
	}
}
