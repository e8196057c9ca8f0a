package respond

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// Config is the respond: section of the configuration. Nothing in it is on
// by default.
type Config struct {
	// SCIM is the identity provider of scim_disable actions and of
	// lifecycle.deprovision.
	SCIM      *SCIMConfig     `yaml:"scim"`
	Actions   []ActionConfig  `yaml:"actions"`
	Lifecycle LifecycleConfig `yaml:"lifecycle"`
}

// ActionConfig is one entry of respond.actions.
type ActionConfig struct {
	// Name keys the action's outbox cursor and its journal records; keep
	// it stable.
	Name string `yaml:"name"`
	// Type is scim_disable, webhook or suspend.
	Type string  `yaml:"type"`
	When Trigger `yaml:"when"`
	// DryRun journals and logs what the action would do instead of doing
	// it (a SCIM lookup, being read-only, is still made).
	DryRun bool       `yaml:"dry_run"`
	Retry  sink.Retry `yaml:"retry"`
	// MaxAttempts gives up (status failed) after this many failed
	// attempts for one finding; 0 retries for as long as it takes, like a
	// sink. Refusals (HTTP 400, 422, a SCIM 404 for the user) fail at once.
	MaxAttempts int `yaml:"max_attempts"`

	// HTTP is the webhook's URL, TLS, timeout and headers (webhook only).
	HTTP *sink.HTTPConfig `yaml:"http"`
	// Secret (or a file holding it) signs webhook requests like the
	// webhook sink (webhook only).
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// LifecycleConfig is the contract lifecycle check of `custos serve`.
type LifecycleConfig struct {
	// Enabled turns the check on: at start, every Interval, and at every
	// roster entry PUT.
	Enabled  bool          `yaml:"enabled"`
	Interval time.Duration `yaml:"interval"`
	// Severity of the identity_active_after_contract alert.
	Severity finding.Severity `yaml:"severity"`
	// Deprovision deactivates those identities through SCIM (respond.scim):
	// an implicit scim_disable action named lifecycle-deprovision, triggered
	// by the alert.
	Deprovision bool `yaml:"deprovision"`
	// DryRun applies to the deprovisioning.
	DryRun bool       `yaml:"dry_run"`
	Retry  sink.Retry `yaml:"retry"`
}

// Defaults returns the shipped configuration: no actions, lifecycle off.
func Defaults() Config {
	return Config{Lifecycle: LifecycleConfig{Interval: time.Hour, Severity: finding.High}}
}

// CursorPrefix starts the outbox cursor name of every action, so actions
// and sinks never share a cursor.
const CursorPrefix = "respond:"

// LifecycleAction is the name of the action lifecycle.deprovision adds.
const LifecycleAction = "lifecycle-deprovision"

// actions returns the configured actions and the implicit lifecycle one.
func (c *Config) actions() []ActionConfig {
	as := c.Actions
	if c.Lifecycle.Enabled && c.Lifecycle.Deprovision {
		as = append(as[:len(as):len(as)], ActionConfig{
			Name:   LifecycleAction,
			Type:   TypeSCIM,
			When:   Trigger{Rules: []string{RuleActiveAfterContract}},
			DryRun: c.Lifecycle.DryRun,
			Retry:  c.Lifecycle.Retry,
		})
	}
	return as
}

// ActionNames lists the names of the actions that run (the implicit
// lifecycle one included).
func (c *Config) ActionNames() []string {
	var out []string
	for _, a := range c.actions() {
		out = append(out, a.Name)
	}
	return out
}

// Validate checks the section without touching files or the network.
// Errors name the key relative to respond.
func (c *Config) Validate() error {
	if c.SCIM != nil {
		if err := c.SCIM.validate(); err != nil {
			return err
		}
	}
	names := map[string]int{}
	for i := range c.Actions {
		a := &c.Actions[i]
		if err := a.validate(c.SCIM != nil); err != nil {
			if a.Name != "" {
				return fmt.Errorf("actions[%d] %q: %w", i, a.Name, err)
			}
			return fmt.Errorf("actions[%d]: %w", i, err)
		}
		if j, ok := names[a.Name]; ok {
			return fmt.Errorf("actions[%d]: name %q already used by actions[%d]", i, a.Name, j)
		}
		names[a.Name] = i
	}
	l := &c.Lifecycle
	switch {
	case l.Interval <= 0:
		return fmt.Errorf("lifecycle.interval: must be positive, got %s", l.Interval)
	case l.Retry.Initial < 0 || l.Retry.Max < 0:
		return errors.New("lifecycle.retry: durations must not be negative")
	}
	if _, err := finding.ParseSeverity(string(l.Severity)); err != nil {
		return fmt.Errorf("lifecycle.severity: %w", err)
	}
	if l.Deprovision {
		if !l.Enabled {
			return errors.New("lifecycle.deprovision: needs lifecycle.enabled: true")
		}
		if c.SCIM == nil {
			return errors.New("lifecycle.deprovision: needs respond.scim (the identity provider)")
		}
		if _, ok := names[LifecycleAction]; ok {
			return fmt.Errorf("actions: the name %q is taken by lifecycle.deprovision", LifecycleAction)
		}
	}
	return nil
}

func (a *ActionConfig) validate(haveSCIM bool) error {
	if a.Name == "" {
		return errors.New("name: missing (it keys the action's cursor and journal)")
	}
	switch a.Type {
	case TypeSCIM:
		if !haveSCIM {
			return errors.New("type scim_disable needs respond.scim (the identity provider)")
		}
	case TypeWebhook:
		if a.HTTP == nil {
			return errors.New("type webhook needs http (the URL)")
		}
		if err := a.HTTP.Validate(); err != nil {
			return err
		}
		if a.Secret != "" && a.SecretFile != "" {
			return errors.New("set at most one of secret or secret_file")
		}
	case TypeSuspend:
	case "":
		return errors.New("type: missing (want scim_disable, webhook or suspend)")
	default:
		return fmt.Errorf("type: unknown value %q (want scim_disable, webhook or suspend)", a.Type)
	}
	if a.Type != TypeWebhook && (a.HTTP != nil || a.Secret != "" || a.SecretFile != "") {
		return fmt.Errorf("http, secret and secret_file: only used by type webhook, not %s", a.Type)
	}
	if err := a.When.validate(); err != nil {
		return err
	}
	switch {
	case a.MaxAttempts < 0:
		return fmt.Errorf("max_attempts: must not be negative, got %d", a.MaxAttempts)
	case a.Retry.Initial < 0 || a.Retry.Max < 0:
		return errors.New("retry: durations must not be negative")
	}
	return nil
}

// Deps is what building the actions needs besides their configuration.
type Deps struct {
	Journal Journal
	// Roster is needed by suspend actions; webhook actions use it, if set,
	// to send the actor's roster entry along.
	Roster Roster
	// Now is the wall clock of journal times and webhook signatures; nil is
	// time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// Build validates the section, reads the secrets it names and returns one
// sink per action (the implicit lifecycle one included), for a
// sink.Dispatcher over the findings outbox. Each starts, the first time it
// is seen, at the end of the outbox: enabling an action never acts on old
// findings.
func (c *Config) Build(d Deps) ([]sink.Sink, error) {
	sinks, _, err := c.BuildAll(d)
	return sinks, err
}

// BuildAll is Build that also returns the same actions for requests on
// demand (the console's "Respond…"), sharing each action's executor and
// its turn with the dispatcher's sink. The OnDemand is never nil after a
// nil error; it lists no actions when none are configured.
func (c *Config) BuildAll(d Deps) ([]sink.Sink, *OnDemand, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, fmt.Errorf("respond: %w", err)
	}
	if d.Journal == nil {
		return nil, nil, errors.New("respond: no journal")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	var out []sink.Sink
	od := &OnDemand{byName: map[string]*sender{}, log: d.Logger}
	fail := func(err error) ([]sink.Sink, *OnDemand, error) {
		for _, s := range out {
			s.Sender.Close()
		}
		return nil, nil, err
	}
	for _, a := range c.actions() {
		exec, err := a.executor(c.SCIM, d)
		if err != nil {
			return fail(fmt.Errorf("respond: action %q: %w", a.Name, err))
		}
		snd := &sender{
			name:        a.Name,
			typ:         a.Type,
			trigger:     a.When,
			exec:        exec,
			journal:     d.Journal,
			now:         d.Now,
			log:         d.Logger.With("action", a.Name, "type", a.Type),
			metrics:     d.Metrics,
			dryRun:      a.DryRun,
			maxAttempts: a.MaxAttempts,
			turn:        make(chan struct{}, 1),
		}
		out = append(out, sink.Sink{
			Name:       CursorPrefix + a.Name,
			BatchSize:  1,
			Retry:      a.Retry,
			StartAtEnd: true,
			Sender:     snd,
		})
		// The lifecycle action acts on its own alerts, never on a case.
		if a.Name != LifecycleAction {
			od.order = append(od.order, snd)
			od.byName[a.Name] = snd
		}
	}
	return out, od, nil
}

func (a *ActionConfig) executor(sc *SCIMConfig, d Deps) (executor, error) {
	switch a.Type {
	case TypeSCIM:
		return newSCIMClient(sc)
	case TypeWebhook:
		secret, err := sink.SecretValue(a.Secret, a.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("secret_file: %w", err)
		}
		client, err := a.HTTP.Client()
		if err != nil {
			return nil, fmt.Errorf("http.%w", err)
		}
		return &webhook{name: a.Name, url: a.HTTP.URL, headers: a.HTTP.Headers, client: client,
			secret: []byte(secret), roster: d.Roster, now: d.Now}, nil
	case TypeSuspend:
		if d.Roster == nil {
			return nil, errors.New("type suspend: no roster to write to")
		}
		return &suspend{name: a.Name, roster: d.Roster, now: d.Now}, nil
	}
	return nil, fmt.Errorf("type %q: no executor", a.Type)
}
