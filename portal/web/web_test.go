package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"html"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Keys of the test users' devices, known to the tests that play the phone.
var (
	aliceKey = []byte("alice's 32-byte OCRA secret key.")
	bobKey   = []byte("bob's 32-byte OCRA secret key!!.")
	carolKey = []byte("carol's 32-byte OCRA secret key.")
)

const (
	alicePassword = "correct horse battery"
	bobPassword   = "tr0ub4dor&3"
	carolPassword = "hunter2hunter2"
)

// env is a portal on a fake backend, served by httptest, with a browser-like
// client that keeps cookies and does not follow redirects.
type env struct {
	t      *testing.T
	clock  *fakeClock
	fake   *Fake
	srv    *httptest.Server
	client *http.Client
	logs   *syncBuffer
	csrf   string // the token of the last page read
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, opt Options) *env {
	t.Helper()
	clock := newFakeClock()
	fake := newFake(clock.Now)
	fake.AddUser("alice", alicePassword, aliceKey, false) // challenge/response only
	fake.AddUser("bob", bobPassword, bobKey, true)        // seamless too
	fake.AddUser("carol", carolPassword, carolKey, false)
	fake.AddUser("dave", "dave's password", nil, false) // no device yet
	logs := &syncBuffer{}
	opt.Clock = clock.Now
	opt.Log = slog.New(slog.NewTextHandler(logs, nil))
	fromRequest := opt.PublicURL == "from the request"
	switch {
	case fromRequest:
		opt.PublicURL = ""
	case opt.PublicURL == "":
		opt.PublicURL = fake.base
	}
	h := New(fake, opt)
	var srv *httptest.Server
	if opt.Secure {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	if fromRequest {
		fake.base = srv.URL
	}
	t.Cleanup(srv.Close)
	return &env{t: t, clock: clock, fake: fake, srv: srv, client: newClient(t, srv), logs: logs}
}

func newClient(t *testing.T, srv *httptest.Server) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type response struct {
	status   int
	header   http.Header
	body     string
	location string
	cookies  []*http.Cookie
}

// inlineCode finds inline script, event handlers and style attributes.
var inlineCode = regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|\sstyle=|<style`)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: string(b), location: resp.Header.Get("Location"), cookies: resp.Cookies()}
	if m := csrfRE.FindStringSubmatch(r.body); m != nil {
		e.csrf = m[1]
	}
	return r
}

func (e *env) get(path string) response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

// post submits a form with the CSRF token of the last page read.
func (e *env) post(path string, form url.Values) response {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", e.csrf)
	}
	return e.postRaw(path, form.Encode(), nil)
}

func (e *env) postRaw(path, body string, header http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(req)
}

func (e *env) sessionCookie() string {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range e.client.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "ibkey_session") {
			return c.Value
		}
	}
	return ""
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
}

func wantRedirect(t *testing.T, r response, location string) {
	t.Helper()
	if r.status != http.StatusSeeOther || r.location != location {
		t.Fatalf("got %d to %q, want 303 to %q\n%s", r.status, r.location, location, r.body)
	}
}

func wantBody(t *testing.T, r response, parts ...string) {
	t.Helper()
	body := html.UnescapeString(r.body)
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("page lacks %q:\n%s", p, body)
		}
	}
}

var challengeRE = regexp.MustCompile(`id="challenge"[^>]*>([0-9 ]+)<`)

// challenge reads the challenge code off the verify page.
func challenge(t *testing.T, r response) string {
	t.Helper()
	m := challengeRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no challenge on the page:\n%s", r.body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

// startLogin submits username and password and returns the verify page.
func (e *env) startLogin(user, password string) response {
	e.t.Helper()
	e.get("/login")
	r := e.post("/login", url.Values{"username": {user}, "password": {password}})
	wantRedirect(e.t, r, "/login/verify")
	page := e.get("/login/verify")
	wantStatus(e.t, page, http.StatusOK)
	return page
}

// login logs in by challenge/response.
func (e *env) login(user, password string, key []byte) {
	e.t.Helper()
	page := e.startLogin(user, password)
	r := e.post("/login/verify", url.Values{"response": {respond(e.t, key, challenge(e.t, page))}})
	wantRedirect(e.t, r, "/account")
	wantStatus(e.t, e.get("/account"), http.StatusOK)
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/login", "/static/style.css", "/static/poll.js", "/nowhere"} {
		r := e.get(path)
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
		if got := r.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
		if r.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
	r := e.get("/login")
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("login page Cache-Control %q", got)
	}
	if inlineCode.MatchString(r.body) {
		t.Errorf("inline script or style on the login page:\n%s", r.body)
	}
	wantBody(t, r, `<meta name="viewport"`, `<label for="username">`, `<label for="password">`)
	if got := e.get("/static/poll.js").header.Get("Content-Type"); !strings.HasPrefix(got, "text/javascript") {
		t.Errorf("poll.js Content-Type %q", got)
	}
}

// TestCookieFlags: the login page sets only the anonymous CSRF cookie; a
// login sets the session cookie. Both are HttpOnly, SameSite=Strict, and
// under TLS Secure with the __Host- prefix.
func TestCookieFlags(t *testing.T) {
	check := func(t *testing.T, r response, name string, secure bool) {
		t.Helper()
		if len(r.cookies) != 1 {
			t.Fatalf("cookies %v, want %s", r.cookies, name)
		}
		c := r.cookies[0]
		if c.Name != name || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %+v", c)
		}
	}
	login := func(e *env) response {
		e.get("/login")
		return e.post("/login", url.Values{"username": {"alice"}, "password": {alicePassword}})
	}
	t.Run("http", func(t *testing.T) {
		e := newEnv(t, Options{})
		check(t, e.get("/login"), "ibkey_csrf", false)
		check(t, login(e), "ibkey_session", false)
	})
	t.Run("tls", func(t *testing.T) {
		e := newEnv(t, Options{Secure: true})
		r := e.get("/login")
		check(t, r, "__Host-ibkey_csrf", true)
		if got := r.header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
			t.Errorf("HSTS %q", got)
		}
		check(t, login(e), "__Host-ibkey_session", true)
		// The whole login works under TLS too.
		e.login("alice", alicePassword, aliceKey)
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, Options{})
	e.get("/login")
	good := e.csrf
	creds := url.Values{"username": {"alice"}, "password": {alicePassword}}

	other := newClient(t, e.srv)
	otherEnv := &env{t: t, srv: e.srv, client: other}
	otherEnv.get("/login")

	cases := []struct {
		name   string
		token  string
		header http.Header
		env    *env
	}{
		{"no token", "", nil, e},
		{"wrong token", good[:len(good)-2] + "xx", nil, e},
		{"another session's token", otherEnv.csrf, nil, e},
		{"no session", good, nil, &env{t: t, srv: e.srv, client: newClient(t, e.srv)}},
		{"cross-site origin", good, http.Header{"Origin": {"https://evil.example"}}, e},
		{"cross-site fetch", good, http.Header{"Sec-Fetch-Site": {"cross-site"}}, e},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range creds {
				form[k] = v
			}
			if tc.token != "" {
				form.Set("csrf", tc.token)
			}
			r := tc.env.postRaw("/login", form.Encode(), tc.header)
			wantStatus(t, r, http.StatusForbidden)
		})
	}
	if n := len(e.fake.Requests); n != 0 {
		t.Fatalf("the backend saw %d logins through refused forms", n)
	}
	// Every form of the portal carries the token.
	for _, path := range []string{"/login", "/resend"} {
		r := e.get(path)
		if strings.Count(r.body, "<form") != strings.Count(r.body, `name="csrf"`) {
			t.Errorf("%s: a form without a CSRF token:\n%s", path, r.body)
		}
	}
	// The same origin and the right token pass.
	form := url.Values{"csrf": {good}}
	for k, v := range creds {
		form[k] = v
	}
	r := e.postRaw("/login", form.Encode(), http.Header{"Origin": {e.srv.URL}})
	wantRedirect(t, r, "/login/verify")
}

func TestLoginChallengeResponse(t *testing.T) {
	e := newEnv(t, Options{})
	e.get("/login")
	before, beforeCSRF := e.sessionCookie(), e.csrf
	page := e.startLogin("alice", alicePassword)
	wantBody(t, page, "Use the challenge code", `for="response"`)
	if strings.Contains(page.body, `id="push"`) {
		t.Error("push offered for a user whose device takes no notifications")
	}
	if strings.Contains(page.body, `/static/poll.js`) && !strings.Contains(page.body, `<script src="/static/poll.js" defer>`) {
		t.Error("the script is not the external file")
	}
	c := challenge(t, page)
	if len(c) != 6 {
		t.Fatalf("challenge %q", c)
	}
	if got := e.fake.Requests[0]; got.Username != "alice" || got.Purpose != core.PurposeLogin || got.IP != "127.0.0.1" || got.Browser == "" {
		t.Errorf("login request %+v", got)
	}

	// The response as the app shows it, with a space, works.
	resp := respond(t, aliceKey, c)
	r := e.post("/login/verify", url.Values{"response": {resp[:4] + " " + resp[4:]}})
	wantRedirect(t, r, "/account")
	after := e.sessionCookie()
	if after == "" || after == before {
		t.Fatalf("session id not rotated at login: %q -> %q", before, after)
	}
	acct := e.get("/account")
	wantStatus(t, acct, http.StatusOK)
	wantBody(t, acct, "You are logged in as", "alice")
	if e.csrf == beforeCSRF {
		t.Error("CSRF token not rotated at login")
	}

	// The old session id is worth nothing.
	stale := &env{t: t, srv: e.srv, client: newClient(t, e.srv)}
	u, _ := url.Parse(e.srv.URL)
	stale.client.Jar.SetCookies(u, []*http.Cookie{{Name: "ibkey_session", Value: before}})
	wantRedirect(t, stale.get("/account"), "/login")

	// The same response again (a replay) is refused: there is no pending login.
	wantRedirect(t, e.post("/login/verify", url.Values{"response": {resp}}), "/account")

	// Logging out ends the session.
	wantRedirect(t, e.post("/logout", nil), "/login?out")
	wantRedirect(t, e.get("/account"), "/login")
	wantBody(t, e.get("/login?out"), "You have logged out.")
}

func TestAccountNeedsLogin(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/account", "/password", "/device", "/stepup?for=password"} {
		wantRedirect(t, e.get(path), "/login")
	}
	wantRedirect(t, e.get("/"), "/login")
	wantStatus(t, e.get("/device/qr.png"), http.StatusSeeOther)
	// POSTs with a good token but no login are refused.
	e.get("/login")
	wantStatus(t, e.post("/password", url.Values{"new": {"x"}, "confirm": {"x"}}), http.StatusForbidden)
	// The verify page without a started login goes back to the start.
	wantRedirect(t, e.get("/login/verify"), "/login")
}

func TestLoginErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.get("/login")
	cases := []struct {
		name           string
		user, password string
		startErr       error
		status         int
		text           string
	}{
		{"empty", "", "", nil, http.StatusBadRequest, "Enter your username and your password."},
		{"wrong password", "alice", "nope", nil, http.StatusUnauthorized, "Wrong username or password."},
		{"unknown user", "mallory", "nope", nil, http.StatusUnauthorized, "Wrong username or password."},
		{"too long", strings.Repeat("a", 300), "x", nil, http.StatusUnauthorized, "Wrong username or password."},
		{"no device", "dave", "dave's password", nil, http.StatusForbidden, "No IB Key device is active"},
		{"rate limited", "alice", alicePassword, core.ErrRateLimited, http.StatusTooManyRequests, "Too many attempts"},
		{"locked", "alice", alicePassword, &core.LockedError{}, http.StatusLocked, "Only an administrator can unlock it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.StartErr = tc.startErr
			defer func() { e.fake.StartErr = nil }()
			r := e.post("/login", url.Values{"username": {tc.user}, "password": {tc.password}})
			wantStatus(t, r, tc.status)
			wantBody(t, r, tc.text)
			if len(tc.password) > 3 && strings.Contains(r.body, tc.password) {
				t.Error("the password was sent back in the page")
			}
		})
	}
}

func TestWrongResponse(t *testing.T) {
	e := newEnv(t, Options{})
	page := e.startLogin("alice", alicePassword)
	r := e.post("/login/verify", url.Values{"response": {wrong(respond(t, aliceKey, challenge(t, page)))}})
	wantRedirect(t, r, "/login")
	wantBody(t, e.get("/login"), "That response was wrong", "4 more wrong answers will lock the account", "Start again")
	// The challenge is spent: the right response now has no login to answer.
	wantRedirect(t, e.post("/login/verify", url.Values{"response": {respond(t, aliceKey, challenge(t, page))}}), "/login")
	// An empty response does not spend the challenge.
	page = e.startLogin("alice", alicePassword)
	r = e.post("/login/verify", url.Values{"response": {"  "}})
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "Enter the response string")
	wantRedirect(t, e.post("/login/verify", url.Values{"response": {respond(t, aliceKey, challenge(t, page))}}), "/account")
}

func TestExpiredChallenge(t *testing.T) {
	e := newEnv(t, Options{})
	page := e.startLogin("alice", alicePassword)
	e.clock.Advance(3*time.Minute + time.Second)
	r := e.post("/login/verify", url.Values{"response": {respond(t, aliceKey, challenge(t, page))}})
	wantRedirect(t, r, "/login")
	wantBody(t, e.get("/login"), "The challenge expired before it was answered. Start again.")

	// The verify page itself notices too.
	e.startLogin("alice", alicePassword)
	e.clock.Advance(4 * time.Minute)
	wantRedirect(t, e.get("/login/verify"), "/login")
	wantBody(t, e.get("/login"), "expired")
}

func TestLockout(t *testing.T) {
	e := newEnv(t, Options{})
	for i := range e.fake.MaxFails {
		page := e.startLogin("carol", carolPassword)
		r := e.post("/login/verify", url.Values{"response": {wrong(respond(t, carolKey, challenge(t, page)))}})
		if i < e.fake.MaxFails-1 {
			wantRedirect(t, r, "/login")
			continue
		}
		wantStatus(t, r, http.StatusLocked)
		wantBody(t, r, "Your account is locked", "unlocks by itself at", "09:41:53 UTC", "in about 15 minutes")
	}
	r := e.post("/login", url.Values{"username": {"carol"}, "password": {carolPassword}})
	wantStatus(t, r, http.StatusLocked)
	wantBody(t, r, "Account locked")
}

func TestPushLogin(t *testing.T) {
	e := newEnv(t, Options{})
	page := e.startLogin("bob", bobPassword)
	l := e.fake.LastLogin(t, "bob")
	wantBody(t, page, "A notification was sent to your phone", `id="number"`, ">"+strconv.Itoa(l.Number)+"<",
		`<script src="/static/poll.js" defer></script>`, `action="/login/continue"`, "Or use the challenge code")
	before := e.sessionCookie()

	st := e.get("/login/status")
	wantStatus(t, st, http.StatusOK)
	if ct := st.header.Get("Content-Type"); ct != "application/json" || strings.TrimSpace(st.body) != `{"status":"pending"}` {
		t.Fatalf("status %q %s", ct, st.body)
	}
	// Continuing before the approval goes back to the page.
	wantRedirect(t, e.post("/login/continue", nil), "/login/verify")
	wantBody(t, e.get("/login/verify"), "Not approved yet")

	if err := e.fake.Approve(l.ID, l.Number); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(e.get("/login/status").body); got != `{"status":"approved"}` {
		t.Fatalf("status %s", got)
	}
	wantRedirect(t, e.post("/login/continue", nil), "/account")
	if e.sessionCookie() == before {
		t.Error("session id not rotated after a seamless login")
	}
	wantStatus(t, e.get("/account"), http.StatusOK)
}

func TestPushDeniedAndExpired(t *testing.T) {
	e := newEnv(t, Options{})
	e.startLogin("bob", bobPassword)
	e.fake.Deny(e.fake.LastLogin(t, "bob").ID)
	wantRedirect(t, e.post("/login/continue", nil), "/login")
	wantBody(t, e.get("/login"), "The request was denied on your phone")

	e.startLogin("bob", bobPassword)
	l := e.fake.LastLogin(t, "bob")
	if err := e.fake.Approve(l.ID, l.Number+1); err == nil {
		t.Fatal("the fake took a wrong number")
	}
	wantRedirect(t, e.post("/login/continue", nil), "/login")
	wantBody(t, e.get("/login"), "The request was not approved")

	e.startLogin("bob", bobPassword)
	e.clock.Advance(5 * time.Minute)
	if got := strings.TrimSpace(e.get("/login/status").body); got != `{"status":"expired"}` {
		t.Fatalf("status %s", got)
	}
	wantRedirect(t, e.post("/login/continue", nil), "/login")
	wantBody(t, e.get("/login"), "expired")
	if got := strings.TrimSpace(e.get("/login/status").body); got != `{"status":"none"}` {
		t.Fatalf("status without a login %s", got)
	}
}

// stepUp verifies alice again for the task at path ("password", "device").
func (e *env) stepUp(task string) response {
	e.t.Helper()
	e.get("/stepup?for=" + task)
	r := e.post("/stepup", url.Values{"for": {task}, "username": {"alice"}, "password": {e.fake.password("alice")}})
	wantRedirect(e.t, r, "/login/verify")
	page := e.get("/login/verify")
	wantBody(e.t, page, "Confirm it's you")
	return e.post("/login/verify", url.Values{"response": {respond(e.t, aliceKey, challenge(e.t, page))}})
}

func TestStepUpChangePassword(t *testing.T) {
	e := newEnv(t, Options{})
	e.login("alice", alicePassword, aliceKey)

	wantRedirect(t, e.get("/password"), "/stepup?for=password")
	page := e.get("/stepup?for=password")
	wantBody(t, page, "To change your password, enter your username and password again")

	// Another user's credentials do not verify this session.
	r := e.post("/stepup", url.Values{"for": {"password"}, "username": {"carol"}, "password": {carolPassword}})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Enter the username you are logged in with.")
	r = e.post("/stepup", url.Values{"for": {"password"}, "username": {"alice"}, "password": {"wrong"}})
	wantStatus(t, r, http.StatusUnauthorized)

	// A wrong response starts the step-up over.
	e.post("/stepup", url.Values{"for": {"password"}, "username": {"alice"}, "password": {alicePassword}})
	page = e.get("/login/verify")
	r = e.post("/login/verify", url.Values{"response": {wrong(respond(t, aliceKey, challenge(t, page)))}})
	wantRedirect(t, r, "/stepup?for=password")
	wantBody(t, e.get("/stepup?for=password"), "That response was wrong")
	wantRedirect(t, e.get("/password"), "/stepup?for=password")

	before := e.sessionCookie()
	wantRedirect(t, e.stepUp("password"), "/password")
	if e.sessionCookie() == before {
		t.Error("session id not rotated at step-up")
	}
	if got := e.fake.Requests[len(e.fake.Requests)-1].Purpose; got != core.PurposePassword {
		t.Errorf("step-up purpose %q", got)
	}
	wantBody(t, e.get("/password"), `<label for="new">`, `<label for="confirm">`)

	r = e.post("/password", url.Values{"new": {"a new long password"}, "confirm": {"another"}})
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "not the same")
	r = e.post("/password", url.Values{"new": {"short"}, "confirm": {"short"}})
	wantStatus(t, r, http.StatusBadRequest)
	r = e.post("/password", url.Values{"new": {"password123"}, "confirm": {"password123"}})
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "common passwords")
	r = e.post("/password", url.Values{"new": {"a new long password"}, "confirm": {"a new long password"}})
	wantRedirect(t, r, "/account")
	wantBody(t, e.get("/account"), "Your password was changed.")
	if got := e.fake.password("alice"); got != "a new long password" {
		t.Errorf("password %q", got)
	}
	// The step-up was for one change.
	wantRedirect(t, e.get("/password"), "/stepup?for=password")

	// A step-up runs out.
	wantRedirect(t, e.stepUp("password"), "/password")
	wantStatus(t, e.get("/password"), http.StatusOK)
	e.clock.Advance(6 * time.Minute)
	wantRedirect(t, e.post("/password", url.Values{"new": {"yet another password"}, "confirm": {"yet another password"}}), "/stepup?for=password")
	wantBody(t, e.get("/stepup?for=password"), "The verification has run out")
}

func TestStepUpLockedLogsOut(t *testing.T) {
	e := newEnv(t, Options{})
	e.login("alice", alicePassword, aliceKey)
	e.get("/stepup?for=device")
	e.fake.StartErr = &core.LockedError{Until: e.clock.Now().Add(10 * time.Minute)}
	r := e.post("/stepup", url.Values{"for": {"device"}, "username": {"alice"}, "password": {alicePassword}})
	wantStatus(t, r, http.StatusLocked)
	wantBody(t, r, "in about 10 minutes")
	wantRedirect(t, e.get("/account"), "/login")
}

var pngMagic = "\x89PNG\r\n\x1a\n"

func TestAddDevice(t *testing.T) {
	e := newEnv(t, Options{})
	e.login("alice", alicePassword, aliceKey)
	wantRedirect(t, e.get("/device"), "/stepup?for=device")
	wantStatus(t, e.get("/device/qr.png"), http.StatusNotFound)

	wantRedirect(t, e.stepUp("device"), "/device")
	enr := e.fake.enrollments()
	if len(enr) != 1 {
		t.Fatalf("enrollments %v", enr)
	}
	page := e.get("/device")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, enr[0].SessionID, enr[0].Link, `<img id="qr" src="/device/qr.png"`, "ibkey users add --link")
	qr := e.get("/device/qr.png")
	wantStatus(t, qr, http.StatusOK)
	if qr.header.Get("Content-Type") != "image/png" || !strings.HasPrefix(qr.body, pngMagic) {
		t.Fatalf("QR %q %q", qr.header.Get("Content-Type"), qr.body[:min(len(qr.body), 8)])
	}
	// Reloading shows the same enrollment, without starting another.
	e.get("/device")
	if n := len(e.fake.enrollments()); n != 1 {
		t.Fatalf("%d enrollments after a reload", n)
	}
	e.clock.Advance(11 * time.Minute)
	wantRedirect(t, e.get("/device"), "/stepup?for=device")
	wantBody(t, e.get("/stepup?for=device"), "That enrollment expired")
	wantStatus(t, e.get("/device/qr.png"), http.StatusNotFound)
}

// TestAddDeviceLinkBase: without a public URL, the enrollment link names
// the service as the browser reached it.
func TestAddDeviceLinkBase(t *testing.T) {
	e := newEnv(t, Options{PublicURL: "from the request"})
	e.login("alice", alicePassword, aliceKey)
	wantRedirect(t, e.stepUp("device"), "/device")
	enr := e.fake.enrollments()
	if svc, _, err := protocol.ParseEnrollLink(enr[0].Link); err != nil || svc != e.srv.URL {
		t.Fatalf("link %q: %q %v", enr[0].Link, svc, err)
	}
	wantBody(t, e.get("/device"), enr[0].Link)
}

func TestResend(t *testing.T) {
	e := newEnv(t, Options{DevOutbox: true})
	page := e.get("/resend")
	wantBody(t, page, "Didn't receive a security code?", `value="sms"`, `value="voice"`, "<legend>Send the code by</legend>")

	cases := []struct {
		name     string
		form     url.Values
		status   int
		text     string
		enrolled bool
	}{
		{"bad channel", url.Values{"username": {"dave"}, "password": {"dave's password"}, "channel": {"pigeon"}}, http.StatusBadRequest, "Choose SMS or Voice.", false},
		{"wrong password", url.Values{"username": {"dave"}, "password": {"x"}, "channel": {"sms"}}, http.StatusUnauthorized, "Wrong username or password.", false},
		{"nothing pending", url.Values{"username": {"dave"}, "password": {"dave's password"}, "channel": {"sms"}}, http.StatusConflict, "No device is waiting for a code", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post("/resend", tc.form)
			wantStatus(t, r, tc.status)
			wantBody(t, r, tc.text)
		})
	}
	e.fake.setEnrolling("dave")
	r := e.post("/resend", url.Values{"username": {"dave"}, "password": {"dave's password"}, "channel": {"voice"}})
	wantRedirect(t, r, "/resend?sent=voice")
	wantBody(t, e.get("/resend?sent=voice"), "A new code is on its way by a voice call")
	msgs, _ := e.fake.Outbox(t.Context())
	if len(msgs) != 1 || msgs[0].Channel != "voice" || msgs[0].Username != "dave" {
		t.Fatalf("outbox %+v", msgs)
	}
	out := e.get("/outbox")
	wantStatus(t, out, http.StatusOK)
	wantBody(t, out, msgs[0].Code, "Voice", "+15555550100")
}

func TestOutboxOnlyWhenAsked(t *testing.T) {
	e := newEnv(t, Options{})
	wantStatus(t, e.get("/outbox"), http.StatusNotFound)
	if strings.Contains(e.get("/login").body, "/outbox") {
		t.Error("the login page links the outbox without the flag")
	}

	// With the flag, only loopback clients get it.
	clock := newFakeClock()
	h := New(newFake(clock.Now), Options{DevOutbox: true, Clock: clock.Now})
	for addr, status := range map[string]int{"192.0.2.1:1234": http.StatusNotFound, "127.0.0.1:5555": http.StatusOK, "[::1]:5555": http.StatusOK} {
		req := httptest.NewRequest("GET", "/outbox", nil)
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != status {
			t.Errorf("outbox to %s: %d, want %d", addr, w.Code, status)
		}
	}
}

func TestBodyCap(t *testing.T) {
	e := newEnv(t, Options{})
	e.get("/login")
	form := url.Values{"csrf": {e.csrf}, "username": {"alice"}, "password": {strings.Repeat("x", maxBody)}}
	r := e.postRaw("/login", form.Encode(), nil)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
	if len(e.fake.Requests) != 0 {
		t.Fatal("the backend saw an oversized form")
	}
}

func TestFaultsStayInTheLog(t *testing.T) {
	e := newEnv(t, Options{})
	e.get("/login")
	e.fake.StartErr = errors.New("sqlite: database disk image is malformed at /var/lib/ibkey.db")
	r := e.post("/login", url.Values{"username": {"alice"}, "password": {alicePassword}})
	wantStatus(t, r, http.StatusInternalServerError)
	wantBody(t, r, "Something went wrong")
	if strings.Contains(r.body, "sqlite") {
		t.Error("the fault reached the browser")
	}
	if !strings.Contains(e.logs.String(), "malformed") {
		t.Errorf("the fault is not in the log: %s", e.logs.String())
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, Options{})
	e.login("alice", alicePassword, aliceKey)
	e.clock.Advance(14 * time.Minute)
	wantStatus(t, e.get("/account"), http.StatusOK) // use keeps it alive
	e.clock.Advance(16 * time.Minute)
	wantRedirect(t, e.get("/account"), "/login")
	// A form from the dead session is refused.
	wantStatus(t, e.post("/logout", nil), http.StatusForbidden)
}

// TestSessionStoreCap: each kind of session (logged in; a login under way)
// has its cap, and the least recently seen of that kind goes first.
func TestSessionStoreCap(t *testing.T) {
	clock := newFakeClock()
	mem := newMemSessions()
	s := &sessions{st: mem, rand: rand.Reader, idle: time.Hour, max: time.Hour, limit: 3}
	ctx := context.Background()
	var in []string
	for range 2 {
		_, id, err := s.rotate(ctx, session{user: "alice"}, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, id)
		clock.Advance(time.Second)
	}
	var ids []string
	for range 5 {
		_, id, err := s.rotate(ctx, session{pending: &pendingLogin{}}, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		clock.Advance(time.Second)
	}
	if n := mem.len(); n != 5 {
		t.Fatalf("%d sessions kept, want 2 + 3", n)
	}
	for _, id := range in {
		if _, ok, _ := s.get(ctx, id, clock.Now()); !ok {
			t.Error("logins under way evicted a logged-in session")
		}
	}
	if _, ok, _ := s.get(ctx, ids[1], clock.Now()); ok {
		t.Error("the oldest session survived")
	}
	if _, ok, _ := s.get(ctx, ids[4], clock.Now()); !ok {
		t.Error("the newest session was dropped")
	}
}

func TestGroup(t *testing.T) {
	for in, want := range map[string]string{
		"123456":    "123 456",
		"12345678":  "1234 5678",
		"123456789": "123 456 789",
		"1234":      "1234",
		"":          "",
	} {
		if got := group(in); got != want {
			t.Errorf("group(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStepUpOtherCase: a backend that keeps "Alice" apart from "alice"
// (as the service did) must not let alice's session step up as "Alice",
// with Alice's password and device.
func TestStepUpOtherCase(t *testing.T) {
	e := newEnv(t, Options{})
	malloryKey := []byte("mallory's 32-byte OCRA secret...")
	e.fake.AddUser("Alice", "mallory's password", malloryKey, false)
	e.login("alice", alicePassword, aliceKey)
	e.get("/stepup?for=password")
	r := e.post("/stepup", url.Values{"for": {"password"}, "username": {"Alice"}, "password": {"mallory's password"}})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Enter the username you are logged in with.")
	if page := e.get("/login/verify"); page.status == http.StatusOK && strings.Contains(page.body, "Confirm it's you") {
		r := e.post("/login/verify", url.Values{"response": {respond(t, malloryKey, challenge(t, page))}})
		t.Fatalf("the step-up as Alice went on to its challenge; its response: %d %s", r.status, r.location)
	}
	wantRedirect(t, e.get("/password"), "/stepup?for=password")
	// alice's own step-up, typed in another case, is hers.
	e.get("/stepup?for=password")
	r = e.post("/stepup", url.Values{"for": {"password"}, "username": {"ALICE"}, "password": {alicePassword}})
	wantRedirect(t, r, "/login/verify")
}
