package sim

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/custos-io/custos/internal/event"
)

// The simulator writes JSON by hand: BenchmarkEncodeEvent measures it at
// several times the speed of encoding/json on the same record, and the
// output shape is fixed by FORMATS.md, so reflection buys nothing. The field
// names follow the internal/event wire structs (the contract); the tests
// decode every line with the event decoders.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// appendTime appends t in UTC as RFC 3339 with second precision, quoted.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	h, mi, s := t.Clock()
	b = appendYMD(append(b, '"'), t)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	return append(b, 'Z', '"')
}

// appendDate appends t's UTC date, quoted.
func appendDate(b []byte, t time.Time) []byte {
	return append(appendYMD(append(b, '"'), t.UTC()), '"')
}

func appendYMD(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	b = append2(b, y/100)
	b = append2(b, y%100)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	return append2(b, d)
}

func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// appendEvent appends e as one NDJSON line (FORMATS.md section 1).
func appendEvent(b []byte, e *event.Event) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"time":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"actor":{"id":`...)
	b = appendString(b, e.Actor.ID)
	b = appendField(b, "session", e.Actor.Session)
	b = appendField(b, "ip", e.Actor.IP)
	b = appendField(b, "device", e.Actor.Device)
	b = appendField(b, "country", e.Actor.Country)
	b = append(b, `},"action":`...)
	b = appendString(b, string(e.Action))
	if e.Subject != "" {
		b = append(b, `,"subject":{"id":`...)
		b = appendString(b, e.Subject)
		b = append(b, '}')
	}
	b = appendField(b, "resource", e.Resource)
	if len(e.Fields) > 0 {
		b = append(b, `,"fields":[`...)
		for i, f := range e.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f)
		}
		b = append(b, ']')
	}
	b = appendField(b, "ticket", e.Ticket)
	b = appendField(b, "reason", e.Reason)
	b = appendField(b, "query", e.Query)
	if e.Action == event.Search || e.Action == event.Export {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	}
	if e.DurationMS > 0 {
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendInt(b, e.DurationMS, 10)
	}
	b = appendField(b, "verification", e.Verification)
	if e.Denied {
		b = append(b, `,"result":"denied"`...)
	}
	b = appendField(b, "app", e.App)
	return append(b, '}', '\n')
}

// appendTicket appends one ticket change (FORMATS.md section 4) with the
// optional channel it came in by.
func appendTicket(b []byte, tc *event.TicketChange, channel string) []byte {
	b = append(b, `{"time":`...)
	b = appendTime(b, tc.Time)
	b = append(b, `,"id":`...)
	b = appendString(b, tc.ID)
	b = append(b, `,"subject":`...)
	b = appendString(b, tc.Subject)
	b = append(b, `,"assignee":`...)
	b = appendString(b, tc.Assignee)
	b = append(b, `,"status":`...)
	b = appendString(b, string(tc.Status))
	b = appendField(b, "channel", channel)
	return append(b, '}', '\n')
}

// appendPerson appends one roster entry (FORMATS.md section 2). Contract
// dates are written as dates: a contract_end date covers that whole day.
func appendPerson(b []byte, p *event.Person) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = appendField(b, "name", p.Name)
	b = append(b, `,"vendor":`...)
	b = appendString(b, p.Vendor)
	b = appendField(b, "team", p.Team)
	b = appendField(b, "role", p.Role)
	b = appendField(b, "site", p.Site)
	b = appendField(b, "country", p.Country)
	if !p.ContractStart.IsZero() {
		b = append(b, `,"contract_start":`...)
		b = appendDate(b, p.ContractStart)
	}
	if !p.ContractEnd.IsZero() {
		b = append(b, `,"contract_end":`...)
		b = appendDate(b, p.ContractEnd)
	}
	b = appendField(b, "status", string(p.Status))
	b = appendField(b, "manager", p.Manager)
	return append(b, '}', '\n')
}

// appendSubject appends one customer (FORMATS.md section 3).
func appendSubject(b []byte, s *event.Subject) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = appendField(b, "tier", s.Tier)
	b = append(b, `,"balance_usd":`...)
	b = strconv.AppendFloat(b, s.BalanceUSD, 'f', 2, 64)
	b = appendField(b, "country", s.Country)
	if s.Honeytoken {
		b = append(b, `,"honeytoken":true`...)
	}
	return append(b, '}', '\n')
}
