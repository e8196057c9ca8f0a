package breach

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/golden"
)

var win = engine.Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}

func tiny(t *testing.T) *memory { return loadDir(t, "../replay/testdata/tiny") }

// Ana's exposure in the annotated example: three real customers and the
// honeytoken, which is reported apart from the notification list. The phone
// ticket filed three minutes after the look justifies it; the VIP customer
// looked at with no ticket does not.
func TestExposureActor(t *testing.T) {
	x, err := Exposures(context.Background(), tiny(t), ExposureQuery{Scope: Scope{Actor: "a-ana"}}, win)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Customers) != 3 || len(x.Honeytokens) != 1 || x.Honeytokens[0].Customer != "c-9999" {
		t.Fatalf("customers %d, honeytokens %+v", len(x.Customers), x.Honeytokens)
	}
	c1001, c1002, c1003 := x.Customers[0], x.Customers[1], x.Customers[2]
	if c1001.Customer != "c-1001" || c1001.Accesses != 2 || c1001.Justified != 2 ||
		strings.Join(c1001.Resources, ",") != "notes,profile" || strings.Join(c1001.Fields, ",") != "email,name" ||
		strings.Join(c1001.Tickets, ",") != "T-500" || strings.Join(c1001.Actions, ",") != "update,view" {
		t.Errorf("c-1001: %+v", c1001)
	}
	if c1002.Justified != 1 || c1002.Unjustified != 0 || c1002.Tier != "plus" || c1002.Country != "GB" {
		t.Errorf("c-1002 (phone ticket filed late): %+v", c1002)
	}
	if c1003.Unjustified != 1 || c1003.Verdicts["no_ticket"] != 1 {
		t.Errorf("c-1003 (no ticket): %+v", c1003)
	}
	if !x.Honeytokens[0].DateOfBirth {
		t.Errorf("honeytoken dob not flagged: %+v", x.Honeytokens[0])
	}
	s := x.Summary
	if s.Customers != 3 || s.Accesses != 4 || s.UnjustifiedAccesses != 1 || s.UnjustifiedCustomers != 1 || s.Searches != 1 || s.DatesOfBirth != 0 {
		t.Errorf("summary: %+v", s)
	}
}

func TestExposureVendorWindowGolden(t *testing.T) {
	m := tiny(t)
	q := ExposureQuery{Scope: Scope{Vendor: "bpo-north"}, Detail: true,
		Window: Window{Since: time.Date(2026, 3, 3, 1, 10, 0, 0, time.UTC), Until: time.Date(2026, 3, 3, 3, 0, 0, 0, time.UTC)}}
	x, err := Exposures(context.Background(), m, q, win)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(x.Actors, ",") != "a-ana,a-ben,a-lee" || x.Summary.ActorsWithAccess != 2 {
		t.Errorf("actors %v, with access %d", x.Actors, x.Summary.ActorsWithAccess)
	}
	for _, f := range []string{FormatTable, FormatCSV, FormatJSON} {
		var b bytes.Buffer
		if err := WriteExposure(&b, x, f); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "testdata/exposure_vendor."+f, b.Bytes())
	}
}

// The notification CSV is RFC 4180: CRLF line ends, quoting where needed,
// a header with the documented columns, one row per customer.
func TestExposureCSV(t *testing.T) {
	m := tiny(t)
	m.events[2].Fields = []string{"name", `nick"name`, "a,b"}
	x, err := Exposures(context.Background(), m, ExposureQuery{Scope: Scope{Team: "payments"}}, win)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteExposure(&b, x, FormatCSV); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "\r\n") || strings.Count(b.String(), "\r\n") != 4 {
		t.Errorf("not CRLF-terminated, one line per customer:\n%q", b.String())
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(ExposureCSVHeader, ",") {
		t.Errorf("header %v", rows[0])
	}
	if rows[1][0] != "c-1001" || rows[1][8] != `a,b;name;nick"name` {
		t.Errorf("row %q", rows[1])
	}
}

func TestExposureErrors(t *testing.T) {
	m := tiny(t)
	for _, tt := range []struct {
		q    ExposureQuery
		want string
	}{
		{ExposureQuery{}, "exactly one of actor, vendor, site or team"},
		{ExposureQuery{Scope: Scope{Actor: "a", Team: "b"}}, "exactly one"},
		{ExposureQuery{Scope: Scope{Site: "nowhere"}}, "no one on the roster has site nowhere"},
		{ExposureQuery{Scope: Scope{Actor: "a-ana"}, Window: Window{Since: time.Unix(10, 0), Until: time.Unix(5, 0)}}, "is not after since"},
	} {
		_, err := Exposures(context.Background(), m, tt.q, win)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.q, err, tt.want)
		}
	}
}
