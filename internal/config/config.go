// Package config reads Custos's YAML configuration. Every setting has a
// default, so Custos runs with no file at all; a file sets only what it
// changes. Unknown keys are errors that point at their line and column.
package config

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/custos-io/custos/internal/baseline"
	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/risk"
	"github.com/custos-io/custos/internal/rules"
	"github.com/custos-io/custos/internal/sink"
	"github.com/custos-io/custos/internal/wording"
)

// Config is the whole configuration. See docs/configuration.md.
type Config struct {
	Tickets  Tickets         `yaml:"tickets"`
	Risk     risk.Config     `yaml:"risk"`
	Baseline baseline.Config `yaml:"baseline"`
	Rules    Rules           `yaml:"rules"`
	Replay   Replay          `yaml:"replay"`
	Serve    Serve           `yaml:"serve"`
	Log      Log             `yaml:"log"`
	// Sinks receive findings from `custos serve`; none by default. See
	// docs/integrations.md.
	Sinks []sink.Config `yaml:"sinks"`
	// Respond configures response actions and the contract lifecycle
	// check of `custos serve`; all off by default. See
	// docs/integrations.md.
	Respond respond.Config `yaml:"respond"`
	// Console is the investigator console `custos serve` serves at /. See
	// docs/console.md.
	Console Console `yaml:"console"`
}

// Tickets are the ticket-matching tolerances.
type Tickets struct {
	// Grace: a ticket filed up to this long after an access still justifies
	// it (phone calls). Settled detections fire this long after the access.
	Grace time.Duration `yaml:"grace"`
	// AfterClose: an access up to this long after the ticket was solved is
	// still covered by it.
	AfterClose time.Duration `yaml:"after_close"`
}

// Rules chooses the detection rule pack (docs/rules.md).
type Rules struct {
	// Dir replaces the pack built into the binary with the rule files in
	// this directory. Empty uses the built-in pack.
	Dir string `yaml:"dir"`
	// Disable switches rules off by id; an unknown id is an error.
	Disable []string `yaml:"disable"`
}

// Replay configures `custos replay`.
type Replay struct {
	// Lateness: how far out of order input may be and still be sorted.
	Lateness time.Duration `yaml:"lateness"`
}

