package portal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/web"
)

// TestPagesOperations checks the operations of the core that the
// Client Portal's pages call, with the domain errors the pages match
// (docs/PORTAL.md's table).
func TestPagesOperations(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "correct horse")
	h.addUser("nodev", "password1")
	d := h.enroll("alice", "correct horse")
	var b web.Backend = h.svc
	ctx := context.Background()
	req := func(u, p string) core.LoginRequest {
		return core.LoginRequest{Username: u, Password: p, Purpose: core.PurposeLogin, IP: "192.0.2.7", Browser: "test browser"}
	}
	respond := func(id, r string) (core.LoginState, error) {
		return b.Respond(ctx, core.ResponseRequest{LoginID: id, Response: r, IP: "192.0.2.7"})
	}

	for _, c := range []struct {
		user, pw string
		want     error
	}{
		{"alice", "wrong", core.ErrBadCredentials},
		{"mallory", "wrong", core.ErrBadCredentials},
		{"nodev", "password1", core.ErrNoDevice},
	} {
		if _, err := b.StartLogin(ctx, req(c.user, c.pw)); !errors.Is(err, c.want) {
			t.Errorf("StartLogin(%s, %s): %v, want %v", c.user, c.pw, err, c.want)
		}
	}

	// A login: its context reaches the phone's request.
	l, err := b.StartLogin(ctx, core.LoginRequest{Username: "alice", Password: "correct horse", Purpose: core.PurposeDevice, IP: "192.0.2.7", Browser: "test browser"})
	if err != nil || !l.Push || l.Username != "alice" || len(l.Challenge) != 6 {
		t.Fatalf("StartLogin: %+v %v", l, err)
	}
	var ev protocol.Event
	h.store.View(ctx, func(tx store.Tx) error {
		lg, err := tx.Login(l.ID)
		json.Unmarshal(lg.Payload, &ev)
		return err
	})
	if ev.Context.App != "Client Portal: add a device" || ev.Context.IP != "192.0.2.7" || ev.Context.Browser != "test browser" {
		t.Fatalf("push context %+v", ev.Context)
	}
	if st, err := b.LoginStatus(ctx, l.ID); err != nil || st.Status != core.StatusPending {
		t.Fatalf("LoginStatus: %+v %v", st, err)
	}
	if _, err := b.LoginStatus(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("LoginStatus of no login: %v", err)
	}
	if _, err := respond("nope", "12345678"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Respond to no login: %v", err)
	}
	if st, err := respond(l.ID, d.respond(t, l.Challenge)); err != nil || st != (core.LoginState{Status: core.StatusApproved}) {
		t.Fatalf("Respond: %+v %v", st, err)
	}
	if st, _ := b.LoginStatus(ctx, l.ID); st.Status != core.StatusApproved || st.PasswordChangeRequired {
		t.Fatalf("LoginStatus after the response: %+v", st)
	}
	if _, err := respond(l.ID, d.respond(t, l.Challenge)); !errors.Is(err, core.ErrSpent) {
		t.Fatalf("Respond again: %v", err)
	}

	// Expired.
	l, _ = b.StartLogin(ctx, req("alice", "correct horse"))
	h.clock.Add(3*time.Minute + time.Second)
	if _, err := respond(l.ID, d.respond(t, l.Challenge)); !errors.Is(err, core.ErrExpired) {
		t.Fatalf("Respond late: %v", err)
	}
	if st, _ := b.LoginStatus(ctx, l.ID); st.Status != core.StatusExpired {
		t.Fatalf("LoginStatus late: %+v", st)
	}

	// Wrong responses count down, then lock.
	for left := 4; left >= 0; left-- {
		l, err = b.StartLogin(ctx, req("alice", "correct horse"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = respond(l.ID, wrong(d.respond(t, l.Challenge)))
		var bre *core.BadResponseError
		if !errors.As(err, &bre) || bre.AttemptsLeft != left {
			t.Fatalf("wrong response with %d left: %v", left, err)
		}
	}
	var le *core.LockedError
	if _, err := b.StartLogin(ctx, req("alice", "correct horse")); !errors.As(err, &le) || !le.Until.Equal(h.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("locked StartLogin: %v", err)
	}
	if _, err := respond(l.ID, d.respond(t, l.Challenge)); !errors.As(err, &le) || le.Until.IsZero() {
		t.Fatalf("locked Respond: %v", err)
	}
	if _, err := b.StartLinkEnrollment(ctx, core.LinkRequest{Username: "alice"}); !errors.As(err, &le) {
		t.Fatalf("locked StartLinkEnrollment: %v", err)
	}
	change := func(pw string) error {
		return b.ChangePassword(ctx, core.ChangePasswordRequest{Username: "alice", Password: pw, IP: "192.0.2.7"})
	}
	if err := change("another password"); !errors.As(err, &le) {
		t.Fatalf("locked ChangePassword: %v", err)
	}
	core.UnlockAccount(ctx, h.store, h.clock.Now(), "alice")

	// Passwords.
	var pe *core.PasswordError
	for _, pw := range []string{"short", "alice", strings.Repeat("x", 1025)} {
		if err := change(pw); !errors.As(err, &pe) || !errors.Is(err, core.ErrWeakPassword) {
			t.Errorf("ChangePassword(%q): %v", pw, err)
		}
	}
	if err := change("another password"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StartLogin(ctx, req("alice", "another password")); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}

	// Add a device.
	e, err := b.StartLinkEnrollment(ctx, core.LinkRequest{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.SessionID) != protocol.SessionIDLen || !e.ExpiresAt.Equal(h.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("enrollment %+v", e)
	}
	for range 4 {
		b.StartLinkEnrollment(ctx, core.LinkRequest{Username: "alice"})
	}
	var rl *core.RateLimitError
	if _, err := b.StartLinkEnrollment(ctx, core.LinkRequest{Username: "alice"}); !errors.As(err, &rl) || rl.Limit != "links" {
		t.Fatalf("6th enrollment: %v", err)
	}

	// Resend.
	resend := func(pw, channel string) error {
		return b.ResendCode(ctx, core.ResendCodeRequest{Username: "nodev", Password: pw, Channel: channel, IP: "192.0.2.7"})
	}
	if err := resend("wrong", "voice"); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatalf("resend, wrong password: %v", err)
	}
	if err := resend("password1", "voice"); !errors.Is(err, core.ErrNoEnrollment) {
		t.Fatalf("resend, nothing pending (a link does not count): %v", err)
	}
	if _, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "nodev", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	if err := resend("password1", "sms"); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("resend too soon: %v", err)
	}
	if err := resend("password1", "voice"); err != nil {
		t.Fatalf("resend by voice, its first: %v", err)
	}
	if m := h.gw.last(t); m.Channel != "voice" || m.Username != "nodev" {
		t.Fatalf("resent %+v", m)
	}

	// The outbox: a gateway that cannot list gives none.
	if msgs, err := b.Outbox(ctx); err != nil || msgs != nil {
		t.Fatalf("outbox of a memGateway: %v %v", msgs, err)
	}
}

