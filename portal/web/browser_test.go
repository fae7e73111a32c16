package web

import (
	"context"
	"errors"
	"ibkey/portal/core"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
)

// These tests drive the portal in real headless Chromium. They skip when
// /usr/bin/chromium is absent, except under CI, where they must run. With
// IBKEY_SCREENSHOTS=1 they write docs/screenshots/portal-*.png.

const chromiumPath = "/usr/bin/chromium"

type browser struct {
	t     *testing.T
	ctx   context.Context
	e     *env
	base  string // the URL of the browser's server: e's handler, forms answered slowly
	mu    sync.Mutex
	probs []string // script errors and policy violations the page logged
}

func newBrowser(t *testing.T, e *env) *browser {
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
	b := &browser{t: t, e: e, base: slowPosts(t, e.srv.Config.Handler).URL}
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	// The first action starts the browser, bound to ctx, which has no
	// deadline; the tests' actions run under one.
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
			// A 404 of /favicon.ico is a network entry, not a problem.
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

// checkProblems fails the test for any script error or CSP violation.
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

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path)) // waits for the page to load
}

// shot saves a screenshot of the whole page as docs/screenshots/portal-NAME.png
// when IBKEY_SCREENSHOTS=1.
func (b *browser) shot(name string) {
	b.t.Helper()
	if os.Getenv("IBKEY_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "portal-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// phone makes the page a phone's: 390 by 844 CSS pixels, as an iPhone 14.
func (b *browser) phone() {
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
}

func (b *browser) desktop() {
	b.do(chromedp.EmulateViewport(1280, 900))
}

// credentials types a username and password into the page's form and
// submits it with the button id.
func (b *browser) credentials(user, password, button string) {
	b.t.Helper()
	b.submit(
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID(button)),
	)
}

// answer plays the phone: it reads the challenge off the page, computes the
// response with authcore/ocra and submits it, in the 1234 5678 form that
// the app shows.
func (b *browser) answer(key []byte, spoil bool) {
	b.t.Helper()
	c := strings.ReplaceAll(b.text("challenge"), " ", "")
	if len(c) != 6 {
		b.t.Fatalf("challenge %q", c)
	}
	r := respond(b.t, key, c)
	if spoil {
		r = wrong(r)
	}
	b.submit(
		chromedp.SendKeys(chromedp.ID("response"), r[:4]+" "+r[4:]),
		chromedp.Click(chromedp.ID("submit-response")),
	)
}

func (b *browser) login(user, password string, key []byte) {
	b.t.Helper()
	b.open("/login")
	b.credentials(user, password, "login")
	b.answer(key, false)
	if got := b.text("account-user"); got != user {
		b.t.Fatalf("account of %q", got)
	}
}

func TestBrowserChallengeResponse(t *testing.T) {
	e := newEnv(t, Options{DevOutbox: true})
	b := newBrowser(t, e)
	b.open("/login")
	b.wait(chromedp.WaitVisible(chromedp.ID("username")))
	b.shot("login")
	b.credentials("alice", alicePassword, "login")
	b.wait(chromedp.WaitVisible(chromedp.ID("challenge")))
	b.shot("challenge")
	b.answer(aliceKey, false)
	if got := b.text("account-user"); got != "alice" {
		t.Fatalf("logged in as %q", got)
	}
	if got := b.location(); got != "/account" {
		t.Fatalf("at %q", got)
	}
	b.shot("account")

	// Logging out works from the header's form.
	b.submit(chromedp.Click(chromedp.CSS(".who button")))
	if got := b.text("flash"); got != "You have logged out." {
		t.Fatalf("flash %q", got)
	}
}

// The challenge/response path works without JavaScript, also for a user
// whose page offers the push and its script.
func TestBrowserChallengeResponseNoScript(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.open("/login")
	b.credentials("bob", bobPassword, "login")
	// The script did not run: the button it hides is there.
	b.wait(chromedp.WaitVisible(chromedp.ID("continue")))
	b.answer(bobKey, false)
	if got := b.text("account-user"); got != "bob" {
		t.Fatalf("logged in as %q", got)
	}
}

func TestBrowserSeamless(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.open("/login")
	b.credentials("bob", bobPassword, "login")
	shown := b.text("number")
	b.text("challenge") // both ways on one page
	// The script runs: it hides the button for pages without script.
	b.wait(chromedp.WaitNotVisible(chromedp.ID("continue")))
	b.shot("verify")
	b.phone()
	b.shot("verify-phone")
	b.desktop()

	l := e.fake.LastLogin(t, "bob")
	if shown != strconv.Itoa(l.Number) {
		t.Fatalf("page shows %q, login has %d", shown, l.Number)
	}
	// The phone: the person picks the number the browser shows.
	if err := e.fake.Approve(l.ID, l.Number); err != nil {
		t.Fatal(err)
	}
	// The page moves on by itself.
	if got := b.text("account-user"); got != "bob" {
		t.Fatalf("logged in as %q", got)
	}
	if got := b.location(); got != "/account" {
		t.Fatalf("at %q", got)
	}
}

func TestBrowserSeamlessDenied(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.open("/login")
	b.credentials("bob", bobPassword, "login")
	b.text("number")
	e.fake.Deny(e.fake.LastLogin(t, "bob").ID)
	if got := b.text("flash"); !strings.Contains(got, "denied on your phone") {
		t.Fatalf("flash %q", got)
	}
}

func TestBrowserWrongResponse(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.open("/login")
	b.credentials("alice", alicePassword, "login")
	b.answer(aliceKey, true)
	got := b.text("flash")
	if !strings.Contains(got, "That response was wrong") || !strings.Contains(got, "Start again") {
		t.Fatalf("flash %q", got)
	}
	if loc := b.location(); loc != "/login" {
		t.Fatalf("at %q", loc)
	}
	b.shot("wrong")
	// Starting over works.
	b.credentials("alice", alicePassword, "login")
	b.answer(aliceKey, false)
	b.text("account-user")
}

func TestBrowserExpired(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.open("/login")
	b.credentials("carol", carolPassword, "login")
	c := strings.ReplaceAll(b.text("challenge"), " ", "")
	e.clock.Advance(3*time.Minute + time.Second)
	b.submit(
		chromedp.SendKeys(chromedp.ID("response"), respond(t, carolKey, c)),
		chromedp.Click(chromedp.ID("submit-response")),
	)
	if got := b.text("flash"); !strings.Contains(got, "expired") {
		t.Fatalf("flash %q", got)
	}
	b.shot("expired")
}

func TestBrowserSeamlessExpired(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.open("/login")
	b.credentials("bob", bobPassword, "login")
	b.text("number")
	e.clock.Advance(5 * time.Minute)
	// The script notices and the page moves on by itself.
	if got := b.text("flash"); !strings.Contains(got, "expired") {
		t.Fatalf("flash %q", got)
	}
}

func TestBrowserLocked(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	e.fake.StartErr = &core.LockedError{Until: e.clock.Now().Add(15 * time.Minute)}
	b.open("/login")
	b.credentials("carol", carolPassword, "login")
	if got := b.text("locked"); !strings.Contains(got, "locked") {
		t.Fatalf("page says %q", got)
	}
	b.shot("locked")
}

func TestBrowserStepUp(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.login("alice", alicePassword, aliceKey)
	b.submit(chromedp.Click(chromedp.ID("change-password")))
	b.wait(chromedp.WaitVisible(chromedp.ID("stepup")))
	if got := b.location(); got != "/stepup?for=password" {
		t.Fatalf("at %q", got)
	}
	b.shot("stepup")
	b.credentials("alice", alicePassword, "stepup")
	b.wait(chromedp.WaitVisible(chromedp.ID("challenge")))
	b.shot("stepup-verify")
	b.answer(aliceKey, false)
	b.wait(chromedp.WaitVisible(chromedp.ID("new")))
	b.shot("password")
	b.submit(
		chromedp.SendKeys(chromedp.ID("new"), "a brand new password"),
		chromedp.SendKeys(chromedp.ID("confirm"), "a brand new password"),
		chromedp.Click(chromedp.ID("save-password")),
	)
	if got := b.text("flash"); got != "Your password was changed." {
		t.Fatalf("flash %q", got)
	}
	if got := e.fake.password("alice"); got != "a brand new password" {
		t.Fatalf("password %q", got)
	}
	b.shot("password-changed")
}

func TestBrowserEnrollment(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	b.login("alice", alicePassword, aliceKey)
	b.submit(chromedp.Click(chromedp.ID("add-device")))
	b.credentials("alice", alicePassword, "stepup")
	b.answer(aliceKey, false)
	b.wait(chromedp.WaitVisible(chromedp.ID("qr")))
	enr := e.fake.enrollments()
	if len(enr) != 1 {
		t.Fatalf("enrollments %v", enr)
	}
	if got := b.text("link"); got != enr[0].Link {
		t.Errorf("link %q, want %q", got, enr[0].Link)
	}
	if got := b.text("session-id"); got != enr[0].SessionID {
		t.Errorf("Session ID %q, want %q", got, enr[0].SessionID)
	}
	// The QR code loaded as an image (the CSP allows it, the endpoint
	// serves it).
	var w int
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		v := query(b, chromedp.Evaluate[int](`document.getElementById("qr").naturalWidth`))
		if w = v; w > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w != qrSize {
		t.Fatalf("QR image width %d, want %d", w, qrSize)
	}
	b.shot("device")
	b.phone()
	b.shot("device-phone")
}

func TestBrowserResendAndOutbox(t *testing.T) {
	e := newEnv(t, Options{DevOutbox: true})
	b := newBrowser(t, e)
	e.fake.setEnrolling("dave")
	b.open("/login")
	b.submit(chromedp.Click(chromedp.ID("resend-link")))
	b.wait(chromedp.WaitVisible(chromedp.ID("channel-voice")))
	b.shot("resend")
	b.submit(
		chromedp.SendKeys(chromedp.ID("username"), "dave"),
		chromedp.SendKeys(chromedp.ID("password"), "dave's password"),
		chromedp.Click(chromedp.ID("channel-voice")),
		chromedp.Click(chromedp.ID("resend")),
	)
	if got := b.text("flash"); !strings.Contains(got, "by a voice call") {
		t.Fatalf("flash %q", got)
	}
	msgs, _ := e.fake.Outbox(t.Context())
	if len(msgs) != 1 || msgs[0].Channel != "voice" {
		t.Fatalf("outbox %+v", msgs)
	}
	b.submit(chromedp.Click(chromedp.CSS(`footer a[href="/outbox"]`)))
	if got := b.text("outbox"); !strings.Contains(got, msgs[0].Code) {
		t.Fatalf("outbox page lacks the code %s:\n%s", msgs[0].Code, got)
	}
	b.shot("outbox")
}

// TestBrowserNewPassword logs in with a temporary password: the portal
// makes the person choose a new one before anything else.
func TestBrowserNewPassword(t *testing.T) {
	e := newEnv(t, Options{})
	e.fake.setTemporary("alice", aliceTemp)
	b := newBrowser(t, e)
	b.open("/login")
	b.credentials("alice", aliceTemp, "login")
	b.answer(aliceKey, false)
	b.wait(chromedp.WaitVisible(chromedp.ID("new")))
	if got := b.location(); got != "/login/new-password" {
		t.Fatalf("at %q", got)
	}
	b.shot("new-password")
	b.open("/account")
	b.wait(chromedp.WaitVisible(chromedp.ID("new")))
	if got := b.location(); got != "/login/new-password" {
		t.Fatalf("the account page went to %q", got)
	}
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
	if got := b.location(); got != "/account" {
		t.Fatalf("at %q", got)
	}
	if got := e.fake.password("alice"); got != "a brand new password" {
		t.Fatalf("password %q", got)
	}
}

// TestBrowserResponseWhilePolling: the person sends the response string of
// a login that also offers the push, and the page's script polls while the
// answer is on its way: the login is approved by then, but the script must
// not submit the continue form over the answer (its old session is gone:
// "Your session has expired").
func TestBrowserResponseWhilePolling(t *testing.T) {
	e := newEnv(t, Options{})
	b := newBrowser(t, e)
	// The answer to the response is held back after it is made (the
	// login approved, the session rotated), long enough for the script to
	// poll.
	held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/login/verify" {
			e.srv.Config.Handler.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, r)
		time.Sleep(2500 * time.Millisecond)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(held.Close)
	b.base = held.URL
	b.open("/login")
	b.credentials("bob", bobPassword, "login")
	b.wait(chromedp.WaitNotVisible(chromedp.ID("continue"))) // the script runs
	b.answer(bobKey, false)
	if got := b.text("account-user"); got != "bob" {
		t.Fatalf("after the response: %q", got)
	}
}
