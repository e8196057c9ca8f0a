// Package sink delivers findings to the systems security teams already
// watch: OCSF Detection Findings (to a rotated file or an HTTP collector), CEF
// over RFC 5424 syslog (UDP, TCP with octet counting, TCP+TLS), the Splunk
// HTTP Event Collector (with its indexer acknowledgement protocol) and
// generic webhooks (HMAC-signed JSON, or Slack-compatible text).
//
// Delivery is at least once and never on the engine's path: the engine only
// appends findings to an Outbox; a Dispatcher runs one goroutine per sink,
// each reading the outbox after its own durable cursor, retrying with
// exponential backoff and full jitter, and advancing the cursor only once the
// receiver has accepted a batch. A dead SIEM therefore costs disk space in the
// outbox, never detection speed, and the sink catches up when it returns,
// even across restarts.
//
// Anything that consumes findings with its own cursor (a response action,
// say) is a Sink too: give the Dispatcher a Sink whose Sender performs the
// action.
package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// Sender hands a batch of outbox records to one receiver. It returns how many
// records, from the start of recs, the receiver has accepted; n < len(recs)
// comes with an error. A nil error means all were accepted. Errors are
// retried unless marked Permanent.
type Sender interface {
	Send(ctx context.Context, recs []Record) (n int, err error)
	// Close releases connections and files; the Dispatcher calls it when
	// its Run returns.
	Close() error
}

// Sink is one consumer of the outbox: a sender and how findings reach it.
type Sink struct {
	// Name identifies the sink's cursor in the outbox; renaming a sink
	// starts a new cursor.
	Name   string
	Filter Filter
	// BatchSize is the most records handed to Send at once.
	BatchSize int
	Retry     Retry
	// StartAtEnd makes a sink seen for the first time skip the findings
	// already in the outbox rather than deliver all of them.
	StartAtEnd bool
	Sender     Sender
}

// Retry is the backoff policy after a failed send: the n-th consecutive
// failure waits a uniformly random time in [0, min(Max, Initial·2ⁿ)) ("full
// jitter"), so many Custos instances hitting one recovering SIEM spread out.
// Transient failures are retried for as long as it takes.
type Retry struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// DefaultRetry is the policy used when a sink's configuration sets none.
var DefaultRetry = Retry{Initial: 500 * time.Millisecond, Max: time.Minute}

// ceiling is the upper bound of the wait after the n-th consecutive failure
// (n from 0).
func (r Retry) ceiling(n int) time.Duration {
	d := r.Initial
	for i := 0; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// permanentError marks a failure that retrying cannot fix (the receiver
// rejected the content itself).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the receiver understood the
// request and refused its content. The Dispatcher then resends the batch one
// record at a time to find the record at fault, and drops only that one,
// logging it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError carries a receiver's request to wait (HTTP Retry-After).
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err with the receiver's requested wait; the Dispatcher
// waits at least that long (but never longer than Retry.Max).
func RetryAfter(err error, d time.Duration) error {
	return &retryAfterError{err: err, after: d}
}

// DeliveryID names one record of a finding: the finding id for its first
// revision, "id.N" for the N-th rewrite of a growing case. Receivers use it
// to discard the duplicates at-least-once delivery may bring.
func DeliveryID(r *Record) string {
	if r.Revision == 0 {
		return r.Finding.ID
	}
	return fmt.Sprintf("%s.%d", r.Finding.ID, r.Revision)
}

// title is the short name of what a finding is about: the rule for an
// alert, "case" for a case.
func title(f *finding.Finding) string {
	if f.Kind == finding.KindCase {
		return "case"
	}
	if f.Rule == "" {
		return string(f.Kind)
	}
	return f.Rule
}
