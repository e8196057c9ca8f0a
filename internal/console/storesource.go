package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/store"
)

// StoreSource reads the console's data from the embedded store.
type StoreSource struct{ S *store.Store }

func decodeFindings(sfs []store.StoredFinding) ([]finding.Finding, error) {
	out := make([]finding.Finding, 0, len(sfs))
	for _, sf := range sfs {
		var f finding.Finding
		if err := json.Unmarshal(sf.Line, &f); err != nil {
			return nil, fmt.Errorf("console: a stored finding does not decode: %w", err)
		}
		// The store keeps when a case first opened; the console reads it
		// from the details, where the engine puts it too.
		if f.Kind == finding.KindCase {
			if _, ok := f.Details["opened"]; !ok {
				if f.Details == nil {
					f.Details = map[string]any{}
				}
				f.Details["opened"] = sf.Opened.Format(time.RFC3339Nano)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func (s StoreSource) Cases(ctx context.Context) ([]finding.Finding, error) {
	sfs, err := s.S.Cases(ctx)
	if err != nil {
		return nil, err
	}
	return decodeFindings(sfs)
}

func (s StoreSource) FindingsByID(ctx context.Context, ids []string) ([]finding.Finding, error) {
	sfs, err := s.S.FindingsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	return decodeFindings(sfs)
}

func (s StoreSource) ActorFindings(ctx context.Context, actor string, since time.Time) ([]finding.Finding, error) {
	sfs, err := s.S.ActorFindings(ctx, actor, since)
	if err != nil {
		return nil, err
	}
	return decodeFindings(sfs)
}

func (s StoreSource) AlertCounts(ctx context.Context, since time.Time) ([]AlertCount, error) {
	cs, err := s.S.AlertCounts(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]AlertCount, len(cs))
	for i, c := range cs {
		out[i] = AlertCount{Actor: c.Actor, Rule: c.Rule, N: c.N}
	}
	return out, nil
}

func (s StoreSource) Events(ctx context.Context, ids []string) ([]event.Event, error) {
	return s.S.EventsByID(ctx, ids)
}

func (s StoreSource) ActorEvents(ctx context.Context, actor string, from, until time.Time, limit int) ([]event.Event, error) {
	return s.S.ActorEvents(ctx, actor, from, until, limit)
}

func (s StoreSource) SubjectEvents(ctx context.Context, subject string, from, until time.Time, limit int) ([]event.Event, error) {
	return s.S.SubjectEvents(ctx, subject, from, until, limit)
}

func (s StoreSource) Activity(ctx context.Context, actors []string, from, until time.Time, bucket time.Duration) ([]Bucket, error) {
	as, err := s.S.Activity(ctx, actors, from, until, bucket)
	if err != nil {
		return nil, err
	}
	out := make([]Bucket, len(as))
	for i, a := range as {
		out[i] = Bucket{Actor: a.Actor, Start: a.Start, Events: a.Events, Accesses: a.Accesses, Customers: a.Customers, Bulk: a.Bulk, NoTicket: a.NoTicket}
	}
	return out, nil
}

func (s StoreSource) ActorSpans(ctx context.Context) ([]ActorSpan, error) {
	as, err := s.S.ActorSpans(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ActorSpan, len(as))
	for i, a := range as {
		out[i] = ActorSpan{Actor: a.Actor, First: a.First, Last: a.Last, Events: a.Events}
	}
	return out, nil
}

func (s StoreSource) TicketChanges(ctx context.Context, subjects []string) ([]event.TicketChange, error) {
	return s.S.SubjectTicketChanges(ctx, subjects)
}

func (s StoreSource) People(ctx context.Context) ([]event.Person, error) {
	var out []event.Person
	err := s.S.People(ctx, func(p *event.Person) error { out = append(out, *p); return nil })
	return out, err
}

func (s StoreSource) Subject(ctx context.Context, id string) (*event.Subject, error) {
	return s.S.Subject(ctx, id)
}

// StoreState keeps the console's users, sessions, case decisions, reveals
// and audit trail in the embedded store.
type StoreState struct{ S *store.Store }

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

func (s StoreState) User(ctx context.Context, name string) (User, error) {
	var u User
	raw, err := s.S.ConsoleUser(ctx, name)
	if err != nil {
		return u, notFound(err)
	}
	return u, json.Unmarshal(raw, &u)
}

func (s StoreState) Users(ctx context.Context) ([]User, error) {
	raws, err := s.S.ConsoleUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s StoreState) PutUser(ctx context.Context, u User) error {
	raw, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return s.S.PutConsoleUser(ctx, u.Name, raw)
}

func (s StoreState) CreateSession(ctx context.Context, x Session) error {
	raw, err := json.Marshal(x)
	if err != nil {
		return err
	}
	return s.S.CreateConsoleSession(ctx, x.ID, x.User, x.LastSeen, raw)
}

func (s StoreState) Session(ctx context.Context, id string) (Session, error) {
	var x Session
	raw, last, err := s.S.ConsoleSession(ctx, id)
	if err != nil {
		return x, notFound(err)
	}
	if err := json.Unmarshal(raw, &x); err != nil {
		return x, err
	}
	x.LastSeen = last
	return x, nil
}

func (s StoreState) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.S.TouchConsoleSession(ctx, id, at)
}

func (s StoreState) DeleteSession(ctx context.Context, id string) error {
	return s.S.DeleteConsoleSession(ctx, id)
}

func (s StoreState) DeleteSessions(ctx context.Context, user string) error {
	return s.S.DeleteConsoleSessions(ctx, user)
}

func (s StoreState) CaseStates(ctx context.Context) (map[string]CaseState, error) {
	raws, err := s.S.ConsoleCases(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]CaseState, len(raws))
	for id, raw := range raws {
		var st CaseState
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("console: case %s state: %w", id, err)
		}
		out[id] = st
	}
	return out, nil
}

func (s StoreState) CaseActions(ctx context.Context, caseID string) ([]CaseAction, error) {
	rs, err := s.S.ConsoleCaseActions(ctx, caseID)
	if err != nil {
		return nil, err
	}
	out := make([]CaseAction, len(rs))
	for i, r := range rs {
		if err := json.Unmarshal(r.Raw, &out[i]); err != nil {
			return nil, err
		}
		out[i].Seq = r.Seq
	}
	return out, nil
}

func (s StoreState) AddCaseAction(ctx context.Context, a CaseAction, st CaseState) error {
	ar, err := json.Marshal(a)
	if err != nil {
		return err
	}
	sr, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = s.S.AddConsoleCaseAction(ctx, a.CaseID, a.Time, ar, sr)
	return err
}

func (s StoreState) AddReveal(ctx context.Context, r Reveal) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.S.AddConsoleReveal(ctx, r.User, r.Actor, r.Until, raw)
}

func (s StoreState) Reveals(ctx context.Context, user string, at time.Time) ([]Reveal, error) {
	raws, err := s.S.ConsoleReveals(ctx, user, at)
	if err != nil {
		return nil, err
	}
	out := make([]Reveal, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s StoreState) AddAudit(ctx context.Context, r AuditRecord) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.S.AddConsoleAudit(ctx, r.Time, r.User, r.Action, raw)
	return err
}

func (s StoreState) Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rs, err := s.S.ConsoleAudit(ctx, q.User, q.Action, q.Before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]AuditRecord, len(rs))
	for i, r := range rs {
		if err := json.Unmarshal(r.Raw, &out[i]); err != nil {
			return nil, err
		}
		out[i].Seq = r.Seq
	}
	return out, nil
}

func (s StoreState) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	return s.S.ConsoleSecret(ctx, name, gen)
}
