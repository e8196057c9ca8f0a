package sink

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/golden"
)

var testProduct = Product{Name: "Custos", Vendor: "Custos", Version: "1.2.3"}

// ocsfRequired lists the attributes OCSF 1.3.0 marks required for Detection
// Finding (class 2004), its inherited Finding and Base Event attributes, and
// the required attributes of the objects Custos fills in. Source:
// https://schema.ocsf.io/1.3.0/classes/detection_finding
// https://schema.ocsf.io/1.3.0/objects/metadata
// https://schema.ocsf.io/1.3.0/objects/finding_info
var ocsfRequired = []string{
	"activity_id",
	"category_uid",
	"class_uid",
	"finding_info",
	"finding_info.uid",
	"metadata",
	"metadata.product",
	"metadata.version",
	"severity_id",
	"time",
	"type_uid",
}

// ocsfRequiredWhenPresent: attributes required inside optional objects
// (analytic.type_id, related_event.uid, user needs uid or name, resource
// needs uid or name).
var ocsfRequiredWhenPresent = []string{
	"finding_info.analytic.type_id",
	"finding_info.related_events[].uid",
	"resources[].uid",
	"actor.user.uid",
}

func lookup(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok || v == nil {
			return nil, false
		}
	}
	return v, true
}

// validateOCSF checks doc against the required attributes and the
// arithmetic the class defines.
func validateOCSF(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("OCSF output is not JSON: %v\n%s", err, b)
	}
	for _, p := range ocsfRequired {
		if _, ok := lookup(doc, p); !ok {
			t.Errorf("required attribute %s missing", p)
		}
	}
	for _, p := range ocsfRequiredWhenPresent {
		arr, field, isArr := strings.Cut(p, "[].")
		if !isArr {
			parent := p[:strings.LastIndexByte(p, '.')]
			if _, ok := lookup(doc, parent); ok {
				if _, ok := lookup(doc, p); !ok {
					t.Errorf("%s present without its required %s", parent, p)
				}
			}
			continue
		}
		if items, ok := lookup(doc, arr); ok {
			for i, it := range items.([]any) {
				if _, ok := lookup(it, field); !ok {
					t.Errorf("%s[%d] lacks required %s", arr, i, field)
				}
			}
		}
	}
	num := func(p string) int64 {
		v, _ := lookup(doc, p)
		f, _ := v.(float64)
		return int64(f)
	}
	if num("class_uid") != 2004 || num("category_uid") != 2 {
		t.Errorf("class_uid %d category_uid %d, want 2004 and 2", num("class_uid"), num("category_uid"))
	}
	if got, want := num("type_uid"), num("class_uid")*100+num("activity_id"); got != want {
		t.Errorf("type_uid %d, want class_uid*100+activity_id = %d", got, want)
	}
	if v, _ := lookup(doc, "metadata.version"); v != OCSFVersion {
		t.Errorf("metadata.version %v, want %s", v, OCSFVersion)
	}
	return doc
}

func TestOCSFAlertHasRequiredAttributesAndMapping(t *testing.T) {
	f := trickyAlert()
	b, err := EncodeOCSF(&Record{Seq: 1, Finding: f}, testProduct)
	if err != nil {
		t.Fatal(err)
	}
	doc := validateOCSF(t, b)
	get := func(p string) any { v, _ := lookup(doc, p); return v }

	checks := map[string]any{
		"activity_id":                   1.0,
		"type_uid":                      200401.0,
		"time":                          float64(t0.UnixMilli()),
		"severity_id":                   5.0,
		"severity":                      "Critical",
		"metadata.uid":                  f.ID,
		"metadata.product.name":         "Custos",
		"metadata.product.vendor_name":  "Custos",
		"metadata.product.version":      "1.2.3",
		"finding_info.uid":              f.ID,
		"finding_info.title":            f.Rule,
		"finding_info.analytic.type_id": 1.0,
		"actor.user.uid":                "a-ana",
		"message":                       f.Summary,
		"unmapped.custos.kind":          "alert",
		"unmapped.custos.risk":          100.0,
		"unmapped.custos.details.count": 3.0,
	}
	for p, want := range checks {
		if got := get(p); got != want {
			t.Errorf("%s = %#v, want %#v", p, got, want)
		}
	}
	if got := get("time"); int64(got.(float64))%1000 != 250 {
		t.Errorf("time %v lost its milliseconds", got)
	}
	res := get("resources").([]any)
	if len(res) != 2 || res[0].(map[string]any)["uid"] != "c-9999" || res[0].(map[string]any)["type"] != "Customer" {
		t.Errorf("resources = %v, want the two customers", res)
	}
	ev := get("evidences").([]any)
	if len(ev) != 1 || ev[0].(map[string]any)["data"].(map[string]any)["event_uid"] != "e-07" {
		t.Errorf("evidences = %v, want event e-07", ev)
	}
}

func TestOCSFSeverityMapping(t *testing.T) {
	for sev, want := range map[finding.Severity]float64{
		finding.Info: 1, finding.Low: 2, finding.Medium: 3, finding.High: 4, finding.Critical: 5,
	} {
		f := trickyAlert()
		f.Severity = sev
		b, err := EncodeOCSF(&Record{Finding: f}, testProduct)
		if err != nil {
			t.Fatal(err)
		}
		doc := validateOCSF(t, b)
		if doc["severity_id"] != want {
			t.Errorf("%s: severity_id %v, want %v", sev, doc["severity_id"], want)
		}
	}
}

