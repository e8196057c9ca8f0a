package eval

import (
	"fmt"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// Baseline is the comparison engine: the static rules a SIEM team writes
// first, with no exemptions, no baselines and no accumulating risk. Custos's
// figures are judged against it.
//
//   - every access to a customer that no ticket assigned to the actor
//     explains is an alert (naive_no_ticket);
//   - more than ViewsPerHour views in one clock hour is an alert
//     (naive_volume);
//   - access outside the roster contract is an alert (naive_outside_contract);
//   - AlertsPerCase alerts on one actor in one UTC day open a case.
type Baseline struct {
	ViewsPerHour  int
	AlertsPerCase int
}

// DefaultBaseline returns the comparison's thresholds.
func DefaultBaseline() Baseline { return Baseline{ViewsPerHour: 60, AlertsPerCase: 5} }

// Rule ids of the comparison engine.
const (
	RuleNaiveNoTicket = "naive_no_ticket"
	RuleNaiveVolume   = "naive_volume"
	RuleNaiveContract = "naive_outside_contract"
)

// Engine assembles the comparison engine with the given ticket windows (the
// same as Custos's, so only the detection logic differs).
func (b Baseline) Engine(w engine.Windows, emit func(*finding.Finding)) *engine.Engine {
	vol := &volume{limit: b.ViewsPerHour, counts: map[string]*hourCount{}}
	return engine.New(engine.Config{
		Tickets:   w,
		Immediate: []engine.Detector{vol, engine.DetectorFunc(naiveContract)},
		Settled:   []engine.Detector{engine.DetectorFunc(naiveNoTicket)},
		NewScorer: func() engine.Scorer { return &dailyCount{threshold: b.AlertsPerCase} },
	}, emit)
}

func naiveNoTicket(in *engine.Input, emit engine.Emit) {
	if in.Ticket == nil || in.Ticket.Verdict == engine.Justified {
		return
	}
	ev := in.Event
	emit(engine.Alert{
		Rule:     RuleNaiveNoTicket,
		Severity: finding.Medium,
		Risk:     1,
		Subjects: []string{ev.Subject},
		Summary:  fmt.Sprintf("%s %s customer %s without a ticket assigned to them (%s)", ev.Actor.ID, ev.Action, ev.Subject, in.Ticket.Verdict),
	})
}

func naiveContract(in *engine.Input, emit engine.Emit) {
	p, ev := in.Person, in.Event
	if p == nil {
		return
	}
	if (!p.ContractEnd.IsZero() && ev.Time.After(p.ContractEnd)) || (!p.ContractStart.IsZero() && ev.Time.Before(p.ContractStart)) {
		emit(engine.Alert{
			Rule:     RuleNaiveContract,
			Severity: finding.High,
			Risk:     1,
			Summary:  fmt.Sprintf("%s %s outside the contract", ev.Actor.ID, ev.Action),
		})
	}
}

type hourCount struct {
	hour int64
	n    int
}

// volume counts each actor's views per clock hour of event time.
type volume struct {
	limit  int
	counts map[string]*hourCount
}

func (v *volume) Detect(in *engine.Input, emit engine.Emit) {
	ev := in.Event
	if ev.Action != event.View {
		return
	}
	h := ev.Time.Unix() / 3600
	c := v.counts[ev.Actor.ID]
	if c == nil {
		c = &hourCount{}
		v.counts[ev.Actor.ID] = c
	}
	if c.hour != h {
		c.hour, c.n = h, 0
	}
	c.n++
	if c.n == v.limit+1 {
		emit(engine.Alert{
			Rule:     RuleNaiveVolume,
			Severity: finding.Medium,
			Risk:     1,
			Summary:  fmt.Sprintf("%s viewed more than %d records in the hour from %s", ev.Actor.ID, v.limit, time.Unix(h*3600, 0).UTC().Format("2006-01-02 15:04")),
		})
	}
}

// dailyCount opens a case when an actor's alerts in one UTC day reach the
// threshold.
type dailyCount struct {
	threshold int
	day       int64
	n         int
}

func (d *dailyCount) Add(_ *engine.Alert, at time.Time) (float64, bool) {
	day := at.Unix() / 86400
	if day != d.day {
		d.day, d.n = day, 0
	}
	d.n++
	return float64(d.n), d.n >= d.threshold
}
