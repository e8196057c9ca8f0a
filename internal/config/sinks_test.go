package config

import (
	"os"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/sink"
)

// Every sinks example in docs/integrations.md is a valid configuration, and
// together they cover every sink type and transport.
func TestIntegrationDocExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../../docs/integrations.md")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) < 8 {
		t.Fatalf("found %d yaml blocks in docs/integrations.md, want one per sink", len(blocks))
	}
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		c := Default()
		if err := Parse("docs/integrations.md", []byte(b), &c); err != nil {
			t.Errorf("example %d does not parse: %v\n%s", i+1, err, b)
			continue
		}
		for _, s := range c.Sinks {
			key := s.Type
			switch {
			case s.File != nil:
				key += "/file"
			case s.Syslog != nil:
				key += "/" + s.Syslog.Network
			case s.Webhook != nil && s.Webhook.Format == "slack":
				key += "/slack"
			}
			covered[key] = true
		}
	}
	for _, want := range []string{"ocsf/file", "ocsf", "cef/udp", "cef/tcp", "cef/tls", "cef/file", "splunk_hec", "webhook", "webhook/slack"} {
		if !covered[want] {
			t.Errorf("docs/integrations.md has no example for %s", want)
		}
	}
}

func TestSinkConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "sinks:\n  - name: a\n    type: cef\n    syslog: {network: udp, adress: x}\n", `unknown field "adress"`},
		{"no name", "sinks:\n  - type: cef\n    syslog: {network: udp, address: 'h:514'}\n", "sinks[0]: name: missing"},
		{"bad type", "sinks:\n  - name: a\n    type: kafka\n", `sinks[0] "a": type: unknown value "kafka"`},
		{"wrong section", "sinks:\n  - name: a\n    type: webhook\n    http: {url: 'https://x'}\n    hec: {token: t}\n", `sinks[0] "a": hec: not used by type webhook`},
		{"two transports", "sinks:\n  - name: a\n    type: ocsf\n    http: {url: 'https://x'}\n    file: {path: /tmp/x}\n", "exactly one of file or http"},
		{"bad network", "sinks:\n  - name: a\n    type: cef\n    syslog: {network: quic, address: 'h:1'}\n", `syslog.network: unknown value "quic"`},
		{"no port", "sinks:\n  - name: a\n    type: cef\n    syslog: {network: tcp, address: siem}\n", "syslog.address"},
		{"hec token", "sinks:\n  - name: a\n    type: splunk_hec\n    http: {url: 'https://x'}\n    hec: {index: i}\n", "exactly one of token or token_file"},
		{"bad severity", "sinks:\n  - name: a\n    type: webhook\n    http: {url: 'https://x'}\n    filter: {min_severity: urgent}\n", `filter.min_severity: unknown severity "urgent"`},
		{"bad kind", "sinks:\n  - name: a\n    type: webhook\n    http: {url: 'https://x'}\n    filter: {kinds: [incident]}\n", `filter.kinds[0]: unknown kind "incident"`},
		{"url scheme", "sinks:\n  - name: a\n    type: webhook\n    http: {url: 'ftp://x/y'}\n", "http.url"},
		{"duplicate", "sinks:\n  - {name: a, type: webhook, http: {url: 'https://x'}}\n  - {name: a, type: webhook, http: {url: 'https://y'}}\n", `sinks[1]: name "a" already used by sinks[0]`},
		{"tls on udp", "sinks:\n  - name: a\n    type: cef\n    syslog: {network: udp, address: 'h:514', tls: {ca_file: x}}\n", "syslog.tls: only used with network tls"},
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

func TestSinkConfigDecodes(t *testing.T) {
	c := Default()
	y := `
sinks:
  - name: splunk
    type: splunk_hec
    batch_size: 50
    retry: {initial: 2s, max: 5m}
    start: earliest
    filter: {kinds: [alert], min_severity: high, rules: ["anomaly:*"]}
    http: {url: "https://splunk:8088", timeout: 3s, headers: {X-A: b}}
    hec: {token: abc, index: ir, ack: true, ack_timeout: 30s}
`
	if err := Parse("custos.yaml", []byte(y), &c); err != nil {
		t.Fatal(err)
	}
	s := c.Sinks[0]
	if s.BatchSize != 50 || s.Retry.Max.Minutes() != 5 || s.Filter.MinSeverity != "high" || s.Filter.Kinds[0] != "alert" ||
		s.HTTP.Timeout.Seconds() != 3 || s.HTTP.Headers["X-A"] != "b" || !s.HEC.Ack || s.HEC.AckTimeout.Seconds() != 30 || s.Start != "earliest" {
		t.Errorf("decoded %+v %+v %+v", s, s.HTTP, s.HEC)
	}
	built, err := sink.BuildAll(c.Sinks, sink.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if built[0].Name != "splunk" || built[0].StartAtEnd {
		t.Errorf("built %+v", built[0])
	}
	built[0].Sender.Close()
}