// Serve configures `custos serve`.
type Serve struct {
	Addr string `yaml:"addr"`
	// DB is the SQLite file; created if missing.
	DB string `yaml:"db"`
	// Token is the bearer token the API requires. If empty, TokenFile is
	// read, and if that does not exist a token is generated into it and
	// printed once.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// MaxBody is the largest request body accepted, in bytes (413 beyond).
	MaxBody int64 `yaml:"max_body"`
	// ShutdownTimeout bounds how long a graceful stop waits for requests.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ReadTimeout bounds how long a client may take to send one request,
	// body included; a stalled upload is cut.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MetricsAuth makes GET /metrics require the bearer token.
	MetricsAuth bool `yaml:"metrics_auth"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Tickets:  Tickets{Grace: 15 * time.Minute, AfterClose: 30 * time.Minute},
		Risk:     risk.Defaults(),
		Baseline: baseline.Defaults(),
		Replay:   Replay{Lateness: 5 * time.Minute},
		Serve: Serve{
			Addr:            "127.0.0.1:7410",
			DB:              "custos.db",
			TokenFile:       "custos.token",
			MaxBody:         32 << 20,
			ShutdownTimeout: 30 * time.Second,
			ReadTimeout:     time.Minute,
		},
		Log:     Log{Level: "info", Format: "text"},
		Respond: respond.Defaults(),
		Console: DefaultConsole(),
	}
}

// Load reads path over the defaults. An empty path returns the defaults.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading config: %w", err)
	}
	if err := Parse(path, b, &c); err != nil {
		return c, err
	}
	return c, nil
}

// Parse decodes YAML b (named name in errors) over c and validates it.
func Parse(name string, b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b), yaml.Strict())
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return fmt.Errorf("config %s:%s", name, yaml.FormatError(err, false, true))
	}
	return c.Validate()
}

// Validate checks values a YAML decoder cannot.
func (c *Config) Validate() error {
	switch {
	case c.Tickets.Grace < 0:
		return fmt.Errorf("config: tickets.grace must not be negative, got %s", c.Tickets.Grace)
	case c.Tickets.AfterClose < 0:
		return fmt.Errorf("config: tickets.after_close must not be negative, got %s", c.Tickets.AfterClose)
	case c.Replay.Lateness < 0:
		return fmt.Errorf("config: replay.lateness must not be negative, got %s", c.Replay.Lateness)
	case c.Serve.MaxBody <= 0:
		return fmt.Errorf("config: serve.max_body must be positive, got %d", c.Serve.MaxBody)
	case c.Serve.ReadTimeout <= 0:
		return fmt.Errorf("config: serve.read_timeout must be positive, got %s", c.Serve.ReadTimeout)
	}
	if err := c.Risk.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Baseline.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log.level: unknown value %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("config: log.format: unknown value %q (want text or json)", c.Log.Format)
	}
	if err := sink.ValidateAll(c.Sinks); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Respond.Validate(); err != nil {
		return fmt.Errorf("config: respond.%w", err)
	}
	// Actions and sinks read the same outbox; their cursors must differ.
	for _, name := range c.Respond.ActionNames() {
		for i := range c.Sinks {
			if c.Sinks[i].Name == respond.CursorPrefix+name {
				return fmt.Errorf("config: sinks[%d]: name %q is the cursor of response action %q; rename the sink", i, c.Sinks[i].Name, name)
			}
		}
	}
	if err := c.Console.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Pack loads the rule pack this configuration names: rules.dir or the
// built-in pack, less rules.disable. A pack with any problem is an error
// listing every problem.
func (c *Config) Pack() (*rules.Pack, error) {
	var p *rules.Pack
	var err error
	if c.Rules.Dir != "" {
		p, err = rules.LoadDir(c.Rules.Dir)
	} else {
		p, err = rules.Shipped()
	}
	if err != nil {
		return nil, fmt.Errorf("loading rules:\n%w", err)
	}
	return p.Without(c.Rules.Disable...)
}

// TicketWindows are the ticket-matching tolerances in the engine's terms.
func (c *Config) TicketWindows() engine.Windows {
	return engine.Windows{Grace: c.Tickets.Grace, AfterClose: c.Tickets.AfterClose}
}

// Engine assembles the detection engine this configuration describes,
// loading its rule pack (see Pack).
func (c *Config) Engine(emit func(*finding.Finding)) (*engine.Engine, error) {
	p, err := c.Pack()
	if err != nil {
		return nil, err
	}
	return c.EngineWith(p, emit, nil), nil
}

// EngineWith assembles the engine with the given rule pack. onRuleError,
// if not nil, is told about every rule expression or template that fails
// at run time (the rule is then treated as not matching); in a batch
// engine it is called from the detector stages' goroutines.
func (c *Config) EngineWith(p *rules.Pack, emit func(*finding.Finding), onRuleError func(rule string, err error)) *engine.Engine {
	return c.engine(p, emit, onRuleError, false)
}

// BatchEngineWith is EngineWith for batch work (replay, eval, bench): its
// detector stages run concurrently once the engine is started
// (engine.Config.Concurrent); the caller calls Start and Close.
func (c *Config) BatchEngineWith(p *rules.Pack, emit func(*finding.Finding), onRuleError func(rule string, err error)) *engine.Engine {
	return c.engine(p, emit, onRuleError, true)
}

func (c *Config) engine(p *rules.Pack, emit func(*finding.Finding), onRuleError func(rule string, err error), concurrent bool) *engine.Engine {
	var eng *engine.Engine
	people := func(id string) *event.Person { return eng.Person(id) }
	// A concurrent engine calls each stage from a goroutine of its own: the
	// evaluator's two stage detectors share no mutable state (each rule runs
	// at one stage; the history is the immediate stage's).
	ev := rules.NewEvaluator(p, people)
	if onRuleError != nil {
		ev.OnError(onRuleError)
	}
	var immediate, settled []engine.Detector
	imm, set := p.Stages()
	if imm {
		immediate = append(immediate, ev.Immediate())
	}
	if set {
		settled = append(settled, ev.Settled())
	}
	if c.Baseline.Enabled {
		settled = append(settled, baseline.New(c.Baseline, people))
	}
	eng = engine.New(engine.Config{
		Tickets:    c.TicketWindows(),
		Immediate:  immediate,
		Settled:    settled,
		NewScorer:  risk.New(c.Risk).NewScorer,
		Describe:   wording.Describe,
		Risk:       c.Risk.Engine(),
		Concurrent: concurrent,
	}, emit)
	return eng
}
