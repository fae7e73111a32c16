//go:build !js

package webapp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"ibkey/internal/browsertest"
)

// The web app's tests run the real service (the built ibkey binary,
// SQLite) with the web app that make web built in build/web, and drive
// the app in headless Chromium as a phone: 390 by 844 CSS pixels at 3x,
// touch, a phone's user agent. The app is a canvas: the tests tap widgets
// where ibkeyLayout (app/web) says they are, type with the events of a
// phone keyboard, and read results off the service (a login approved) and
// the clipboard (Copy). A screenshot of each step goes to
// build/test-shots/TEST/; with IBKEY_SCREENSHOTS=1 the named screens also
// go to docs/screenshots/web-ios-NAME.png and web-android-NAME.png.
//
// Without build/web or Chromium they skip, saying so; under CI they fail.

// repo is the repository's root, from this package's folder.
const repo = "../.."

// webDir is the built web app, or the test skips.
func webDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repo, "build", "web")
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no web app in %s (make web builds it): %v", dir, err)
		}
		t.Fatalf("CI is set and the web app is missing: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// ibkeyBinary builds the ibkey command once.
func ibkeyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "ibkey-webapp-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "ibkey"), "ibkey/cmd/ibkey").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return filepath.Join(binDir, "ibkey")
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// service is ibkey serve --web with the SQLite database and outbox in a
// temporary folder; a restart keeps the address, so that the web app's
// origin, its storage and its service worker stay the same.
type service struct {
	t    testing.TB
	bin  string
	dir  string
	web  string
	addr string
	URL  string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

func startService(t testing.TB) *service {
	t.Helper()
	return startServiceWeb(t, webDir(t))
}

// startServiceWeb is startService with the web app in the folder web.
func startServiceWeb(t testing.TB, web string) *service {
	t.Helper()
	s := &service{t: t, bin: ibkeyBinary(t), dir: t.TempDir(), web: web, addr: "127.0.0.1:0", logs: &lockedBuffer{}}
	t.Cleanup(func() {
		if s.cmd != nil {
			s.stop()
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.logs.String())
		}
	})
	s.start()
	return s
}

func (s *service) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "serve", "--addr", s.addr, "--db", filepath.Join(s.dir, "svc.db"),
		"--outbox", filepath.Join(s.dir, "outbox.jsonl"), "--dev-outbox", "--web", s.web, "--account-rate", "6000")
	cmd.Env = []string{"HOME=" + s.dir, "PATH=" + os.Getenv("PATH")}
	cmd.Stderr = s.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		s.t.Fatalf("serve: %v; log:\n%s", err, s.logs.String())
	}
	s.URL = strings.TrimSpace(line)
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		s.t.Fatalf("serve printed %q", line)
	}
	s.addr = u.Host
	s.cmd = cmd
}

// stop ends the service (SIGTERM: a graceful shutdown).
func (s *service) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// run runs a command of the binary on the service's database.
func (s *service) run(stdin string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = []string{"HOME=" + s.dir, "PATH=" + os.Getenv("PATH"), "IBKEY_SECRET_STORE=file"}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(s.logs)
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("ibkey %s: %v; log:\n%s", strings.Join(args, " "), err, s.logs.String())
	}
	return out.String()
}

// rect is where a widget is, in CSS pixels (app/web.Rect).
type rect struct {
	X, Y, W, H float64
	Visible    bool
	Disabled   bool
}

// layout is the screen shown (app/web.Layout).
type layout struct {
	Screen  string
	Widgets map[string]rect
	Focused string
}

// phone is a tab of Chromium that plays a phone.
type phone struct {
	*browsertest.Browser
	t     testing.TB
	shots string // the folder of this test's screenshots
	n     int
	kind  string // "ios" or "android", in the docs' screenshots' names
}

// newPhone starts Chromium as a phone with the user agent ua, the
// clipboard allowed to origin.
func newPhone(t testing.TB, ua, origin string) *phone {
	t.Helper()
	b := browsertest.New(t, browsertest.Options{Timeout: 4 * time.Minute})
	p := &phone{Browser: b, t: t, shots: filepath.Join(repo, "build", "test-shots", t.Name()), kind: "android"}
	if ua == browsertest.IPhone {
		p.kind = "ios"
	}
	os.RemoveAll(p.shots)
	b.Do(browsertest.Phone(ua), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: origin,
			}); err != nil {
				return err
			}
		}
		return nil
	}))
	return p
}

// open loads the page at u and waits for the app's first screen.
func (p *phone) open(u string) layout {
	p.t.Helper()
	p.Do(chromedp.Navigate(u))
	return p.waitFor("the app to start", func(l layout) bool { return l.Screen != "" })
}

// layout is the screen shown and where its widgets are; an empty layout
// before the app runs. It reaches the app through its event queue, after
// what was typed before.
func (p *phone) layout() layout {
	p.t.Helper()
	s := browsertest.Eval[string](p.Browser, `typeof ibkeyLayout === 'function' ? ibkeyLayout() : '{}'`)
	var l layout
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		p.t.Fatalf("ibkeyLayout: %v: %q", err, s)
	}
	return l
}

