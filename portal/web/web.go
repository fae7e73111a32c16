package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ibkey/internal/ratelimit"
	"ibkey/portal/core"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the portal. The zero value is usable: plain HTTP, no
// outbox page, the real clock and crypto/rand.
type Options struct {
	// Secure says the portal is served over TLS: session cookies get the
	// Secure flag and the __Host- prefix, and responses carry HSTS.
	Secure bool
	// DevOutbox serves the developer outbox page at /outbox, to loopback
	// clients only, so that someone trying the demo can read the codes.
	DevOutbox bool
	// DevOutboxPublic serves the outbox page to any client, not only to
	// loopback ones (a demo in a container, behind a port mapping).
	DevOutboxPublic bool
	// WebApp says that the service serves the web app at /app/ (ibkey
	// serve --web): the Add a device page's QR code and link then open it
	// with the Session ID.
	WebApp bool
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Rand is the source of session ids and tokens; nil means crypto/rand.
	Rand io.Reader
	// Log gets the faults that the browser only sees as "something went
	// wrong"; nil discards them.
	Log *slog.Logger

	// SessionIdle ends a session unused for this long (default 15 minutes);
	// SessionMax ends any session this long after it began or after login
	// (default 8 hours). MaxSessions caps the sessions kept of each kind
	// (default 10000): logged-in sessions (or choosing a new password) and
	// sessions of a login under way are capped apart, so that neither
	// evicts the other. Visitors who have not passed a password have no
	// session at all.
	SessionIdle time.Duration
	SessionMax  time.Duration
	MaxSessions int
	// PageRate and PageBurst limit the pages (the static files aside) per
	// client address: PageRate requests a second (default 10), in bursts
	// of PageBurst (default 50). Over it a page is 429.
	PageRate  float64
	PageBurst float64
	// OnRateLimit, when set, is told of a client address over PageRate, at
	// most once a minute per address, by the default limiter.
	OnRateLimit func(ip string)
	// AllowPage, when set, takes the limiter's place: it takes a token of
	// the address's bucket (rate a second, bursts of burst) and returns
	// nil, an error that unwraps to core.ErrRateLimited, or a fault. The
	// service's (core.Service.AllowPage) keeps the buckets in its store,
	// shared by its instances, and audits the refusals itself.
	AllowPage func(ctx context.Context, ip string, rate, burst float64) error
	// StepUp is how long a re-verification allows its task (default 5 minutes).
	StepUp time.Duration

	// Sessions keeps the sessions; nil keeps them in memory (one
	// process). The service's (core.PortalSessions) keeps them in its
	// store, so that every instance serves every session.
	Sessions SessionStore
	// CSRFKey signs the CSRF tokens of visitors without a session: every
	// instance of one service needs the same (core.Service.PortalKey).
	// Nil is a random key of this process.
	CSRFKey []byte
	// ClientIP is the browser's address as the portal sees it; nil is the
	// peer's address (forwarding headers are not trusted).
	ClientIP func(*http.Request) string
	// PublicURL is the service's URL in enrollment links; "" takes the
	// scheme and host of the browser's request.
	PublicURL string
}

// maxBody caps every request body: the portal's forms are small.
const maxBody = 16 << 10

// maxUserAgent caps the User-Agent passed to the Backend.
const maxUserAgent = 256

// csp allows nothing but the portal's own stylesheet, script and images:
// no inline script or style, no framing, forms only to the portal.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type handler struct {
	b        Backend
	opt      Options
	now      func() time.Time
	sessions *sessions
	pages    map[string]*template.Template
	static   http.Handler
	mux      *http.ServeMux
	log      *slog.Logger
	cookie   string // the session cookie's name
	anon     string // the name of an anonymous visitor's CSRF cookie
	// csrfKey signs the CSRF tokens of anonymous visitors: a token is
	// HMAC(csrfKey, the nonce in their cookie), so that the login form
	// needs no state at the portal.
	csrfKey   []byte
	pageLimit *ratelimit.Limiter
}

