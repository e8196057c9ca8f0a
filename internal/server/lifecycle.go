package server

import (
	"context"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// runLifecycle checks the whole roster at once and then every
// LifecycleInterval, on the wall clock, until ctx ends.
func (s *Server) runLifecycle(ctx context.Context) {
	for {
		start := time.Now()
		fs, err := s.opts.Lifecycle.Check(ctx, s.clock.Now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Error("lifecycle check failed; trying again at the next interval", "interval", s.opts.LifecycleInterval, "err", err)
		default:
			s.storeLifecycle(ctx, fs)
			s.log.Debug("lifecycle check", "alerts", len(fs), "took", time.Since(start).Round(time.Millisecond))
		}
		s.hook("lifecycle")
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(s.opts.LifecycleInterval):
		}
	}
}

// checkPerson runs the lifecycle check on a roster entry just written. A
// failure is logged, not returned: the entry is stored, and the next
// scheduled check sees it.
func (s *Server) checkPerson(ctx context.Context, p *event.Person) {
	if s.opts.Lifecycle == nil {
		return
	}
	fs, err := s.opts.Lifecycle.CheckPerson(ctx, p, s.clock.Now())
	if err != nil {
		s.log.Error("lifecycle check of a roster change failed; the next scheduled check retries it", "id", p.ID, "err", err)
		return
	}
	s.storeLifecycle(ctx, fs)
}

// storeLifecycle stores lifecycle alerts the way the engine's findings are
// stored: in the findings table and the outbox in one transaction, then
// the sinks and response actions are woken.
func (s *Server) storeLifecycle(ctx context.Context, fs []*finding.Finding) {
	if len(fs) == 0 {
		return
	}
	start := time.Now()
	err := s.store.WriteFindings(context.WithoutCancel(ctx), fs)
	s.metrics.observeStore(opFindings, start)
	if err != nil {
		s.log.Error("storing lifecycle alerts failed; the next check raises them again", "alerts", len(fs), "err", err)
		return
	}
	s.metrics.countFindings(fs)
	for _, f := range fs {
		s.log.Warn("identity still active after its contract ended", "actor", f.Actor.ID, "finding", f.ID,
			"contract_end", f.Details["contract_end"], "severity", f.Severity)
	}
	if s.opts.Sinks != nil {
		s.opts.Sinks.Notify()
	}
}
