package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Console configures the investigator console (`console:`), served by
// `custos serve` at /. See docs/console.md.
type Console struct {
	// SessionIdle ends a session not used for this long.
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionMax ends a session this long after login, used or not.
	SessionMax time.Duration `yaml:"session_max"`
	// RevealFor is how long a revealed identity stays revealed.
	RevealFor time.Duration `yaml:"reveal_for"`
	// ShowIdentities turns pseudonymisation off: agents appear under their
	// ids. Off by default; monitoring should be proportionate.
	ShowIdentities bool `yaml:"show_identities"`
	// PseudonymKey is the key of the agents' pseudonyms (at least 16
	// characters). Empty: a key is generated once and kept in the store.
	PseudonymKey string `yaml:"pseudonym_key"`
	// ContractsWithin: the roster page lists contracts ending this soon.
	ContractsWithin time.Duration `yaml:"contracts_within"`
	// AuditEvents feeds the console's audit into the engine as access
	// events of app "custos-console", so rules can watch the watchers.
	AuditEvents bool `yaml:"audit_events"`
	// InsecureCookies drops the Secure attribute from cookies even on a
	// non-loopback address (only behind a TLS-terminating proxy that
	// rewrites them). Plain HTTP on loopback never sets it, so a local
	// console works in any browser.
	InsecureCookies bool `yaml:"insecure_cookies"`
	// OIDC configures single sign-on; off while Issuer is empty.
	OIDC OIDC `yaml:"oidc"`
}

// DefaultConsole returns the console's defaults.
func DefaultConsole() Console {
	return Console{
		SessionIdle:     30 * time.Minute,
		SessionMax:      12 * time.Hour,
		RevealFor:       time.Hour,
		ContractsWithin: 30 * 24 * time.Hour,
		AuditEvents:     true,
		OIDC:            OIDC{UsernameClaim: "email", RoleClaim: "custos_role", VendorClaim: "custos_vendor"},
	}
}

// Validate checks values a YAML decoder cannot.
func (c *Console) Validate() error {
	switch {
	case c.SessionIdle <= 0:
		return fmt.Errorf("console.session_idle must be positive, got %s", c.SessionIdle)
	case c.SessionMax < c.SessionIdle:
		return fmt.Errorf("console.session_max (%s) must be at least console.session_idle (%s)", c.SessionMax, c.SessionIdle)
	case c.RevealFor <= 0:
		return fmt.Errorf("console.reveal_for must be positive, got %s", c.RevealFor)
	case c.PseudonymKey != "" && len(c.PseudonymKey) < 16:
		return fmt.Errorf("console.pseudonym_key must be at least 16 characters, got %d", len(c.PseudonymKey))
	case c.ContractsWithin < 0:
		return fmt.Errorf("console.contracts_within must not be negative, got %s", c.ContractsWithin)
	}
	return c.OIDC.validate()
}

// OIDC configures login through an OpenID Connect identity provider.
// The provider's ID token must carry the console role in RoleClaim (a
// string or a list of strings; the first that is a role, or maps to one
// through Roles, wins) and, for vendor supervisors, the vendor in
// VendorClaim. A user without a role is refused.
type OIDC struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL is this console's callback, ending in /auth/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// Name is shown on the login button ("Sign in with Okta").
	Name string `yaml:"name"`
	// UsernameClaim names the console user (default email).
	UsernameClaim string `yaml:"username_claim"`
	RoleClaim     string `yaml:"role_claim"`
	VendorClaim   string `yaml:"vendor_claim"`
	// Roles maps claim values (group names) to console roles.
	Roles map[string]string `yaml:"roles"`
}

func (c *OIDC) validate() error {
	if c.Issuer == "" {
		return nil
	}
	switch {
	case c.ClientID == "":
		return errors.New("console.oidc.client_id is required with console.oidc.issuer")
	case c.RedirectURL == "" || !strings.HasSuffix(c.RedirectURL, "/auth/oidc/callback"):
		return fmt.Errorf("console.oidc.redirect_url must be this console's URL ending in /auth/oidc/callback, got %q", c.RedirectURL)
	case c.UsernameClaim == "" || c.RoleClaim == "":
		return errors.New("console.oidc.username_claim and console.oidc.role_claim must not be empty")
	}
	for k, v := range c.Roles {
		if !slices.Contains(ConsoleRoles, v) {
			return fmt.Errorf("console.oidc.roles[%q]: unknown role %q (want %s)", k, v, strings.Join(ConsoleRoles, ", "))
		}
	}
	return nil
}

// ConsoleRoles are the console's role names (internal/console defines what
// each may do).
var ConsoleRoles = []string{"analyst", "lead", "privacy_officer", "vendor_supervisor", "admin"}
