// Package detect holds Custos's built-in hard detections: a honeytoken
// customer touched, access outside the actor's contract, and customer data
// touched with no ticket that explains it. They are the few rules an
// insider-risk team never wants switched off; the rule pack builds on the
// same engine seams.
package detect

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// Rule ids of the built-in detections.
const (
	RuleHoneytoken  = "honeytoken_access"
	RuleOutOfScope  = "access_outside_contract"
	RuleNoTicket    = "no_ticket"
	RuleOtherTicket = "ticket_not_theirs"
)

// Config tunes the built-in detections.
type Config struct {
	// NoTicketRisk is the risk points of one unexplained access.
	NoTicketRisk float64 `yaml:"no_ticket_risk"`
	// ExemptRoles work without tickets by design (fraud investigators).
	ExemptRoles []string `yaml:"exempt_roles"`
	// ReviewRoles may open any existing ticket about the customer, whoever it
	// is assigned to (QA reviewers sample solved tickets).
	ReviewRoles []string `yaml:"review_roles"`
	// LeadRoles may work tickets assigned to members of their own team.
	LeadRoles []string `yaml:"lead_roles"`
	// Repeat suppresses a second no-ticket alert for the same actor and
	// customer within this time.
	Repeat time.Duration `yaml:"repeat"`
}

// Defaults returns the shipped configuration.
func Defaults() Config {
	return Config{
		NoTicketRisk: 10,
		ExemptRoles:  []string{"fraud_investigator"},
		ReviewRoles:  []string{"qa"},
		LeadRoles:    []string{"team_lead"},
		Repeat:       24 * time.Hour,
	}
}

// People looks up a roster entry by actor id; nil if unknown.
type People func(id string) *event.Person

// Immediate returns the detections that need no ticket context.
func Immediate() []engine.Detector {
	return []engine.Detector{engine.DetectorFunc(honeytoken), engine.DetectorFunc(outsideContract)}
}

// Settled returns the detections that judge an access against the tickets.
func Settled(cfg Config, people People) []engine.Detector {
	return []engine.Detector{&noTicket{cfg: cfg, people: people}}
}

func honeytoken(in *engine.Input, emit engine.Emit) {
	ev := in.Event
	if in.Subject == nil || !in.Subject.Honeytoken || !ev.Action.TouchesSubject() {
		return
	}
	emit(engine.Alert{
		Rule:     RuleHoneytoken,
		Severity: finding.Critical,
		Risk:     100,
		Subjects: []string{ev.Subject},
		Summary: fmt.Sprintf("%s %s honeytoken customer %s%s: a decoy no legitimate work leads to",
			Describe(ev.Actor.ID, in.Person), verb(ev.Action), ev.Subject, what(ev)),
	})
}

func outsideContract(in *engine.Input, emit engine.Emit) {
	p, ev := in.Person, in.Event
	if p == nil {
		return
	}
	var why string
	switch {
	case p.Status == event.Terminated || p.Status == event.Suspended:
		why = fmt.Sprintf("while %s", p.Status)
	case !p.ContractEnd.IsZero() && ev.Time.After(p.ContractEnd):
		why = fmt.Sprintf("%s after the contract ended (%s)", ago(ev.Time.Sub(p.ContractEnd)), p.ContractEnd.Format(time.DateOnly))
	case !p.ContractStart.IsZero() && ev.Time.Before(p.ContractStart):
		why = fmt.Sprintf("before the contract starts (%s)", p.ContractStart.Format(time.DateOnly))
	default:
		return
	}
	var subjects []string
	if ev.Subject != "" {
		subjects = []string{ev.Subject}
	}
	target := ""
	if ev.Subject != "" {
		target = " " + customer(ev.Subject, in.Subject) + what(ev)
	}
	emit(engine.Alert{
		Rule:        RuleOutOfScope,
		Severity:    finding.Critical,
		Risk:        80,
		Subjects:    subjects,
		Summary:     fmt.Sprintf("%s %s%s %s", Describe(ev.Actor.ID, p), verb(ev.Action), target, why),
		SuppressFor: time.Hour,
		Key:         string(ev.Action) + "\x00" + ev.Subject,
	})
}

type noTicket struct {
	cfg    Config
	people People
}

func (d *noTicket) Detect(in *engine.Input, emit engine.Emit) {
	ev, m := in.Event, in.Ticket
	if m == nil || m.Verdict == engine.Justified || ev.Denied {
		return
	}
	if in.Subject != nil && in.Subject.Honeytoken {
		return // the honeytoken alert already says it, louder
	}
	if d.cfg.Explained(in.Person, m, ev.Subject, d.people) {
		return
	}
	who := Describe(ev.Actor.ID, in.Person)
	alert := engine.Alert{
		Rule:        RuleNoTicket,
		Severity:    finding.Medium,
		Risk:        d.cfg.NoTicketRisk,
		Subjects:    []string{ev.Subject},
		SuppressFor: d.cfg.Repeat,
		Key:         ev.Subject,
		Details:     map[string]any{"verdict": m.Verdict.String()},
	}
	cust := customer(ev.Subject, in.Subject)
	switch m.Verdict {
	case engine.OtherSubject:
		alert.Rule = RuleOtherTicket
		alert.Summary = fmt.Sprintf("%s %s %s%s citing ticket %s, which is about customer %s", who, verb(ev.Action), cust, what(ev), m.Ticket, m.Subject)
	case engine.OtherAssignee:
		alert.Rule = RuleOtherTicket
		alert.Summary = fmt.Sprintf("%s %s %s%s; the open ticket %s about them is assigned to %s", who, verb(ev.Action), cust, what(ev), m.Ticket, orNobody(m.Assignee))
	default:
		alert.Summary = fmt.Sprintf("%s %s %s%s with no ticket about them assigned to %s", who, verb(ev.Action), cust, what(ev), ev.Actor.ID)
	}
	emit(alert)
}

// Explained reports whether an access to subject that the ticket index
// does not justify (m) is still expected of the actor's role: exempt roles
// work without tickets, reviewers open existing tickets about the customer,
// leads work tickets assigned to their own team. p may be nil (not on the
// roster); people looks up the other assignee for the lead rule. The breach
// questions use it too, so they agree with the no_ticket detection.
func (c Config) Explained(p *event.Person, m *engine.TicketMatch, subject string, people People) bool {
	if m.Verdict == engine.Justified {
		return true
	}
	role := ""
	if p != nil {
		role = p.Role
	}
	if slices.Contains(c.ExemptRoles, role) {
		return true
	}
	if slices.Contains(c.ReviewRoles, role) && m.CitedExists && m.CitedSubject == subject {
		return true
	}
	if m.Verdict == engine.OtherAssignee && slices.Contains(c.LeadRoles, role) && p.Team != "" {
		if a := people(m.Assignee); a != nil && a.Team == p.Team {
			return true
		}
	}
	return false
}

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

func customer(id string, s *event.Subject) string {
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

func verb(a event.Action) string {
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

// what names the part of the record touched: ": contact [email, phone]".
func what(ev *event.Event) string {
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

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}
