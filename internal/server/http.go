package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
)

// Handler returns the API. Every /v1 endpoint needs the bearer token;
// /healthz does not, nor /metrics unless MetricsAuth is set.
func (s *Server) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/events", s.batch("events", decodeEvent))
	api.HandleFunc("POST /v1/tickets", s.batch("tickets", decodeTicket))
	api.HandleFunc("PUT /v1/roster/{id}", s.putPerson)
	api.HandleFunc("PUT /v1/subjects/{id}", s.putSubject)
	api.HandleFunc("GET /v1/findings", s.findings)
	api.HandleFunc("GET /v1/findings/{id}/actions", s.actions)
	api.HandleFunc("GET /v1/cases/{id}/actions", s.actions)
	for pattern, h := range s.opts.Routes {
		api.Handle(pattern, s.readsStore(h))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	metrics := s.metrics.handler(s)
	if s.opts.MetricsAuth {
		metrics = s.auth(metrics)
	}
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/v1/", s.auth(api))
	if s.opts.Console != nil {
		mux.Handle("/", s.readsStore(s.opts.Console))
	}
	return s.logRequests(s.limitBody(mux))
}

// readsStore makes next, which answers from the store, wait for the store
// to hold what was acknowledged from the ingest journal before it.
func (s *Server) readsStore(next http.Handler) http.Handler {
	if s.opts.Journal == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.caughtUp(r.Context())
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body at MaxBody. It wraps the server's own
// ResponseWriter so that exceeding the cap also closes the connection.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
		next.ServeHTTP(w, r)
	})
}

// auth checks the bearer token. Both sides are hashed first so the
// constant-time comparison does not leak the token's length either.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="custos"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
			return
		}
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="custos", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logAttrs lets a handler add key/values to its request's log line.
type logAttrs struct{ kv []any }

type logKey struct{}

func addLog(r *http.Request, kv ...any) {
	if a, ok := r.Context().Value(logKey{}).(*logAttrs); ok {
		a.kv = append(a.kv, kv...)
	}
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one log line per request, with what the handler added.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		attrs := &logAttrs{}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), logKey{}, attrs)))
		level := slog.LevelInfo
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case r.URL.Path == "/healthz" || r.URL.Path == "/metrics":
			level = slog.LevelDebug
		}
		kv := append([]any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "bytes", rec.bytes,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr}, attrs.kv...)
		s.log.Log(r.Context(), level, "request", kv...)
	})
}

// mediaType returns the request's media type, lower case, without
// parameters; "" if absent or unparsable.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// apiError is the body of every error response.
type apiError struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// writeFieldError answers 400 for one invalid record.
func writeFieldError(w http.ResponseWriter, err error) {
	e := apiError{Error: err.Error()}
	if fe := fieldError(err); fe != nil {
		e.Field, e.Reason = fe.Field, fe.Reason
	}
	writeJSON(w, http.StatusBadRequest, e)
}

func fieldError(err error) *event.FieldError {
	var fe *event.FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}
