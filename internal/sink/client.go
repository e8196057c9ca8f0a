package sink

import (
	"net/http"
	"time"
)

// This file lends the sinks' HTTP plumbing to other consumers of the outbox
// (response actions), so an identity provider or SOAR is configured, trusted
// and retried exactly like a SIEM.

// Validate checks the section without touching files or the network.
func (c *HTTPConfig) Validate() error { return c.validate() }

// Client returns an HTTP client with the section's TLS settings, timeout
// (defaultTimeout if unset) and the environment's proxy. Headers are not
// applied; the caller adds c.Headers to its requests.
func (c *HTTPConfig) Client() (*http.Client, error) {
	h := *c
	if h.Timeout == 0 {
		h.Timeout = defaultTimeout
	}
	p, err := newHTTPPoster(&h)
	if err != nil {
		return nil, err
	}
	return p.client, nil
}

// ParseRetryAfter reads an HTTP Retry-After header (seconds or a date).
func ParseRetryAfter(h http.Header) (time.Duration, bool) { return retryAfter(h) }

// RedactURL shortens a URL to its scheme and host for error messages and
// logs: webhook URLs often carry their secret in the path.
func RedactURL(u string) string { return redact(u) }

// SecretValue returns value, or the trimmed content of file when file is set.
func SecretValue(value, file string) (string, error) { return secretValue(value, file) }
