package sink

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Sink types.
const (
	TypeOCSF    = "ocsf"
	TypeCEF     = "cef"
	TypeHEC     = "splunk_hec"
	TypeWebhook = "webhook"
)

// Config is one entry of the configuration's sinks list. The type says what
// is sent; exactly the sections that type uses are set:
//
//	ocsf        file or http
//	cef         syslog or file
//	splunk_hec  http and hec
//	webhook     http, and optionally webhook
type Config struct {
	// Name keys the sink's delivery cursor; keep it stable.
	Name   string `yaml:"name"`
	Type   string `yaml:"type"`
	Filter Filter `yaml:"filter"`
	// BatchSize is the most findings per request or write (default 100).
	BatchSize int   `yaml:"batch_size"`
	Retry     Retry `yaml:"retry"`
	// Start is where a sink seen for the first time begins: latest (the
	// default: findings from now on) or earliest (everything still in the
	// outbox, to backfill).
	Start string `yaml:"start"`

	File    *FileConfig    `yaml:"file"`
	HTTP    *HTTPConfig    `yaml:"http"`
	Syslog  *SyslogConfig  `yaml:"syslog"`
	HEC     *HECConfig     `yaml:"hec"`
	Webhook *WebhookConfig `yaml:"webhook"`
}

// SyslogConfig is a syslog receiver.
type SyslogConfig struct {
	// Network is udp, tcp (octet counting, RFC 6587) or tls (RFC 5425).
	Network string `yaml:"network"`
	// Address is host:port.
	Address string `yaml:"address"`
	// Facility names the RFC 5424 facility (default local4).
	Facility string `yaml:"facility"`
	// Hostname and AppName fill the RFC 5424 header (defaults: this
	// machine's name, custos).
	Hostname string        `yaml:"hostname"`
	AppName  string        `yaml:"app_name"`
	Timeout  time.Duration `yaml:"timeout"`
	TLS      TLSConfig     `yaml:"tls"`
}

// Defaults for settings a sink leaves out.
const (
	defaultTimeout    = 10 * time.Second
	defaultMaxSizeMB  = 100
	defaultKeep       = 5
	defaultFacility   = "local4"
	defaultAppName    = "custos"
	defaultSourcetype = "custos:finding"
	defaultSource     = "custos"
	defaultAckPoll    = time.Second
	defaultAckTimeout = time.Minute
)

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// printASCII matches what RFC 5424 allows in HOSTNAME and APP-NAME.
var printASCII = regexp.MustCompile(`^[!-~]+$`)

