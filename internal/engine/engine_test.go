package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

type recorder struct{ got []*finding.Finding }

func (r *recorder) emit(f *finding.Finding) { r.got = append(r.got, f) }

func (r *recorder) lines() string {
	var b strings.Builder
	for _, f := range r.got {
		fmt.Fprintf(&b, "%s %s %s %s risk=%g alerts=%d\n", f.Time.Format("15:04"), f.Kind, f.Actor.ID, f.Rule+string(f.Severity), f.Risk, len(f.Alerts))
	}
	return b.String()
}

func view(min float64, id, actor, subject string) *event.Event {
	return &event.Event{ID: id, Time: at(min), Actor: event.Actor{ID: actor}, Action: event.View, Subject: subject}
}

// every fires a fixed alert on every event at the given stage.
func every(sev finding.Severity, risk float64, suppress time.Duration) Detector {
	return DetectorFunc(func(in *Input, emit Emit) {
		emit(Alert{Rule: "r", Severity: sev, Risk: risk, Summary: "x", SuppressFor: suppress, Key: in.Event.Subject})
	})
}

func TestSettledStageWaitsForGrace(t *testing.T) {
	var seen []string
	probe := DetectorFunc(func(in *Input, emit Emit) {
		seen = append(seen, fmt.Sprintf("%s:%v", in.Event.ID, in.Ticket.Verdict))
	})
	e := New(Config{Tickets: Windows{Grace: 15 * time.Minute}, Settled: []Detector{probe}}, func(*finding.Finding) {})
	e.Event(view(0, "e1", "ana", "c-1"))
	// The ticket arrives 10 minutes after the look: still within grace.
	e.Ticket(change(10, "T-1", "c-1", "ana", event.TicketOpen))
	if len(seen) != 0 {
		t.Fatalf("settled before the grace window closed: %v", seen)
	}
	e.Event(view(15, "e2", "ana", "c-2")) // exactly at the deadline: not yet
	if len(seen) != 0 {
		t.Fatalf("settled at the deadline itself: %v", seen)
	}
	e.Event(view(16, "e3", "ana", "c-3"))
	if strings.Join(seen, " ") != "e1:justified" {
		t.Fatalf("after the grace window: %v", seen)
	}
	e.Flush()
	if strings.Join(seen, " ") != "e1:justified e2:no_ticket e3:no_ticket" {
		t.Fatalf("after flush: %v", seen)
	}
}

func TestSuppressionPerActorAndKey(t *testing.T) {
	var r recorder
	e := New(Config{Immediate: []Detector{every(finding.Low, 1, time.Hour)}}, r.emit)
	e.Event(view(0, "e1", "ana", "c-1"))
	e.Event(view(10, "e2", "ana", "c-1")) // suppressed: same rule, actor, key
	e.Event(view(11, "e3", "ana", "c-2")) // other key
	e.Event(view(12, "e4", "bob", "c-1")) // other actor
	e.Event(view(61, "e5", "ana", "c-1")) // window over
	if s := e.Stats(); s.Alerts != 4 || s.Suppressed != 1 {
		t.Errorf("stats %+v, want 4 alerts and 1 suppressed", s)
	}
}

func TestRiskDecayOpensAndGrowsCase(t *testing.T) {
	var r recorder
	e := New(Config{
		Immediate: []Detector{every(finding.Medium, 30, 0)},
		Risk:      RiskConfig{HalfLife: time.Hour, CaseThreshold: 50},
	}, r.emit)
	e.Event(view(0, "e1", "ana", "c-1"))   // risk 30
	e.Event(view(120, "e2", "ana", "c-2")) // 30/4 + 30 = 37.5: no case
	e.Event(view(121, "e3", "ana", "c-3")) // 37.5·2^(-1/60)+30 ≈ 67.1: a case opens with the three alerts
	e.Event(view(122, "e4", "ana", "c-4")) // grows: 4 alerts, not yet doubled
	e.Event(view(123, "e5", "ana", "c-5"))
	e.Event(view(124, "e6", "ana", "c-6")) // 6 alerts = twice 3: re-written
	want := `01:00 alert ana rmedium risk=30 alerts=0
03:00 alert ana rmedium risk=30 alerts=0
03:01 alert ana rmedium risk=30 alerts=0
03:01 case ana medium risk=67.1 alerts=3
03:02 alert ana rmedium risk=30 alerts=0
03:03 alert ana rmedium risk=30 alerts=0
03:04 alert ana rmedium risk=30 alerts=0
03:04 case ana medium risk=153.8 alerts=6
`
	if got := r.lines(); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
	if r.got[3].ID != r.got[7].ID {
		t.Errorf("a growing case keeps its id: %s then %s", r.got[3].ID, r.got[7].ID)
	}
}

