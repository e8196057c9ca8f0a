package sink_test

import (
	"testing"

	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/sink/sinktest"
)

func TestMemOutbox(t *testing.T) {
	sinktest.Outbox(t, func(t *testing.T) (sink.Outbox, func() sink.Outbox) {
		m := &sink.Mem{}
		// Memory survives nothing, but the same value stands in for the
		// restarted process.
		return m, func() sink.Outbox { return m }
	})
}
