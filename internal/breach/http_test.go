package breach

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serveAPI(t *testing.T, m *memory) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range (&API{Source: m, Windows: win}).Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAPIExposure(t *testing.T) {
	srv := serveAPI(t, tiny(t))
	res, err := http.Get(srv.URL + "/v1/exposure?actor=a-ana&until=2026-03-03")
	if err != nil {
		t.Fatal(err)
	}
	var x Exposure
	if err := json.NewDecoder(res.Body).Decode(&x); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, %v", res.StatusCode, err)
	}
	if x.Summary.Customers != 3 || x.Customers[0].Customer != "c-1001" {
		t.Errorf("exposure %+v", x.Summary)
	}

	res, err = http.Get(srv.URL + "/v1/exposure?team=payments&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil || res.Header.Get("Content-Type") != "text/csv; charset=utf-8; header=present" || len(rows) != 4 {
		t.Errorf("csv: %v %q %d rows", err, res.Header.Get("Content-Type"), len(rows))
	}

	for _, tt := range []struct{ query, want string }{
		{"", "give exactly one of actor, vendor, site or team"},
		{"actor=a&since=yesterday", `since: "yesterday" is not a date`},
		{"actor=a&format=xml", `unknown format "xml"`},
		{"team=nobody", "no one on the roster has team nobody"},
		{"actor=a&since=2026-03-05&until=2026-03-01", "is not after since"},
	} {
		res, err := http.Get(srv.URL + "/v1/exposure?" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		json.NewDecoder(res.Body).Decode(&e)
		if res.StatusCode != 400 || !strings.Contains(e.Error, tt.want) {
			t.Errorf("%q: %d %q, want 400 %q", tt.query, res.StatusCode, e.Error, tt.want)
		}
	}
}

func TestAPIAttribution(t *testing.T) {
	o := newOrg(5, 300)
	for _, id := range []string{"a-1", "a-2", "a-3", "a-4"} {
		o.person(id, "kyc")
		o.work(id, 5, 8)
	}
	h := o.pick(15, map[string]bool{})
	o.harvest("a-3", 2, h)
	srv := serveAPI(t, o.m)

	post := func(ctype, query, body string) (*http.Response, Attribution) {
		t.Helper()
		res, err := http.Post(srv.URL+"/v1/attribution"+query, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var a Attribution
		if res.StatusCode == 200 && !strings.Contains(query, "format=csv") {
			if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
				t.Fatal(err)
			}
		}
		return res, a
	}
	b, _ := json.Marshal(map[string]any{"customers": h, "top": 2})
	res, a := post("application/json", "", string(b))
	if res.StatusCode != 200 || a.Suspects[0].Actor != "a-3" || len(a.Suspects) != 2 {
		t.Fatalf("json body: %d %+v", res.StatusCode, a.Suspects)
	}
	res, a = post("text/plain", "?top=1&until=2026-02-02", strings.Join(h, "\n")+"\n{bad\n")
	if res.StatusCode != 200 || a.Seen != 0 && a.Suspects[0].NoTicket != 0 {
		t.Errorf("text body with a window before the harvest: %d %+v", res.StatusCode, a)
	}
	res, _ = post("text/csv", "?column=acct", "acct\n"+strings.Join(h, "\n"))
	if res.StatusCode != 200 {
		t.Errorf("csv body: %d", res.StatusCode)
	}
	res, _ = post("application/x-ndjson", "?format=csv", `{"customer":"`+h[0]+`"}`+"\nnot json\n")
	if res.StatusCode != 200 || res.Header.Get("X-Custos-Rejected") != "1" {
		t.Errorf("ndjson with a bad line: %d, rejected %q", res.StatusCode, res.Header.Get("X-Custos-Rejected"))
	}
	for _, tt := range []struct{ ctype, query, body, want string }{
		{"application/json", "", `{"customers":[]}`, "no leaked customer ids"},
		{"application/json", "", `{"customers":["c-1"],"bogus":1}`, `unknown field "bogus"`},
		{"text/plain", "?top=-1", "c-1", "top"},
		{"text/plain", "", "", "no leaked customer ids"},
	} {
		res, _ := post(tt.ctype, tt.query, tt.body)
		var e struct{ Error string }
		json.NewDecoder(res.Body).Decode(&e)
		if res.StatusCode != 400 || !strings.Contains(e.Error, tt.want) {
			t.Errorf("%s %q: %d %q, want 400 %q", tt.ctype, tt.body, res.StatusCode, e.Error, tt.want)
		}
	}
}
