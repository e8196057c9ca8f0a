package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// WebhookRequest is the body a webhook action posts: the finding that
// triggered it and, when the actor is on the roster, the roster entry, so a
// SOAR playbook has the vendor, manager and contract without calling back.
type WebhookRequest struct {
	// Action is the configured action's name.
	Action string `json:"action"`
	// Delivery identifies this action for this finding; it is also the
	// X-Custos-Delivery header. A retried request repeats it.
	Delivery string `json:"delivery"`
	// Finding is the finding as in FORMATS.md section 6.
	Finding json.RawMessage `json:"finding"`
	// Person is the actor's roster entry as stored (FORMATS.md section 2).
	Person json.RawMessage `json:"person,omitempty"`
}

// webhook posts findings to a SOAR.
type webhook struct {
	name    string
	url     string
	headers map[string]string
	client  *http.Client
	secret  []byte
	roster  Roster // nil: the body carries no roster entry
	now     func() time.Time
}

// DeliveryID is the X-Custos-Delivery of a webhook action: one per action
// and finding, whatever the revision of a growing case.
func DeliveryID(action, findingID string) string { return action + ":" + findingID }

func (w *webhook) do(ctx context.Context, f *finding.Finding, dry bool) outcome {
	target := sink.RedactURL(w.url)
	line, err := finding.MarshalLine(f)
	if err != nil {
		return outcome{target: target, result: err.Error(), err: sink.Permanent(err)}
	}
	req := WebhookRequest{Action: w.name, Delivery: DeliveryID(w.name, f.ID), Finding: bytes.TrimSuffix(line, []byte("\n"))}
	if w.roster != nil {
		p, ok, err := w.roster.Person(ctx, f.Actor.ID)
		if err != nil {
			return outcome{target: target, result: err.Error(), err: fmt.Errorf("reading the roster entry of %s: %w", f.Actor.ID, err)}
		}
		if ok {
			req.Person = p.Raw
		}
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return outcome{target: target, result: err.Error(), err: sink.Permanent(err)}
	}
	if dry {
		return outcome{target: target, status: StatusDryRun, result: fmt.Sprintf("dry run: would POST %d bytes to %s", len(body), target)}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return outcome{target: target, result: err.Error(), err: sink.Permanent(err)}
	}
	for k, v := range w.headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "custos")
	hr.Header.Set(sink.HeaderDelivery, req.Delivery)
	if len(w.secret) > 0 {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		hr.Header.Set(sink.HeaderTimestamp, ts)
		hr.Header.Set(sink.HeaderSignature, sink.Signature(w.secret, ts, body))
	}
	status, hdr, resp, err := roundTrip(w.client, hr)
	if err != nil {
		err = fmt.Errorf("webhook POST %s: %w", target, err)
		return outcome{target: target, result: err.Error(), err: err}
	}
	if status >= 200 && status < 300 {
		return outcome{target: target, code: status, status: StatusSucceeded, result: fmt.Sprintf("webhook accepted the finding (HTTP %d)", status)}
	}
	err = fmt.Errorf("webhook POST %s: %s (%d): %s", target, http.StatusText(status), status, snippet(resp))
	if refused(status) {
		err = sink.Permanent(err)
	} else {
		err = retryable(err, hdr)
	}
	return outcome{target: target, code: status, result: err.Error(), err: err}
}

func (w *webhook) close() error {
	w.client.CloseIdleConnections()
	return nil
}
