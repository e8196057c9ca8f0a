// Package respondtest helps tests that run response actions in the
// background (on a dispatcher, inside a server) wait for their outcome
// without sleeping a fixed time.
package respondtest

import (
	"context"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/respond"
)

// WaitAction waits until the journal holds a final record (any status but
// pending) of action name for the finding, and returns it. The bound is
// only there to fail the test rather than hang it.
func WaitAction(t testing.TB, j respond.Journal, name, findingID string) respond.Action {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		a, ok, err := j.Action(context.Background(), name, findingID)
		if err != nil {
			t.Fatal(err)
		}
		if ok && a.Status != respond.StatusPending {
			return a
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("response action %s for %s never finished", name, findingID)
	return respond.Action{}
}
