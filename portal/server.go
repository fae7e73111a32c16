// Package portal is the JSON API of the IB Key service (docs/PROTOCOL.md):
// the endpoints for devices (enrollment, activation, the device channel,
// approvals, sealed deliveries) and for relying parties (logins), as one
// transport over the service's core (package core). [Server.MountWeb]
// mounts the other transport, the Client Portal's pages (package web),
// at "/" beside the API.
//
// # Which to use
//
// [New] makes a [Server] on a core.Service; [Server.Handler] is the
// http.Handler and [Server.HTTPServer] wraps it with timeouts. Each
// handler reads its request, calls one operation of the core and writes
// its result; the core's domain errors become statuses, stable codes and
// messages through one table (errors.go).
//
// What a client sees of an error (a stable code and a message) is kept
// apart from what the log gets; no secret (password, code, response, key)
// reaches the log.
package portal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/internal/clientip"
	"ibkey/portal/core"
)

// apiPrefix is the path of the API; pages mount elsewhere.
const apiPrefix = "/api/"

// MaxBody caps a request body.
const MaxBody = 64 << 10

// Server is the JSON API of the service.
type Server struct {
	svc *core.Service
	log *slog.Logger
	ip  clientip.Resolver
	mux *http.ServeMux
}

// Options configure a Server.
type Options struct {
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the client (the address the per-address limits count); none by
	// default.
	TrustedProxies clientip.Resolver
}

// New makes the API on svc.
func New(svc *core.Service, opt Options) *Server {
	s := &Server{svc: svc, log: svc.Log(), ip: opt.TrustedProxies}
	s.mux = s.routes()
	return s
}

// Service is the core the API serves.
func (s *Server) Service() *core.Service { return s.svc }

// Handler returns the service's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Mux returns the mux that Handler serves, so that more pages can be
// mounted on it before serving.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// ClientIP is the address of the client of r, as the limits count it.
func (s *Server) ClientIP(r *http.Request) string { return s.ip.IP(r) }

// HTTPServer returns an http.Server for addr serving Handler, with
// timeouts on every phase of a request.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.svc.MaxWait() + 15*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		m.Handle(pattern, apiHandler(fn))
	}
	h("POST /api/v1/enrollments", s.handleEnroll)
	h("POST /api/v1/enrollments/session", s.handleEnrollSession)
	h("POST /api/v1/enrollments/{id}/resend", s.handleResend)
	h("POST /api/v1/enrollments/{id}/activate", s.handleActivate)
	h("POST /api/v1/devices/{id}/confirm", s.handleConfirm)
	h("GET /api/v1/devices/{id}/events", s.handleEvents)
	h("POST /api/v1/devices/{id}/approvals", s.handleApproval)
	h("POST /api/v1/devices/{id}/inbox/challenge", s.handleInboxChallenge)
	h("POST /api/v1/devices/{id}/inbox", s.handleInbox)
	h("POST /api/v1/devices/{id}/pin-challenge", s.handlePINChallenge)
	h("POST /api/v1/devices/{id}/pin-proof", s.handlePINProof)
	h("POST /api/v1/logins", s.handleLogin)
	h("POST /api/v1/logins/{id}/response", s.handleResponse)
	h("GET /api/v1/logins/{id}", s.handleLoginStatus)
	h("POST /api/v1/logins/{id}/password", s.handlePassword)
	h("GET /api/v1/service", s.handleService)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	// Unknown API paths answer in JSON even when pages are mounted at "/".
	m.HandleFunc(apiPrefix, func(http.ResponseWriter, *http.Request) {})
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// serveHTTP caps the body, answers unknown routes in JSON and logs one
// line per request: method, route pattern (no ids, no query), status, time.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	sw := &statusWriter{ResponseWriter: w}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.TLS != nil {
		// Served over TLS: browsers and clients that honour HSTS never
		// come back over plain HTTP (the pages set it too, see web.Options).
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	_, pattern := s.mux.Handler(r)
	box := &errBox{}
	r = r.WithContext(context.WithValue(r.Context(), errKey{}, box))
	if pattern == "" || pattern == apiPrefix {
		if allow := s.allowed(r); allow != "" {
			sw.Header().Set("Allow", allow)
			writeError(sw, errf(http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint takes "+allow))
		} else {
			writeError(sw, errf(http.StatusNotFound, protocol.CodeNotFound, "no such endpoint"))
		}
	} else {
		s.mux.ServeHTTP(sw, r)
	}
	attrs := []any{"method", r.Method, "route", pattern, "status", sw.status, "ms", time.Since(start).Milliseconds()}
	if box.err != nil {
		attrs = append(attrs, "err", box.err.Error())
	}
	s.log.Info("http", attrs...)
}

// allowed lists the methods for which r's path has a route.
func (s *Server) allowed(r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := s.mux.Handler(r2); p != "" && p != apiPrefix && p != "/" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

type errKey struct{}

// errBox carries a request's internal error to its log line.
type errBox struct{ err error }

// apiHandler turns a handler returning an error into an http.Handler that
// writes the error as JSON (see apiErrorOf).
func apiHandler(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			e := apiErrorOf(err)
			if box, ok := r.Context().Value(errKey{}).(*errBox); ok && e.err != nil {
				box.err = e.err
			}
			writeError(w, e)
		}
	})
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, protocol.ErrorBody{Error: e.code, Message: e.msg, AttemptsLeft: e.attemptsLeft})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decodeJSON reads one JSON object from body into v. A field v does not
// have is refused (400): a client that sends one expects something the
// service would not do.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf(http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, "request body too large")
		}
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if len(field) > 66 {
				field = field[:63] + "..."
			}
			return errf(http.StatusBadRequest, protocol.CodeBadRequest, "request body has an unknown field "+strings.ToValidUTF8(field, ""))
		}
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "request body is not the JSON expected")
	}
	if dec.More() {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "request body has more than one JSON value")
	}
	return nil
}
