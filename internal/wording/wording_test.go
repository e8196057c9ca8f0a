package wording

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/event"
)

// The phrases as first written with fmt and strings.Join; the appending
// versions must read the same.
func oldDescribe(id string, p *event.Person) string {
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

func oldMoney(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("$%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("$%.0fk", v/1e3)
	}
	return fmt.Sprintf("$%.0f", v)
}

func oldCustomer(id string, s *event.Subject) string {
	if s == nil {
		return "customer " + id
	}
	var parts []string
	if s.Tier != "" {
		parts = append(parts, s.Tier)
	}
	if s.BalanceUSD > 0 {
		parts = append(parts, oldMoney(s.BalanceUSD))
	}
	if len(parts) == 0 {
		return "customer " + id
	}
	return fmt.Sprintf("customer %s (%s)", id, strings.Join(parts, ", "))
}

func oldWhat(ev *event.Event) string {
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

func TestPhrasesAsBefore(t *testing.T) {
	words := []string{"", "bpo-north", "fraud_investigator", "a_b_c"}
	for _, v := range words {
		for _, tm := range words {
			for _, r := range words {
				p := &event.Person{Vendor: v, Team: tm, Role: r}
				if got, want := Describe("a-1", p), oldDescribe("a-1", p); got != want {
					t.Errorf("Describe(%+v) = %q, want %q", p, got, want)
				}
			}
		}
	}
	if got, want := Describe("a-1", nil), oldDescribe("a-1", nil); got != want {
		t.Errorf("Describe(nil) = %q, want %q", got, want)
	}
	amounts := []float64{0, -5, 0.4, 0.5, 1.5, 812, 9999.5, 10000, 48213, 999999, 1e6, 3.14e6, 2.5e9, math.NaN(), math.Inf(1), math.Inf(-1)}
	for _, v := range amounts {
		if got, want := Money(v), oldMoney(v); got != want {
			t.Errorf("Money(%v) = %q, want %q", v, got, want)
		}
		for _, tier := range []string{"", "vip"} {
			s := &event.Subject{Tier: tier, BalanceUSD: v}
			if got, want := Customer("c-1", s), oldCustomer("c-1", s); got != want {
				t.Errorf("Customer(%+v) = %q, want %q", s, got, want)
			}
		}
	}
	if got, want := Customer("c-1", nil), oldCustomer("c-1", nil); got != want {
		t.Errorf("Customer(nil) = %q, want %q", got, want)
	}
	for _, res := range []string{"", "contact"} {
		for _, fs := range [][]string{nil, {"email"}, {"email", "phone"}} {
			ev := &event.Event{Resource: res, Fields: fs}
			if got, want := What(ev), oldWhat(ev); got != want {
				t.Errorf("What(%q, %v) = %q, want %q", res, fs, got, want)
			}
		}
	}
}