func TestPagesRateLimited(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.Rate = core.RateLimit{PerAccount: 0.001, AccountBurst: 1} })
	h.addUser("alice", "correct horse")
	ctx := context.Background()
	r := core.LoginRequest{Username: "alice", Password: "wrong", IP: "192.0.2.1"}
	if _, err := h.svc.StartLogin(ctx, r); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatalf("first: %v", err)
	}
	if _, err := h.svc.StartLogin(ctx, r); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("second: %v", err)
	}
}

func TestWebOutboxFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	ob := core.NewOutbox(path)
	h := newHarness(t, func(c *core.Config) { c.Gateway = ob })
	h.addUser("alice", "correct horse")
	ctx := context.Background()
	if msgs, err := h.svc.Outbox(ctx); err != nil || len(msgs) != 0 {
		t.Fatalf("no file: %v %v", msgs, err)
	}
	if _, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "alice", Password: "correct horse", Channel: "voice"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := h.svc.Outbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Channel != "voice" || len(msgs[0].Code) != 8 || msgs[0].Username != "alice" {
		t.Fatalf("outbox: %+v %v", msgs, err)
	}
}

// TestMountWeb checks that the pages and the API share the mux without
// stepping on each other.
func TestMountWeb(t *testing.T) {
	h := newHarness(t)
	h.srv.MountWeb(web.Options{}, "")
	get := func(path string) *http.Response {
		t.Helper()
		c := h.ts.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(h.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get("/login"); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("/login: %d %v", r.StatusCode, r.Header)
	}
	if r := get("/"); r.StatusCode/100 != 3 {
		t.Fatalf("/: %d", r.StatusCode)
	}
	if r := get("/static/style.css"); r.StatusCode != 200 {
		t.Fatalf("stylesheet: %d", r.StatusCode)
	}
	if r := get("/healthz"); r.StatusCode != 200 {
		t.Fatalf("/healthz: %d", r.StatusCode)
	}
	if r := get("/outbox"); r.StatusCode != 404 {
		t.Fatalf("/outbox without the flag: %d", r.StatusCode)
	}
	// The API still answers in JSON, also for what it does not have.
	if code, eb := h.do("GET", "/api/v1/nothing", nil, nil); code != 404 || eb.Error != protocol.CodeNotFound {
		t.Fatalf("unknown API path: %d %+v", code, eb)
	}
	if code, eb := h.do("GET", "/api/v1/logins", nil, nil); code != 405 || eb.Error != "method_not_allowed" {
		t.Fatalf("wrong method: %d %+v", code, eb)
	}
	if r := get("/api/v1/logins"); r.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}
	var svc map[string]any
	if code, _ := h.do("GET", "/api/v1/service", nil, &svc); code != 200 {
		t.Fatalf("service: %d", code)
	}
}

