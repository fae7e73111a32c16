package portal

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/web"
)

// These tests drive the Client Portal pages of the real service (SQLite,
// the API, package web mounted by MountWeb) in headless Chromium; the test
// plays the phone with authcore over the device API. They skip when
// /usr/bin/chromium is absent, except under CI, where they must run.

const chromiumPath = "/usr/bin/chromium"

type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	mu    sync.Mutex
	probs []string // script errors and policy violations the page logged
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no browser: %v", err)
		}
		t.Fatalf("CI is set and the browser is missing: %v", err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	b := &browser{t: t, base: base}
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	})); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
				b.problem(string(ev.Entry.Source) + ": " + ev.Entry.Text)
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.problem("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	b.ctx = ctx
	t.Cleanup(b.checkProblems)
	return b
}

// postDelay is how long the browser's server takes to answer a form: a
// loaded machine's, so that a step that reads the page too early (before
// the page a submit asked for has replaced the old one) fails here as it
// would there (it hung until the test's deadline, or read a node that was
// gone: "No node with given id").
const postDelay = 300 * time.Millisecond

// slowPosts serves h, answering every form post postDelay late.
func slowPosts(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			time.Sleep(postDelay)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probs = append(b.probs, s)
}

func (b *browser) checkProblems() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.probs {
		b.t.Errorf("the page logged: %s", p)
	}
}

// stepTimeout bounds each step of a test (an action, a query, a page
// load), not the whole test: on a loaded machine a test of many steps is
// slow, not failed, and a step that hangs still ends.
const stepTimeout = 45 * time.Second

func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// do runs actions that stay on the page.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// submit runs actions that end in a navigation (a form's button, a link)
// and waits until the next page has loaded: the queries after it read the
// new page, never nodes of the one it replaces ("No node with given id").
// A navigation that another one cut short (net::ERR_ABORTED: the page's
// script moved on by itself meanwhile, as it does when a login is
// answered or expires) is not a failure: the next query waits for the
// page that won.
func (b *browser) submit(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	_, err := chromedp.RunResponse(ctx, actions...)
	var le *chromedp.LoadError
	if err != nil && !(errors.As(err, &le) && le.ErrorText == "net::ERR_ABORTED") {
		b.t.Fatal(err)
	}
}

func (b *browser) text(id string) string {
	b.t.Helper()
	query(b, chromedp.WaitVisible(chromedp.ID(id)))
	return strings.TrimSpace(query(b, chromedp.Text(chromedp.ID(id))))
}

func (b *browser) location() string {
	b.t.Helper()
	return strings.TrimPrefix(query(b, chromedp.Location()), b.base)
}

// query runs a read-only action, again if the page navigated under it (a
// page's script may move it on by itself): a query can stay bound to the
// replaced page, which Chromium answers "Cannot find context with
// specified id" or "No node with given id", or never answers at all. So
// each try has a short deadline of its own, and the step a long one.
func query[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, queryTry)
		v, err := chromedp.Run(ctx, a)
		cancel()
		if err == nil {
			return v
		}
		stale := errors.Is(err, context.DeadlineExceeded) ||
			strings.Contains(err.Error(), "Cannot find context with specified id") ||
			strings.Contains(err.Error(), "No node with given id") ||
			strings.Contains(err.Error(), "Could not find node with given id")
		if !stale || time.Now().After(deadline) {
			b.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queryTry bounds one try of a query.
const queryTry = 5 * time.Second

// wait waits for a condition of the page (an element visible or hidden),
// as a query: again if the page changed under it.
func (b *browser) wait(a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	query(b, a)
}

// scripts turns the pages' JavaScript on or off.
func (b *browser) scripts(on bool) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	}))
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path)) // waits for the page to load
}

func (b *browser) credentials(user, password, button string) {
	b.t.Helper()
	b.submit(
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID(button)),
	)
}

// answer plays the phone for challenge/response: it reads the challenge
// off the page, computes the response with the device's secret and types
// it in the "1234 5678" form the app shows.
func (b *browser) answer(d *device, spoil bool) {
	b.t.Helper()
	c := strings.ReplaceAll(b.text("challenge"), " ", "")
	if len(c) != 6 {
		b.t.Fatalf("challenge %q", c)
	}
	r := d.respond(b.t, c)
	if spoil {
		r = wrong(r)
	}
	b.submit(
		chromedp.SendKeys(chromedp.ID("response"), r[:4]+" "+r[4:]),
		chromedp.Click(chromedp.ID("submit-response")),
	)
}