// New returns the Client Portal pages on b. Mount it at the root of the
// service's mux: its paths do not meet the API's /api/.
//
//	GET  /                    to /account or /login
//	GET  /login, POST /login  username and password
//	GET  /login/verify        the challenge and the push, one page
//	POST /login/verify        the response string
//	GET  /login/status        JSON {"status": ...} for the page's script
//	POST /login/continue      after the push was answered
//	GET  /login/new-password  choose a new password after logging in with a
//	POST                      temporary one; until then every page leads here
//	GET  /account             the logged-in page
//	POST /logout
//	GET  /stepup?for=...      step-up before a sensitive task; POST /stepup
//	GET  /password, POST      change the password (after step-up)
//	GET  /device              add a device: QR code and Session ID (after step-up)
//	GET  /device/qr.png       the QR code
//	GET  /resend, POST        "Didn't receive a security code?"
//	GET  /outbox              the developer outbox (Options.DevOutbox)
//	GET  /static/...          stylesheet and script
func New(b Backend, opt Options) http.Handler {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = 15 * time.Minute
	}
	if opt.SessionMax <= 0 {
		opt.SessionMax = 8 * time.Hour
	}
	if opt.MaxSessions <= 0 {
		opt.MaxSessions = 10000
	}
	if opt.StepUp <= 0 {
		opt.StepUp = 5 * time.Minute
	}
	if opt.PageRate <= 0 {
		opt.PageRate = 10
	}
	if opt.PageBurst <= 0 {
		opt.PageBurst = 50
	}
	csrfKey := opt.CSRFKey
	if len(csrfKey) == 0 {
		csrfKey = make([]byte, 32)
		if _, err := io.ReadFull(opt.Rand, csrfKey); err != nil {
			panic(fmt.Sprintf("web: random: %v", err)) // crypto/rand does not fail
		}
	}
	if opt.Sessions == nil {
		opt.Sessions = newMemSessions()
	}
	if opt.ClientIP == nil {
		opt.ClientIP = peerIP
	}
	opt.PublicURL = strings.TrimSuffix(opt.PublicURL, "/")
	h := &handler{
		b:        b,
		opt:      opt,
		now:      opt.Clock,
		sessions: &sessions{st: opt.Sessions, rand: opt.Rand, idle: opt.SessionIdle, max: opt.SessionMax, limit: opt.MaxSessions},
		pages:    parsePages(),
		log:      opt.Log,
		cookie:   "ibkey_session",
		anon:     "ibkey_csrf",
		csrfKey:  csrfKey,
	}
	if opt.AllowPage == nil {
		h.pageLimit = ratelimit.New(opt.PageRate, opt.PageBurst, false)
	}
	if opt.Secure {
		h.cookie = "__Host-ibkey_session"
		h.anon = "__Host-ibkey_csrf"
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(static))
	h.mux = h.routes()
	return h
}

func (h *handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", h.page(h.home))
	m.HandleFunc("GET /login", h.page(h.loginPage))
	m.HandleFunc("POST /login", h.form(h.loginSubmit))
	m.HandleFunc("GET /login/verify", h.page(h.verifyPage))
	m.HandleFunc("POST /login/verify", h.form(h.verifySubmit))
	m.HandleFunc("GET /login/status", h.page(h.status))
	m.HandleFunc("POST /login/continue", h.form(h.verifyContinue))
	m.HandleFunc("GET /login/new-password", h.page(h.newPasswordPage))
	m.HandleFunc("POST /login/new-password", h.form(h.newPasswordSubmit))
	m.HandleFunc("GET /account", h.page(h.auth(h.account)))
	m.HandleFunc("POST /logout", h.form(h.logout))
	m.HandleFunc("GET /stepup", h.page(h.auth(h.stepUpPage)))
	m.HandleFunc("POST /stepup", h.form(h.auth(h.stepUpSubmit)))
	m.HandleFunc("GET /password", h.page(h.auth(h.passwordPage)))
	m.HandleFunc("POST /password", h.form(h.auth(h.passwordSubmit)))
	m.HandleFunc("GET /device", h.page(h.auth(h.devicePage)))
	m.HandleFunc("GET /device/qr.png", h.page(h.auth(h.deviceQR)))
	m.HandleFunc("GET /resend", h.page(h.resendPage))
	m.HandleFunc("POST /resend", h.form(h.resendSubmit))
	if h.opt.DevOutbox {
		m.HandleFunc("GET /outbox", h.page(h.outbox))
	}
	m.HandleFunc("GET /static/", h.serveStatic)
	return m
}