func TestOCSFCaseRevisionIsAnUpdate(t *testing.T) {
	c := sampleCase("al-1", "al-2")
	first, err := EncodeOCSF(&Record{Finding: c}, testProduct)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeOCSF(&Record{Finding: c, Revision: 2}, testProduct)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := validateOCSF(t, first), validateOCSF(t, again)
	if d1["activity_id"] != 1.0 || d2["activity_id"] != 2.0 || d2["type_uid"] != 200402.0 {
		t.Errorf("activity ids %v then %v, want 1 (Create) then 2 (Update)", d1["activity_id"], d2["activity_id"])
	}
	u1, _ := lookup(d1, "metadata.uid")
	u2, _ := lookup(d2, "metadata.uid")
	f1, _ := lookup(d1, "finding_info.uid")
	f2, _ := lookup(d2, "finding_info.uid")
	if u1 == u2 || f1 != f2 {
		t.Errorf("metadata.uid %v/%v must differ per event, finding_info.uid %v/%v must stay", u1, u2, f1, f2)
	}
	rel, _ := lookup(d2, "finding_info.related_events")
	if len(rel.([]any)) != 2 {
		t.Errorf("related_events = %v, want the case's two alerts", rel)
	}
	golden.Check(t, filepath.Join("testdata", "ocsf_case_update.json"), append(again, '\n'))
}

func TestOCSFGolden(t *testing.T) {
	b, err := EncodeOCSF(&Record{Seq: 7, Finding: trickyAlert()}, testProduct)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, b, "", "  ")
	pretty.WriteByte('\n')
	golden.Check(t, filepath.Join("testdata", "ocsf_alert.json"), pretty.Bytes())
}

func TestCEFEscapingRoundTrips(t *testing.T) {
	f := trickyAlert()
	line := EncodeCEF(&Record{Finding: f, Revision: 0}, Product{Name: "Cus|tos", Vendor: `Ven\dor`, Version: "1.2.3"})
	if strings.ContainsAny(line, "\r\n") {
		t.Fatalf("CEF line contains a raw line break: %q", line)
	}
	h, ext := parseCEF(t, line)
	wantHeader := []string{"CEF:0", `Ven\dor`, "Cus|tos", "1.2.3", f.Rule, strings.NewReplacer("\r\n", " ", "\n", " ").Replace(f.Summary), "10"}
	for i := range wantHeader {
		if h[i] != wantHeader[i] {
			t.Errorf("header field %d = %q, want %q", i, h[i], wantHeader[i])
		}
	}
	want := map[string]string{
		"rt":         "1772500710250",
		"externalId": f.ID,
		"cat":        "alert",
		"suser":      "a-ana",
		"msg":        f.Summary, // =, \, | and both line breaks survive
		"cfp1":       "100",
		"cfp1Label":  "risk",
		"cs1Label":   "rule",
		"cs1":        f.Rule,
		"cs2Label":   "customers",
		"cs2":        "c-9999,c-1003",
		"cs3Label":   "evidence",
		"cs3":        "e-07",
	}
	for k, v := range want {
		if ext[k] != v {
			t.Errorf("extension %s = %q, want %q", k, ext[k], v)
		}
	}
	golden.Check(t, filepath.Join("testdata", "cef_alert.txt"), []byte(line+"\n"))
}

func TestCEFSeverityScale(t *testing.T) {
	for sev, want := range map[finding.Severity]string{
		finding.Info: "1", finding.Low: "3", finding.Medium: "5", finding.High: "8", finding.Critical: "10",
	} {
		f := trickyAlert()
		f.Severity = sev
		h, _ := parseCEF(t, EncodeCEF(&Record{Finding: f}, testProduct))
		if h[6] != want {
			t.Errorf("%s: CEF severity %s, want %s", sev, h[6], want)
		}
	}
}

func TestCEFCapsLongLists(t *testing.T) {
	f := trickyAlert()
	for i := range 120 {
		f.Subjects = append(f.Subjects, "c-x"+strings.Repeat("9", i%3))
	}
	_, ext := parseCEF(t, EncodeCEF(&Record{Finding: f}, testProduct))
	if n := strings.Count(ext["cs2"], ","); n != cefListMax {
		t.Errorf("customers list has %d commas, want %d entries and a remainder note", n, cefListMax)
	}
	if !strings.HasSuffix(ext["cs2"], "(+72 more)") {
		t.Errorf("customers list %q does not say how many were left out", ext["cs2"])
	}
}

func TestCEFCustomStringsKeepTheirNumbers(t *testing.T) {
	_, ext := parseCEF(t, EncodeCEF(&Record{Finding: sampleCase("al-1", "al-2"), Revision: 1}, testProduct))
	want := map[string]string{"cs4Label": "alerts", "cs4": "al-1,al-2", "cs5Label": "status", "cs5": "open", "cn1": "1", "cat": "case"}
	for k, v := range want {
		if ext[k] != v {
			t.Errorf("case extension %s = %q, want %q", k, ext[k], v)
		}
	}
	for _, k := range []string{"cs1", "cs2", "cs3"} {
		if _, ok := ext[k]; ok {
			t.Errorf("case carries %s, which only alerts fill", k)
		}
	}
}