// approve plays the phone for a seamless login: it takes the signed
// request from the device channel, checks it, picks number among its three
// and approves with the approve suite, as the app does.
func (h *harness) approve(d *device, number int) (protocol.Event, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := h.client.Events(ctx, d.id, d.token, 0, 10*time.Second)
	if err != nil {
		return protocol.Event{}, err
	}
	if len(evs.Events) == 0 {
		h.t.Fatal("no event on the device channel")
	}
	se := evs.Events[len(evs.Events)-1]
	ev, err := protocol.OpenEvent(d.serviceKey, d.id, se)
	if err != nil {
		h.t.Fatal(err)
	}
	found := false
	for _, n := range ev.Numbers {
		found = found || n == number
	}
	if !found {
		h.t.Fatalf("the browser's number %d is not among the phone's %v", number, ev.Numbers)
	}
	r, err := ocra.Generate(ocra.MustParseSuite(protocol.SuiteApprove), d.secret, protocol.ApprovalInput(ev, se.Payload, number))
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: ev.ID, Number: number, Response: r})
	return ev, err
}

// TestBrowserRealService logs in through the Client Portal of the real
// service both ways, gets a wrong response and an expired challenge
// refused, and moves IB Key to a second device with the Add device page's
// link.
func TestBrowserRealService(t *testing.T) {
	h := newHarness(t)
	h.srv.MountWeb(web.Options{}, "")
	h.addUser("alice", "correct horse")
	d := h.enroll("alice", "correct horse") // by the API, with the SMS code
	b := newBrowser(t, slowPosts(t, h.srv.Handler()).URL)

	// Challenge/response.
	b.open("/login")
	b.credentials("alice", "correct horse", "login")
	b.answer(d, false)
	if got := b.text("account-user"); got != "alice" {
		t.Fatalf("logged in as %q", got)
	}
	b.submit(chromedp.Click(chromedp.CSS(".who button"))) // log out
	if got := b.text("flash"); got != "You have logged out." {
		t.Fatalf("flash %q", got)
	}

	// Seamless, with number matching: the phone approves through the
	// device API and the page moves on by itself.
	b.open("/login")
	b.credentials("alice", "correct horse", "login")
	shown, err := strconv.Atoi(b.text("number"))
	if err != nil {
		t.Fatal(err)
	}
	b.wait(chromedp.WaitNotVisible(chromedp.ID("continue"))) // the script runs
	ev, err := h.approve(d, shown)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if ev.Context.App != "Client Portal" || !strings.Contains(ev.Context.Browser, "Chrome") {
		t.Fatalf("the phone shows %+v", ev.Context)
	}
	if got := b.text("account-user"); got != "alice" {
		t.Fatalf("logged in as %q", got)
	}
	if got := b.location(); got != "/account" {
		t.Fatalf("at %q", got)
	}
	b.submit(chromedp.Click(chromedp.CSS(".who button")))
	b.text("flash")

	// A wrong response ends the challenge and says so.
	b.open("/login")
	b.credentials("alice", "correct horse", "login")
	b.answer(d, true)
	if got := b.text("flash"); !strings.Contains(got, "That response was wrong") {
		t.Fatalf("flash %q", got)
	}
	// A response to an expired challenge says so. Scripts are off for it:
	// the page's script would move on by itself once the login expires
	// (the seamless tests of portal/web cover that), racing the response.
	b.scripts(false)
	b.credentials("alice", "correct horse", "login")
	c := strings.ReplaceAll(b.text("challenge"), " ", "")
	h.clock.Add(3*time.Minute + time.Second)
	b.submit(
		chromedp.SendKeys(chromedp.ID("response"), d.respond(t, c)),
		chromedp.Click(chromedp.ID("submit-response")),
	)
	if got := b.text("flash"); !strings.Contains(got, "expired") {
		t.Fatalf("flash %q", got)
	}
	b.scripts(true)

	// Add a device: log in, step up, and the page shows the link and the
	// Session ID of a real enrollment by link.
	b.open("/login")
	b.credentials("alice", "correct horse", "login")
	b.answer(d, false)
	b.submit(chromedp.Click(chromedp.ID("add-device")))
	b.credentials("alice", "correct horse", "stepup")
	b.answer(d, false)
	b.wait(chromedp.WaitVisible(chromedp.ID("qr")))
	link := b.text("link")
	svc, sid, err := protocol.ParseEnrollLink(link)
	if err != nil || svc != b.base {
		t.Fatalf("link %q: %q %v", link, svc, err)
	}
	if got := b.text("session-id"); got != protocol.FormatSessionID(sid) {
		t.Fatalf("Session ID %q, link's %q", got, sid)
	}
	d2, err := h.enrollLink(b.text("session-id"))
	if err != nil {
		t.Fatalf("enroll with the page's Session ID: %v", err)
	}
	b.submit(chromedp.Click(chromedp.CSS(".who button")))
	b.text("flash")

	// The new device logs in; the old one is retired.
	b.open("/login")
	b.credentials("alice", "correct horse", "login")
	b.answer(d2, false)
	if got := b.text("account-user"); got != "alice" {
		t.Fatalf("logged in with the new device as %q", got)
	}
	if _, err := h.client.Events(context.Background(), d.id, d.token, 0, 0); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("old device: %v", err)
	}
}