// Validate checks the entry without touching files or the network. Errors
// name the offending key relative to the entry.
func (c *Config) Validate() error {
	if c.Name == "" {
		return errors.New("name: missing (it keys the sink's delivery cursor)")
	}
	if err := c.Filter.Validate(); err != nil {
		return err
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("batch_size: must not be negative, got %d", c.BatchSize)
	}
	if c.Retry.Initial < 0 || c.Retry.Max < 0 {
		return errors.New("retry: durations must not be negative")
	}
	switch c.Start {
	case "", "latest", "earliest":
	default:
		return fmt.Errorf("start: unknown value %q (want latest or earliest)", c.Start)
	}
	var allowed []string
	switch c.Type {
	case TypeOCSF:
		allowed = []string{"file", "http"}
		if (c.File == nil) == (c.HTTP == nil) {
			return errors.New("type ocsf needs exactly one of file or http")
		}
	case TypeCEF:
		allowed = []string{"syslog", "file"}
		if (c.Syslog == nil) == (c.File == nil) {
			return errors.New("type cef needs exactly one of syslog or file")
		}
	case TypeHEC:
		allowed = []string{"http", "hec"}
		if c.HTTP == nil || c.HEC == nil {
			return errors.New("type splunk_hec needs http (the collector URL) and hec (the token)")
		}
	case TypeWebhook:
		allowed = []string{"http", "webhook"}
		if c.HTTP == nil {
			return errors.New("type webhook needs http (the URL)")
		}
	case "":
		return errors.New("type: missing (want ocsf, cef, splunk_hec or webhook)")
	default:
		return fmt.Errorf("type: unknown value %q (want ocsf, cef, splunk_hec or webhook)", c.Type)
	}
	set := map[string]bool{"file": c.File != nil, "http": c.HTTP != nil, "syslog": c.Syslog != nil, "hec": c.HEC != nil, "webhook": c.Webhook != nil}
	for _, sec := range []string{"file", "http", "syslog", "hec", "webhook"} {
		if set[sec] && !contains(allowed, sec) {
			return fmt.Errorf("%s: not used by type %s", sec, c.Type)
		}
	}
	if c.File != nil {
		if err := c.File.validate(); err != nil {
			return err
		}
	}
	if c.HTTP != nil {
		if err := c.HTTP.validate(); err != nil {
			return err
		}
	}
	if c.Syslog != nil {
		if err := c.Syslog.validate(); err != nil {
			return err
		}
	}
	if c.HEC != nil {
		if err := c.HEC.validate(); err != nil {
			return err
		}
	}
	if c.Webhook != nil {
		if err := c.Webhook.validate(); err != nil {
			return err
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func (c *FileConfig) validate() error {
	switch {
	case c.Path == "":
		return errors.New("file.path: missing")
	case c.MaxSizeMB < 0:
		return fmt.Errorf("file.max_size_mb: must not be negative, got %d", c.MaxSizeMB)
	case c.Keep < 0:
		return fmt.Errorf("file.keep: must not be negative, got %d", c.Keep)
	}
	return nil
}

func (c *HTTPConfig) validate() error {
	if c.URL == "" {
		return errors.New("http.url: missing")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("http.url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("http.url: %q is not an http:// or https:// URL", redact(c.URL))
	}
	if c.Timeout < 0 {
		return fmt.Errorf("http.timeout: must not be negative, got %s", c.Timeout)
	}
	if err := c.TLS.validate(); err != nil {
		return fmt.Errorf("http.%w", err)
	}
	return nil
}

func (c *SyslogConfig) validate() error {
	switch c.Network {
	case "udp", "tcp", "tls":
	case "":
		return errors.New("syslog.network: missing (want udp, tcp or tls)")
	default:
		return fmt.Errorf("syslog.network: unknown value %q (want udp, tcp or tls)", c.Network)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("syslog.address: %q: want host:port (%w)", c.Address, err)
	}
	if c.Facility != "" {
		if _, ok := syslogFacilities[c.Facility]; !ok {
			return fmt.Errorf("syslog.facility: unknown facility %q (e.g. local0..local7, auth, authpriv, daemon)", c.Facility)
		}
	}
	if c.Hostname != "" && (len(c.Hostname) > 255 || !printASCII.MatchString(c.Hostname)) {
		return fmt.Errorf("syslog.hostname: %q: want up to 255 printable ASCII characters without spaces", c.Hostname)
	}
	if c.AppName != "" && (len(c.AppName) > 48 || !printASCII.MatchString(c.AppName)) {
		return fmt.Errorf("syslog.app_name: %q: want up to 48 printable ASCII characters without spaces", c.AppName)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("syslog.timeout: must not be negative, got %s", c.Timeout)
	}
	if c.Network != "tls" && c.TLS != (TLSConfig{}) {
		return fmt.Errorf("syslog.tls: only used with network tls, not %s", c.Network)
	}
	if err := c.TLS.validate(); err != nil {
		return fmt.Errorf("syslog.%w", err)
	}
	return nil
}

func (c *HECConfig) validate() error {
	if (c.Token == "") == (c.TokenFile == "") {
		return errors.New("hec: set exactly one of token or token_file")
	}
	if c.Channel != "" && !guid.MatchString(c.Channel) {
		return fmt.Errorf("hec.channel: %q is not a GUID", c.Channel)
	}
	if c.AckPoll < 0 || c.AckTimeout < 0 {
		return errors.New("hec: ack_poll and ack_timeout must not be negative")
	}
	return nil
}

func (c *WebhookConfig) validate() error {
	switch c.Format {
	case "", "json", "slack":
	default:
		return fmt.Errorf("webhook.format: unknown value %q (want json or slack)", c.Format)
	}
	if c.Secret != "" && c.SecretFile != "" {
		return errors.New("webhook: set at most one of secret or secret_file")
	}
	return nil
}

// BuildOptions is what building a sink needs besides its configuration.
type BuildOptions struct {
	Product Product
	// Clock signs webhooks and paces HEC ack polls; nil is the wall clock.
	Clock Clock
	// Hostname fills syslog and HEC host fields left unset; empty asks the
	// operating system.
	Hostname string
}

// Build validates the entry, reads the files it names (secrets, CAs) and
// returns the sink.
func (c *Config) Build(o BuildOptions) (Sink, error) {
	if err := c.Validate(); err != nil {
		return Sink{}, fmt.Errorf("sink %q: %w", c.Name, err)
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Product == (Product{}) {
		o.Product = DefaultProduct
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "custos"
		}
	}
	s := Sink{
		Name:       c.Name,
		Filter:     c.Filter,
		BatchSize:  c.BatchSize,
		Retry:      c.Retry,
		StartAtEnd: c.Start != "earliest",
	}
	var err error
	s.Sender, err = c.sender(o)
	if err != nil {
		return Sink{}, fmt.Errorf("sink %q: %w", c.Name, err)
	}
	return s, nil
}

func (c *Config) sender(o BuildOptions) (Sender, error) {
	var poster *httpPoster
	if c.HTTP != nil {
		h := *c.HTTP
		if h.Timeout == 0 {
			h.Timeout = defaultTimeout
		}
		var err error
		if poster, err = newHTTPPoster(&h); err != nil {
			return nil, fmt.Errorf("http.%w", err)
		}
	}
	switch {
	case c.File != nil:
		f := &rotatingFile{path: c.File.Path, maxSize: c.File.MaxSizeMB << 20, keep: c.File.Keep}
		if f.maxSize == 0 {
			f.maxSize = defaultMaxSizeMB << 20
		}
		if c.File.Keep == 0 {
			f.keep = defaultKeep
		}
		enc := func(r *Record) ([]byte, error) { return EncodeOCSF(r, o.Product) }
		if c.Type == TypeCEF {
			enc = func(r *Record) ([]byte, error) { return []byte(EncodeCEF(r, o.Product)), nil }
		}
		return &fileSender{file: f, encode: enc}, nil
	case c.Type == TypeOCSF:
		return &ocsfHTTPSender{post: poster, url: c.HTTP.URL, product: o.Product}, nil
	case c.Type == TypeCEF:
		return c.syslogSender(o)
	case c.Type == TypeHEC:
		return c.hecSender(poster, o)
	case c.Type == TypeWebhook:
		w := &webhookSender{post: poster, url: c.HTTP.URL, clock: o.Clock}
		if c.Webhook != nil {
			w.slack = c.Webhook.Format == "slack"
			secret, err := secretValue(c.Webhook.Secret, c.Webhook.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("webhook.secret_file: %w", err)
			}
			w.secret = []byte(secret)
		}
		return w, nil
	}
	return nil, fmt.Errorf("type %q: no sender", c.Type)
}

func (c *Config) syslogSender(o BuildOptions) (Sender, error) {
	sc := c.Syslog
	h := syslogHeader{Facility: syslogFacilities[defaultFacility], Hostname: sc.Hostname, AppName: sc.AppName}
	if sc.Facility != "" {
		h.Facility = syslogFacilities[sc.Facility]
	}
	if h.Hostname == "" {
		h.Hostname = o.Hostname
	}
	if h.AppName == "" {
		h.AppName = defaultAppName
	}
	s := &syslogSender{
		network: sc.Network,
		addr:    sc.Address,
		timeout: sc.Timeout,
		encode:  func(r *Record) ([]byte, error) { return encodeSyslogCEF(r, o.Product, h) },
	}
	if s.timeout == 0 {
		s.timeout = defaultTimeout
	}
	if sc.Network == "tls" {
		tc, err := sc.TLS.build()
		if err != nil {
			return nil, fmt.Errorf("syslog.%w", err)
		}
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(sc.Address)
		}
		s.tls = tc
	}
	return s, nil
}

func (c *Config) hecSender(poster *httpPoster, o BuildOptions) (Sender, error) {
	hc := c.HEC
	token, err := secretValue(hc.Token, hc.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("hec.token_file: %w", err)
	}
	if token == "" {
		return nil, fmt.Errorf("hec.token_file %s: empty", hc.TokenFile)
	}
	s := &hecSender{
		post:       poster,
		token:      token,
		index:      hc.Index,
		sourcetype: hc.Sourcetype,
		source:     hc.Source,
		host:       hc.Host,
		ack:        hc.Ack,
		channel:    hc.Channel,
		ackPoll:    hc.AckPoll,
		ackTimeout: hc.AckTimeout,
		clock:      o.Clock,
	}
	if s.sourcetype == "" {
		s.sourcetype = defaultSourcetype
	}
	if s.source == "" {
		s.source = defaultSource
	}
	if s.host == "" {
		s.host = o.Hostname
	}
	if s.channel == "" {
		s.channel = hecChannel(c.Name)
	}
	if s.ackPoll == 0 {
		s.ackPoll = defaultAckPoll
	}
	if s.ackTimeout == 0 {
		s.ackTimeout = defaultAckTimeout
	}
	if s.eventURL, s.ackURL, err = hecURLs(c.HTTP.URL, s.channel); err != nil {
		return nil, fmt.Errorf("http.url: %w", err)
	}
	return s, nil
}

// secretValue returns value, or the trimmed content of file.
func secretValue(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// BuildAll builds every configured sink, checking names are unique.
func BuildAll(cs []Config, o BuildOptions) ([]Sink, error) {
	if err := ValidateAll(cs); err != nil {
		return nil, err
	}
	out := make([]Sink, 0, len(cs))
	for i := range cs {
		s, err := cs[i].Build(o)
		if err != nil {
			for _, b := range out {
				b.Sender.Close()
			}
			return nil, fmt.Errorf("sinks[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// ValidateAll validates a sinks list: each entry, and unique names.
func ValidateAll(cs []Config) error {
	names := map[string]int{}
	for i := range cs {
		if err := cs[i].Validate(); err != nil {
			if cs[i].Name != "" {
				return fmt.Errorf("sinks[%d] %q: %w", i, cs[i].Name, err)
			}
			return fmt.Errorf("sinks[%d]: %w", i, err)
		}
		if j, ok := names[cs[i].Name]; ok {
			return fmt.Errorf("sinks[%d]: name %q already used by sinks[%d]", i, cs[i].Name, j)
		}
		names[cs[i].Name] = i
	}
	return nil
}
