package device_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"ibkey/app"
	"ibkey/app/device"
	core "ibkey/authcore/device"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	svccore "ibkey/portal/core"
)

// watched is the app's UI over the adapter, fed on the test's goroutine
// from the adapter's Watch, as ShowAndRun feeds it from the event loop.
type watched struct {
	driver
	auth   *device.Auth
	vault  *vault.Vault
	s      *service
	events <-chan app.Event
}

// newWatched enrolls demo (PIN 8264) on a fresh vault over s and starts
// the UI on the home screen, watching.
func newWatched(t *testing.T, s *service) *watched {
	t.Helper()
	auth, v := newAuth(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, err := auth.StartEnrollment(ctx, "", "demo", "demo-password", app.SMS)
	if err != nil {
		t.Fatal(err)
	}
	activate(t, auth, e, s.gw.lastCode(t), "8264")
	return watchOver(t, s, auth, v, ctx)
}

func watchOver(t *testing.T, s *service, auth *device.Auth, v *vault.Vault, ctx context.Context) *watched {
	t.Helper()
	a := test.NewTempApp(t)
	a.Preferences().SetString("language", app.LangEN)
	u := app.New(a, app.Options{Flavor: app.Android, Auth: auth, NoWatch: true})
	t.Cleanup(u.Close)
	w := &watched{driver: driver{t, u}, auth: auth, vault: v, s: s, events: auth.Watch(ctx)}
	w.tap("login")
	return w
}

// until hands the UI the Watch events until cond holds; it fails when
// that takes longer than limit.
func (w *watched) until(what string, limit time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for !cond() {
		select {
		case ev, ok := <-w.events:
			if !ok {
				w.t.Fatalf("%s: Watch closed", what)
			}
			w.u.Deliver(ev)
		case <-deadline.C:
			w.t.Fatalf("%s: not within %v (screen %q, requests %v)", what, limit, w.u.Screen(), w.u.Requests())
		}
	}
}

// shown logs in at the service as a browser does and waits until the app
// shows the request.
func (w *watched) shown() protocol.Login {
	w.t.Helper()
	l := w.s.login()
	w.until("the request shown", 5*time.Second, func() bool {
		return w.u.Screen() == "approve" && len(w.u.Requests()) > 0 && w.u.Requests()[0].ID == l.ID
	})
	return l
}

// gone waits until the app no longer holds the request: within a second
// of the service knowing it is over.
func (w *watched) gone(l protocol.Login) {
	w.t.Helper()
	w.until("the request gone", time.Second, func() bool {
		for _, r := range w.u.Requests() {
			if r.ID == l.ID {
				return false
			}
		}
		return w.u.Screen() != "approve"
	})
}

// The app's login requests are the service's truth: a request answered
// in the browser, denied, answered by another path, expired, renamed or
// removed leaves the app's list within a second of the service knowing,
// and a restart shows only those still pending.
func TestRequestsFollowTheServiceRealService(t *testing.T) {
	const pin = "8264"
	t.Run("answered in the browser", func(t *testing.T) {
		w := newWatched(t, newService(t))
		l := w.shown()
		resp, err := w.auth.Respond("demo", l.Challenge, app.Unlock{PIN: pin})
		if err != nil {
			t.Fatal(err)
		}
		if code := w.s.post("/api/v1/logins/"+l.ID+"/response", protocol.LoginAnswer{Response: resp}, nil); code != http.StatusOK {
			t.Fatalf("response: %d", code)
		}
		w.gone(l)
		w.at("approve-result")
		if msg := w.u.Message(); msg != "" {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("denied here", func(t *testing.T) {
		w := newWatched(t, newService(t))
		l := w.shown()
		w.tap("deny")
		w.tap("deny-mistake")
		w.at("approve-result")
		w.gone(l)
		w.tap("done")
		w.at("home")
	})
	t.Run("answered by another path", func(t *testing.T) {
		w := newWatched(t, newService(t))
		l := w.shown()
		// The command line's approve on this device: another process over
		// the same vault.
		other := &core.Device{Vault: w.vault, Client: func(base string) *protocol.Client { return &protocol.Client{BaseURL: base, HTTP: w.s.ts.Client()} }}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := other.WaitLogin(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Approve(ctx, r, l.Number, vault.Unlock{PIN: pin}); err != nil {
			t.Fatal(err)
		}
		w.gone(l)
	})
	t.Run("expired", func(t *testing.T) {
		w := newWatched(t, newService(t, func(c *svccore.Config) { c.Limits.RequestTTL = 1500 * time.Millisecond }))
		w.shown()
		// Within a second of its 1.5 s: the device's timer at expires_at,
		// and the service's list.
		w.until("expired", 1500*time.Millisecond+time.Second, func() bool { return len(w.u.Requests()) == 0 })
		w.at("approve-result")
	})
	t.Run("renamed", func(t *testing.T) {
		w := newWatched(t, newService(t))
		l := w.shown()
		w.tap("back")
		if err := w.auth.Rename("demo", "Demo account"); err != nil {
			t.Fatal(err)
		}
		w.tap("review")
		w.at("approve")
		w.tap("deny")
		w.tap("deny-mistake") // it said "No such user"
		w.at("approve-result")
		if msg := w.u.Message(); msg != "" {
			t.Fatalf("deny after a rename: %q", msg)
		}
		w.gone(l)
		w.tap("done")
		// The next login shows at once, not behind a stale one.
		l2 := w.shown()
		if got := w.u.Requests(); len(got) != 1 || got[0].ID != l2.ID {
			t.Fatalf("requests %v, want only %s", got, l2.ID)
		}
	})
	t.Run("removed", func(t *testing.T) {
		w := newWatched(t, newService(t))
		l := w.shown()
		if err := w.auth.Remove(context.Background(), "demo"); err != nil {
			t.Fatal(err)
		}
		w.gone(l)
	})
	t.Run("restart", func(t *testing.T) {
		s := newService(t)
		w := newWatched(t, s)
		l1 := w.shown()
		// The app quits; meanwhile l1 is answered in the browser and l2
		// starts.
		resp, _ := w.auth.Respond("demo", l1.Challenge, app.Unlock{PIN: pin})
		s.post("/api/v1/logins/"+l1.ID+"/response", protocol.LoginAnswer{Response: resp}, nil)
		l2 := s.login()
		auth, _ := newAuthOver(t, s, w.vault)
		w2 := watchOver(t, s, auth, w.vault, t.Context())
		w2.until("the pending request shown", 5*time.Second, func() bool { return w2.u.Screen() == "approve" })
		if got := w2.u.Requests(); len(got) != 1 || got[0].ID != l2.ID {
			t.Fatalf("after a restart: %v, want only %s", got, l2.ID)
		}
	})
}