// TestBrowserTempPassword: the administrator issues a temporary password,
// the device reads it from its inbox, and the person logs in with it by
// challenge/response, is made to choose a new one before anything else,
// then logs in with the new one.
func TestBrowserTempPassword(t *testing.T) {
	h := newHarness(t)
	h.srv.MountWeb(web.Options{}, "")
	h.addUser("alice", "correct horse")
	d := h.enroll("alice", "correct horse")
	temp := h.tempPassword("alice", d)
	b := newBrowser(t, slowPosts(t, h.srv.Handler()).URL)

	b.open("/login")
	b.credentials("alice", temp, "login")
	b.answer(d, false)
	b.wait(chromedp.WaitVisible(chromedp.ID("new")))
	if got := b.location(); got != "/login/new-password" {
		t.Fatalf("at %q", got)
	}
	if got := b.text("who"); got != "alice" {
		t.Fatalf("header names %q", got)
	}

	// Nothing else until it is changed.
	for _, path := range []string{"/account", "/stepup?for=device", "/"} {
		b.open(path)
		b.wait(chromedp.WaitVisible(chromedp.ID("new")))
		if got := b.location(); got != "/login/new-password" {
			t.Fatalf("%s went to %q", path, got)
		}
	}

	// The two must match.
	b.submit(
		chromedp.SendKeys(chromedp.ID("new"), "a brand new password"),
		chromedp.SendKeys(chromedp.ID("confirm"), "a brand new passw0rd"),
		chromedp.Click(chromedp.ID("save-password")),
	)
	if got := b.text("error"); got != "The two passwords are not the same." {
		t.Fatalf("error %q", got)
	}
	b.submit(
		chromedp.SendKeys(chromedp.ID("new"), "a brand new password"),
		chromedp.SendKeys(chromedp.ID("confirm"), "a brand new password"),
		chromedp.Click(chromedp.ID("save-password")),
	)
	if got := b.text("flash"); got != "Your new password is set." {
		t.Fatalf("flash %q", got)
	}
	if got := b.text("account-user"); got != "alice" {
		t.Fatalf("logged in as %q", got)
	}
	if got := b.location(); got != "/account" {
		t.Fatalf("at %q", got)
	}
	b.submit(chromedp.Click(chromedp.CSS(".who button"))) // log out
	b.text("flash")

	// The temporary password is spent; the new one logs in.
	b.credentials("alice", temp, "login")
	if got := b.text("error"); !strings.Contains(got, "Wrong username or password") {
		t.Fatalf("the temporary password again: %q", got)
	}
	b.open("/login")
	b.credentials("alice", "a brand new password", "login")
	b.answer(d, false)
	if got := b.text("account-user"); got != "alice" {
		t.Fatalf("logged in with the new password as %q", got)
	}
	if got := b.location(); got != "/account" {
		t.Fatalf("at %q", got)
	}
}
