package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c2, err := Load("")
	if err != nil || c2.Tickets.Grace != 15*time.Minute {
		t.Fatalf("Load(\"\") = %+v, %v", c2.Tickets, err)
	}
}

func TestParseOverridesOnlyWhatItSets(t *testing.T) {
	c := Default()
	err := Parse("custos.yaml", []byte("tickets:\n  grace: 20m\nrisk:\n  case_threshold: 80\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tickets.Grace != 20*time.Minute || c.Tickets.AfterClose != 30*time.Minute || c.Risk.CaseThreshold != 80 || c.Risk.HalfLife != 72*time.Hour {
		t.Errorf("got %+v %+v", c.Tickets, c.Risk)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "tickets:\n  grase: 5m\n", `custos.yaml:[2:3] unknown field "grase"`},
		{"bad duration", "tickets:\n  grace: soon\n", "custos.yaml:"},
		{"negative grace", "tickets:\n  grace: -5m\n", "tickets.grace must not be negative"},
		{"bad level", "log:\n  level: loud\n", `log.level: unknown value "loud"`},
		{"zero threshold", "risk:\n  case_threshold: 0\n", "risk.case_threshold must be positive"},
		{"not yaml", "tickets: [1, 2\n", "custos.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := Parse("custos.yaml", []byte(tt.yaml), &c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// The defaults documented in docs/configuration.md are the defaults.
func TestDocumentedDefaults(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Defaults\n\n```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block under ## Defaults")
	}
	var c Config
	if err := Parse("docs/configuration.md", []byte(block), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("documented defaults differ from Default():\n doc  %+v\n code %+v", c, Default())
	}
}