// ServeHTTP sets the security headers of every response, caps the body and
// routes the request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if h.opt.Secure {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	h.static.ServeHTTP(w, r)
}

// request is one request with its session.
type request struct {
	w http.ResponseWriter
	r *http.Request
	s session
	// anon says that s is not kept at the portal: a visitor with no
	// session, whose CSRF token is signed into a cookie. It is kept (see
	// redirect) only once there is something to keep, after a password.
	anon bool
}

// limited refuses a request over the per-address page rate, and reports
// whether it did (or failed).
func (h *handler) limited(w http.ResponseWriter, r *http.Request) bool {
	ip := h.opt.ClientIP(r)
	if h.opt.AllowPage != nil {
		err := h.opt.AllowPage(r.Context(), ip, h.opt.PageRate, h.opt.PageBurst)
		switch {
		case err == nil:
			return false
		case !errors.Is(err, core.ErrRateLimited):
			h.fault(w, r, err)
			return true
		}
	} else {
		ok, report := h.pageLimit.Take(ip, h.now())
		if ok {
			return false
		}
		if report && h.opt.OnRateLimit != nil {
			h.opt.OnRateLimit(ip)
		}
	}
	w.Header().Set("Retry-After", "10")
	h.problem(w, r, http.StatusTooManyRequests, "Too many requests", "This address asked for too many pages at once. Wait a few seconds, then try again.")
	return true
}

// session loads r's live session.
func (h *handler) session(r *http.Request, now time.Time) (session, bool, error) {
	c, err := r.Cookie(h.cookie)
	if err != nil {
		return session{}, false, nil
	}
	return h.sessions.get(r.Context(), c.Value, now)
}

// anonToken is the CSRF token of an anonymous visitor: the HMAC of the
// nonce in their CSRF cookie. With set, a visitor without a good cookie
// gets a new nonce; else ok is false for them.
func (h *handler) anonToken(w http.ResponseWriter, r *http.Request, set bool) (token string, ok bool) {
	var nonce []byte
	if c, err := r.Cookie(h.anon); err == nil && len(c.Value) == 43 {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			nonce = b
		}
	}
	if nonce == nil {
		if !set {
			return "", false
		}
		nonce = make([]byte, 32)
		if _, err := io.ReadFull(h.opt.Rand, nonce); err != nil {
			return "", false
		}
		http.SetCookie(w, &http.Cookie{
			Name: h.anon, Value: base64.RawURLEncoding.EncodeToString(nonce), Path: "/",
			HttpOnly: true, Secure: h.opt.Secure, SameSite: http.SameSiteStrictMode,
		})
	}
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte("ibkey-csrf-v1"))
	m.Write(nonce)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), true
}

// page loads the session of a GET request. A visitor without one gets no
// session, only a signed CSRF token for the page's forms.
func (h *handler) page(fn func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if h.limited(w, r) {
			return
		}
		s, ok, err := h.session(r, h.now())
		if err != nil {
			h.fault(w, r, err)
			return
		}
		q := &request{w: w, r: r, s: s, anon: !ok}
		if !ok {
			token, ok := h.anonToken(w, r, true)
			if !ok {
				h.fault(w, r, errors.New("web: no CSRF nonce"))
				return
			}
			q.s = session{csrf: token}
		}
		if h.mustChange(q) {
			return
		}
		fn(q)
	}
}

