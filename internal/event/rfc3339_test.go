package event

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// parseUTC gives exactly what time.Parse(RFC3339Nano) then UTC gives, for
// every input it accepts, and accepts the shape producers send.
func TestParseUTCAgreesWithTimeParse(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got, ok := parseUTC(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("parseUTC(%q) accepted what time.Parse rejects: %v", s, err)
		}
		if want = want.UTC(); !reflect.DeepEqual(got, want) || got != want {
			t.Fatalf("parseUTC(%q) = %#v, want %#v", s, got, want)
		}
	}
	for _, s := range []string{
		"2026-03-01T23:50:07Z", "2026-03-03T01:03:20.123Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
		"1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z",
		"2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-01T23:59:59.Z", "2026-01-01T23:59:59.1234567890Z",
		"2026-01-01t23:59:59Z", "2026-01-01T23:59:59z", "2026-01-01T23:59:59+00:00", "+026-01-01T23:59:59Z",
		"2026-01-01T23:59:59,5Z", "2026-1-01T23:59:59Z", "1900-02-29T00:00:00Z", "2000-02-29T12:00:00.5Z",
	} {
		check(s)
	}
	if _, ok := parseUTC("2026-03-01T23:50:07Z"); !ok {
		t.Error("the common shape is not parsed")
	}
	if _, ok := parseUTC("2026-03-03T01:03:20.123Z"); !ok {
		t.Error("the common shape with a fraction is not parsed")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		t0 := time.Unix(r.Int64N(253402300800+62167219200)-62167219200, r.Int64N(1e9)).UTC()
		s := t0.Format(time.RFC3339Nano)
		if got, ok := parseUTC(s); !ok || got != t0 {
			t.Fatalf("parseUTC(%q) = %v, %v; want %v", s, got, ok, t0)
		}
		check(s)
		b := []byte(s) // and a digit or separator changed at random
		b[r.IntN(len(b))] = "0123456789:-.TZ"[r.IntN(15)]
		check(string(b))
	}
}
