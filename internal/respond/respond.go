// Package respond acts on findings: it deactivates the actor's account at
// the identity provider over SCIM 2.0, calls a SOAR webhook, or writes a
// suspend entry to the roster, when a case reaches a severity or an alert
// of chosen rules fires. It also watches contracts: the lifecycle check
// raises an alert for every identity still active after its contract ended
// (which a SCIM action can then deprovision), and Expiring lists the
// contracts about to end.
//
// Response actions are consumers of the findings outbox like the sinks:
// each is a sink.Sink with its own durable cursor, run by the same
// sink.Dispatcher with its retries (exponential backoff, full jitter,
// Retry-After) and restart safety. What this package adds is the journal:
// every attempt is recorded with its result (Journal, the store's
// response_actions table), which is what the API shows on a case, and
// what makes an action idempotent. An action done for a finding is not
// done again for it, neither for a later revision of a growing case nor
// when the outbox delivers a record twice after a crash.
//
// Everything is off by default: no action runs unless configured.
package respond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// Action types.
const (
	// TypeSCIM deactivates the actor's user at a SCIM 2.0 identity provider.
	TypeSCIM = "scim_disable"
	// TypeWebhook posts the finding to a SOAR (or any HTTP endpoint), signed
	// like the webhook sink.
	TypeWebhook = "webhook"
	// TypeSuspend writes the actor's roster entry with status suspended.
	TypeSuspend = "suspend"
)

// Status is where an action stands for one finding.
type Status string

// Statuses. Every status but StatusPending is final: the action is not
// attempted again for that finding.
const (
	// StatusPending: attempted, not done yet (being retried, or interrupted
	// by a shutdown; the next start carries on).
	StatusPending Status = "pending"
	// StatusSucceeded: done.
	StatusSucceeded Status = "succeeded"
	// StatusFailed: given up (the receiver refused it, or max_attempts).
	StatusFailed Status = "failed"
	// StatusSkipped: nothing to do (the roster entry was already
	// suspended).
	StatusSkipped Status = "skipped"
	// StatusDryRun: dry_run is set; what would have been done is in Result.
	StatusDryRun Status = "dry_run"
)

