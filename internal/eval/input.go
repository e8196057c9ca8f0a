package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
	"github.com/custos-io/custos/internal/sim"
)

type wireFinding struct {
	Kind  *string `json:"kind"`
	ID    *string `json:"id"`
	Time  *string `json:"time"`
	Actor *struct {
		ID string `json:"id"`
	} `json:"actor"`
	Rule     string   `json:"rule"`
	Subjects []string `json:"subjects"`
	Alerts   []string `json:"alerts"`
}

// decodeFinding decodes one findings line, keeping what the evaluation needs.
func decodeFinding(line []byte) (Finding, error) {
	var w wireFinding
	if err := json.Unmarshal(line, &w); err != nil {
		return Finding{}, &event.FieldError{Reason: "invalid JSON: " + err.Error()}
	}
	var f Finding
	switch {
	case w.Kind == nil:
		return f, &event.FieldError{Field: "kind", Reason: "missing"}
	case *w.Kind != string(finding.KindAlert) && *w.Kind != string(finding.KindCase):
		return f, &event.FieldError{Field: "kind", Reason: fmt.Sprintf("unknown value %q (want alert or case)", *w.Kind)}
	case w.ID == nil || *w.ID == "":
		return f, &event.FieldError{Field: "id", Reason: "missing"}
	case w.Actor == nil || w.Actor.ID == "":
		return f, &event.FieldError{Field: "actor.id", Reason: "missing"}
	case w.Time == nil:
		return f, &event.FieldError{Field: "time", Reason: "missing"}
	}
	t, err := event.ParseTime("time", *w.Time)
	if err != nil {
		return f, err
	}
	return Finding{Kind: *w.Kind, ID: *w.ID, Time: t, Actor: w.Actor.ID, Rule: w.Rule, Subjects: w.Subjects, Alerts: w.Alerts}, nil
}

// ReadFindings reads findings NDJSON (FORMATS.md section 6). Findings are
// Custos's own output, so any bad line fails the read, naming its line.
func ReadFindings(r io.Reader, source string) ([]Finding, error) {
	var out []Finding
	err := decodeStrict(r, source, decodeFinding, func(f Finding) { out = append(out, f) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeStrict decodes NDJSON records, failing on the first bad one: an
// evaluation over partly read input would report wrong figures.
func decodeStrict[T any](r io.Reader, source string, decode func([]byte) (T, error), ok func(T)) error {
	var bad error
	err := event.Decode(r, source, decode, func(v T) error {
		ok(v)
		return nil
	}, func(e *event.RecordError) {
		if bad == nil {
			bad = e
		}
	})
	if err == nil {
		err = bad
	}
	return err
}

// ReadFindingsFile reads findings from path.
func ReadFindingsFile(path string) ([]Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening findings: %w", err)
	}
	defer f.Close()
	return ReadFindings(f, filepath.Base(path))
}

// Collect keeps the findings an engine emits, for an in-process evaluation.
type Collect struct{ Findings []Finding }

// Emit is the engine's emit function.
func (c *Collect) Emit(f *finding.Finding) {
	c.Findings = append(c.Findings, Finding{
		Kind: string(f.Kind), ID: f.ID, Time: f.Time.UTC(), Actor: f.Actor.ID, Rule: f.Rule,
		Subjects: append([]string(nil), f.Subjects...), Alerts: append([]string(nil), f.Alerts...),
	})
}

// Replay runs dir through the engine that build returns and collects its
// findings. Rejected input records are counted, not fatal.
func Replay(ctx context.Context, dir string, lateness time.Duration, build func(emit func(*finding.Finding)) *engine.Engine) ([]Finding, replay.Counts, error) {
	var c Collect
	eng := build(c.Emit)
	eng.Start(ctx) // concurrent if build made it so
	counts, err := replay.Run(ctx, replay.Options{Dir: dir, Lateness: lateness}, eng)
	if cerr := eng.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, counts, fmt.Errorf("replaying %s: %w", dir, err)
	}
	return c.Findings, counts, nil
}

// LoadRun reads a simulation directory's labels.json and roster.
func LoadRun(dir string) (*sim.Labels, []Person, error) {
	labels, err := sim.ReadLabels(filepath.Join(dir, "labels.json"))
	if err != nil {
		return nil, nil, err
	}
	f, err := event.Open(dir, "roster")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: the roster is needed to count agents: %w", dir, err)
		}
		return nil, nil, err
	}
	defer f.Close()
	var people []Person
	seen := map[string]int{}
	err = decodeStrict(f, f.Name, event.DecodePerson, func(p event.Person) {
		// A later line for the same id replaces the earlier one.
		if i, ok := seen[p.ID]; ok {
			people[i] = Person{ID: p.ID, Role: p.Role, Team: p.Team}
			return
		}
		seen[p.ID] = len(people)
		people = append(people, Person{ID: p.ID, Role: p.Role, Team: p.Team})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return labels, people, nil
}
