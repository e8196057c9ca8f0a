package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// suspend writes the actor's roster entry with status suspended. The
// engine then judges every further access by the actor as outside the
// contract (rule access_outside_contract), and the console and API show the entry
// as suspended. The entry keeps every other field; three optional fields
// say why: suspended_by ("custos:<action>"), suspended_for (the finding id)
// and suspended_at.
//
// Custos does not own the roster: the next PUT of the entry by the HR or
// vendor-management feed replaces it, suspension included.
type suspend struct {
	name   string
	roster Roster
	now    func() time.Time
}

func (s *suspend) do(ctx context.Context, f *finding.Finding, dry bool) outcome {
	id := f.Actor.ID
	p, ok, err := s.roster.Person(ctx, id)
	if err != nil {
		err = fmt.Errorf("reading the roster entry of %s: %w", id, err)
		return outcome{target: id, result: err.Error(), err: err}
	}
	fields := map[string]json.RawMessage{}
	was := "not on the roster; added as suspended"
	if ok {
		switch p.Status {
		case event.Suspended, event.Terminated:
			return outcome{target: id, status: StatusSkipped, result: fmt.Sprintf("roster entry %s is already %s", id, p.Status)}
		}
		if err := json.Unmarshal(p.Raw, &fields); err != nil {
			err = sink.Permanent(fmt.Errorf("roster entry %s: stored entry is not a JSON object: %w", id, err))
			return outcome{target: id, result: err.Error(), err: err}
		}
		was = "was " + string(p.Status)
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		fields[k] = b
	}
	set("id", id)
	set("status", event.Suspended)
	set("suspended_by", "custos:"+s.name)
	set("suspended_for", f.ID)
	set("suspended_at", s.now().UTC().Format(time.RFC3339))
	raw, err := json.Marshal(fields)
	if err != nil {
		return outcome{target: id, result: err.Error(), err: sink.Permanent(err)}
	}
	np, err := event.DecodePerson(raw)
	if err != nil {
		err = sink.Permanent(fmt.Errorf("roster entry %s: the suspended entry does not validate: %w", id, err))
		return outcome{target: id, result: err.Error(), err: err}
	}
	if dry {
		return outcome{target: id, status: StatusDryRun, result: fmt.Sprintf("dry run: would suspend roster entry %s (%s)", id, was)}
	}
	if err := s.roster.PutPerson(ctx, &np); err != nil {
		err = fmt.Errorf("writing roster entry %s: %w", id, err)
		return outcome{target: id, result: err.Error(), err: err}
	}
	return outcome{target: id, status: StatusSucceeded, result: fmt.Sprintf("roster entry %s suspended (%s)", id, was)}
}

func (s *suspend) close() error { return nil }
