package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// serve runs one request through the handler from addr and returns it.
func serve(h http.Handler, req *http.Request, addr string) *httptest.ResponseRecorder {
	req.RemoteAddr = addr
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestAnonymousFloodKeepsSessions: 10,000 cookie-less page requests, each
// from its own address (so that no per-address limit stops them), make no
// session at all, and the logged-in person stays logged in.
func TestAnonymousFloodKeepsSessions(t *testing.T) {
	e := newEnv(t, Options{})
	e.login("alice", alicePassword, aliceKey)
	h := e.srv.Config.Handler.(*handler)
	before := h.sessions.st.(*memSessions).len()
	for i := range 10000 {
		w := serve(h, httptest.NewRequest("GET", "/login", nil), fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255))
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	if n := h.sessions.st.(*memSessions).len(); n != before {
		t.Fatalf("%d sessions after the flood, %d before: anonymous visitors made state", n, before)
	}
	acct := e.get("/account")
	wantStatus(t, acct, http.StatusOK)
	wantBody(t, acct, "You are logged in as")
}

// TestPageRateLimit: one address gets PageBurst pages at once, then 429
// until its bucket refills; other addresses are not held up, and the
// limit is reported once a minute per address.
func TestPageRateLimit(t *testing.T) {
	var reported []string
	clock := newFakeClock()
	h := New(newFake(clock.Now), Options{Clock: clock.Now, PageRate: 2, PageBurst: 5, OnRateLimit: func(ip string) { reported = append(reported, ip) }})
	get := func(path, addr string) int { return serve(h, httptest.NewRequest("GET", path, nil), addr).Code }
	for i := range 5 {
		if c := get("/login", "192.0.2.1:1"); c != http.StatusOK {
			t.Fatalf("page %d: %d", i, c)
		}
	}
	w := serve(h, httptest.NewRequest("GET", "/login", nil), "192.0.2.1:2")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "Too many requests") {
		t.Fatalf("over the burst: %d %v", w.Code, w.Header())
	}
	// Forms count too; static files do not.
	form := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"username": {"alice"}}.Encode()))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c := serve(h, form, "192.0.2.1:3").Code; c != http.StatusTooManyRequests {
		t.Fatalf("a form over the limit: %d", c)
	}
	if c := get("/static/style.css", "192.0.2.1:4"); c != http.StatusOK {
		t.Fatalf("static file: %d", c)
	}
	if c := get("/login", "192.0.2.2:1"); c != http.StatusOK {
		t.Fatalf("another address: %d", c)
	}
	clock.Advance(time.Second)
	if c := get("/login", "192.0.2.1:5"); c != http.StatusOK {
		t.Fatalf("after a second: %d", c)
	}
	if len(reported) != 1 || reported[0] != "192.0.2.1" {
		t.Fatalf("reported %v", reported)
	}
}

// TestLoginFloodKeepsSessions: logins under way (a password passed, the
// second factor outstanding) are capped apart from logged-in sessions:
// more of them than the cap evict only their own kind.
func TestLoginFloodKeepsSessions(t *testing.T) {
	e := newEnv(t, Options{MaxSessions: 50, PageRate: 1e6, PageBurst: 1e6}) // one address: no page limit here
	e.login("alice", alicePassword, aliceKey)
	h := e.srv.Config.Handler.(*handler)
	first := e.sessionCookie()
	for i := range 200 {
		c := &env{t: t, srv: e.srv, client: newClient(t, e.srv), fake: e.fake}
		c.startLogin("carol", carolPassword)
		e.clock.Advance(time.Millisecond) // each is seen after the one before
		if i == 0 {
			first = c.sessionCookie()
		}
	}
	if n := h.sessions.st.(*memSessions).len(); n != 51 {
		t.Fatalf("%d sessions, want 50 logins under way and alice's", n)
	}
	if _, ok, _ := h.sessions.get(context.Background(), first, e.clock.Now()); ok {
		t.Error("the oldest login under way survived the cap")
	}
	wantStatus(t, e.get("/account"), http.StatusOK)
}
