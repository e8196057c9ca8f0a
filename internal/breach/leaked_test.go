package breach

import (
	"slices"
	"strings"
	"testing"
)

func TestReadLeaked(t *testing.T) {
	for _, tt := range []struct {
		name, in, column string
		want             []string
		rejected         []string
		err              string
	}{
		{name: "lines", in: "\ufeff# from the paste site\nc-1\n\n  c-2  \nc-1\n\"c-3\"\n", want: []string{"c-1", "c-2", "c-3"}},
		{name: "ndjson", in: `{"customer":"c-1","name":"x"}` + "\n" + `{"id":42}` + "\n" + `{"subject":{"id":"c-3"}}` + "\n" + `{"name":"nobody"}` + "\nnot json\n" + `{"customer":""}`,
			want:     []string{"c-1", "42", "c-3"},
			rejected: []string{"x:4: no customer id (looked for customer, customer_id, subject, subject_id, id)", "x:5: not a JSON object", "x:6: customer: not a non-empty string"}},
		{name: "ndjson column", in: `{"uid":"c-9","id":"x"}`, column: "uid", want: []string{"c-9"}},
		{name: "csv", in: "name,Customer_ID,email\nAna,c-1,a@x\nBo,,b@x\n\"Cy, Jr\",c-3,c@x\n", want: []string{"c-1", "c-3"},
			rejected: []string{"x:3: Customer_ID: empty"}},
		{name: "tsv", in: "customer\tphone\nc-1\t1\nc-2\t2\n", want: []string{"c-1", "c-2"}},
		{name: "csv column", in: "acct;x\nc-7;1\n", column: "acct", want: []string{"c-7"}},
		{name: "csv no column", in: "name,email\nAna,a@x\n", err: "x:1: no column named customer, customer_id, subject, subject_id, id in the header (name one with --column)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ids, rej, err := ReadLeaked(strings.NewReader(tt.in), "x", tt.column)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ids %q, want %q", ids, tt.want)
			}
			if len(rej) != len(tt.rejected) {
				t.Fatalf("rejected %v, want %v", rej, tt.rejected)
			}
			for i, r := range rej {
				if !strings.HasPrefix(r.Error(), tt.rejected[i]) {
					t.Errorf("rejected[%d] = %q, want prefix %q", i, r, tt.rejected[i])
				}
			}
		})
	}
}
