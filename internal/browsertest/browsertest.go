//go:build !js

// Package browsertest starts headless Chromium for tests and emulates a
// phone in it: the parts that every browser test of ibkey repeats. A test
// that cannot find Chromium skips, except under CI (CI set), where it
// fails. Not for js: chromedp does not build there.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// User agents of the phones the tests emulate.
const (
	// Android is Chrome on a Pixel 8.
	Android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	// IPhone is Safari on an iPhone.
	IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// Browser is one headless Chromium and a tab in it.
type Browser struct {
	t     testing.TB
	Ctx   context.Context // the tab's, with the test's deadline
	tab   context.Context // the tab's, without a deadline (for new tabs)
	mu    sync.Mutex
	probs []string
}

// Options of New.
type Options struct {
	// Timeout bounds the whole test's use of the browser (default 2
	// minutes).
	Timeout time.Duration
	// Flags are extra command-line flags of Chromium.
	Flags map[string]any
}

// New starts Chromium (a fresh profile in a temporary folder) for the
// test, and stops it when the test ends. Script errors and policy
// violations that the page logs fail the test at its end.
func New(t testing.TB, o Options) *Browser {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no browser: %v", err)
		}
		t.Fatalf("CI is set and the browser is missing: %v", err)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
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
	}
	for k, v := range o.Flags {
		opts = append(opts, chromedp.Flag(k, v))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	b := &Browser{t: t, tab: ctx}
	// The first action starts the browser, bound to ctx, which has no
	// deadline; the tests' actions run under one.
	b.watch(ctx)
	tctx, cancel3 := context.WithTimeout(ctx, o.Timeout)
	t.Cleanup(cancel3)
	b.Ctx = tctx
	t.Cleanup(b.checkProblems)
	return b
}

// NewTab opens another tab in the same browser (same profile: the same
// storage and service workers), closed when the test ends.
func (b *Browser) NewTab() *Browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.tab)
	b.t.Cleanup(cancel)
	nb := &Browser{t: b.t, tab: ctx}
	nb.watch(ctx)
	deadline, _ := b.Ctx.Deadline()
	tctx, cancel2 := context.WithDeadline(ctx, deadline)
	b.t.Cleanup(cancel2)
	nb.Ctx = tctx
	b.t.Cleanup(nb.checkProblems)
	return nb
}

// watch collects the errors the tab's pages log.
func (b *Browser) watch(ctx context.Context) {
	b.t.Helper()
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	})); err != nil {
		b.t.Fatalf("start the browser: %v", err)
	}
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			// A failed request (a 404, the service stopped) is a network
			// entry, not a problem of the page.
			if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
				b.Problem(string(ev.Entry.Source) + ": " + ev.Entry.Text)
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			b.Problem("exception: " + text)
		}
	}()
}

// Problem records something wrong that the page did.
func (b *Browser) Problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probs = append(b.probs, s)
}

// Problems returns and forgets the problems recorded so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.probs
	b.probs = nil
	return p
}

func (b *Browser) checkProblems() {
	for _, p := range b.Problems() {
		b.t.Errorf("the page logged: %s", p)
	}
}

// Do runs the actions in the tab and fails the test on an error.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// Eval evaluates the JavaScript expression in the page, awaiting it when it
// is a promise, and decodes its value into a T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// Phone emulates a phone of 390 by 844 CSS pixels (an iPhone 14's screen)
// at 3 device pixels each, with a touch screen and the user agent ua
// (Android or IPhone).
func Phone(ua string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: 390, Height: 844, DeviceScaleFactor: 3, Mobile: true,
			ScreenOrientation: &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary},
		}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
			return err
		}
		// A headless tab has no focus of its own; a phone's foreground
		// tab does (the keyboard, the clipboard).
		_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
}

// Screenshot saves the tab's viewport as a PNG file at path, in device
// pixels (a phone's 390 by 844 at 3x is 1170 by 2532).
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	b.save(path, png)
}

// ScreenshotCSS saves the tab's viewport as a PNG file at path, one pixel
// a CSS pixel (a phone's is 390 by 844).
func (b *Browser) ScreenshotCSS(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		v := m.CSSVisualViewport
		ratio, err := chromedp.Evaluate[float64]("devicePixelRatio")(ctx, t)
		if err != nil {
			return nil, err
		}
		res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Clip: &page.Viewport{X: v.PageX, Y: v.PageY, Width: v.ClientWidth, Height: v.ClientHeight, Scale: 1 / ratio},
		})
		if err != nil {
			return nil, err
		}
		return res.Data, nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
	b.save(path, png)
}

func (b *Browser) save(path string, png []byte) {
	b.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