// form checks a POST: a live session, a same-origin request, a body within
// the cap and the session's CSRF token. Anything else is refused with 403
// before fn runs.
func (h *handler) form(fn func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.problem(w, r, http.StatusRequestEntityTooLarge, "Too much data", "The form sent more than the portal accepts.")
				return
			}
			h.problem(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		if !sameOrigin(r) {
			h.problem(w, r, http.StatusForbidden, "Refused", "The form did not come from this site.")
			return
		}
		if h.limited(w, r) {
			return
		}
		s, ok, err := h.session(r, h.now())
		if err != nil {
			h.fault(w, r, err)
			return
		}
		anon := !ok
		if anon {
			s = session{}
			s.csrf, ok = h.anonToken(w, r, false)
		}
		token := r.PostForm.Get("csrf")
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) != 1 {
			h.problem(w, r, http.StatusForbidden, "Your session has expired",
				"The page was open too long or came from elsewhere. Go back to the login page and start again.")
			return
		}
		q := &request{w: w, r: r, s: s, anon: anon}
		if h.mustChange(q) {
			return
		}
		fn(q)
	}
}

// mustChange sends a session that must choose a new password (a login
// approved with a temporary password) to the new password page from
// anywhere but that page and logging out, and reports whether it did.
func (h *handler) mustChange(q *request) bool {
	if q.s.forced == nil {
		return false
	}
	switch q.r.URL.Path {
	case "/login/new-password", "/logout":
		return false
	}
	http.Redirect(q.w, q.r, "/login/new-password", http.StatusSeeOther)
	return true
}

// sameOrigin refuses a request whose Origin (sent by browsers on POST) is
// another site. Requests without Origin rely on the CSRF token alone.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return u.Host == r.Host
}

// auth lets only a logged-in session through; others go to the login page.
func (h *handler) auth(fn func(*request)) func(*request) {
	return func(q *request) {
		if q.s.user == "" {
			if q.r.Method == http.MethodPost {
				h.problem(q.w, q.r, http.StatusForbidden, "You are not logged in", "Log in again to continue.")
				return
			}
			http.Redirect(q.w, q.r, "/login", http.StatusSeeOther)
			return
		}
		fn(q)
	}
}

func (h *handler) setCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.opt.Secure,
		SameSite: http.SameSiteStrictMode,
	})
}

func (h *handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   h.opt.Secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// peerIP is the address of the request's peer. Forwarding headers are not
// trusted.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *handler) isLoopback(r *http.Request) bool {
	ip := net.ParseIP(h.opt.ClientIP(r))
	return ip != nil && ip.IsLoopback()
}

func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	return ua
}

// view is the data of every page; each page fills what it uses.
type view struct {
	Title     string
	CSRF      string
	User      string
	Flash     *flash
	DevOutbox bool
	// DevOutboxPublic serves the outbox page to any client, not only to
	// loopback ones (a demo in a container, behind a port mapping).
	DevOutboxPublic bool

	Username    string // prefilled username
	Error       string // this page's error
	Notice      string // this page's good news
	Pending     *pendingLogin
	Purpose     core.Purpose
	Task        string // the task a step-up is for, for people
	Enrollment  *Enrollment
	AppLink     string // the web app's link of Enrollment, when it is served
	Messages    []core.Message
	Channel     Channel
	LockedUntil time.Time
	Now         time.Time
	MinPassword int
	Deadline    time.Time // when a temporary password's change must be done
}

