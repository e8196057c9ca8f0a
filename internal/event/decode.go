package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// FieldError says which field of a record is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func missing(field string) error { return &FieldError{Field: field, Reason: "missing"} }

// jsonError turns encoding/json's errors into field errors a person can act on.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(record)"
		}
		return &FieldError{Field: field, Reason: fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{Reason: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)}
	}
	return &FieldError{Reason: "invalid JSON: " + err.Error()}
}

func unmarshal(line []byte, v any) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return &FieldError{Reason: "not a JSON object"}
	}
	if err := json.Unmarshal(line, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// ParseTime parses an RFC 3339 time with any offset and returns it in UTC.
func ParseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, missing(field)
	}
	if t, ok := parseUTC(s); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not an RFC 3339 time with an offset", s)}
	}
	return t.UTC(), nil
}

// parseDateOrTime accepts a date (YYYY-MM-DD) or an RFC 3339 time. A date
// means the start of that day, or, when endOfDay is set, its last instant:
// a contract that ends on 2026-03-02 still covers that whole day (UTC).
func parseDateOrTime(field, s string, endOfDay bool) (time.Time, error) {
	if len(s) == len("2006-01-02") {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not a date (YYYY-MM-DD) or RFC 3339 time", s)}
		}
		if endOfDay {
			return d.Add(24*time.Hour - time.Nanosecond), nil
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not a date (YYYY-MM-DD) or RFC 3339 time", s)}
	}
	return t.UTC(), nil
}

// trimRecord is bytes.TrimSpace for a line the fast decoder accepted: it
// nearly always starts with '{' and ends with '}' already.
func trimRecord(raw []byte) []byte {
	if n := len(raw); n > 0 && raw[0] == '{' && raw[n-1] == '}' {
		return raw
	}
	return bytes.TrimSpace(raw)
}

func keep(line []byte) json.RawMessage {
	return json.RawMessage(bytes.Clone(bytes.TrimSpace(line)))
}

type wireEvent struct {
	ID    *string `json:"id"`
	Time  *string `json:"time"`
	Actor *struct {
		ID      *string `json:"id"`
		Session string  `json:"session"`
		IP      string  `json:"ip"`
		Device  string  `json:"device"`
		Country string  `json:"country"`
	} `json:"actor"`
	Action  *string `json:"action"`
	Subject *struct {
		ID string `json:"id"`
	} `json:"subject"`
	Resource     string   `json:"resource"`
	Fields       []string `json:"fields"`
	Ticket       string   `json:"ticket"`
	Reason       string   `json:"reason"`
	Query        string   `json:"query"`
	Count        *int     `json:"count"`
	DurationMS   *int64   `json:"duration_ms"`
	Verification string   `json:"verification"`
	Result       string   `json:"result"`
	App          string   `json:"app"`
}

// eventFields is an access event as decoded, before validation: both
// decoding paths fill it, so both validate alike.
type eventFields struct {
	id, time, action                      string
	actorID, session, ip, device, country string
	subject, resource, ticket, reason     string
	query, verification, result, app      string
	fields                                []string
	count                                 int
	hasCount                              bool
	durationMS                            int64
	raw                                   []byte // an owned copy of the line, if the decoder made one
}

func (w *wireEvent) flat() eventFields {
	f := eventFields{
		resource: w.Resource, fields: w.Fields, ticket: w.Ticket, reason: w.Reason,
		query: w.Query, verification: w.Verification, result: w.Result, app: w.App,
	}
	if w.ID != nil {
		f.id = *w.ID
	}
	if w.Time != nil {
		f.time = *w.Time
	}
	if w.Action != nil {
		f.action = *w.Action
	}
	if a := w.Actor; a != nil {
		if a.ID != nil {
			f.actorID = *a.ID
		}
		f.session, f.ip, f.device, f.country = a.Session, a.IP, a.Device, a.Country
	}
	if w.Subject != nil {
		f.subject = w.Subject.ID
	}
	if w.Count != nil {
		f.count, f.hasCount = *w.Count, true
	}
	if w.DurationMS != nil {
		f.durationMS = *w.DurationMS
	}
	return f
}

// DecodeEvent decodes and validates one access event. Most records take a
// reflection-free path (fast.go); anything unusual, and every invalid record,
// takes encoding/json's.
func DecodeEvent(line []byte) (Event, error) {
	var e Event
	err := DecodeEventTo(line, &e)
	return e, err
}

// DecodeEventTo is DecodeEvent writing into e, which a batch decoder
// allocates many at a time: an Event is some 300 bytes, and copying it
// from a result into place costs more than decoding it there. On error e
// holds no useful value.
func DecodeEventTo(line []byte, e *Event) error {
	f, ok := fastEvent(line)
	if !ok {
		var w wireEvent
		if err := unmarshal(line, &w); err != nil {
			return err
		}
		f = w.flat()
	}
	return f.validate(line, e)
}

