package portal

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store/postgres"
	"ibkey/portal/web"
)

// Several instances of the service on one PostgreSQL database, in one
// process: each with its own store connections, core and API, as separate
// processes would have (cmd/ibkey's TestInstances runs three binaries).

// instances starts n services on one new PostgreSQL database.
func instances(t *testing.T, n int, opts ...option) []*harness {
	t.Helper()
	url := pg.Database(t)
	var hs []*harness
	for range n {
		st, err := postgres.Open(context.Background(), url, testKey(t))
		if err != nil {
			t.Fatal(err)
		}
		h := newHarnessStore(t, st, opts...)
		if err := h.srv.MountWeb(web.Options{}, ""); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

// noPoll leaves a device's long-poll to the store's notifications: the
// look at the store would come after the tests' deadlines.
func noPoll(c *core.Config) { c.CrossProcessPoll = time.Hour }

// TestInstancesWakeDevice: a device long-polls one instance; a login on
// another, and a temporary password issued by an administrator's command
// (a handle on the database of its own), reach it at once.
func TestInstancesWakeDevice(t *testing.T) {
	hs := instances(t, 2, noPoll)
	a, b := hs[0], hs[1]
	a.addUser("wes", "password1")
	d := a.enroll("wes", "password1")
	ctx := context.Background()
	var after int64
	wake := func(what string, start func()) {
		t.Helper()
		done := make(chan protocol.Events, 1)
		go func() {
			evs, err := b.client.Events(ctx, d.id, d.token, after, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			done <- evs
		}()
		time.Sleep(200 * time.Millisecond) // the long-poll waits
		start()
		select {
		case evs := <-done:
			if len(evs.Events) != 1 {
				t.Fatalf("%s: events %+v", what, evs)
			}
			after = evs.Next
		case <-time.After(5 * time.Second): // the look at the store is an hour away
			t.Fatalf("%s: the device on the other instance was not woken", what)
		}
	}
	wake("a login on another instance", func() { a.login("wes", "password1") })
	admin, err := postgres.Open(ctx, pg.Server().URL(dbName(t, a)), testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	wake("an administrator's temporary password", func() {
		if _, err := core.IssueTempPassword(ctx, admin, rand.Reader, a.clock.Now(), "wes", fastArgon); err != nil {
			t.Fatal(err)
		}
	})
}

// dbName is the name of the database of h's store.
func dbName(t *testing.T, h *harness) string {
	t.Helper()
	return h.store.(*postgres.Store).Pool().Config().ConnConfig.Database
}

// TestInstancesSpendOnce: one right response submitted 50 times at once,
// spread over three instances, is accepted once.
func TestInstancesSpendOnce(t *testing.T) {
	hs := instances(t, 3)
	hs[0].addUser("sue", "password1")
	d := hs[0].enroll("sue", "password1")
	for round := range 3 {
		l := hs[1].login("sue", "password1")
		r := d.respond(t, l.Challenge)
		var ok, gone atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 50 {
			h := hs[i%3]
			wg.Go(func() {
				<-start
				switch code, eb := h.answer(l.ID, r); code {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusGone:
					gone.Add(1)
				default:
					t.Errorf("submit %d: %d %+v", i, code, eb)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 || gone.Load() != 49 {
			t.Fatalf("round %d: %d accepted, %d refused as spent", round, ok.Load(), gone.Load())
		}
	}
}

// TestInstancesShareLimits: password checks of one account, spread over
// three instances, take one bucket; so do the requests of one address.
func TestInstancesShareLimits(t *testing.T) {
	hs := instances(t, 3, func(c *core.Config) {
		c.Rate = core.RateLimit{PerIP: 0.001, IPBurst: 1000, PerAccount: 0.001, AccountBurst: 4}
		c.Limits.LockoutThreshold, c.Limits.MaxFailures = 100, 100
	})
	hs[0].addUser("ray", "password1")
	var codes []int
	for i := range 9 {
		c, _ := hs[i%3].do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "ray", Password: "wrong"}, nil)
		codes = append(codes, c)
	}
	for i, c := range codes {
		if want := map[bool]int{true: 401, false: 429}[i < 4]; c != want {
			t.Fatalf("password checks over three instances: %v, want 4 × 401 then 429", codes)
		}
	}
	// The failures counted are the 4 checked, on every instance.
	if f := hs[2].lockout("ray").Lockout.Failures; f != 4 {
		t.Fatalf("%d failures counted", f)
	}
	ip := instances(t, 3, func(c *core.Config) { c.Rate = core.RateLimit{PerIP: 0.001, IPBurst: 5} })
	var refused int
	for i := range 9 {
		if c, _ := ip[i%3].do("GET", "/api/v1/logins/none", nil, nil); c == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 4 {
		t.Fatalf("%d of 9 requests of one address refused over three instances, want 4 (a burst of 5)", refused)
	}
}

// TestInstancesSharePortalSessions: a person reads the login page from
// one instance, posts it to another, answers the challenge on a third,
// and is logged in on all three.
func TestInstancesSharePortalSessions(t *testing.T) {
	hs := instances(t, 3)
	hs[0].addUser("pia", "password1")
	d := hs[0].enroll("pia", "password1")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var csrf string
	do := func(h *harness, method, path string, form url.Values) page {
		t.Helper()
		var body io.Reader
		if form != nil {
			form.Set("csrf", csrf)
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, h.ts.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if m := pageCSRF.FindStringSubmatch(string(b)); m != nil {
			csrf = m[1]
		}
		return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
	}
	// The cookies of one instance's host are sent to the others: they
	// share 127.0.0.1.
	do(hs[1], "GET", "/login", nil)
	if r := do(hs[2], "POST", "/login", url.Values{"username": {"pia"}, "password": {"password1"}}); r.location != "/login/verify" {
		t.Fatalf("the login form of one instance posted to another: %d %s\n%s", r.status, r.location, r.body)
	}
	v := do(hs[0], "GET", "/login/verify", nil)
	m := pageChallenge.FindStringSubmatch(v.body)
	if m == nil {
		t.Fatalf("no challenge on the verify page of another instance (%d):\n%s", v.status, v.body)
	}
	if r := do(hs[1], "POST", "/login/verify", url.Values{"response": {d.respond(t, strings.ReplaceAll(m[1], " ", ""))}}); r.location != "/account" {
		t.Fatalf("response on another instance: %d %s", r.status, r.location)
	}
	for i, h := range hs {
		if r := do(h, "GET", "/account", nil); r.status != http.StatusOK || !strings.Contains(r.body, "pia") {
			t.Fatalf("instance %d: /account %d %s", i, r.status, r.location)
		}
	}
	if r := do(hs[2], "POST", "/logout", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := do(hs[0], "GET", "/account", nil); r.location != "/login" {
		t.Fatalf("logged out on one instance, still in on another: %d %s", r.status, r.location)
	}
}