// Action is the record of one configured action for one finding: the
// journal keeps one per (Name, Finding) and updates it at every attempt.
type Action struct {
	// Name is the configured action's name.
	Name string `json:"action"`
	Type string `json:"type"`
	// Finding is the id of the case or alert that triggered it.
	Finding string `json:"finding"`
	Actor   string `json:"actor"`
	// Target is what was acted upon: the SCIM user id, the webhook's host,
	// the roster id. Empty until known (a SCIM lookup that failed).
	Target string `json:"target,omitempty"`
	Status Status `json:"status"`
	// Code is the HTTP status of the last attempt; 0 when none was made.
	Code int `json:"code,omitempty"`
	// Result says what happened in the last attempt, in a sentence.
	Result   string `json:"result"`
	Attempts int    `json:"attempts"`
	// Started is the first attempt's time, Updated the last one's (wall
	// clock).
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// RequestedBy is the console user who asked for the action on
	// demand, and Reason why; both are empty for an action its when:
	// trigger started.
	RequestedBy string `json:"requested_by,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Journal records actions; the store implements it.
type Journal interface {
	// Action returns the record of action name for finding id; ok is false
	// if there is none yet.
	Action(ctx context.Context, name, finding string) (a Action, ok bool, err error)
	// PutAction durably inserts or replaces the record of (a.Name,
	// a.Finding).
	PutAction(ctx context.Context, a *Action) error
}

// Roster reads and writes roster entries for the suspend action. Writes
// must reach the engine as well as the store, in order with events, so the
// next access by the suspended actor is judged against the new entry.
type Roster interface {
	Person(ctx context.Context, id string) (p *event.Person, ok bool, err error)
	PutPerson(ctx context.Context, p *event.Person) error
}

// Trigger says which findings start an action: a case at or above
// CaseSeverity, or an alert of one of Rules. At least one is set.
type Trigger struct {
	CaseSeverity finding.Severity `yaml:"case_severity"`
	// Rules are alert rule ids; a trailing * matches by prefix
	// ("anomaly:*").
	Rules []string `yaml:"rules"`
}

func (t *Trigger) validate() error {
	if t.CaseSeverity == "" && len(t.Rules) == 0 {
		return errors.New("when: set case_severity, rules or both (an action on every finding is never wanted)")
	}
	if t.CaseSeverity != "" {
		if _, err := finding.ParseSeverity(string(t.CaseSeverity)); err != nil {
			return fmt.Errorf("when.case_severity: %w", err)
		}
	}
	for i, r := range t.Rules {
		if r == "" || r == "*" {
			return fmt.Errorf("when.rules[%d]: %q matches nothing or every alert; name the rules", i, r)
		}
	}
	return nil
}

// alerts is the sink filter of the rule half.
func (t *Trigger) alerts() *sink.Filter {
	return &sink.Filter{Kinds: []finding.Kind{finding.KindAlert}, Rules: t.Rules}
}

// Match reports whether f starts the action.
func (t *Trigger) Match(f *finding.Finding) bool {
	if f.Kind == finding.KindCase {
		return t.CaseSeverity != "" && f.Severity.Rank() >= t.CaseSeverity.Rank()
	}
	return len(t.Rules) > 0 && t.alerts().Match(f)
}

// outcome is what one attempt of an executor came to.
type outcome struct {
	target string
	code   int
	result string
	// status is the final status when err is nil: succeeded, skipped or
	// dry_run.
	status Status
	// err fails the attempt: retried, unless sink.Permanent.
	err error
}

// executor performs one kind of action for one finding.
type executor interface {
	// do acts on f, or with dry only says what it would do (read-only
	// requests, such as a SCIM user lookup, are still made).
	do(ctx context.Context, f *finding.Finding, dry bool) outcome
	close() error
}

// sender is a configured action as the dispatcher sees it: a sink.Sender
// that runs the executor for every matching finding, journaling each
// attempt.
type sender struct {
	name, typ   string
	trigger     Trigger
	exec        executor
	journal     Journal
	now         func() time.Time
	log         *slog.Logger
	metrics     *Metrics
	dryRun      bool
	maxAttempts int
	// turn is held (a buffered channel of one, so waiting can stop on a
	// context) by whoever acts for this action: the dispatcher for one
	// finding, or an on-demand request. The journal check and the attempt
	// happen under it, so the two never act on the same finding at once.
	turn chan struct{}
}

// take waits for the action's turn; release with give.
func (s *sender) take(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sender) give() { <-s.turn }

// Send implements sink.Sender.
func (s *sender) Send(ctx context.Context, recs []sink.Record) (int, error) {
	for i := range recs {
		if err := s.handle(ctx, recs[i].Finding); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

// Close implements sink.Sender.
func (s *sender) Close() error { return s.exec.close() }

// journalTimeout bounds saving an attempt's result after a shutdown began.
const journalTimeout = 10 * time.Second

func (s *sender) handle(ctx context.Context, f *finding.Finding) error {
	if !s.trigger.Match(f) {
		return nil
	}
	if err := s.take(ctx); err != nil {
		return err
	}
	defer s.give()
	prev, ok, err := s.journal.Action(ctx, s.name, f.ID)
	if err != nil {
		return fmt.Errorf("response action %s: reading its record for finding %s: %w", s.name, f.ID, err)
	}
	if ok && prev.Status != StatusPending {
		s.log.Debug("response action already done for this finding", "finding", f.ID, "status", prev.Status)
		return nil
	}
	a := prev
	if !ok {
		a = Action{Name: s.name, Type: s.typ, Finding: f.ID, Actor: f.Actor.ID, Started: s.now().UTC()}
	}
	// The attempt is journaled before it is made: after a crash mid-way the
	// record says pending, and the next start makes the attempt again.
	a.Attempts++
	a.Status, a.Updated = StatusPending, s.now().UTC()
	if a.Result == "" {
		a.Result = "first attempt under way"
	}
	if err := s.journal.PutAction(ctx, &a); err != nil {
		return fmt.Errorf("response action %s: journaling attempt %d for finding %s: %w", s.name, a.Attempts, f.ID, err)
	}

	out := s.exec.do(ctx, f, s.dryRun)
	a.Target, a.Code, a.Result, a.Updated = out.target, out.code, out.result, s.now().UTC()
	var ret error
	switch {
	case out.err == nil:
		a.Status = out.status
	case sink.IsPermanent(out.err):
		a.Status, ret = StatusFailed, out.err
	case ctx.Err() != nil:
		a.Status, a.Result, ret = StatusPending, "interrupted by shutdown; retried after the next start", out.err
	case s.maxAttempts > 0 && a.Attempts >= s.maxAttempts:
		a.Status, ret = StatusFailed, sink.Permanent(out.err)
		a.Result += fmt.Sprintf(" (gave up after %d attempts, max_attempts)", a.Attempts)
	default:
		a.Status, ret = StatusPending, out.err
	}
	if a.Result == "" && out.err != nil {
		a.Result = out.err.Error()
	}
	// Saved even when ctx was just cancelled: the receiver may have acted.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalTimeout)
	defer cancel()
	if err := s.journal.PutAction(sctx, &a); err != nil {
		// Retried (and so possibly repeated) rather than left saying
		// pending for an action that is done.
		s.log.Error("response action: journaling the result failed; retrying the action", "finding", f.ID, "status", a.Status, "err", err)
		return fmt.Errorf("response action %s: journaling the result for finding %s: %w", s.name, f.ID, err)
	}
	s.report(&a, f)
	return ret
}

// report logs an attempt and counts it.
func (s *sender) report(a *Action, f *finding.Finding) {
	kv := []any{"finding", a.Finding, "kind", f.Kind, "severity", f.Severity, "actor", a.Actor,
		"target", a.Target, "status", a.Status, "code", a.Code, "attempts", a.Attempts, "result", a.Result}
	result := string(a.Status)
	switch a.Status {
	case StatusSucceeded, StatusSkipped, StatusDryRun:
		s.log.Info("response action", kv...)
	case StatusFailed:
		s.log.Error("response action failed; giving up", kv...)
	default:
		// Like the dispatcher, warn at the first failure only: an outage
		// retried all day would flood the log. The journal has the count.
		result = "retry"
		level := slog.LevelDebug
		if a.Attempts == 1 {
			level = slog.LevelWarn
		}
		s.log.Log(context.Background(), level, "response action attempt failed; retrying with backoff", kv...)
	}
	s.metrics.count(s.name, s.typ, result)
}
