package sink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/custos-io/custos/internal/finding"
)

// WebhookConfig is the webhook side of a webhook sink; its http section
// holds the URL.
type WebhookConfig struct {
	// Format is json (the finding as in FORMATS.md section 6) or slack
	// ({"text": ...} for Slack, Mattermost, Teams workflows and the like).
	Format string `yaml:"format"`
	// Secret (or a file holding it) signs every request: see Signature.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// Webhook request headers.
const (
	// HeaderTimestamp is the Unix time (seconds) at which the request was
	// signed.
	HeaderTimestamp = "X-Custos-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// secret, of the timestamp, a dot and the raw body.
	HeaderSignature = "X-Custos-Signature"
	// HeaderDelivery is the record's DeliveryID: a receiver that has seen
	// it already can drop the request (at-least-once delivery repeats).
	HeaderDelivery = "X-Custos-Delivery"
)

// Signature computes the HeaderSignature value for a body signed at
// timestamp ts. Receivers recompute it, compare in constant time and reject
// timestamps too far from their clock, which defeats replays.
func Signature(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// webhookSender posts one request per record.
type webhookSender struct {
	post   *httpPoster
	url    string
	slack  bool
	secret []byte
	clock  Clock
}

func (s *webhookSender) body(r *Record) ([]byte, error) {
	if s.slack {
		return json.Marshal(map[string]string{"text": slackText(r)})
	}
	line, err := finding.MarshalLine(r.Finding)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(line, []byte("\n")), nil
}

func (s *webhookSender) Send(ctx context.Context, recs []Record) (int, error) {
	for i := range recs {
		r := &recs[i]
		body, err := s.body(r)
		if err != nil {
			return i, Permanent(fmt.Errorf("webhook: finding %s: %w", r.Finding.ID, err))
		}
		hdr := http.Header{HeaderDelivery: {DeliveryID(r)}}
		if len(s.secret) > 0 {
			ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
			hdr.Set(HeaderTimestamp, ts)
			hdr.Set(HeaderSignature, Signature(s.secret, ts, body))
		}
		status, rh, resp, err := s.post.post(ctx, s.url, "application/json", body, hdr)
		if err == nil {
			err = statusError(s.url, status, rh, resp)
		}
		if err != nil {
			return i, fmt.Errorf("webhook: finding %s: %w", r.Finding.ID, err)
		}
	}
	return len(recs), nil
}

func (s *webhookSender) Close() error {
	s.post.client.CloseIdleConnections()
	return nil
}

// slackEscaper escapes the three characters Slack's mrkdwn reserves.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackText is one message a person reads in a channel:
//
//	[CRITICAL] alert honeytoken_access: a-ana
//	a-ana viewed honeytoken customer c-9999 ...
//	risk 100 · al-abb68cafa22b015bc8e9
func slackText(r *Record) string {
	f := r.Finding
	var b strings.Builder
	fmt.Fprintf(&b, "*[%s] %s %s*: `%s`", strings.ToUpper(string(f.Severity)), f.Kind, slackEscaper.Replace(title(f)), slackEscaper.Replace(f.Actor.ID))
	if r.Revision > 0 {
		b.WriteString(" (updated)")
	}
	b.WriteString("\n")
	b.WriteString(slackEscaper.Replace(f.Summary))
	fmt.Fprintf(&b, "\nrisk %s · %s", strconv.FormatFloat(f.Risk, 'f', -1, 64), slackEscaper.Replace(f.ID))
	return b.String()
}
