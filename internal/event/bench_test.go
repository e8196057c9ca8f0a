package event

import (
	"encoding/json"
	"testing"
)

// A typical ~330-byte view event.
var benchLine = []byte(`{"id":"e-0001234567","time":"2026-03-03T01:03:20.123Z","actor":{"id":"a-0042","session":"s-99812","ip":"198.51.100.7","device":"d-0042","country":"PH"},"action":"view","subject":{"id":"c-0012345"},"resource":"profile","fields":["name","email","phone"],"ticket":"T-0045123","duration_ms":24000,"app":"support-console"}`)

func BenchmarkDecodeEvent(b *testing.B) {
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

// A typical ticket change.
var benchTicket = []byte(`{"time":"2026-03-01T14:19:47Z","id":"T-100088003","subject":"c-087626","assignee":"a-0042","status":"open","channel":"email"}`)

func BenchmarkDecodeTicketChange(b *testing.B) {
	b.SetBytes(int64(len(benchTicket)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTicketChange(benchTicket); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEventJSON is the reference decoder (encoding/json into the
// wire struct, same validation) that the fast path is measured against.
func BenchmarkDecodeEventJSON(b *testing.B) {
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := slowEvent(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTicketChangeJSON(b *testing.B) {
	b.SetBytes(int64(len(benchTicket)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := slowTicket(benchTicket); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalMap is the floor a generic decoder pays: encoding/json
// into a map, no validation.
func BenchmarkUnmarshalMap(b *testing.B) {
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchLine, &m); err != nil {
			b.Fatal(err)
		}
	}
}

var benchSubject = []byte(`{"id":"c-000123","tier":"standard","balance_usd":1234.5,"country":"DE"}`)

func BenchmarkDecodeSubject(b *testing.B) {
	b.SetBytes(int64(len(benchSubject)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSubject(benchSubject); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSubjectJSON(b *testing.B) {
	b.SetBytes(int64(len(benchSubject)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSubjectJSON(benchSubject); err != nil {
			b.Fatal(err)
		}
	}
}