// DecodeEventJSON decodes and validates like DecodeEvent but always with
// encoding/json: the reference the fast path is fuzzed against, and the
// baseline `custos bench` compares it with.
func DecodeEventJSON(line []byte) (Event, error) {
	var w wireEvent
	if err := unmarshal(line, &w); err != nil {
		return Event{}, err
	}
	f := w.flat()
	var e Event
	err := f.validate(line, &e)
	return e, err
}

// validate checks w and writes the event into e.
func (w *eventFields) validate(line []byte, e *Event) error {
	*e = Event{}
	if w.id == "" {
		return missing("id")
	}
	e.ID = w.id
	t, err := ParseTime("time", w.time)
	if err != nil {
		return err
	}
	e.Time = t
	if w.actorID == "" {
		return missing("actor.id")
	}
	e.Actor = Actor{ID: w.actorID, Session: w.session, IP: w.ip, Device: w.device, Country: w.country}
	if w.action == "" {
		return missing("action")
	}
	e.Action = parseAction(w.action)
	if e.Action == "" {
		return &FieldError{Field: "action", Reason: fmt.Sprintf("unknown value %q (want one of %s)", w.action, actionList())}
	}
	e.Subject = w.subject
	e.Count = 1
	if w.hasCount {
		if w.count < 0 {
			return &FieldError{Field: "count", Reason: fmt.Sprintf("must not be negative, got %d", w.count)}
		}
		e.Count = w.count
	}
	if e.Subject == "" && e.Action.TouchesSubject() && !(e.Action == Export && e.Count > 1) {
		return &FieldError{Field: "subject.id", Reason: fmt.Sprintf("missing (required for action %q)", e.Action)}
	}
	if w.durationMS < 0 {
		return &FieldError{Field: "duration_ms", Reason: fmt.Sprintf("must not be negative, got %d", w.durationMS)}
	}
	e.DurationMS = w.durationMS
	switch w.result {
	case "", "allowed":
	case "denied":
		e.Denied = true
	default:
		return &FieldError{Field: "result", Reason: fmt.Sprintf("unknown value %q (want allowed or denied)", w.result)}
	}
	e.Resource, e.Fields, e.Ticket, e.Reason = w.resource, w.fields, w.ticket, w.reason
	e.Query, e.Verification, e.App = w.query, w.verification, w.app
	if w.raw != nil {
		e.Raw = trimRecord(w.raw)
	} else {
		e.Raw = keep(line)
	}
	return nil
}

// parseAction returns the contract's constant for s, or "" if s is none:
// events then share the constant instead of keeping their own copy.
func parseAction(s string) Action {
	for _, a := range Actions {
		if string(a) == s {
			return a
		}
	}
	return ""
}

