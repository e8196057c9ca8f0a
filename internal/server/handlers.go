package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/respond"
	"github.com/custos-io/custos/internal/store"
)

// Media types of batch bodies.
const (
	typeNDJSON = "application/x-ndjson"
	typeJSON   = "application/json"
)

// maxListedErrors bounds the rejected records a batch response lists one by
// one; the count stays exact.
const maxListedErrors = 1000

// requestSource names the request in record errors: "request:3: ..." for
// NDJSON line 3, "request[2]: ..." for array element 2.
const requestSource = "request"

// maxPresized bounds the records a request's slice is made for up front.
const maxPresized = 1 << 16

// decodeEvent decodes in place: the record keeps the event, and copying
// some 300 bytes from a result was an eighth of the decoding.
func decodeEvent(b []byte) (store.Record, error) {
	e := new(event.Event)
	err := event.DecodeEventTo(b, e)
	return store.Record{Event: e}, err
}

func decodeTicket(b []byte) (store.Record, error) {
	t := new(event.TicketChange)
	err := event.DecodeTicketChangeTo(b, t)
	return store.Record{Ticket: t}, err
}

// BatchResult is the answer to a batch: how many records were stored, how
// many were already stored (retries), how many were rejected and why.
type BatchResult struct {
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"`
	Rejected   int           `json:"rejected"`
	Errors     []RecordError `json:"errors,omitempty"`
	// ErrorsOmitted counts rejected records not listed in Errors.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
}

