package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// HECConfig is the Splunk HTTP Event Collector side of a splunk_hec sink;
// its http section holds the collector's base URL
// (https://splunk.example.com:8088).
type HECConfig struct {
	// Token (or a file holding it) is the HEC token, sent as
	// "Authorization: Splunk <token>".
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// Index, Sourcetype, Source and Host are the event metadata; an empty
	// index leaves the token's default.
	Index      string `yaml:"index"`
	Sourcetype string `yaml:"sourcetype"`
	Source     string `yaml:"source"`
	Host       string `yaml:"host"`
	// Ack turns on indexer acknowledgement: a batch counts as delivered
	// only once Splunk reports it indexed. The token must have it enabled.
	Ack bool `yaml:"ack"`
	// Channel is the GUID acknowledgements are tracked on; by default one
	// derived from the sink name, stable across restarts.
	Channel    string        `yaml:"channel"`
	AckPoll    time.Duration `yaml:"ack_poll"`
	AckTimeout time.Duration `yaml:"ack_timeout"`
}

// hecSender posts batches of events to /services/collector/event and,
// with acknowledgement on, polls /services/collector/ack until Splunk
// confirms the batch indexed.
type hecSender struct {
	post                      *httpPoster
	eventURL, ackURL          string
	token                     string
	index, sourcetype, source string
	host                      string
	ack                       bool
	channel                   string
	ackPoll, ackTimeout       time.Duration
	clock                     Clock
}

// hecURLs derives the event and ack endpoints from the base URL the user
// gave, accepting the full event URL too. The ack URL names the channel in
// its query as well as in the header, as Splunk's examples do.
func hecURLs(base, channel string) (event, ack string, err error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", "", err
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/event")
	p = strings.TrimSuffix(p, "/services/collector")
	p += "/services/collector"
	u.Path = p + "/event"
	event = u.String()
	u.Path = p + "/ack"
	q := u.Query()
	q.Set("channel", channel)
	u.RawQuery = q.Encode()
	return event, u.String(), nil
}

// hecChannel derives a GUID-shaped channel from the sink name.
func hecChannel(name string) string {
	h := sha256.Sum256([]byte("custos-hec-channel:" + name))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout, as Splunk expects a GUID
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

type hecEvent struct {
	Time       json.Number     `json:"time"`
	Host       string          `json:"host,omitempty"`
	Source     string          `json:"source,omitempty"`
	Sourcetype string          `json:"sourcetype,omitempty"`
	Index      string          `json:"index,omitempty"`
	Event      json.RawMessage `json:"event"`
}

// hecResponse is the collector's answer to events and errors alike.
type hecResponse struct {
	Text  string `json:"text"`
	Code  int    `json:"code"`
	AckID *int64 `json:"ackId"`
}

// encodeHEC renders one record as a HEC event object: time in epoch seconds
// with millisecond decimals, the finding (FORMATS.md section 6) as the event.
func (s *hecSender) encode(r *Record) ([]byte, error) {
	line, err := finding.MarshalLine(r.Finding)
	if err != nil {
		return nil, err
	}
	ms := r.Finding.Time.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	return json.Marshal(&hecEvent{
		Time:       json.Number(fmt.Sprintf("%d.%03d", sec, frac)),
		Host:       s.host,
		Source:     s.source,
		Sourcetype: s.sourcetype,
		Index:      s.index,
		Event:      bytes.TrimSuffix(line, []byte("\n")),
	})
}

func (s *hecSender) headers() http.Header {
	h := http.Header{"Authorization": {"Splunk " + s.token}}
	if s.ack {
		h.Set("X-Splunk-Request-Channel", s.channel)
	}
	return h
}

// Send posts the batch as concatenated event objects (HEC's batch format).
func (s *hecSender) Send(ctx context.Context, recs []Record) (int, error) {
	var body bytes.Buffer
	for i := range recs {
		b, err := s.encode(&recs[i])
		if err != nil {
			return 0, Permanent(fmt.Errorf("hec: finding %s: %w", recs[i].Finding.ID, err))
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	status, hdr, resp, err := s.post.post(ctx, s.eventURL, "application/json", body.Bytes(), s.headers())
	if err != nil {
		return 0, err
	}
	var r hecResponse
	_ = json.Unmarshal(resp, &r) // an unparsable body still has its status
	if status != http.StatusOK {
		return 0, hecError(s.eventURL, status, hdr, resp, &r)
	}
	if !s.ack || r.AckID == nil {
		// Without acknowledgement, 200 means Splunk took the batch.
		return len(recs), nil
	}
	if err := s.waitAck(ctx, *r.AckID); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// waitAck polls the ack endpoint until Splunk reports id indexed or
// AckTimeout passes; a timeout is a failed send, so the batch is sent again
// (Splunk may then index it twice: at least once).
func (s *hecSender) waitAck(ctx context.Context, id int64) error {
	body, _ := json.Marshal(map[string][]int64{"acks": {id}})
	start := s.clock.Now()
	var lastErr error
	for {
		select {
		case <-s.clock.After(s.ackPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
		status, hdr, resp, err := s.post.post(ctx, s.ackURL, "application/json", body, s.headers())
		switch {
		case err != nil:
			lastErr = err
		case status != http.StatusOK:
			var r hecResponse
			_ = json.Unmarshal(resp, &r)
			lastErr = hecError(s.ackURL, status, hdr, resp, &r)
		default:
			var r struct {
				Acks map[string]bool `json:"acks"`
			}
			if err := json.Unmarshal(resp, &r); err != nil {
				lastErr = fmt.Errorf("hec ack: unreadable response %s: %w", snippet(resp), err)
				break
			}
			if r.Acks[strconv.FormatInt(id, 10)] {
				return nil
			}
			lastErr = nil
		}
		if s.clock.Now().Sub(start) >= s.ackTimeout {
			err := fmt.Errorf("hec: ack %d on channel %s not confirmed within %s", id, s.channel, s.ackTimeout)
			if lastErr != nil {
				err = fmt.Errorf("%w (last poll: %v)", err, lastErr)
			}
			return err
		}
	}
}

// hecError explains a collector error. HEC codes 5, 6, 12, 13 and 15 say
// the events themselves are malformed (permanent); the rest, such as bad
// tokens (2-4), unknown index (7), busy server (9), channel or ack problems
// (10, 11, 14), are fixed by configuration or time and are retried.
func hecError(u string, status int, hdr http.Header, body []byte, r *hecResponse) error {
	if r.Text == "" {
		return statusError(u, status, hdr, body)
	}
	err := fmt.Errorf("hec: %s (code %d, HTTP %d)", r.Text, r.Code, status)
	switch r.Code {
	case 5, 6, 12, 13, 15:
		return Permanent(err)
	case 14:
		return fmt.Errorf("%w: indexer acknowledgement is off for this token; enable it or set hec.ack: false", err)
	}
	if d, ok := retryAfter(hdr); ok {
		return RetryAfter(err, d)
	}
	return err
}

func (s *hecSender) Close() error {
	s.post.client.CloseIdleConnections()
	return nil
}