func actionList() string {
	s := make([]string, len(Actions))
	for i, a := range Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

type wirePerson struct {
	ID            *string `json:"id"`
	Name          string  `json:"name"`
	Vendor        string  `json:"vendor"`
	Team          string  `json:"team"`
	Role          string  `json:"role"`
	Site          string  `json:"site"`
	Country       string  `json:"country"`
	ContractStart string  `json:"contract_start"`
	ContractEnd   string  `json:"contract_end"`
	Status        string  `json:"status"`
	Manager       string  `json:"manager"`
}

// DecodePerson decodes and validates one roster entry.
func DecodePerson(line []byte) (Person, error) {
	var w wirePerson
	if err := unmarshal(line, &w); err != nil {
		return Person{}, err
	}
	var p Person
	if w.ID == nil || *w.ID == "" {
		return p, missing("id")
	}
	p = Person{ID: *w.ID, Name: w.Name, Vendor: w.Vendor, Team: w.Team, Role: w.Role, Site: w.Site, Country: w.Country, Manager: w.Manager}
	var err error
	if w.ContractStart != "" {
		if p.ContractStart, err = parseDateOrTime("contract_start", w.ContractStart, false); err != nil {
			return p, err
		}
	}
	if w.ContractEnd != "" {
		if p.ContractEnd, err = parseDateOrTime("contract_end", w.ContractEnd, true); err != nil {
			return p, err
		}
	}
	if !p.ContractStart.IsZero() && !p.ContractEnd.IsZero() && p.ContractEnd.Before(p.ContractStart) {
		return p, &FieldError{Field: "contract_end", Reason: fmt.Sprintf("%s is before contract_start %s", w.ContractEnd, w.ContractStart)}
	}
	switch Status(w.Status) {
	case "":
		p.Status = Active
	case Active, Suspended, Terminated:
		p.Status = Status(w.Status)
	default:
		return p, &FieldError{Field: "status", Reason: fmt.Sprintf("unknown value %q (want active, suspended or terminated)", w.Status)}
	}
	p.Raw = keep(line)
	return p, nil
}

type wireSubject struct {
	ID         *string  `json:"id"`
	Tier       string   `json:"tier"`
	BalanceUSD *float64 `json:"balance_usd"`
	Country    string   `json:"country"`
	Honeytoken bool     `json:"honeytoken"`
}

// DecodeSubject decodes and validates one customer record.
func DecodeSubject(line []byte) (Subject, error) {
	f, ok := fastSubject(line)
	if !ok {
		var w wireSubject
		if err := unmarshal(line, &w); err != nil {
			return Subject{}, err
		}
		f = w.flat()
	}
	return f.validate(line)
}

// DecodeSubjectJSON is DecodeEventJSON for customer records.
func DecodeSubjectJSON(line []byte) (Subject, error) {
	var w wireSubject
	if err := unmarshal(line, &w); err != nil {
		return Subject{}, err
	}
	f := w.flat()
	return f.validate(line)
}

// subjectFields is a customer record as decoded, before validation; both
// decoding paths fill it.
type subjectFields struct {
	id, tier, country string
	balance           float64
	hasBalance        bool
	honeytoken        bool
	raw               []byte // an owned copy of the line, if the decoder made one
}

func (w *wireSubject) flat() subjectFields {
	f := subjectFields{tier: w.Tier, country: w.Country, honeytoken: w.Honeytoken}
	if w.ID != nil {
		f.id = *w.ID
	}
	if w.BalanceUSD != nil {
		f.balance, f.hasBalance = *w.BalanceUSD, true
	}
	return f
}

func (f *subjectFields) validate(line []byte) (Subject, error) {
	if f.id == "" {
		return Subject{}, missing("id")
	}
	s := Subject{ID: f.id, Tier: f.tier, Country: f.country, Honeytoken: f.honeytoken}
	if f.hasBalance {
		if f.balance < 0 {
			return s, &FieldError{Field: "balance_usd", Reason: fmt.Sprintf("must not be negative, got %v", f.balance)}
		}
		s.BalanceUSD = f.balance
	}
	if f.raw != nil {
		s.Raw = json.RawMessage(trimRecord(f.raw))
	} else {
		s.Raw = keep(line)
	}
	return s, nil
}

type wireTicket struct {
	Time     *string `json:"time"`
	ID       *string `json:"id"`
	Subject  string  `json:"subject"`
	Assignee string  `json:"assignee"`
	Status   *string `json:"status"`
}

// ticketFields is a ticket change as decoded, before validation; both
// decoding paths fill it.
type ticketFields struct {
	time, id, subject, assignee, status string
	hasTime                             bool
	raw                                 []byte // an owned copy of the line, if the decoder made one
}

func (w *wireTicket) flat() ticketFields {
	f := ticketFields{subject: w.Subject, assignee: w.Assignee}
	if w.Time != nil {
		f.time, f.hasTime = *w.Time, true
	}
	if w.ID != nil {
		f.id = *w.ID
	}
	if w.Status != nil {
		f.status = *w.Status
	}
	return f
}

// DecodeTicketChange decodes and validates one ticket change, by the
// reflection-free path when the record allows (see fastEvent).
func DecodeTicketChange(line []byte) (TicketChange, error) {
	var tc TicketChange
	err := DecodeTicketChangeTo(line, &tc)
	return tc, err
}

// DecodeTicketChangeTo is DecodeTicketChange writing into tc, as
// DecodeEventTo does for events. On error tc holds no useful value.
func DecodeTicketChangeTo(line []byte, tc *TicketChange) error {
	f, ok := fastTicket(line)
	if !ok {
		var w wireTicket
		if err := unmarshal(line, &w); err != nil {
			return err
		}
		f = w.flat()
	}
	return f.validateTo(line, tc)
}

// DecodeTicketChangeJSON is DecodeEventJSON for ticket changes.
func DecodeTicketChangeJSON(line []byte) (TicketChange, error) {
	var w wireTicket
	if err := unmarshal(line, &w); err != nil {
		return TicketChange{}, err
	}
	f := w.flat()
	var tc TicketChange
	err := f.validateTo(line, &tc)
	return tc, err
}

// validateTo checks w and writes the change into tc.
func (w *ticketFields) validateTo(line []byte, tc *TicketChange) error {
	if !w.hasTime {
		return missing("time")
	}
	t, err := ParseTime("time", w.time)
	if err != nil {
		return err
	}
	if w.id == "" {
		return missing("id")
	}
	if w.status == "" {
		return missing("status")
	}
	var st TicketStatus
	switch TicketStatus(w.status) {
	// The constants, so ticket changes share them instead of the line.
	case TicketNew:
		st = TicketNew
	case TicketOpen:
		st = TicketOpen
	case TicketPending:
		st = TicketPending
	case TicketSolved:
		st = TicketSolved
	case TicketClosed:
		st = TicketClosed
	default:
		return &FieldError{Field: "status", Reason: fmt.Sprintf("unknown value %q (want new, open, pending, solved or closed)", w.status)}
	}
	raw := json.RawMessage(trimRecord(w.raw))
	if w.raw == nil {
		raw = keep(line)
	}
	tc.Time, tc.ID, tc.Subject, tc.Assignee, tc.Status, tc.Raw = t, w.id, w.subject, w.assignee, st, raw
	return nil
}