func TestDevOutboxPublic(t *testing.T) {
	for _, public := range []bool{false, true} {
		h := newHarness(t)
		h.srv.MountWeb(web.Options{DevOutbox: true, DevOutboxPublic: public}, "")
		r := httptest.NewRequest("GET", "/outbox", nil)
		r.RemoteAddr = "192.0.2.9:4000"
		w := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(w, r)
		if want := map[bool]int{false: 404, true: 200}[public]; w.Code != want {
			t.Errorf("public=%v: %d, want %d", public, w.Code, want)
		}
	}
}

// tempPassword issues a temporary password to username as `ibkey admin
// temp-password` does, and returns it as device d reads it from its inbox
// (a PIN proof, then the sealed delivery opened with its delivery key).
func (h *harness) tempPassword(username string, d *device) string {
	h.t.Helper()
	ctx := context.Background()
	id, err := h.svc.IssueTempPassword(ctx, username)
	if err != nil {
		h.t.Fatal(err)
	}
	ch, err := h.client.InboxChallenge(ctx, d.id, d.token)
	if err != nil {
		h.t.Fatal(err)
	}
	box, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: d.respond(h.t, ch.Challenge)})
	if err != nil || len(box.Deliveries) != 1 || box.Deliveries[0].ID != id {
		h.t.Fatalf("inbox %+v %v", box, err)
	}
	dl := box.Deliveries[0]
	pw, err := protocol.Open(d.delivery.Bytes(), verifier.DeliveryLabel(dl.Kind, dl.ID, d.id), dl.Sealed)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(pw)
}

// TestPagesTempPassword: a login approved with a temporary password says
// so, and SetTempPassword follows POST /api/v1/logins/{id}/password with
// the portal's password policy.
func TestPagesTempPassword(t *testing.T) {
	h := newHarness(t)
	h.addUser("margaret", "correct horse")
	d := h.enroll("margaret", "correct horse")
	var b web.Backend = h.svc
	ctx := context.Background()
	req := func(pw string) core.LoginRequest {
		return core.LoginRequest{Username: "margaret", Password: pw, Purpose: core.PurposeLogin, IP: "192.0.2.7"}
	}
	setPassword := func(id, pw string) error {
		return b.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: id, Password: pw, IP: "192.0.2.7"})
	}
	approve := func(pw string) core.Login {
		t.Helper()
		l, err := b.StartLogin(ctx, req(pw))
		if err != nil {
			t.Fatal(err)
		}
		if err := setPassword(l.ID, "a new long password"); !errors.Is(err, core.ErrNoChangePending) {
			t.Fatalf("SetTempPassword before the approval: %v", err)
		}
		st, err := b.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge), IP: "192.0.2.7"})
		if err != nil || st != (core.LoginState{Status: core.StatusApproved, PasswordChangeRequired: true}) {
			t.Fatalf("Respond with a temporary password: %+v %v", st, err)
		}
		if st, err := b.LoginStatus(ctx, l.ID); err != nil || !st.PasswordChangeRequired {
			t.Fatalf("LoginStatus: %+v %v", st, err)
		}
		return l
	}

	temp := h.tempPassword("margaret", d)
	if err := setPassword("nope", "a new long password"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("SetTempPassword of no login: %v", err)
	}
	l := approve(temp)
	var pe *core.PasswordError
	for _, pw := range []string{"short", "Margaret", strings.Repeat("x", 1025)} {
		if err := setPassword(l.ID, pw); !errors.As(err, &pe) || !errors.Is(err, core.ErrWeakPassword) {
			t.Errorf("SetTempPassword(%q): %v", pw, err)
		}
	}
	if err := setPassword(l.ID, "a new long password"); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.LoginStatus(ctx, l.ID); st.PasswordChangeRequired {
		t.Fatal("still required after the change")
	}
	if err := setPassword(l.ID, "yet another password"); !errors.Is(err, core.ErrNoChangePending) {
		t.Fatalf("SetTempPassword again: %v", err)
	}
	if _, err := b.StartLogin(ctx, req(temp)); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatalf("the temporary password after the change: %v", err)
	}
	if _, err := b.StartLogin(ctx, req("a new long password")); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	// Too late: the login's challenge has expired.
	l = approve(h.tempPassword("margaret", d))
	h.clock.Add(3*time.Minute + time.Second)
	if err := setPassword(l.ID, "a new long password"); !errors.Is(err, core.ErrNoChangePending) {
		t.Fatalf("SetTempPassword late: %v", err)
	}

	// Locked meanwhile.
	l = approve(h.tempPassword("margaret", d))
	until := h.clock.Now().Add(10 * time.Minute)
	h.store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account("margaret")
		if err != nil {
			return err
		}
		a.Lockout.LockedUntil = until
		return tx.UpdateAccount(a)
	})
	var le *core.LockedError
	if err := setPassword(l.ID, "a new long password"); !errors.As(err, &le) || !le.Until.Equal(until) {
		t.Fatalf("SetTempPassword locked: %v", err)
	}
}
