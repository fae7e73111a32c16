package device_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"ibkey/app"
	"ibkey/app/device"
	core "ibkey/authcore/device"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/platform"
	"ibkey/portal"
	svccore "ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
)

// fastArgon keeps the service's password hashing cheap.
var fastArgon = svccore.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// gateway is the service's SMS and voice gateway: it keeps the messages.
type gateway struct {
	mu   sync.Mutex
	msgs []svccore.Message
}

func (g *gateway) Send(_ context.Context, m svccore.Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.msgs = append(g.msgs, m)
	return nil
}

func (g *gateway) lastCode(t *testing.T) string {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.msgs) == 0 {
		t.Fatal("the service sent no activation code")
	}
	return g.msgs[len(g.msgs)-1].Code
}

// service is a real IB Key service (portal on SQLite) behind httptest,
// with the account demo / demo-password.
type service struct {
	t     *testing.T
	srv   *portal.Server
	store store.Store
	ts    *httptest.Server
	gw    *gateway
}

func newService(t *testing.T, opts ...func(*svccore.Config)) *service {
	t.Helper()
	st, _, err := sqlite.OpenKeyFile(filepath.Join(t.TempDir(), "svc.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, store: st, gw: &gateway{}}
	cfg := svccore.Config{
		Store: st, Gateway: s.gw, Argon2: fastArgon, Rate: svccore.RateLimit{Disabled: true},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CrossProcessPoll: 50 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := svccore.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = portal.New(svc, portal.Options{})
	s.ts = httptest.NewServer(s.srv.Handler())
	t.Cleanup(func() {
		s.ts.Close()
		st.Close()
	})
	if _, err := svccore.CreateAccount(context.Background(), st, rand.Reader, time.Now(), "demo", "+15555550100", "demo-password", fastArgon); err != nil {
		t.Fatal(err)
	}
	return s
}

// post sends v as JSON to path and decodes the answer into out; it
// returns the status.
func (s *service) post(path string, v, out any) int {
	s.t.Helper()
	b, _ := json.Marshal(v)
	resp, err := s.ts.Client().Post(s.ts.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (s *service) login() protocol.Login {
	s.t.Helper()
	var l protocol.Login
	if st := s.post("/api/v1/logins", protocol.LoginRequest{Username: "demo", Password: "demo-password", Browser: "Firefox on Linux"}, &l); st != http.StatusCreated {
		s.t.Fatalf("POST /api/v1/logins: %d", st)
	}
	return l
}

// pending counts the deliveries that wait at the service for deviceID.
func (s *service) pending(deviceID string) int {
	s.t.Helper()
	var n int
	err := s.store.View(context.Background(), func(tx store.Tx) error {
		ds, err := tx.PendingDeliveries(deviceID)
		n = len(ds)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// newAuth is the adapter over a fresh vault (memory keys, no biometrics)
// pointed at s.
func newAuth(t *testing.T, s *service) (*device.Auth, *vault.Vault) {
	t.Helper()
	v, err := vault.Open(t.TempDir(), platform.NewMemoryStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return newAuthOver(t, s, v)
}

// newAuthOver is the adapter over v pointed at s.
func newAuthOver(t *testing.T, s *service, v *vault.Vault) (*device.Auth, *vault.Vault) {
	t.Helper()
	a := device.New(device.Options{
		Vault: v, Service: s.ts.URL,
		Client: func(base string) *protocol.Client { return &protocol.Client{BaseURL: base, HTTP: s.ts.Client()} },
		Watch:  core.WatchOptions{Wait: 2 * time.Second, Retry: 50 * time.Millisecond, Rescan: 100 * time.Millisecond},
	})
	return a, v
}

// activate checks the code and activates e with pin.
func activate(t *testing.T, auth *device.Auth, e app.Enrollment, code, pin string) app.User {
	t.Helper()
	ctx := context.Background()
	act, err := auth.CheckCode(ctx, e, code, "")
	if err != nil {
		t.Fatal(err)
	}
	us, err := auth.Activate(ctx, act, app.Protection{PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// driver taps and types through the real UI.
type driver struct {
	t *testing.T
	u *app.UI
}

func (d driver) tap(id string) {
	d.t.Helper()
	b := d.u.Button(id)
	if b == nil {
		d.t.Fatalf("screen %q has no button %q", d.u.Screen(), id)
	}
	test.Tap(b)
	d.u.Wait()
}

func (d driver) typeIn(id, text string) {
	d.t.Helper()
	e := d.u.Entry(id)
	if e == nil {
		d.t.Fatalf("screen %q has no entry %q", d.u.Screen(), id)
	}
	test.Type(e, text)
}

func (d driver) at(id string) {
	d.t.Helper()
	if got := d.u.Screen(); got != id {
		d.t.Fatalf("screen %q, want %q", got, id)
	}
}

// TestEnrollAndAnswerRealService drives the app's Add User against a real
// service (the activation code read from its gateway), then Generate
// Passcode with the challenge of a browser login, and has the service
// accept the response.
func TestEnrollAndAnswerRealService(t *testing.T) {
	for _, fl := range []app.Flavor{app.IOS, app.Android} {
		t.Run(fl.String(), func(t *testing.T) {
			s := newService(t)
			auth, v := newAuth(t, s)
			a := test.NewTempApp(t)
			a.Preferences().SetString("language", app.LangEN)
			u := app.New(a, app.Options{Flavor: fl, Auth: auth, NoWatch: true})
			t.Cleanup(u.Close)
			d := driver{t, u}

			d.tap("services")
			d.tap("authenticate")
			d.tap("add-user")
			d.at("enroll-intro")
			d.tap("continue")
			d.typeIn("username", "demo")
			d.typeIn("password", "demo-password")
			d.tap("continue")
			d.at("enroll-code")
			action := map[app.Flavor]string{app.IOS: "activate", app.Android: "send"}[fl]
			// A wrong code is told here, before any PIN is asked.
			d.typeIn("code", "00000000")
			d.tap(action)
			d.at("enroll-code")
			if msg := d.u.Message(); !strings.Contains(msg, "security code is not right") {
				t.Fatalf("wrong code: message %q", msg)
			}
			d.u.Entry("code").(interface{ SetText(string) }).SetText("")
			d.typeIn("code", s.gw.lastCode(t))
			d.tap(action) // iOS: no biometrics here, a passcode next
			d.at("enroll-pin")
			d.typeIn("pin", "8264")
			d.typeIn("pin2", "8264")
			d.tap("activate")
			d.at("enroll-done")
			d.tap("done")
			users := v.Users()
			if len(users) != 1 || users[0].Name != "demo" || users[0].Service != s.ts.URL {
				t.Fatalf("vault users: %+v", users)
			}

			l := s.login()
			if !l.Push {
				t.Errorf("login: push false: the device is not the active one")
			}
			// Generate Passcode: More > Two-Factor Authentication.
			goGenerate(t, d)
			d.typeIn("challenge", l.Challenge)
			if fl == app.Android {
				d.typeIn("pin", "8264")
				d.tap("generate-passcode")
			} else {
				d.tap("generate-passcode")
				d.at("generate-unlock")
				d.typeIn("pin", "8264")
				d.tap("unlock")
			}
			d.at("response")
			d.tap("copy")
			resp := a.Clipboard().Content()
			if !regexp.MustCompile(`^\d{8}$`).MatchString(resp) {
				t.Fatalf("response %q", resp)
			}
			var st protocol.LoginStatus
			if code := s.post("/api/v1/logins/"+l.ID+"/response", protocol.LoginAnswer{Response: resp}, &st); code != http.StatusOK || st.Status != "approved" {
				t.Fatalf("POST response: %d %+v", code, st)
			}
		})
	}
}

// goGenerate opens Generate Passcode from the home screen.
func goGenerate(t *testing.T, d driver) {
	t.Helper()
	d.at("home")
	if d.u.Button("tab.more") != nil { // iOS: the tab bar at the bottom
		d.tap("tab.more")
	} else { // Android: the menu at the top left
		d.tap("more")
	}
	d.tap("2fa")
	d.tap("generate")
	d.at("generate")
}

// TestWatchApproveRealService: a browser login reaches the app's Watch as a
// LoginRequest with the signed numbers and context; a wrong number is
// refused, then the right one with the PIN approves it.
func TestWatchApproveRealService(t *testing.T) {
	s := newService(t)
	auth, _ := newAuth(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := auth.StartEnrollment(ctx, "", "demo", "demo-password", app.SMS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CheckCode(ctx, e, "000000", ""); !errors.Is(err, app.ErrBadCode) {
		t.Fatalf("wrong code: %v, want ErrBadCode", err)
	}
	us := activate(t, auth, e, s.gw.lastCode(t), "8264")
	if !us.Active || us.Name != "demo" {
		t.Errorf("user %+v", us)
	}

	wctx, wcancel := context.WithCancel(ctx)
	events := auth.Watch(wctx)
	next := func() app.Event {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("Watch closed")
			}
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return app.Event{}
	}
	l := s.login()
	var r *app.LoginRequest
	for r == nil {
		r = next().Request
	}
	if r.User != "demo" || r.App != "Client Portal" || r.Browser != "Firefox on Linux" || r.Place != app.PlaceLocal || r.IP != "127.0.0.1" {
		t.Errorf("request %+v", r)
	}
	found := false
	for _, n := range r.Numbers {
		found = found || n == l.Number
	}
	if !found {
		t.Fatalf("numbers %v lack the browser's %d", r.Numbers, l.Number)
	}
	if err := auth.Approve(ctx, *r, 999, app.Unlock{PIN: "8264"}); !errors.Is(err, app.ErrWrongNumber) {
		t.Errorf("number not offered: %v, want ErrWrongNumber", err)
	}
	if err := auth.Approve(ctx, *r, l.Number, app.Unlock{PIN: "8264"}); err != nil {
		t.Fatal(err)
	}
	var st protocol.LoginStatus
	resp, err := s.ts.Client().Get(s.ts.URL + "/api/v1/logins/" + l.ID)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Status != "approved" {
		t.Errorf("login status %q", st.Status)
	}

	// A second login, answered with the wrong number: refused.
	l2 := s.login()
	var r2 *app.LoginRequest
	for r2 == nil {
		r2 = next().Request
	}
	bad := r2.Numbers[0]
	if bad == l2.Number {
		bad = r2.Numbers[1]
	}
	if err := auth.Approve(ctx, *r2, bad, app.Unlock{PIN: "8264"}); !errors.Is(err, app.ErrWrongNumber) {
		t.Errorf("wrong number: %v, want ErrWrongNumber", err)
	}

	// The service goes away: the app goes offline.
	s.ts.CloseClientConnections()
	s.ts.Close()
	for {
		if ev := next(); !ev.Online {
			break
		}
	}
	if err := auth.Approve(ctx, *r, l.Number, app.Unlock{PIN: "8264"}); !errors.Is(err, app.ErrExpired) {
		t.Errorf("answered request: %v, want ErrExpired", err)
	}
	if _, err := auth.Inbox(ctx, "demo", app.Unlock{PIN: "8264"}); !errors.Is(err, app.ErrOffline) {
		t.Errorf("inbox offline: %v, want ErrOffline", err)
	}
	// The app changes a PIN offline unchecked (the command line refuses).
	if err := auth.ChangePIN(ctx, "demo", "8264", "9173"); err != nil {
		t.Errorf("change PIN offline: %v, want it changed unconfirmed", err)
	}
	wcancel()
	for range events {
	}
}

// TestInboxAndChangePINRealService: a temporary password is opened after
// the PIN is proved; a wrong old PIN is refused by the service and changes
// nothing; the right one changes it without touching the inbox (the
// temporary password issued before stays at the service for the next
// Inbox), and responses follow the new PIN.
func TestInboxAndChangePINRealService(t *testing.T) {
	s := newService(t)
	auth, v := newAuth(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := auth.StartEnrollment(ctx, "", "demo", "wrong-password", app.SMS)
	if !errors.Is(err, app.ErrBadCredentials) {
		t.Fatalf("bad password: %v, want ErrBadCredentials", err)
	}
	e, err := auth.StartEnrollment(ctx, "", "demo", "demo-password", app.SMS)
	if err != nil {
		t.Fatal(err)
	}
	activate(t, auth, e, s.gw.lastCode(t), "8264")
	if _, err := s.srv.Service().IssueTempPassword(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Inbox(ctx, "demo", app.Unlock{PIN: "1357"}); !errors.Is(err, app.ErrWrongPIN) {
		t.Fatalf("inbox with a wrong PIN: %v, want ErrWrongPIN", err)
	}
	if err := auth.ChangePIN(ctx, "demo", "1357", "9173"); !errors.Is(err, app.ErrWrongPIN) {
		t.Fatalf("change with a wrong PIN: %v, want ErrWrongPIN", err)
	}
	if err := auth.ChangePIN(ctx, "demo", "8264", "1111"); !errors.Is(err, app.ErrBadPIN) {
		t.Fatalf("easy new PIN: %v, want ErrBadPIN", err)
	}
	// The right PIN: the PIN proof leaves the inbox closed; the delivery
	// waits at the service, and a fresh adapter (which keeps nothing) over
	// the same vault opens it.
	if err := auth.ChangePIN(ctx, "demo", "8264", "9173"); err != nil {
		t.Fatal(err)
	}
	vu, err := v.User("demo")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.pending(vu.DeviceID); n != 1 {
		t.Fatalf("%d deliveries pending at the service after the PIN change, want 1", n)
	}
	auth, _ = newAuthOver(t, s, v)
	ds, err := auth.Inbox(ctx, "demo", app.Unlock{PIN: "9173"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Label != "Temporary password" {
		t.Fatalf("inbox %+v, want the temporary password", ds)
	}
	// It is the account's password now.
	var tl protocol.Login
	if code := s.post("/api/v1/logins", protocol.LoginRequest{Username: "demo", Password: ds[0].Text}, &tl); code != http.StatusCreated {
		t.Fatalf("login with the temporary password: %d", code)
	}
	l := tl
	r, err := auth.Respond("demo", l.Challenge, app.Unlock{PIN: "9173"})
	if err != nil {
		t.Fatal(err)
	}
	if code := s.post("/api/v1/logins/"+l.ID+"/response", protocol.LoginAnswer{Response: r}, nil); code != http.StatusOK {
		t.Fatalf("response after the PIN change: %d", code)
	}
	if _, err := auth.Respond("nobody", "123456", app.Unlock{PIN: "9173"}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if err := auth.Rename("demo", "Demo account"); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.EnrollWithLink(ctx, "https://example.com/not-a-link"); !errors.Is(err, app.ErrBadLink) {
		t.Errorf("link: %v, want ErrBadLink", err)
	}
	if us, _ := auth.Users(); len(us) != 1 || !strings.HasPrefix(us[0].Name, "Demo") {
		t.Errorf("users %+v", us)
	}
}

// TestEnrollWithLinkRealService: the Client Portal's link, pasted into the
// app's "I have a QR code link or Session ID", enrolls with no code.
func TestEnrollWithLinkRealService(t *testing.T) {
	s := newService(t)
	auth, v := newAuth(t, s)
	le, err := s.srv.Service().StartLinkEnrollment(context.Background(), svccore.LinkRequest{Username: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	a := test.NewTempApp(t)
	a.Preferences().SetString("language", app.LangEN)
	u := app.New(a, app.Options{Flavor: app.Android, Auth: auth, NoWatch: true})
	t.Cleanup(u.Close)
	d := driver{t, u}
	d.tap("services")
	d.tap("authenticate")
	d.tap("add-user")
	d.tap("use-link")
	d.typeIn("link", "not-a-session")
	d.tap("continue")
	d.at("enroll-link")
	d.u.Entry("link").(interface{ SetText(string) }).SetText(le.Link(s.ts.URL))
	d.tap("continue")
	d.at("enroll-pin")
	d.typeIn("pin", "8264")
	d.typeIn("pin2", "8264")
	d.tap("activate")
	d.at("enroll-done")
	if us := v.Users(); len(us) != 1 || us[0].Name != "demo" {
		t.Fatalf("vault users: %+v", us)
	}
	if l := s.login(); !l.Push {
		t.Error("the device enrolled by link is not the active one")
	}
}

// TestResendTooSoonRealService: the service refuses a second SMS within
// 30 s; the app says when it may be asked again, from the enrollment's
// resend_after.
func TestResendTooSoonRealService(t *testing.T) {
	s := newService(t)
	auth, _ := newAuth(t, s)
	a := test.NewTempApp(t)
	a.Preferences().SetString("language", app.LangEN)
	u := app.New(a, app.Options{Flavor: app.Android, Auth: auth, NoWatch: true})
	t.Cleanup(u.Close)
	d := driver{t, u}
	d.tap("services")
	d.tap("authenticate")
	d.tap("add-user")
	d.tap("continue")
	d.typeIn("username", "demo")
	d.typeIn("password", "demo-password")
	d.tap("continue")
	d.at("enroll-code")
	d.tap("no-code")
	d.tap("resend-sms")
	d.at("enroll-code")
	if msg := d.u.Message(); !regexp.MustCompile(`You can ask again at \d\d:\d\d:\d\d, in \d+ seconds\.`).MatchString(msg) {
		t.Errorf("message %q, want when to ask again", msg)
	}
}