func TestCriticalOpensCaseAtOnce(t *testing.T) {
	var r recorder
	e := New(Config{Immediate: []Detector{every(finding.Critical, 1, 0)}}, r.emit)
	e.Event(view(0, "e1", "ana", "c-1"))
	if len(r.got) != 2 || r.got[1].Kind != finding.KindCase || r.got[1].Severity != finding.Critical {
		t.Fatalf("a critical alert opens a case at once: %s", r.lines())
	}
}

func TestLateEventsCounted(t *testing.T) {
	e := New(Config{}, func(*finding.Finding) {})
	e.Event(view(10, "e1", "ana", "c-1"))
	e.Event(view(5, "e2", "ana", "c-1"))
	if e.Stats().Late != 1 {
		t.Errorf("late = %d, want 1", e.Stats().Late)
	}
}

// A summary is rendered only for alerts that are let through, and the
// finding carries what Render wrote.
func TestRenderOnlyUnsuppressed(t *testing.T) {
	rendered := 0
	det := DetectorFunc(func(in *Input, emit Emit) {
		subject := in.Event.Subject
		emit(Alert{Rule: "r", Severity: finding.Low, Risk: 1, SuppressFor: time.Hour, Key: subject,
			Render: func() string { rendered++; return "looked at " + subject }})
	})
	r := &recorder{}
	e := New(Config{Immediate: []Detector{det}}, r.emit)
	e.Event(view(0, "e1", "ana", "c-1"))
	e.Event(view(1, "e2", "ana", "c-1")) // suppressed: same key within the hour
	e.Event(view(2, "e3", "ana", "c-2"))
	e.Flush()
	if rendered != 2 {
		t.Errorf("rendered %d summaries, want 2 (the suppressed alert is not rendered)", rendered)
	}
	var sums []string
	for _, f := range r.got {
		if f.Kind == finding.KindAlert {
			sums = append(sums, f.Summary)
		}
	}
	if got := strings.Join(sums, "|"); got != "looked at c-1|looked at c-2" {
		t.Errorf("summaries %q", got)
	}
}

// TestPruneAfterAGap checks that a jump in event time (a quiet weekend)
// settles the accesses waiting for their grace window before the tickets
// that explain them are pruned, and that closed tickets are pruned then.
func TestPruneAfterAGap(t *testing.T) {
	var seen []string
	probe := DetectorFunc(func(in *Input, emit Emit) {
		seen = append(seen, fmt.Sprintf("%s:%v", in.Event.ID, in.Ticket.Verdict))
	})
	e := New(Config{Tickets: Windows{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute}, Settled: []Detector{probe}}, func(*finding.Finding) {})
	e.Ticket(change(0, "T-1", "c-1", "ana", event.TicketOpen))
	e.Ticket(change(5, "T-1", "c-1", "ana", event.TicketSolved))
	e.Event(view(10, "e1", "ana", "c-1")) // within after_close of T-1
	e.Event(view(3*24*60, "e2", "ana", "c-2"))
	if strings.Join(seen, " ") != "e1:justified" {
		t.Fatalf("after a three-day gap: %v", seen)
	}
	if n := e.Tickets().Len(); n != 0 {
		t.Errorf("%d tickets kept three days after closing, want 0", n)
	}
}

// ActorIndex is dense, stable for an actor, the same at both stages, and
// kept when an actor first seen in events joins the roster.
func TestActorIndex(t *testing.T) {
	got := map[string][]int{}
	probe := DetectorFunc(func(in *Input, emit Emit) {
		got[in.Event.Actor.ID] = append(got[in.Event.Actor.ID], in.ActorIndex)
	})
	e := New(Config{Tickets: Windows{Grace: time.Minute}, Immediate: []Detector{probe}, Settled: []Detector{probe}}, func(*finding.Finding) {})
	e.SetPerson(&event.Person{ID: "ana"})
	e.SetPerson(&event.Person{ID: "bob"})
	e.Event(view(0, "e1", "cid", "c-1")) // not on the roster
	e.Event(view(1, "e2", "bob", "c-1"))
	e.SetPerson(&event.Person{ID: "cid"}) // joins: keeps its number
	e.SetPerson(&event.Person{ID: "ana", Team: "t"})
	e.Event(view(2, "e3", "cid", "c-1"))
	e.Event(view(3, "e4", "ana", "c-1"))
	e.Flush()
	want := map[string][]int{"cid": {2, 2, 2, 2}, "bob": {1, 1}, "ana": {0, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("indexes %v, want %v", got, want)
	}
}
