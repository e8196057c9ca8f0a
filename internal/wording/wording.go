// Package wording holds the wording Custos's findings share: how an actor,
// a customer, an action and the part of a record touched are named in a
// summary a support manager reads. The detections themselves are rules
// (internal/rules, the shipped pack in rules/).
package wording

import (
	"fmt"
	"strconv"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// Describe names an actor with the roster facts a support manager needs:
// "a-ana (bpo-north payments agent)".
func Describe(id string, p *event.Person) string { return string(AppendDescribe(nil, id, p)) }

// AppendDescribe appends Describe's phrase to b, for a caller writing a
// summary into a buffer it reuses.
func AppendDescribe(b []byte, id string, p *event.Person) []byte {
	b = append(b, id...)
	if p == nil {
		return append(b, " (not on the roster)"...)
	}
	n := 0
	for _, s := range [...]string{p.Vendor, p.Team, p.Role} {
		if s == "" {
			continue
		}
		if n == 0 {
			b = append(b, " ("...)
		} else {
			b = append(b, ' ')
		}
		n++
		for i := range len(s) {
			if s[i] == '_' {
				b = append(b, ' ')
			} else {
				b = append(b, s[i])
			}
		}
	}
	if n > 0 {
		b = append(b, ')')
	}
	return b
}

// Customer names a customer with its tier and balance:
// "customer c-1003 (vip, $3.1M)".
func Customer(id string, s *event.Subject) string { return string(AppendCustomer(nil, id, s)) }

// AppendCustomer appends Customer's phrase to b.
func AppendCustomer(b []byte, id string, s *event.Subject) []byte {
	b = append(b, "customer "...)
	b = append(b, id...)
	if s == nil || (s.Tier == "" && !(s.BalanceUSD > 0)) {
		return b
	}
	b = append(b, " ("...)
	b = append(b, s.Tier...)
	if s.BalanceUSD > 0 {
		if s.Tier != "" {
			b = append(b, ", "...)
		}
		b = AppendMoney(b, s.BalanceUSD)
	}
	return append(b, ')')
}

// Money formats a dollar amount compactly: $812, $48k, $3.1M.
func Money(v float64) string { return string(AppendMoney(nil, v)) }

// AppendMoney appends Money's figure to b (as fmt's %.1f and %.0f would).
func AppendMoney(b []byte, v float64) []byte {
	b = append(b, '$')
	switch {
	case v >= 1e6:
		return append(strconv.AppendFloat(b, v/1e6, 'f', 1, 64), 'M')
	case v >= 1e4:
		return append(strconv.AppendFloat(b, v/1e3, 'f', 0, 64), 'k')
	}
	return strconv.AppendFloat(b, v, 'f', 0, 64)
}

// Verb is the past-tense phrase for an action: "viewed", "reset MFA of".
func Verb(a event.Action) string {
	switch a {
	case event.View:
		return "viewed"
	case event.Reveal:
		return "revealed data of"
	case event.Export:
		return "exported"
	case event.Update:
		return "changed"
	case event.CredentialReset:
		return "reset the credentials of"
	case event.MFAReset:
		return "reset MFA of"
	case event.Login:
		return "logged in"
	case event.Logout:
		return "logged out"
	case event.Search:
		return "searched"
	}
	return string(a)
}

// What names the part of the record touched: ": contact [email, phone]".
func What(ev *event.Event) string { return string(AppendWhat(nil, ev)) }

// AppendWhat appends What's phrase to b.
func AppendWhat(b []byte, ev *event.Event) []byte {
	if ev.Resource != "" {
		b = append(b, ": "...)
		b = append(b, ev.Resource...)
		if len(ev.Fields) > 0 {
			b = append(b, ' ')
		}
	}
	if len(ev.Fields) > 0 {
		if ev.Resource == "" {
			b = append(b, ' ')
		}
		b = append(b, '[')
		for i, f := range ev.Fields {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, f...)
		}
		b = append(b, ']')
	}
	return b
}

// Ago formats a duration the way a person says it: "85 minutes", "2 hours", "3 days".
func Ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}
