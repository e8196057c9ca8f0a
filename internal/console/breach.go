package console

import (
	"context"
	"fmt"

	"github.com/custos-io/custos/internal/breach"
	"github.com/custos-io/custos/internal/engine"
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
