// Package wording holds the wording Custos's findings share: how an actor,
// a customer, an action and the part of a record touched are named in a
// summary a support manager reads. The detections themselves are rules
// (internal/rules, the shipped pack in rules/).
package wording

import (
	"fmt"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// Describe names an actor with the roster facts a support manager needs:
// "a-ana (bpo-north payments agent)".
func Describe(id string, p *event.Person) string {
	if p == nil {
		return id + " (not on the roster)"
	}
	var parts []string
	for _, s := range []string{p.Vendor, p.Team, p.Role} {
		if s != "" {
			parts = append(parts, strings.ReplaceAll(s, "_", " "))
		}
	}
	if len(parts) == 0 {
		return id
	}
	return id + " (" + strings.Join(parts, " ") + ")"
}

// Customer names a customer with its tier and balance:
// "customer c-1003 (vip, $3.1M)".
func Customer(id string, s *event.Subject) string {
	if s == nil {
		return "customer " + id
	}
	var parts []string
	if s.Tier != "" {
		parts = append(parts, s.Tier)
	}
	if s.BalanceUSD > 0 {
		parts = append(parts, Money(s.BalanceUSD))
	}
	if len(parts) == 0 {
		return "customer " + id
	}
	return fmt.Sprintf("customer %s (%s)", id, strings.Join(parts, ", "))
}

// Money formats a dollar amount compactly: $812, $48k, $3.1M.
func Money(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("$%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("$%.0fk", v/1e3)
	}
	return fmt.Sprintf("$%.0f", v)
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
func What(ev *event.Event) string {
	switch {
	case ev.Resource != "" && len(ev.Fields) > 0:
		return fmt.Sprintf(": %s [%s]", ev.Resource, strings.Join(ev.Fields, ", "))
	case ev.Resource != "":
		return ": " + ev.Resource
	case len(ev.Fields) > 0:
		return " [" + strings.Join(ev.Fields, ", ") + "]"
	}
	return ""
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