// waitFor polls the layout until ok, for 30 seconds. A new screen is
// laid out a frame after it is shown: ok must hold for two reads in a row
// with the same layout.
func (p *phone) waitFor(what string, ok func(layout) bool) layout {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last layout
	for {
		l := p.layout()
		if ok(l) && reflect.DeepEqual(l, last) {
			return l
		}
		last = l
		if time.Now().After(deadline) {
			p.shot("timeout")
			p.t.Fatalf("waited 30 s for %s; on %q with %v", what, l.Screen, keys(l.Widgets))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keys(m map[string]rect) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// waitScreen waits until the screen id is shown.
func (p *phone) waitScreen(id string) layout {
	p.t.Helper()
	return p.waitFor("screen "+id, func(l layout) bool { return l.Screen == id })
}

// tap touches the middle of the widget id on the screen shown.
func (p *phone) tap(id string) {
	p.t.Helper()
	l := p.waitFor("a still screen", func(layout) bool { return true })
	r, ok := l.Widgets[id]
	if !ok || !r.Visible || r.Disabled {
		p.shot("no-" + id)
		p.t.Fatalf("no %s to tap on %q (%+v): %v", id, l.Screen, r, keys(l.Widgets))
	}
	x, y := r.X+r.W/2, r.Y+r.H/2
	p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{
			Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: []*input.TouchPoint{{X: x, Y: y}},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{
			Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{},
		})
		return err
	}))
}

// tapWhen waits until the widget id is there and enabled, then taps it.
func (p *phone) tapWhen(id string) {
	p.t.Helper()
	p.waitFor(id+" to be tappable", func(l layout) bool {
		r, ok := l.Widgets[id]
		return ok && r.Visible && !r.Disabled
	})
	p.tap(id)
}

// tapField taps the field id and waits until it has the focus and the
// phone's keyboard is up (the page's hidden field is focused).
func (p *phone) tapField(id string) {
	p.t.Helper()
	p.tap(id)
	p.waitFor("the focus on "+id, func(l layout) bool { return l.Focused == id })
	if got := browsertest.Eval[string](p.Browser, `document.activeElement ? document.activeElement.id : ''`); got != "dummyEntry" {
		p.t.Fatalf("the keyboard's field is not focused: %q is", got)
	}
}

// keyboard says what kind of keyboard the page asks of the phone for the
// focused field: "password", "numeric" or "text".
func (p *phone) keyboard() string {
	p.t.Helper()
	return browsertest.Eval[string](p.Browser, `(() => { const e = document.getElementById('dummyEntry'); return e.type === 'password' ? 'password' : e.inputMode; })()`)
}

// phoneKey is the key event a phone's input method sends with every
// change: keyCode 229, key "Unidentified".
func phoneKey(ctx context.Context, tg *chromedp.Target, typ input.DispatchKeyEventType) error {
	_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, input.DispatchKeyEventParams{
		Type: typ, Key: "Unidentified", WindowsVirtualKeyCode: 229, NativeVirtualKeyCode: 229,
	})
	return err
}

// typeKeys types s as a phone keyboard does, one character at a time:
// keyCode 229 down, the text inserted by the input method, 229 up.
func (p *phone) typeKeys(s string) {
	p.t.Helper()
	p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, r := range s {
			if err := phoneKey(ctx, tg, input.DispatchKeyEventTypeRawKeyDown); err != nil {
				return err
			}
			if _, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: string(r)}); err != nil {
				return err
			}
			if err := phoneKey(ctx, tg, input.DispatchKeyEventTypeKeyUp); err != nil {
				return err
			}
		}
		return nil
	}))
}

// compose types word as an input method with suggestions does: the word
// grows under composition, then is committed whole.
func (p *phone) compose(word string) {
	p.t.Helper()
	p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		rs := []rune(word)
		for i := 1; i <= len(rs); i++ {
			if err := phoneKey(ctx, tg, input.DispatchKeyEventTypeRawKeyDown); err != nil {
				return err
			}
			if _, err := cdp.Call(ctx, tg, input.ImeSetComposition, input.ImeSetCompositionParams{
				Text: string(rs[:i]), SelectionStart: int64(i), SelectionEnd: int64(i),
			}); err != nil {
				return err
			}
			if err := phoneKey(ctx, tg, input.DispatchKeyEventTypeKeyUp); err != nil {
				return err
			}
		}
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: word})
		return err
	}))
}

// erase presses the phone keyboard's backspace n times: keyCode 229 and a
// deletion in the field, as Android's keyboards do.
func (p *phone) erase(n int) {
	p.t.Helper()
	for range n {
		p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			return phoneKey(ctx, tg, input.DispatchKeyEventTypeRawKeyDown)
		}))
		browsertest.Eval[bool](p.Browser, `document.execCommand('delete')`)
		p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			return phoneKey(ctx, tg, input.DispatchKeyEventTypeKeyUp)
		}))
	}
}

// enter presses the keyboard's Enter (Go, Done) key.
func (p *phone) enter() {
	p.t.Helper()
	p.Do(chromedp.KeyEvent("\r"))
}

// clipboard waits until the clipboard holds something and returns it.
func (p *phone) clipboard() string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := browsertest.Eval[string](p.Browser, `navigator.clipboard.readText()`)
		if s != "" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot saves a screenshot of the step as NN-name.png in the test's
// folder of build/test-shots.
func (p *phone) shot(name string) {
	p.t.Helper()
	p.n++
	p.Screenshot(filepath.Join(p.shots, fmt.Sprintf("%02d-%s.png", p.n, name)))
}

// doc saves a screenshot as docs/screenshots/web-KIND-NAME.png, in CSS
// pixels (390 by 844), when IBKEY_SCREENSHOTS=1, and as a step anyway.
func (p *phone) doc(name string) {
	p.t.Helper()
	p.shot(name)
	if os.Getenv("IBKEY_SCREENSHOTS") == "1" {
		p.ScreenshotCSS(filepath.Join(repo, "docs", "screenshots", "web-"+p.kind+"-"+name+".png"))
	}
}
