package console

import (
	"context"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// BreachOver answers the console's breach pages with the breach package,
// the code behind `custos exposure`, `custos attribute` and the API, so
// a report downloaded from the console is the one the CLI prints.
type BreachOver struct {
	Src breach.Source
	// Windows are the engine's ticket windows, so "justified" means what
	// it means to the detections.
	Windows engine.Windows
	// Explainer is breach.AttributionQuery.Explainer (the pack's no-ticket
	// rules); nil explains nothing beyond the ticket index.
	Explainer breach.Explainer
}

// Exposure implements Breach.
func (b BreachOver) Exposure(ctx context.Context, q breach.ExposureQuery) (*breach.Exposure, error) {
	return breach.Exposures(ctx, b.Src, q, b.Windows)
}

// Attribution implements Breach.
func (b BreachOver) Attribution(ctx context.Context, q breach.AttributionQuery) (*breach.Attribution, error) {
	if q.Explainer == nil {
		q.Explainer = b.Explainer
	}
	return breach.Attribute(ctx, b.Src, q, b.Windows)
}

// breachSource is a Source that can also be read by the breach package;
// StoreSource is one.
type breachSource interface {
	BreachSource() breach.Source
}

// BreachSource implements breachSource: the store is a breach.Source.
func (s StoreSource) BreachSource() breach.Source { return s.S }

// noBreach answers when no breach implementation is configured.
type noBreach struct{}

var errNoBreach = fmt.Errorf("exposure and attribution are not configured for this console (no breach source)")

func (noBreach) Exposure(context.Context, breach.ExposureQuery) (*breach.Exposure, error) {
	return nil, errNoBreach
}

func (noBreach) Attribution(context.Context, breach.AttributionQuery) (*breach.Attribution, error) {
	return nil, errNoBreach
}

// vendorActors returns the roster ids of a vendor ("" = in-house).
func vendorActors(people []event.Person, vendor string) []string {
	var ids []string
	for _, p := range people {
		if p.Vendor == vendor {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// parseDay reads a date (2026-03-01) or an RFC 3339 time; empty is zero.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2026-03-01) or time (2026-03-01T14:00:00Z)", s)
	}
	return t.UTC(), nil
}