// RecordError locates one rejected record: its 1-based line in an NDJSON
// body, or its 0-based index in a JSON array.
type RecordError struct {
	Line   int    `json:"line,omitempty"`
	Index  *int   `json:"index,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

func recordError(re *event.RecordError) RecordError {
	out := RecordError{Error: re.Error(), Reason: re.Err.Error()}
	if re.Index {
		i := re.Line
		out.Index = &i
	} else {
		out.Line = re.Line
	}
	if fe := fieldError(re.Err); fe != nil {
		out.Field, out.Reason = fe.Field, fe.Reason
	}
	return out
}

// errBody marks a body that cannot be read as records at all (as opposed to
// individual bad records).
type errBody struct{ err error }

func (e errBody) Error() string { return e.err.Error() }
func (e errBody) Unwrap() error { return e.err }

// batch handles POST of NDJSON or a JSON array of records. Status: 200 when
// every record was stored or already stored; 207 when some were rejected
// and the rest stored; 422 when all were rejected (nothing stored).
func (s *Server) batch(noun string, decode func([]byte) (store.Record, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mt := mediaType(r)
		if mt != typeNDJSON && mt != "application/ndjson" && mt != typeJSON {
			writeError(w, http.StatusUnsupportedMediaType,
				fmt.Sprintf("Content-Type %q: send %s (one record per line) or %s (an array of records)", r.Header.Get("Content-Type"), typeNDJSON, typeJSON))
			return
		}
		s.hook("request")
		s.ingesting.Add(1)
		defer s.ingesting.Add(-1)
		// A record is some 250 bytes of NDJSON or more: room for the
		// records of the body, so the slice does not grow by copying.
		recs := make([]store.Record, 0, min(max(r.ContentLength, 0)/128, maxPresized))
		var rejects []*event.RecordError
		// ok takes a record's error only when it is rejected, so a good
		// record allocates none.
		ok := func(b []byte, re func() *event.RecordError) {
			rec, err := decode(b)
			if err != nil {
				e := re()
				e.Err = err
				rejects = append(rejects, e)
				return
			}
			recs = append(recs, rec)
		}
		var err error
		if mt == typeJSON {
			err = readArray(r.Body, ok)
		} else {
			br := s.lineReaders.Get().(*bufio.Reader)
			br.Reset(r.Body)
			err = event.Lines(br, func(n int, line []byte, tooLong bool) error {
				re := func() *event.RecordError { return &event.RecordError{Source: requestSource, Line: n} }
				if tooLong {
					e := re()
					e.Err = &event.FieldError{Reason: fmt.Sprintf("line longer than %d bytes", event.MaxLine)}
					rejects = append(rejects, e)
					return nil
				}
				ok(line, re)
				return nil
			})
			br.Reset(nil)
			s.lineReaders.Put(br)
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes (serve.max_body): split the batch", tooBig.Limit))
				return
			}
			if errors.As(err, new(errBody)) {
				writeError(w, http.StatusBadRequest, "request body: "+err.Error())
				return
			}
			writeError(w, http.StatusBadRequest, "reading request body: "+err.Error())
			return
		}
		if len(recs)+len(rejects) == 0 {
			writeError(w, http.StatusBadRequest, "request body has no records")
			return
		}

		res := BatchResult{Rejected: len(rejects)}
		if len(recs) > 0 {
			stored, err := s.ingest(r.Context(), recs)
			if err != nil {
				s.storeFailed(w, r, noun, err)
				return
			}
			res.Accepted, res.Duplicates = stored, len(recs)-stored
		}
		s.metrics.records.WithLabelValues(noun, "accepted").Add(float64(res.Accepted))
		s.metrics.records.WithLabelValues(noun, "duplicate").Add(float64(res.Duplicates))
		s.metrics.records.WithLabelValues(noun, "rejected").Add(float64(res.Rejected))
		for i, re := range rejects {
			if i == maxListedErrors {
				res.ErrorsOmitted = len(rejects) - i
				break
			}
			res.Errors = append(res.Errors, recordError(re))
		}
		status := http.StatusOK
		switch {
		case len(rejects) > 0 && len(recs) > 0:
			status = http.StatusMultiStatus
		case len(rejects) > 0:
			status = http.StatusUnprocessableEntity
		}
		addLog(r, "records", noun, "accepted", res.Accepted, "duplicates", res.Duplicates, "rejected", res.Rejected)
		if len(rejects) > 0 {
			addLog(r, "first_reject", rejects[0].Error())
		}
		writeJSON(w, status, res)
	}
}

func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, noun string, err error) {
	addLog(r, "err", err)
	if errors.Is(err, errClosed) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "custos is shutting down; nothing was stored, retry")
		return
	}
	writeError(w, http.StatusInternalServerError, fmt.Sprintf("storing %s failed; nothing was stored, retry", noun))
}

// readArray reads a JSON array of records (or one record object) and calls
// fn with each element, compacted to one line, and its index. A body that is
// not valid JSON fails whole: past a syntax error no element can be located.
func readArray(body io.Reader, fn func([]byte, func() *event.RecordError)) error {
	br := bufio.NewReader(body)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(br)
	var buf bytes.Buffer
	one := func(i int, raw json.RawMessage) {
		buf.Reset()
		re := func() *event.RecordError { return &event.RecordError{Source: requestSource, Line: i, Index: true} }
		if err := json.Compact(&buf, raw); err != nil {
			fn(raw, re) // the decoder reports it
			return
		}
		fn(buf.Bytes(), re)
	}
	switch first {
	case '{':
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonBodyError(err, "")
		}
		one(0, raw)
	case '[':
		if _, err := dec.Token(); err != nil {
			return jsonBodyError(err, "")
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return jsonBodyError(err, fmt.Sprintf(" at element %d", i))
			}
			one(i, raw)
		}
		if _, err := dec.Token(); err != nil {
			return jsonBodyError(err, "")
		}
	default:
		return errBody{fmt.Errorf("expected a JSON array of records, found %q", first)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBody{errors.New("unexpected data after the JSON value")}
	}
	return nil
}

func jsonBodyError(err error, where string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errBody{fmt.Errorf("JSON array ends early%s", where)}
	}
	return errBody{fmt.Errorf("invalid JSON%s: %w", where, err)}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

// PutResult answers a PUT of a roster entry or customer.
type PutResult struct {
	ID      string `json:"id"`
	Created bool   `json:"created"`
}

func (s *Server) putPerson(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readRecord(w, r)
	if !ok {
		return
	}
	p, err := event.DecodePerson(body)
	if err != nil {
		writeFieldError(w, err)
		return
	}
	s.answerPut(w, r, "roster entry", p.ID, item{person: &p})
}

func (s *Server) putSubject(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readRecord(w, r)
	if !ok {
		return
	}
	c, err := event.DecodeSubject(body)
	if err != nil {
		writeFieldError(w, err)
		return
	}
	s.answerPut(w, r, "customer", c.ID, item{subject: &c})
}

func (s *Server) answerPut(w http.ResponseWriter, r *http.Request, noun, id string, it item) {
	created, err := s.put(r.Context(), it)
	if err != nil {
		s.storeFailed(w, r, noun, err)
		return
	}
	kind := "subjects"
	if it.person != nil {
		kind = "roster"
	}
	s.metrics.records.WithLabelValues(kind, "accepted").Inc()
	addLog(r, "id", id, "created", created)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, PutResult{ID: id, Created: created})
}

// readRecord reads the single JSON object of a PUT and reconciles its id
// with the path's: a missing id is filled in, a different one is an error.
func (s *Server) readRecord(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if mediaType(r) != typeJSON {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send %s (one record)", r.Header.Get("Content-Type"), typeJSON))
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes (serve.max_body)", tooBig.Limit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return nil, false
	}
	id := r.PathValue("id")
	body = bytes.TrimSpace(body)
	var probe struct {
		ID *string `json:"id"`
	}
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &probe) != nil {
		return body, true // the decoder says precisely what is wrong
	}
	switch {
	case probe.ID == nil:
		quoted, _ := json.Marshal(id)
		rest := bytes.TrimSpace(body[1:])
		filled := append([]byte(`{"id":`), quoted...)
		if len(rest) > 0 && rest[0] != '}' {
			filled = append(filled, ',')
		}
		body = append(filled, rest...)
	case *probe.ID != id:
		writeJSON(w, http.StatusBadRequest, apiError{
			Error: fmt.Sprintf("id: %q in the body does not match %q in the path", *probe.ID, id),
			Field: "id", Reason: fmt.Sprintf("%q does not match the path's %q", *probe.ID, id),
		})
		return nil, false
	}
	return body, true
}

// FindingsPage is the JSON answer of GET /v1/findings.
type FindingsPage struct {
	Findings []json.RawMessage `json:"findings"`
	// Next is the cursor of the next page; absent on the last one.
	Next string `json:"next,omitempty"`
	// Cursor is where to continue later to get findings stored since.
	Cursor string `json:"cursor,omitempty"`
}

var findingParams = map[string]bool{"actor": true, "kind": true, "rule": true, "severity": true, "since": true, "until": true, "limit": true, "cursor": true}

func (s *Server) findings(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	for k := range v {
		if !findingParams[k] {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (want actor, kind, rule, severity, since, until, limit, cursor)", k))
			return
		}
	}
	q := store.FindingQuery{Actor: v.Get("actor"), Rule: v.Get("rule"), Cursor: v.Get("cursor")}
	bad := func(field, reason string) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: field + ": " + reason, Field: field, Reason: reason})
	}
	switch k := v.Get("kind"); k {
	case "", string(finding.KindAlert), string(finding.KindCase):
		q.Kind = finding.Kind(k)
	default:
		bad("kind", fmt.Sprintf("unknown value %q (want alert or case)", k))
		return
	}
	if sev := v.Get("severity"); sev != "" {
		var err error
		if q.MinSeverity, err = finding.ParseSeverity(sev); err != nil {
			bad("severity", err.Error())
			return
		}
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(p.name); s != "" {
			t, err := event.ParseTime(p.name, s)
			if err != nil {
				bad(p.name, fieldError(err).Reason)
				return
			}
			*p.t = t
		}
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			bad("limit", fmt.Sprintf("%q is not a number from 1 to %d", l, store.MaxLimit))
			return
		}
		q.Limit = n
	}
	page, err := s.store.Findings(r.Context(), q)
	if errors.Is(err, store.ErrCursor) {
		bad("cursor", "not a cursor this server issued")
		return
	}
	if err != nil {
		addLog(r, "err", err)
		writeError(w, http.StatusInternalServerError, "querying findings failed")
		return
	}
	lines := make([]json.RawMessage, len(page.Findings))
	for i, f := range page.Findings {
		lines[i] = findingJSON(f)
	}
	addLog(r, "findings", len(lines))
	if accepts(r, typeNDJSON) {
		if page.Next != "" {
			w.Header().Set("Custos-Next-Cursor", page.Next)
		}
		if page.Resume != "" {
			w.Header().Set("Custos-Cursor", page.Resume)
		}
		w.Header().Set("Content-Type", typeNDJSON)
		bw := bufio.NewWriter(w)
		for _, l := range lines {
			bw.Write(l)
			bw.WriteByte('\n')
		}
		bw.Flush()
		return
	}
	writeJSON(w, http.StatusOK, FindingsPage{Findings: lines, Next: page.Next, Cursor: page.Resume})
}

// findingJSON is a stored finding's line; a case also says when it first
// opened (its time is that of its latest version), an optional field.
func findingJSON(f store.StoredFinding) json.RawMessage {
	line := bytes.TrimSpace(f.Line)
	if f.Kind != finding.KindCase || len(line) < 2 || line[len(line)-1] != '}' {
		return line
	}
	out := make([]byte, 0, len(line)+48)
	out = append(out, line[:len(line)-1]...)
	out = append(out, `,"opened":"`...)
	out = f.Opened.UTC().AppendFormat(out, time.RFC3339Nano)
	return append(out, `"}`...)
}

// accepts reports whether the request's Accept header names mt.
func accepts(r *http.Request, mt string) bool {
	for _, a := range r.Header.Values("Accept") {
		for part := range bytes.SplitSeq([]byte(a), []byte(",")) {
			name, _, _ := bytes.Cut(part, []byte(";"))
			if string(bytes.TrimSpace(name)) == mt {
				return true
			}
		}
	}
	return false
}

// Health is the answer of GET /healthz.
type Health struct {
	Status string `json:"status"`
	// Lag is how many accepted records the engine has yet to process.
	Lag   int64  `json:"lag"`
	Error string `json:"error,omitempty"`
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ok", Lag: s.queued.Load() - s.processed.Load()}
	if err := s.store.Ping(r.Context()); err != nil {
		h.Status, h.Error = "unavailable", "database unavailable"
		addLog(r, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// ActionsPage is the answer of GET /v1/findings/{id}/actions and
// GET /v1/cases/{id}/actions.
type ActionsPage struct {
	Finding string `json:"finding"`
	// Actions are the response actions the finding triggered and, for a
	// case, those its alerts triggered, oldest first. Each names the
	// finding that triggered it.
	Actions []respond.Action `json:"actions"`
}

func (s *Server) actions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, ok, err := s.store.Finding(r.Context(), id)
	if err != nil {
		addLog(r, "err", err)
		writeError(w, http.StatusInternalServerError, "reading the finding failed")
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no finding with id %q", id))
		return
	}
	ids := []string{id}
	if f.Kind == finding.KindCase {
		var c struct {
			Alerts []string `json:"alerts"`
		}
		if err := json.Unmarshal(f.Line, &c); err != nil {
			addLog(r, "err", err)
			writeError(w, http.StatusInternalServerError, "reading the case failed")
			return
		}
		ids = append(ids, c.Alerts...)
	}
	as, err := s.store.ActionsFor(r.Context(), ids)
	if err != nil {
		addLog(r, "err", err)
		writeError(w, http.StatusInternalServerError, "reading the response actions failed")
		return
	}
	if as == nil {
		as = []respond.Action{}
	}
	addLog(r, "actions", len(as))
	writeJSON(w, http.StatusOK, ActionsPage{Finding: id, Actions: as})
}
