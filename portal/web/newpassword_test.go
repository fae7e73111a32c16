package web

import (
	"ibkey/portal/core"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const aliceTemp = "Tq7-mZ4k-9xWp" // as `ibkey admin temp-password` would make

// loginTemp logs alice in by challenge/response with a temporary password
// and returns the answer to the response.
func (e *env) loginTemp() response {
	e.t.Helper()
	e.fake.setTemporary("alice", aliceTemp)
	page := e.startLogin("alice", aliceTemp)
	return e.post("/login/verify", url.Values{"response": {respond(e.t, aliceKey, challenge(e.t, page))}})
}

func TestTempPasswordMustChange(t *testing.T) {
	e := newEnv(t, Options{DevOutbox: true})
	e.get("/login")
	before := e.sessionCookie()
	wantRedirect(t, e.loginTemp(), "/login/new-password")
	if e.sessionCookie() == before {
		t.Error("session id not rotated at the approval")
	}

	page := e.get("/login/new-password")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Choose a new password", "temporary password", `<label for="new">`, `<label for="confirm">`,
		`action="/login/new-password"`, `id="who">alice<`)
	if strings.Count(page.body, "<form") != strings.Count(page.body, `name="csrf"`) {
		t.Errorf("a form without a CSRF token:\n%s", page.body)
	}
	if inlineCode.MatchString(page.body) {
		t.Errorf("inline script or style:\n%s", page.body)
	}
	if strings.Contains(page.body, `href="/account"`) {
		t.Error("the page links to the account")
	}

	// Nothing else until the password is changed.
	for _, path := range []string{"/", "/account", "/login", "/login/verify", "/password", "/device", "/device/qr.png",
		"/stepup?for=password", "/stepup?for=device", "/resend", "/outbox"} {
		wantRedirect(t, e.get(path), "/login/new-password")
	}
	e.get("/login/new-password")
	starts := len(e.fake.Requests)
	for path, form := range map[string]url.Values{
		"/login":          {"username": {"alice"}, "password": {aliceTemp}},
		"/stepup":         {"for": {"password"}, "username": {"alice"}, "password": {aliceTemp}},
		"/password":       {"new": {"a new long password"}, "confirm": {"a new long password"}},
		"/login/verify":   {"response": {"12345678"}},
		"/login/continue": nil,
		"/resend":         {"username": {"alice"}, "password": {aliceTemp}, "channel": {"sms"}},
	} {
		wantRedirect(t, e.post(path, form), "/login/new-password")
	}
	if len(e.fake.Requests) != starts || e.fake.password("alice") != aliceTemp {
		t.Fatal("a task ran before the new password was chosen")
	}

	// The rules and errors of the change password page.
	e.get("/login/new-password")
	for _, c := range []struct{ pw, confirm, want string }{
		{"a new long password", "another long password", "The two passwords are not the same."},
		{"short", "short", "Use at least 8 characters."},
		{strings.Repeat("x", 1025), strings.Repeat("x", 1025), "That password is too long."},
		{"password123", "password123", "common passwords"},
	} {
		r := e.post("/login/new-password", url.Values{"new": {c.pw}, "confirm": {c.confirm}})
		wantStatus(t, r, http.StatusBadRequest)
		wantBody(t, r, "Choose a new password", c.want)
	}
	if !e.fake.mustChange("alice") {
		t.Fatal("the temporary password was replaced by a refused one")
	}
	wantRedirect(t, e.get("/account"), "/login/new-password")

	// Set: the session is logged in, on the account page.
	e.get("/login/new-password")
	before = e.sessionCookie()
	r := e.post("/login/new-password", url.Values{"new": {"a new long password"}, "confirm": {"a new long password"}})
	wantRedirect(t, r, "/account")
	if e.sessionCookie() == before {
		t.Error("session id not rotated when the new password was set")
	}
	acct := e.get("/account")
	wantStatus(t, acct, http.StatusOK)
	wantBody(t, acct, "Your new password is set.", `id="account-user">alice<`)
	if got := e.fake.password("alice"); got != "a new long password" || e.fake.mustChange("alice") {
		t.Fatalf("password %q, must change %v", got, e.fake.mustChange("alice"))
	}
	wantRedirect(t, e.get("/login/new-password"), "/account")

	// The next login is a plain one.
	e.post("/logout", nil)
	e.login("alice", "a new long password", aliceKey)
}

