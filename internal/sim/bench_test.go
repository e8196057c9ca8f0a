package sim

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/event"
)

var benchEvent = event.Event{
	ID: "e-1400123-57", Time: time.Date(2026, 3, 14, 9, 31, 7, 0, time.UTC),
	Actor:  event.Actor{ID: "a-0123", Session: "s-1400123-1", IP: "198.51.12.22", Device: "ws-manila-046", Country: "PH"},
	Action: event.View, Subject: "c-004512", Resource: "contact", Fields: []string{"email", "phone", "address"},
	Ticket: "T-1400123011", DurationMS: 24512, App: "support-console",
}

// BenchmarkEncodeEvent is the hand-written encoder the simulator uses.
func BenchmarkEncodeEvent(b *testing.B) {
	var buf []byte
	for b.Loop() {
		buf = appendEvent(buf[:0], &benchEvent)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeEventJSON is encoding/json on a struct of the same shape,
// for comparison.
func BenchmarkEncodeEventJSON(b *testing.B) {
	type subject struct {
		ID string `json:"id"`
	}
	type wire struct {
		ID         string      `json:"id"`
		Time       time.Time   `json:"time"`
		Actor      event.Actor `json:"actor"`
		Action     string      `json:"action"`
		Subject    *subject    `json:"subject,omitempty"`
		Resource   string      `json:"resource,omitempty"`
		Fields     []string    `json:"fields,omitempty"`
		Ticket     string      `json:"ticket,omitempty"`
		DurationMS int64       `json:"duration_ms,omitempty"`
		App        string      `json:"app,omitempty"`
	}
	e := &benchEvent
	var n int
	for b.Loop() {
		out, err := json.Marshal(wire{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: string(e.Action), Subject: &subject{e.Subject},
			Resource: e.Resource, Fields: e.Fields, Ticket: e.Ticket, DurationMS: e.DurationMS, App: e.App})
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

// BenchmarkGenerate generates a small organisation per iteration; events/s
// is the figure to read.
func BenchmarkGenerate(b *testing.B) {
	c := smallConfig(1)
	c.Agents, c.Days = 60, 7
	var events int64
	for b.Loop() {
		sum, err := Generate(context.Background(), c, Writers{Roster: io.Discard, Subjects: io.Discard, Tickets: io.Discard, Events: io.Discard, Labels: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		events += sum.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
