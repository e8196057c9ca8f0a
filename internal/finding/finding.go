// Package finding holds what the engine concludes: alerts (one detection
// fired) and cases (a person should look at this actor), in the shape of
// FORMATS.md section 6. Identifiers derive from content so a replay of the
// same inputs writes the same bytes.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Kind distinguishes alerts from cases.
type Kind string

// Finding kinds.
const (
	KindAlert Kind = "alert"
	KindCase  Kind = "case"
)

// Severity is ordered: info < low < medium < high < critical.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities; an unknown severity ranks below info.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 1
	case Low:
		return 2
	case Medium:
		return 3
	case High:
		return 4
	case Critical:
		return 5
	}
	return 0
}

// ParseSeverity validates a severity name.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(s)
	if sev.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want info, low, medium, high or critical)", s)
	}
	return sev, nil
}

// Max returns the higher of two severities.
func Max(a, b Severity) Severity {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// ActorRef is the actor a finding is about.
type ActorRef struct {
	ID string `json:"id"`
}

// Finding is an alert or a case. Fields that belong to the other kind stay
// empty and are left out of the JSON.
type Finding struct {
	Kind     Kind      `json:"kind"`
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Actor    ActorRef  `json:"actor"`
	Rule     string    `json:"rule,omitempty"`
	Severity Severity  `json:"severity"`
	Risk     float64   `json:"risk"`
	Status   string    `json:"status,omitempty"`
	Subjects []string  `json:"subjects,omitempty"`
	Evidence []string  `json:"evidence,omitempty"`
	Alerts   []string  `json:"alerts,omitempty"`
	Summary  string    `json:"summary"`
	// Details carries the numbers behind the summary (an actor's value, the
	// peer norm, ...), for consoles and SIEMs; optional in the contract.
	Details map[string]any `json:"details,omitempty"`
}

// ID derives a stable identifier from the parts that make a finding unique.
func ID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "-" + hex.EncodeToString(h.Sum(nil)[:10])
}

// MarshalLine renders f as one NDJSON line, times in UTC with the precision
// they carry.
func MarshalLine(f *Finding) ([]byte, error) {
	g := *f
	g.Time = g.Time.UTC()
	b, err := json.Marshal(&g)
	if err != nil {
		return nil, fmt.Errorf("encoding finding %s: %w", f.ID, err)
	}
	return append(b, '\n'), nil
}