// render writes page name with v, taking the session's flash. It renders
// into a buffer first, so that a template error is a clean 500.
func (h *handler) render(q *request, status int, name string, v view) {
	v.CSRF = q.s.csrf
	v.User = q.s.user
	if v.User == "" && q.s.forced != nil {
		v.User = q.s.forced.Username // for the header's Log out
	}
	v.DevOutbox = h.opt.DevOutbox
	v.Now = h.now()
	if v.Flash == nil && q.s.flash != nil {
		v.Flash = q.s.flash
		q.s.flash = nil
		h.save(q)
	}
	h.write(q.w, q.r, status, name, v)
}

func (h *handler) write(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// problem renders the error page, for requests that have no usable session.
func (h *handler) problem(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	h.write(w, r, status, "problem", view{Title: title, Error: text, DevOutbox: h.opt.DevOutbox})
}

// fault logs an unexpected error and tells the browser only that something
// went wrong.
func (h *handler) fault(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("web: fault", "method", r.Method, "path", r.URL.Path, "err", err)
	h.problem(w, r, http.StatusInternalServerError, "Something went wrong",
		"The portal could not finish this. Try again in a moment.")
}

// redirect saves the session and sends the browser to path, with a flash
// message for the next page when f is not nil. An anonymous visitor's
// session is kept from here on when it holds something (a login under
// way, after its password): it gets an id and a CSRF token of its own.
func (h *handler) redirect(q *request, path string, f *flash) {
	if f != nil {
		q.s.flash = f
	}
	if q.anon {
		if q.s.pending != nil || q.s.forced != nil || q.s.flash != nil {
			s, id, err := h.sessions.rotate(q.r.Context(), q.s, h.now())
			if err != nil {
				h.fault(q.w, q.r, err)
				return
			}
			h.setCookie(q.w, id)
			q.s, q.anon = s, false
		}
	} else if err := h.sessions.save(q.r.Context(), q.s); err != nil {
		h.fault(q.w, q.r, err)
		return
	}
	http.Redirect(q.w, q.r, path, http.StatusSeeOther)
}

// save saves q's session when it has one; a failure goes to the log (the
// page is written already, or about to be).
func (h *handler) save(q *request) {
	if q.anon {
		return
	}
	if err := h.sessions.save(q.r.Context(), q.s); err != nil {
		h.log.Error("web: save session", "err", err)
	}
}

// rotate gives q's session a new id and CSRF token, and sets its cookie.
func (h *handler) rotate(q *request) error {
	s, id, err := h.sessions.rotate(q.r.Context(), q.s, h.now())
	if err != nil {
		return err
	}
	h.setCookie(q.w, id)
	q.s, q.anon = s, false
	return nil
}

// remove ends q's session and its cookie.
func (h *handler) remove(q *request) {
	if err := h.sessions.remove(q.r.Context(), q.s); err != nil {
		h.log.Error("web: remove session", "err", err)
	}
	h.clearCookie(q.w)
	q.s, q.anon = session{}, true
}

// requestBase is the scheme and host the browser used, or "" when the Host
// header is not a plain host[:port].
func requestBase(r *http.Request, secure bool) string {
	scheme := "http"
	if secure || r.TLS != nil {
		scheme = "https"
	}
	u, err := url.Parse(scheme + "://" + r.Host)
	if err != nil || r.Host == "" || u.Host != r.Host || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	return scheme + "://" + r.Host
}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"group":    group,
		"clock":    func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
		"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"minutes": func(d time.Duration) int {
			return int((d + time.Minute - 1) / time.Minute)
		},
		"until": func(t, now time.Time) time.Duration { return t.Sub(now) },
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := make(map[string]*template.Template)
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return pages
}

// group writes a code in groups for reading: "123456" as "123 456",
// "12345678" as "1234 5678".
func group(s string) string {
	switch n := len(s); {
	case n == 6 || n == 9:
		var b strings.Builder
		for i := 0; i < n; i += 3 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s[i : i+3])
		}
		return b.String()
	case n%4 == 0 && n > 4:
		var b strings.Builder
		for i := 0; i < n; i += 4 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s[i : i+4])
		}
		return b.String()
	}
	return s
}