func TestTempPasswordCSRF(t *testing.T) {
	e := newEnv(t, Options{})
	wantRedirect(t, e.loginTemp(), "/login/new-password")
	e.get("/login/new-password")
	good := e.csrf
	form := url.Values{"new": {"a new long password"}, "confirm": {"a new long password"}}

	other := &env{t: t, srv: e.srv, client: newClient(t, e.srv)}
	other.get("/login")
	for _, c := range []struct {
		name   string
		token  string
		header http.Header
	}{
		{"no token", "", nil},
		{"wrong token", good[:len(good)-2] + "xx", nil},
		{"another session's token", other.csrf, nil},
		{"cross-site origin", good, http.Header{"Origin": {"https://evil.example"}}},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if c.token != "" {
			f.Set("csrf", c.token)
		}
		wantStatus(t, e.postRaw("/login/new-password", f.Encode(), c.header), http.StatusForbidden)
	}
	// Without the session, even with its token.
	form.Set("csrf", good)
	wantStatus(t, other.postRaw("/login/new-password", form.Encode(), nil), http.StatusForbidden)
	if n := e.fake.SetTempPasswordCalls; n != 0 {
		t.Fatalf("the backend saw %d refused forms", n)
	}
	wantRedirect(t, e.postRaw("/login/new-password", form.Encode(), http.Header{"Origin": {e.srv.URL}}), "/account")
}

func TestTempPasswordSeamless(t *testing.T) {
	e := newEnv(t, Options{})
	e.fake.setTemporary("bob", "Zp3-wQ8n-4hTc")
	e.startLogin("bob", "Zp3-wQ8n-4hTc")
	l := e.fake.LastLogin(t, "bob")
	if err := e.fake.Approve(l.ID, l.Number); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, e.post("/login/continue", nil), "/login/new-password")
	wantBody(t, e.get("/login/new-password"), "Choose a new password")
	wantRedirect(t, e.post("/login/new-password", url.Values{"new": {"bob's new password"}, "confirm": {"bob's new password"}}), "/account")
	wantBody(t, e.get("/account"), "Your new password is set.")
}

// A step-up with a temporary password (issued while logged in) must change
// it too, before the task.
func TestTempPasswordStepUp(t *testing.T) {
	e := newEnv(t, Options{})
	e.login("alice", alicePassword, aliceKey)
	e.fake.setTemporary("alice", aliceTemp)
	wantRedirect(t, e.stepUp("device"), "/login/new-password")
	wantRedirect(t, e.get("/device"), "/login/new-password")
	if n := len(e.fake.enrollments()); n != 0 {
		t.Fatalf("%d enrollments before the new password", n)
	}
	e.get("/login/new-password")
	wantRedirect(t, e.post("/login/new-password", url.Values{"new": {"a new long password"}, "confirm": {"a new long password"}}), "/account")
}

func TestTempPasswordTooLate(t *testing.T) {
	e := newEnv(t, Options{})
	wantRedirect(t, e.loginTemp(), "/login/new-password")
	page := e.get("/login/new-password")
	wantBody(t, page, "before "+e.fake.LastLogin(t, "alice").ExpiresAt.UTC().Format("15:04:05 UTC"))

	// The service stops taking it when the login's challenge expires.
	e.clock.Advance(3 * time.Minute)
	r := e.post("/login/new-password", url.Values{"new": {"a new long password"}, "confirm": {"a new long password"}})
	wantRedirect(t, r, "/login")
	wantBody(t, e.get("/login"), "The time to choose a new password ran out")
	wantRedirect(t, e.get("/account"), "/login")
	wantRedirect(t, e.get("/login/new-password"), "/login")
	if e.fake.SetTempPasswordCalls != 0 || !e.fake.mustChange("alice") {
		t.Fatal("the change went through after its time")
	}

	// The backend says so too (its clock may be ahead of the portal's).
	wantRedirect(t, e.loginTemp(), "/login/new-password")
	e.get("/login/new-password")
	e.fake.mu.Lock()
	e.fake.logins[e.fake.last["alice"]].status = core.StatusFailed
	e.fake.mu.Unlock()
	r = e.post("/login/new-password", url.Values{"new": {"a new long password"}, "confirm": {"a new long password"}})
	wantRedirect(t, r, "/login")
	wantBody(t, e.get("/login"), "ran out")

	// Logging out is allowed and ends it.
	wantRedirect(t, e.loginTemp(), "/login/new-password")
	e.get("/login/new-password")
	wantRedirect(t, e.post("/logout", nil), "/login?out")
	wantRedirect(t, e.get("/account"), "/login")
	wantStatus(t, e.get("/login"), http.StatusOK)
}
