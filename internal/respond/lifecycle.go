package respond

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/wording"
)

// RuleActiveAfterContract is the rule of the lifecycle alert: a roster
// identity still active after its contract ended.
const RuleActiveAfterContract = "identity_active_after_contract"

// People reads the stored roster; *store.Store is one.
type People interface {
	People(ctx context.Context, fn func(*event.Person) error) error
}

// LifecycleStore is what the lifecycle check reads.
type LifecycleStore interface {
	People
	// HasFinding reports whether a finding with this id is stored.
	HasFinding(ctx context.Context, id string) (bool, error)
}

// Lifecycle is the contract lifecycle check. It reads the wall-clock time
// it is given, never the engine's event time: a contract ends whether or
// not anyone works. Its alerts do not go through the engine (they add no
// risk and open no case); the caller stores them like the engine's
// findings, which puts them in the outbox for the sinks and the actions.
type Lifecycle struct {
	store       LifecycleStore
	severity    finding.Severity
	deprovision bool
	metrics     *Metrics
}

// NewLifecycle returns the check configured by c.
func NewLifecycle(c LifecycleConfig, st LifecycleStore, m *Metrics) *Lifecycle {
	sev := c.Severity
	if sev == "" {
		sev = finding.High
	}
	return &Lifecycle{store: st, severity: sev, deprovision: c.Deprovision, metrics: m}
}

// Check looks at the whole roster at time now and returns an alert for
// every identity still active after its contract ended that has not been
// raised before (one per identity and contract end: a contract extended and
// ended again alerts again).
func (l *Lifecycle) Check(ctx context.Context, now time.Time) ([]*finding.Finding, error) {
	var due []*finding.Finding
	err := l.store.People(ctx, func(p *event.Person) error {
		if ActiveAfterContract(p, now) {
			due = append(due, l.alert(p))
		}
		return nil
	})
	var out []*finding.Finding
	if err == nil {
		out, err = l.unraised(ctx, due)
	}
	if l.metrics != nil {
		if err != nil {
			l.metrics.checks.WithLabelValues("error").Inc()
		} else {
			l.metrics.checks.WithLabelValues("ok").Inc()
			l.metrics.activeEnded.Set(float64(len(due)))
			l.metrics.lastCheckSec.Set(float64(now.UnixNano()) / 1e9)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lifecycle check: %w", err)
	}
	return out, nil
}

// CheckPerson is Check for one roster entry, just written.
func (l *Lifecycle) CheckPerson(ctx context.Context, p *event.Person, now time.Time) ([]*finding.Finding, error) {
	if !ActiveAfterContract(p, now) {
		return nil, nil
	}
	out, err := l.unraised(ctx, []*finding.Finding{l.alert(p)})
	if err != nil {
		return nil, fmt.Errorf("lifecycle check of %s: %w", p.ID, err)
	}
	return out, nil
}

// unraised drops the alerts already stored. An alert is raised once and
// never rewritten, even if the roster entry's other fields change.
func (l *Lifecycle) unraised(ctx context.Context, fs []*finding.Finding) ([]*finding.Finding, error) {
	out := fs[:0]
	for _, f := range fs {
		seen, err := l.store.HasFinding(ctx, f.ID)
		if err != nil {
			return nil, err
		}
		if !seen {
			out = append(out, f)
		}
	}
	return out, nil
}

// ActiveAfterContract reports whether p's roster status is still active at
// now although its contract has ended.
func ActiveAfterContract(p *event.Person, now time.Time) bool {
	return (p.Status == event.Active || p.Status == "") && !p.ContractEnd.IsZero() && now.After(p.ContractEnd)
}

func (l *Lifecycle) alert(p *event.Person) *finding.Finding {
	ended := contractOver(p.ContractEnd)
	then := "Deprovision the identity and have the roster updated."
	if l.deprovision {
		then = "Custos is deactivating it at the identity provider (SCIM); have the roster updated."
	}
	return &finding.Finding{
		Kind:     finding.KindAlert,
		ID:       finding.ID("al", RuleActiveAfterContract, p.ID, p.ContractEnd.UTC().Format(time.RFC3339Nano)),
		Time:     ended,
		Actor:    finding.ActorRef{ID: p.ID},
		Rule:     RuleActiveAfterContract,
		Severity: l.severity,
		Summary: fmt.Sprintf("%s is still active on the roster after the contract ended (%s). %s",
			wording.Describe(p.ID, p), FormatContractEnd(p.ContractEnd), then),
		Details: map[string]any{
			"contract_end":  FormatContractEnd(p.ContractEnd),
			"roster_status": string(event.Active),
			"deprovision":   l.deprovision,
		},
	}
}

// contractOver is the first instant outside a contract ending at end: for a
// contract given as a date, which covers that whole day, the next midnight.
func contractOver(end time.Time) time.Time {
	if next := end.Add(time.Nanosecond); next.UTC().Truncate(24 * time.Hour).Equal(next) {
		return next.UTC()
	}
	return end.UTC()
}

// FormatContractEnd shows a contract end as it was most likely given: a
// date (2026-03-02) when it covers that whole day, else an RFC 3339 time.
func FormatContractEnd(end time.Time) string {
	if over := contractOver(end); !over.Equal(end) {
		return end.UTC().Format(time.DateOnly)
	}
	return end.UTC().Format(time.RFC3339)
}

// Expiry is one roster entry of the `custos roster expiring` report.
type Expiry struct {
	Person *event.Person
	// Ended is true for a contract already over whose identity is still
	// active; false for one ending within the window.
	Ended bool
	// Left is the time from the report's time to the end of the contract;
	// negative once it ended.
	Left time.Duration
}

// Expiring lists, as of at, the contracts that end within the window (any
// status but terminated) and those already ended whose identity is still
// active, soonest end first.
func Expiring(ctx context.Context, r People, at time.Time, within time.Duration) ([]Expiry, error) {
	if within < 0 {
		return nil, errors.New("expiring: the window must not be negative")
	}
	var out []Expiry
	err := r.People(ctx, func(p *event.Person) error {
		if p.ContractEnd.IsZero() || p.Status == event.Terminated {
			return nil
		}
		over := contractOver(p.ContractEnd)
		e := Expiry{Person: p, Left: over.Sub(at)}
		switch {
		case ActiveAfterContract(p, at):
			e.Ended = true
		case at.After(p.ContractEnd): // ended, and suspended
			return nil
		case over.Sub(at) > within:
			return nil
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expiring contracts: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Person, out[j].Person
		if !a.ContractEnd.Equal(b.ContractEnd) {
			return a.ContractEnd.Before(b.ContractEnd)
		}
		return a.ID < b.ID
	})
	return out, nil
}
