package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPConfig is an HTTP receiver: OCSF collectors, Splunk HEC, webhooks.
type HTTPConfig struct {
	URL string `yaml:"url"`
	// Timeout bounds one request, connection and response included.
	Timeout time.Duration `yaml:"timeout"`
	// Headers are added to every request (a tenant header, an API key).
	Headers map[string]string `yaml:"headers"`
	TLS     TLSConfig         `yaml:"tls"`
}

// httpPoster sends requests and turns responses into the dispatcher's
// error kinds.
type httpPoster struct {
	client  *http.Client
	headers map[string]string
}

func newHTTPPoster(c *HTTPConfig) (*httpPoster, error) {
	tc, err := c.TLS.build()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = http.ProxyFromEnvironment
	return &httpPoster{client: &http.Client{Transport: tr, Timeout: c.Timeout}, headers: c.Headers}, nil
}

// maxResponse is how much of a response body is read: enough for any ack or
// error document, bounded against a misbehaving receiver.
const maxResponse = 1 << 16

// post sends body and returns the status and (bounded) response body. A
// transport failure is an ordinary, retried error.
func (p *httpPoster) post(ctx context.Context, url, contentType string, body []byte, hdr http.Header) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, Permanent(fmt.Errorf("building request to %s: %w", url, err))
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "custos")
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// url.Error repeats the full URL, secrets in the path included.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("POST %s: %w", redact(url), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("POST %s: reading response: %w", redact(url), err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// statusError classifies a non-2xx response. Content the receiver refuses
// (400, 413, 415, 422) is permanent; everything else (auth, missing route,
// overload, outage) is a condition an operator or time can fix, so it is
// retried, honouring Retry-After.
func statusError(url string, status int, hdr http.Header, body []byte) error {
	if status >= 200 && status < 300 {
		return nil
	}
	err := fmt.Errorf("POST %s: %s: %s", redact(url), http.StatusText(status)+" ("+strconv.Itoa(status)+")", snippet(body))
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return Permanent(err)
	}
	if d, ok := retryAfter(hdr); ok {
		return RetryAfter(err, d)
	}
	return err
}

func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// redact drops a URL's query and credentials from error messages: Slack and
// similar webhook URLs carry their secret in the path, so only scheme and
// host are kept.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[:j]
		}
		if j := strings.LastIndexByte(rest, '@'); j >= 0 {
			rest = rest[j+1:]
		}
		return u[:i+3] + rest + "/…"
	}
	return "(url)"
}
