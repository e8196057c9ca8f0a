package respond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/custos-io/custos/internal/finding"
)

// OnDemand runs a configured action for one finding when someone asks
// (the console's "Respond…" on a case), whatever its when: trigger says.
//
// It is the same action as the dispatcher's: the same executor, the same
// journal record keyed by (action, finding), and the same turn, so an
// action runs at most once per finding whoever starts it. A request for
// a finding the action already succeeded (or was skipped, or dry-run) for
// does not act again and says so.
//
// The rule for failures: a request makes a single attempt, synchronously,
// within the request's context, and never retries in the background. If
// it fails (whatever the reason, including one the dispatcher would
// retry) the record says failed with the receiver's answer, the case page
// shows it, and the action can be requested again, which makes the next
// attempt. A failed record is final for the dispatcher too, as always: a
// later revision of the case does not retry it behind the analyst's back.
// A record the dispatcher is still retrying (pending, not requested) is
// left to it; a pending record of a request (the process stopped
// mid-attempt) can be requested again.
type OnDemand struct {
	order  []*sender
	byName map[string]*sender
	log    *slog.Logger
}

// ActionInfo describes one action that can be requested.
type ActionInfo struct {
	Name   string
	Type   string
	DryRun bool
}

// Actions lists the actions that can be requested, in configuration
// order (the lifecycle deprovisioning is not one).
func (o *OnDemand) Actions() []ActionInfo {
	if o == nil {
		return nil
	}
	out := make([]ActionInfo, 0, len(o.order))
	for _, s := range o.order {
		out = append(out, ActionInfo{Name: s.name, Type: s.typ, DryRun: s.dryRun})
	}
	return out
}

// Request asks for one action on one finding.
type Request struct {
	Action string
	// Finding is the case (or alert) acted for; the action acts on its
	// actor.
	Finding *finding.Finding
	// User is who asks, Reason why; both are required and journaled.
	User   string
	Reason string
}

// Errors of Run that leave the journal as it was.
var (
	// ErrUnknownAction: no configured action has the requested name.
	ErrUnknownAction = errors.New("no such response action")
	// ErrDone: the action already finished for this finding (succeeded,
	// skipped or dry run); it is not done again. The record is returned.
	ErrDone = errors.New("already done for this finding; not done again")
	// ErrUnderWay: the dispatcher is retrying the action for this finding
	// (its when: trigger matched); it is left to finish. The record is
	// returned.
	ErrUnderWay = errors.New("already under way for this finding (its trigger matched); the retries carry on")
)

// MaxReason bounds a request's reason.
const MaxReason = 500

// Run makes one attempt of the requested action for the finding and
// returns its journal record: status succeeded, skipped, dry_run or
// failed (with Result saying why). err is ErrDone or ErrUnderWay with the
// existing record, or a problem with the request or the journal.
func (o *OnDemand) Run(ctx context.Context, req Request) (Action, error) {
	var s *sender
	if o != nil {
		s = o.byName[req.Action]
	}
	switch {
	case s == nil:
		return Action{}, fmt.Errorf("response action %q: %w", req.Action, ErrUnknownAction)
	case req.Finding == nil || req.Finding.ID == "":
		return Action{}, fmt.Errorf("response action %s: no finding to act for", req.Action)
	case strings.TrimSpace(req.User) == "":
		return Action{}, fmt.Errorf("response action %s: no requesting user", req.Action)
	case strings.TrimSpace(req.Reason) == "":
		return Action{}, fmt.Errorf("response action %s: a reason is required", req.Action)
	case len(req.Reason) > MaxReason:
		return Action{}, fmt.Errorf("response action %s: the reason is longer than %d bytes", req.Action, MaxReason)
	}
	f := req.Finding
	if err := s.take(ctx); err != nil {
		return Action{}, fmt.Errorf("response action %s for finding %s: %w", s.name, f.ID, err)
	}
	defer s.give()

	prev, ok, err := s.journal.Action(ctx, s.name, f.ID)
	if err != nil {
		return Action{}, fmt.Errorf("response action %s: reading its record for finding %s: %w", s.name, f.ID, err)
	}
	a := prev
	if ok {
		switch {
		case prev.Status == StatusFailed:
		case prev.Status == StatusPending && prev.RequestedBy != "":
		case prev.Status == StatusPending:
			return prev, fmt.Errorf("response action %s for finding %s: %w", s.name, f.ID, ErrUnderWay)
		default:
			return prev, fmt.Errorf("response action %s for finding %s: %w", s.name, f.ID, ErrDone)
		}
	} else {
		a = Action{Name: s.name, Type: s.typ, Finding: f.ID, Actor: f.Actor.ID, Started: s.now().UTC()}
	}
	a.Attempts++
	a.Status, a.Updated = StatusPending, s.now().UTC()
	a.RequestedBy, a.Reason = req.User, strings.TrimSpace(req.Reason)
	a.Result = "requested by " + req.User + "; attempt under way"
	if err := s.journal.PutAction(ctx, &a); err != nil {
		return Action{}, fmt.Errorf("response action %s: journaling requested attempt %d for finding %s: %w", s.name, a.Attempts, f.ID, err)
	}

	out := s.exec.do(ctx, f, s.dryRun)
	a.Target, a.Code, a.Result, a.Updated = out.target, out.code, out.result, s.now().UTC()
	if out.err == nil {
		a.Status = out.status
	} else {
		a.Status = StatusFailed
		if a.Result == "" {
			a.Result = out.err.Error()
		}
		if ctx.Err() != nil {
			a.Result = "interrupted (the request ended or the server stopped): " + a.Result
		}
	}
	// Saved even when ctx was just cancelled: the receiver may have acted.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalTimeout)
	defer cancel()
	if err := s.journal.PutAction(sctx, &a); err != nil {
		return a, fmt.Errorf("response action %s: journaling the result for finding %s: %w", s.name, f.ID, err)
	}
	result := string(a.Status)
	level := slog.LevelInfo
	if a.Status == StatusFailed {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "response action on request", "finding", a.Finding, "actor", a.Actor, "user", a.RequestedBy,
		"reason", a.Reason, "target", a.Target, "status", a.Status, "code", a.Code, "attempts", a.Attempts, "result", a.Result)
	s.metrics.count(s.name, s.typ, result)
	return a, nil
}

// Close closes the actions' executors, for when no dispatcher owns them
// (the dispatcher closes its sinks, which are the same actions).
func (o *OnDemand) Close() error {
	if o == nil {
		return nil
	}
	var errs []error
	for _, s := range o.order {
		errs = append(errs, s.exec.close())
	}
	return errors.Join(errs...)
}
