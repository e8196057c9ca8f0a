package respond_test

import (
	"os"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/respond"
)

// The respond examples of docs/integrations.md are valid configurations
// (config's own test parses every block) and show every action type, both
// SCIM user mappings, the lifecycle check and metrics_auth.
func TestIntegrationDocCoversRespond(t *testing.T) {
	doc, err := os.ReadFile("../../docs/integrations.md")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, b := range strings.Split(string(doc), "```yaml\n")[1:] {
		b, _, _ = strings.Cut(b, "```")
		c := config.Default()
		if err := config.Parse("docs/integrations.md", []byte(b), &c); err != nil {
			t.Errorf("example does not parse: %v\n%s", err, b)
			continue
		}
		r := c.Respond
		for _, a := range r.Actions {
			covered[a.Type] = true
		}
		if r.SCIM != nil {
			covered["scim/"+r.SCIM.UserID] = true
		}
		if r.Lifecycle.Enabled && r.Lifecycle.Deprovision {
			covered["lifecycle"] = true
		}
		covered["metrics_auth"] = covered["metrics_auth"] || c.Serve.MetricsAuth
	}
	for _, want := range []string{respond.TypeSCIM, respond.TypeWebhook, respond.TypeSuspend, "scim/", "scim/lookup", "lifecycle", "metrics_auth"} {
		if !covered[want] {
			t.Errorf("docs/integrations.md has no respond example for %s", want)
		}
	}
}
