package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/respond"
)

// RespondOver offers the configured response actions (the respond:
// section) on the case page and runs them on request through
// respond.OnDemand: one attempt, journaled with the user and the reason
// under the same (action, finding) record as the automatic trigger, so an
// action is done once per case whoever asks.
type RespondOver struct {
	D *respond.OnDemand
}

var typeLabels = map[string]string{
	respond.TypeSCIM:    "deactivate the agent's account at the identity provider (SCIM)",
	respond.TypeWebhook: "send the case to the SOAR webhook",
	respond.TypeSuspend: "suspend the agent on the roster",
}

// Actions implements Responder.
func (o RespondOver) Actions() []ResponseAction {
	var out []ResponseAction
	for _, a := range o.D.Actions() {
		desc := typeLabels[a.Type]
		if a.DryRun {
			desc += " (dry run: only journals what it would do)"
		}
		out = append(out, ResponseAction{Name: a.Name, Label: a.Name, Description: desc})
	}
	return out
}

// Respond implements Responder. An action already done for the case, or
// being retried by its trigger, is not done again; that is a result, not
// an error. A failed attempt is an error, and can be requested again.
func (o RespondOver) Respond(ctx context.Context, r ResponseRequest) (string, error) {
	if r.Finding == nil {
		return "", errors.New("no case to respond to")
	}
	a, err := o.D.Run(ctx, respond.Request{Action: r.Action, Finding: r.Finding, User: r.User, Reason: r.Note})
	switch {
	case errors.Is(err, respond.ErrDone):
		return fmt.Sprintf("not done again: already %s at %s UTC (%s)", a.Status, a.Updated.UTC().Format(time.DateTime), a.Result), nil
	case errors.Is(err, respond.ErrUnderWay):
		return fmt.Sprintf("not done now: its trigger already started it (attempt %d pending: %s)", a.Attempts, a.Result), nil
	case err != nil:
		return "", err
	case a.Status == respond.StatusFailed:
		return "", fmt.Errorf("%s (it can be requested again)", a.Result)
	}
	return fmt.Sprintf("%s: %s", a.Status, a.Result), nil
}
