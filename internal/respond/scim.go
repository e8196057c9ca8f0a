package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// SCIMConfig is the identity provider the scim_disable actions and the
// lifecycle deprovisioning talk to.
type SCIMConfig struct {
	// HTTP holds the base URL (https://idp.example.com/scim/v2, the part
	// before /Users), TLS, timeout and extra headers.
	HTTP sink.HTTPConfig `yaml:"http"`
	// Token (or a file holding it) is sent as "Authorization: Bearer".
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// UserID says how an actor id becomes a SCIM user id: actor (the
	// default: it is the id) or lookup (GET /Users?filter=<LookupAttribute>
	// eq "<LookupValue>", which must find exactly one user).
	UserID string `yaml:"user_id"`
	// LookupAttribute is the attribute filtered on (default userName).
	LookupAttribute string `yaml:"lookup_attribute"`
	// LookupValue is the value looked up, {actor} standing for the actor id
	// (default "{actor}"; e.g. "{actor}@bpo-north.example").
	LookupValue string `yaml:"lookup_value"`
}

// SCIM user id mappings.
const (
	UserIDActor  = "actor"
	UserIDLookup = "lookup"
)

// scimAttribute is an attribute path a filter may name, urn-qualified or
// not (userName, emails.value, urn:…:enterprise:2.0:User:employeeNumber).
var scimAttribute = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_:.$-]*$`)

func (c *SCIMConfig) validate() error {
	if err := c.HTTP.Validate(); err != nil {
		return fmt.Errorf("scim.%w", err)
	}
	if (c.Token == "") == (c.TokenFile == "") {
		return errors.New("scim: set exactly one of token or token_file")
	}
	switch c.UserID {
	case "", UserIDActor:
		if c.LookupAttribute != "" || c.LookupValue != "" {
			return errors.New("scim: lookup_attribute and lookup_value need user_id: lookup")
		}
	case UserIDLookup:
		if c.LookupAttribute != "" && !scimAttribute.MatchString(c.LookupAttribute) {
			return fmt.Errorf("scim.lookup_attribute: %q is not a SCIM attribute name", c.LookupAttribute)
		}
		if c.LookupValue != "" && !strings.Contains(c.LookupValue, "{actor}") {
			return fmt.Errorf("scim.lookup_value: %q does not contain {actor}", c.LookupValue)
		}
	default:
		return fmt.Errorf("scim.user_id: unknown value %q (want actor or lookup)", c.UserID)
	}
	return nil
}

// SCIM media types and message schemas (RFC 7644).
const (
	scimMediaType = "application/scim+json"
	schemaPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaError   = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// deactivate is the PATCH body that turns a user's active attribute off.
var deactivate = []byte(`{"schemas":["` + schemaPatchOp + `"],"Operations":[{"op":"replace","path":"active","value":false}]}`)

// scimClient deactivates users at one identity provider.
type scimClient struct {
	base        string // without a trailing slash
	token       string
	headers     map[string]string
	client      *http.Client
	lookupAttr  string // "" when the actor id is the user id
	lookupValue string
}

func newSCIMClient(c *SCIMConfig) (*scimClient, error) {
	token, err := sink.SecretValue(c.Token, c.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("scim.token_file: %w", err)
	}
	if token == "" {
		return nil, fmt.Errorf("scim.token_file %s: empty", c.TokenFile)
	}
	client, err := c.HTTP.Client()
	if err != nil {
		return nil, fmt.Errorf("scim.http.%w", err)
	}
	s := &scimClient{
		base:    strings.TrimRight(c.HTTP.URL, "/"),
		token:   token,
		headers: c.HTTP.Headers,
		client:  client,
	}
	if c.UserID == UserIDLookup {
		s.lookupAttr, s.lookupValue = c.LookupAttribute, c.LookupValue
		if s.lookupAttr == "" {
			s.lookupAttr = "userName"
		}
		if s.lookupValue == "" {
			s.lookupValue = "{actor}"
		}
	}
	return s, nil
}

// do implements executor: find the user, then deactivate it.
func (c *scimClient) do(ctx context.Context, f *finding.Finding, dry bool) outcome {
	id, code, err := c.userID(ctx, f.Actor.ID)
	if err != nil {
		return outcome{code: code, result: err.Error(), err: err}
	}
	if dry {
		return outcome{target: id, code: code, status: StatusDryRun,
			result: fmt.Sprintf("dry run: would PATCH %s/Users/%s active=false", sink.RedactURL(c.base), id)}
	}
	code, err = c.disable(ctx, id)
	if err != nil {
		return outcome{target: id, code: code, result: err.Error(), err: err}
	}
	return outcome{target: id, code: code, status: StatusSucceeded,
		result: fmt.Sprintf("SCIM user %s deactivated (active=false, HTTP %d)", id, code)}
}

func (c *scimClient) close() error {
	c.client.CloseIdleConnections()
	return nil
}

// disable sends the PatchOp that sets active to false. It returns the HTTP
// status.
func (c *scimClient) disable(ctx context.Context, id string) (int, error) {
	u := c.base + "/Users/" + url.PathEscape(id)
	status, _, err := c.request(ctx, http.MethodPatch, u, deactivate, "user "+id)
	return status, err
}

// userID maps an actor id to the SCIM user id, looking it up if so
// configured. It returns the lookup's HTTP status (0 without a lookup).
func (c *scimClient) userID(ctx context.Context, actor string) (string, int, error) {
	if c.lookupAttr == "" {
		return actor, 0, nil
	}
	value := strings.ReplaceAll(c.lookupValue, "{actor}", actor)
	// A filter's comparison value is a JSON string (RFC 7644 3.4.2.2), so
	// JSON quoting escapes quotes and backslashes in it.
	quoted, _ := json.Marshal(value)
	filter := c.lookupAttr + " eq " + string(quoted)
	q := url.Values{"filter": {filter}, "attributes": {"id"}}
	// %20 rather than +: not every SCIM server decodes + in a query.
	u := c.base + "/Users?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	status, body, err := c.request(ctx, http.MethodGet, u, nil, "users with "+filter)
	if err != nil {
		return "", status, err
	}
	var list struct {
		TotalResults *int `json:"totalResults"`
		Resources    []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.TotalResults == nil {
		return "", status, fmt.Errorf("SCIM GET %s/Users?filter=%s: not a SCIM ListResponse: %s", sink.RedactURL(c.base), filter, snippet(body))
	}
	switch {
	case *list.TotalResults == 0 || len(list.Resources) == 0:
		return "", status, sink.Permanent(fmt.Errorf("SCIM: no user with %s", filter))
	case *list.TotalResults > 1 || len(list.Resources) > 1:
		return "", status, sink.Permanent(fmt.Errorf("SCIM: %d users with %s; refusing to guess which to deactivate", max(*list.TotalResults, len(list.Resources)), filter))
	case list.Resources[0].ID == "":
		return "", status, sink.Permanent(fmt.Errorf("SCIM: the user with %s has no id", filter))
	}
	return list.Resources[0].ID, status, nil
}

// request makes one SCIM request and classifies its answer. what names the
// resource in errors.
func (c *scimClient) request(ctx context.Context, method, u string, body []byte, what string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, sink.Permanent(fmt.Errorf("SCIM %s %s: %w", method, sink.RedactURL(c.base), err))
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", scimMediaType)
	req.Header.Set("User-Agent", "custos")
	if body != nil {
		req.Header.Set("Content-Type", scimMediaType)
	}
	status, hdr, resp, err := roundTrip(c.client, req)
	if err != nil {
		return 0, nil, fmt.Errorf("SCIM %s %s: %w", method, sink.RedactURL(c.base), err)
	}
	if status >= 200 && status < 300 {
		return status, resp, nil
	}
	msg := fmt.Sprintf("SCIM %s %s (%s): %s (%d): %s", method, sink.RedactURL(c.base), what, http.StatusText(status), status, scimDetail(resp))
	err = errors.New(msg)
	switch {
	case status == http.StatusNotFound && isSCIMError(hdr, resp):
		// The identity provider itself says there is no such user; a 404
		// without a SCIM error document is a wrong URL, which an operator
		// fixes: retried below.
		return status, resp, sink.Permanent(err)
	case status == http.StatusNotImplemented:
		return status, resp, sink.Permanent(fmt.Errorf("%s (the server does not support this SCIM operation)", msg))
	case refused(status):
		return status, resp, sink.Permanent(err)
	}
	return status, resp, retryable(err, hdr)
}

// isSCIMError reports whether a response is a SCIM error document rather
// than, say, a proxy's page.
func isSCIMError(hdr http.Header, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(hdr.Get("Content-Type")); err == nil && mt == scimMediaType {
		return true
	}
	var e struct {
		Schemas []string `json:"schemas"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, s := range e.Schemas {
		if s == schemaError {
			return true
		}
	}
	return false
}

// scimDetail is the detail of a SCIM error document, or a snippet of the
// body.
func scimDetail(body []byte) string {
	var e struct {
		Detail   string `json:"detail"`
		SCIMType string `json:"scimType"`
	}
	if json.Unmarshal(body, &e) == nil && e.Detail != "" {
		if e.SCIMType != "" {
			return e.Detail + " (" + e.SCIMType + ")"
		}
		return e.Detail
	}
	return snippet(body)
}

// maxResponse bounds how much of a response is read.
const maxResponse = 1 << 16

// roundTrip sends req and reads a bounded response.
func roundTrip(c *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		// url.Error repeats the full URL, a secret in the path included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("reading the response: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// refused reports statuses by which a receiver rejects the request's
// content: retrying the same request cannot help.
func refused(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// retryable marks err with the receiver's Retry-After, if it sent one.
func retryable(err error, hdr http.Header) error {
	if d, ok := sink.ParseRetryAfter(hdr); ok {
		return sink.RetryAfter(err, d)
	}
	return err
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
