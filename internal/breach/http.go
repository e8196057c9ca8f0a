package breach

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

// Source is everything the breach API reads; the store is one.
type Source interface {
	ExposureSource
	AttributionSource
}

// API serves GET /v1/exposure and POST /v1/attribution. Authentication is
// the mounting server's job.
type API struct {
	Source  Source
	Windows engine.Windows
	// Explainer is AttributionQuery.Explainer.
	Explainer Explainer
	Logger    *slog.Logger
}

// Routes returns the API's patterns and handlers (net/http 1.22 patterns).
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /v1/exposure":     http.HandlerFunc(a.exposure),
		"POST /v1/attribution": http.HandlerFunc(a.attribution),
	}
}

func (a *API) exposure(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, ok := formatParam(w, q.Get("format"))
	if !ok {
		return
	}
	win, err := ParseWindow(q.Get("since"), q.Get("until"))
	if err != nil {
		badRequest(w, "", err)
		return
	}
	detail, err := boolParam(q.Get("detail"))
	if err != nil {
		badRequest(w, "detail", err)
		return
	}
	eq := ExposureQuery{Scope: Scope{Actor: q.Get("actor"), Vendor: q.Get("vendor"), Site: q.Get("site"), Team: q.Get("team")},
		Window: win, Detail: detail}
	if err := eq.Scope.Validate(); err != nil {
		badRequest(w, "", err)
		return
	}
	x, err := Exposures(r.Context(), a.Source, eq, a.Windows)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.write(w, r, format, func(out io.Writer) error { return WriteExposure(out, x, format) })
}

// attributionRequest is the JSON body of POST /v1/attribution. A body of
// another type (text/plain, text/csv, application/x-ndjson) is the leaked
// list itself, read like the CLI's file, with the options as query
// parameters.
type attributionRequest struct {
	Customers []string `json:"customers"`
	Since     string   `json:"since"`
	Until     string   `json:"until"`
	Top       int      `json:"top"`
	Evidence  int      `json:"evidence"`
}

func (a *API) attribution(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, ok := formatParam(w, q.Get("format"))
	if !ok {
		return
	}
	req := attributionRequest{Since: q.Get("since"), Until: q.Get("until")}
	var err error
	for _, p := range []struct {
		name string
		dst  *int
	}{{"top", &req.Top}, {"evidence", &req.Evidence}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = strconv.Atoi(v); err != nil || *p.dst < 0 {
				badRequest(w, p.name, fmt.Errorf("%s: %q is not a non-negative integer", p.name, v))
				return
			}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit), "", "")
			return
		}
		badRequest(w, "", fmt.Errorf("reading the body: %w", err))
		return
	}
	var rejected []*event.RecordError
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			badRequest(w, "", fmt.Errorf("body: %w", err))
			return
		}
	} else {
		req.Customers, rejected, err = ReadLeaked(bytes.NewReader(body), "body", q.Get("column"))
		if err != nil {
			badRequest(w, "", err)
			return
		}
	}
	if len(rejected) > 0 {
		// A list with bad lines is still answered from its good ones; the
		// answer says how many were left out, and the log says which.
		w.Header().Set("X-Custos-Rejected", strconv.Itoa(len(rejected)))
		a.log().Warn("attribution: rejected lines in the leaked list", "count", len(rejected), "first", rejected[0].Error())
	}
	win, err := ParseWindow(req.Since, req.Until)
	if err != nil {
		badRequest(w, "", err)
		return
	}
	if len(req.Customers) > MaxLeaked {
		badRequest(w, "customers", fmt.Errorf("%d customer ids, more than the %d attribution handles", len(req.Customers), MaxLeaked))
		return
	}
	res, err := Attribute(r.Context(), a.Source, AttributionQuery{Customers: req.Customers, Window: win, Top: req.Top, Evidence: req.Evidence, Explainer: a.Explainer}, a.Windows)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.write(w, r, format, func(out io.Writer) error { return WriteAttribution(out, res, format) })
}

func (a *API) write(w http.ResponseWriter, r *http.Request, format string, fn func(io.Writer) error) {
	var b bytes.Buffer
	if err := fn(&b); err != nil {
		a.fail(w, r, err)
		return
	}
	switch format {
	case FormatCSV:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	case FormatTable:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/json")
	}
	w.Write(b.Bytes())
}

// fail answers a query error: the caller's mistake (a scope with no one in
// it, an empty list) is a 400; anything else is the server's, logged.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ue *userError
	switch {
	case errors.As(err, &ue):
		badRequest(w, "", err)
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "request cancelled", "", "")
	default:
		a.log().Error("breach query failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "query failed: "+err.Error(), "", "")
	}
}

func (a *API) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// formatParam reads the format parameter (JSON by default) and answers 400
// for an unknown one.
func formatParam(w http.ResponseWriter, f string) (string, bool) {
	if f == "" {
		return FormatJSON, true
	}
	if err := CheckFormat(f); err != nil {
		badRequest(w, "format", err)
		return "", false
	}
	return f, true
}

func boolParam(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return b, nil
}

func badRequest(w http.ResponseWriter, field string, err error) {
	writeError(w, http.StatusBadRequest, err.Error(), field, "")
}

// writeError answers with the API's error body, {"error": ...}.
func writeError(w http.ResponseWriter, status int, msg, field, reason string) {
	b, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Field  string `json:"field,omitempty"`
		Reason string `json:"reason,omitempty"`
	}{msg, field, reason})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// userError marks an error in what the caller asked, as opposed to one
// reading the store.
type userError struct{ err error }

func (e *userError) Error() string { return e.err.Error() }
func (e *userError) Unwrap() error { return e.err }

func userErrorf(format string, args ...any) error {
	return &userError{fmt.Errorf(format, args...)}
}

// IsUserError reports whether err is about the question asked (an unknown
// vendor, a window that ends before it starts) rather than about reading
// the store, so a page can show it as a message.
func IsUserError(err error) bool {
	var u *userError
	return errors.As(err, &u)
}
