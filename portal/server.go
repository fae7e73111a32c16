// Package portal is the IB Key service: the HTTP API for devices
// (enrollment, activation, the device channel, approvals, sealed
// deliveries) and for relying parties (logins), on a [Store] (SQLite by
// default). [Server.MountWeb] mounts the Client Portal pages (package
// web, through [WebBackend]) at "/" beside the API.
//
// # Which to use
//
// [OpenSQLiteKeyFile] opens the store with the master key in its key file
// (made beside the database on the first start); [OpenSQLite] takes a
// [MasterKey] in hand. The store seals the devices' OCRA secrets and the
// service's identity under that key, so that a copy of the database alone
// gives none of them. [New] makes a [Server] from a [Config];
// [Server.Handler] is the http.Handler and [Server.HTTPServer] wraps it
// with timeouts. The admin functions ([CreateAccount], [UnlockAccount],
// [IssueTempPassword]) work on the store directly.
//
// What a client sees of an error (a stable code and a message) is kept
// apart from what the log gets; no secret (password, code, response, key)
// reaches the log.
package portal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/internal/ratelimit"
)

// apiPrefix is the path of the API; pages mount elsewhere.
const apiPrefix = "/api/"

// MaxBody caps a request body.
const MaxBody = 64 << 10

// Config configures a Server. Store is required; the rest have defaults.
type Config struct {
	Store    Store
	Now      func() time.Time // the clock: time.Now
	Rand     io.Reader        // crypto/rand.Reader
	Gateway  Gateway          // where activation codes go; required for enrollment
	Notifier Notifier         // told of new events besides the in-memory hub; may be nil
	Log      *slog.Logger     // slog.Default()
	Limits   verifier.Config
	Argon2   Argon2Params // for the dummy hash and password changes: DefaultArgon2
	Rate     RateLimit
	MaxWait  time.Duration // longest long-poll: 30s
	// CrossProcessPoll is how often a long-poll looks at the store for
	// events written by another process (admin commands): 2s.
	CrossProcessPoll time.Duration
}

// Server is the IB Key service.
type Server struct {
	cfg       Config
	store     Store
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	hub       *Hub
	key       ed25519.PrivateKey
	dummyHash string
	ipLimit   *ratelimit.Limiter
	userLimit *ratelimit.Limiter
	// sessionLimit caps Session ID exchanges per client address.
	sessionLimit *ratelimit.Limiter
	mux          *http.ServeMux
}

// New makes a Server, creating the service's Ed25519 identity in the store
// on first start.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("portal: Config.Store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Argon2.Memory == 0 {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.CrossProcessPoll <= 0 {
		cfg.CrossProcessPoll = 2 * time.Second
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	rl := cfg.Rate.withDefaults()
	key, err := ServiceKey(ctx, cfg.Store, cfg.Rand)
	if err != nil {
		return nil, err
	}
	dummy, err := HashPassword(cfg.Rand, "no such user", cfg.Argon2)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, now: cfg.Now, rand: cfg.Rand, log: cfg.Log,
		hub: NewHub(), key: key, dummyHash: dummy,
		ipLimit:   ratelimit.New(rl.PerIP, rl.IPBurst, rl.Disabled),
		userLimit: ratelimit.New(rl.PerAccount, rl.AccountBurst, rl.Disabled),
		// Session ID exchanges: as many per address as password checks per
		// account (12 a minute, burst 10 by default).
		sessionLimit: ratelimit.New(rl.PerAccount, rl.AccountBurst, rl.Disabled),
	}
	s.mux = s.routes()
	return s, nil
}

// ServiceKey returns the service's Ed25519 identity from the store,
// creating it on first use.
func ServiceKey(ctx context.Context, st Store, rnd io.Reader) (ed25519.PrivateKey, error) {
	var key ed25519.PrivateKey
	err := st.Update(ctx, func(tx Tx) error {
		seed, err := tx.Meta("service_key")
		if errors.Is(err, ErrNotFound) {
			seed = make([]byte, ed25519.SeedSize)
			if _, err := io.ReadFull(rnd, seed); err != nil {
				return err
			}
			if err := tx.PutMeta("service_key", seed); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if len(seed) != ed25519.SeedSize {
			return errors.New("portal: stored service key is damaged")
		}
		key = ed25519.NewKeyFromSeed(seed)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portal: service key: %w", err)
	}
	return key, nil
}

// PublicKey returns the service's identity.
func (s *Server) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Handler returns the service's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Mux returns the mux that Handler serves, so that more pages can be
// mounted on it before serving.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// HTTPServer returns an http.Server for addr serving Handler, with
// timeouts on every phase of a request.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.cfg.MaxWait + 15*time.Second,
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
	var e *apiError
	attrs := []any{"method", r.Method, "route", pattern, "status", sw.status, "ms", time.Since(start).Milliseconds()}
	if le, ok := r.Context().Value(errKey{}).(*errBox); ok && le.err != nil {
		if errors.As(le.err, &e) && e.err != nil {
			attrs = append(attrs, "err", e.err.Error())
		} else if !errors.As(le.err, &e) {
			attrs = append(attrs, "err", le.err.Error())
		}
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

type errBox struct{ err error }

// apiError is an error answer: status, stable code and message go to the
// client; err (internal detail) goes only to the log.
type apiError struct {
	status       int
	code, msg    string
	attemptsLeft *int
	err          error
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.code + ": " + e.err.Error()
	}
	return e.code
}

func errf(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func internal(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: protocol.CodeInternal, msg: "internal error", err: err}
}

// apiHandler turns a handler returning an error into an http.Handler that
// writes the error as JSON.
func apiHandler(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		box := &errBox{}
		r = r.WithContext(context.WithValue(r.Context(), errKey{}, box))
		if err := fn(w, r); err != nil {
			var e *apiError
			if !errors.As(err, &e) {
				e = internal(err)
			}
			box.err = e
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

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var errRate = errf(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many requests; try again later")

func (s *Server) limitIP(r *http.Request) error { return s.allowIP(r.Context(), clientIP(r)) }

func intp(n int) *int { return &n }

func (s *Server) handleService(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"service_key": []byte(s.PublicKey()),
		"suites":      []string{protocol.SuiteIBKey, protocol.SuiteDSC, protocol.SuiteApprove},
	})
	return nil
}

// notify wakes the device's long-polls and the extra Notifier.
func (s *Server) notify(deviceID string) {
	s.hub.Notify(deviceID)
	if s.cfg.Notifier != nil {
		s.cfg.Notifier.Notify(deviceID)
	}
}
