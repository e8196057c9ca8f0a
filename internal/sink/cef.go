package sink

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/custos-io/custos/internal/finding"
)

// cefListMax caps the ids listed in one CEF custom string: a bulk export can
// touch thousands of customers, and syslog receivers cut long messages at
// unpredictable places. The full lists stay in the store and in OCSF.
const cefListMax = 50

// cefSeverity maps to CEF's 0-10 scale (Low 0-3, Medium 4-6, High 7-8,
// Very-High 9-10).
var cefSeverity = map[finding.Severity]int{
	finding.Info: 1, finding.Low: 3, finding.Medium: 5, finding.High: 8, finding.Critical: 10,
}

// EncodeCEF renders a record as one CEF:0 line (without a newline):
//
//	CEF:0|Custos|Custos|version|signature|name|severity|extensions
//
// The signature is the rule id ("case" for cases) and the name the finding's
// summary. See docs/integrations.md for the extension keys.
func EncodeCEF(r *Record, p Product) string {
	f := r.Finding
	var b strings.Builder
	b.WriteString("CEF:0|")
	for _, h := range []string{p.Vendor, p.Name, p.Version, title(f), cefName(f.Summary)} {
		b.WriteString(cefHeader(h))
		b.WriteByte('|')
	}
	b.WriteString(strconv.Itoa(cefSeverity[f.Severity]))
	b.WriteByte('|')

	ext := [][2]string{
		{"rt", strconv.FormatInt(f.Time.UnixMilli(), 10)},
		{"externalId", f.ID},
		{"cat", string(f.Kind)},
		{"suser", f.Actor.ID},
		{"msg", f.Summary},
		{"cfp1Label", "risk"},
		{"cfp1", strconv.FormatFloat(f.Risk, 'f', -1, 64)},
		{"cn1Label", "revision"},
		{"cn1", strconv.Itoa(r.Revision)},
	}
	// Each custom string keeps its number whether or not the others are
	// present, so a SIEM maps cs4 to "alerts" once for alerts and cases.
	custom := [][2]string{
		{"rule", f.Rule},
		{"customers", cefList(f.Subjects)},
		{"evidence", cefList(f.Evidence)},
		{"alerts", cefList(f.Alerts)},
		{"status", f.Status},
	}
	for i, c := range custom {
		if c[1] == "" {
			continue
		}
		k := "cs" + strconv.Itoa(i+1)
		ext = append(ext, [2]string{k + "Label", c[0]}, [2]string{k, c[1]})
	}
	for i, kv := range ext {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(cefValue(kv[1]))
	}
	return b.String()
}

// cefName keeps the header name within CEF's 512 characters.
func cefName(s string) string {
	const maxName = 512
	if r := []rune(s); len(r) > maxName {
		return string(r[:maxName-1]) + "…"
	}
	return s
}

func cefList(ids []string) string {
	if len(ids) > cefListMax {
		return strings.Join(ids[:cefListMax], ",") + fmt.Sprintf(",…(+%d more)", len(ids)-cefListMax)
	}
	return strings.Join(ids, ",")
}

// cefHeader escapes a header field: backslash and pipe. A header cannot hold
// a line break, so those become spaces.
var cefHeaderEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ")

func cefHeader(s string) string { return cefHeaderEscaper.Replace(s) }

// cefValue escapes an extension value: backslash, equals sign and line
// breaks (as \n and \r). Pipes need no escape there.
var cefValueEscaper = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\n", `\n`, "\r", `\r`)

func cefValue(s string) string { return cefValueEscaper.Replace(s) }

// syslogFacilities are the RFC 5424 facility codes by name.
var syslogFacilities = map[string]uint8{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// syslogSeverity maps finding severity to RFC 5424 severity: critical to
// 2 (critical), high to 3 (error), medium to 4 (warning), low to 5 (notice),
// info to 6 (informational).
var syslogSeverity = map[finding.Severity]uint8{
	finding.Critical: 2, finding.High: 3, finding.Medium: 4, finding.Low: 5, finding.Info: 6,
}

// syslogHeader is the RFC 5424 header Custos writes around each CEF line.
type syslogHeader struct {
	Facility uint8
	Hostname string
	AppName  string
}

// encodeSyslogCEF renders a record as one RFC 5424 message whose MSG is the
// CEF line; TIMESTAMP is the finding's event time and MSGID its kind.
func encodeSyslogCEF(r *Record, p Product, h syslogHeader) ([]byte, error) {
	f := r.Finding
	sev, ok := syslogSeverity[f.Severity]
	if !ok {
		sev = 5
	}
	m := &rfc5424.SyslogMessage{}
	m.SetPriority(h.Facility*8 + sev)
	m.SetVersion(1)
	// RFC 5424 allows at most microseconds.
	m.SetTimestamp(f.Time.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	m.SetHostname(h.Hostname)
	m.SetAppname(h.AppName)
	m.SetMsgID(string(f.Kind))
	msg := EncodeCEF(r, p)
	m.SetMessage(msg)
	// The builder drops values its grammar refuses instead of failing.
	if m.Message == nil || *m.Message != msg || m.Timestamp == nil {
		return nil, fmt.Errorf("syslog: finding %s: message or timestamp refused by the RFC 5424 builder", f.ID)
	}
	s, err := m.String()
	if err != nil {
		return nil, fmt.Errorf("syslog: building message for finding %s: %w", f.ID, err)
	}
	return []byte(s), nil
}
