//go:build !js

package webapp_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"ibkey/internal/browsertest"
)

// firstDraw records in __firstDraw when the page first draws with WebGL,
// in milliseconds from the start of the navigation: the app's first frame.
const firstDraw = `(() => {
	for (const proto of [self.WebGLRenderingContext, self.WebGL2RenderingContext].filter(Boolean).map((c) => c.prototype)) {
		for (const name of ['drawArrays', 'drawElements']) {
			const draw = proto[name];
			proto[name] = function (...args) {
				const r = draw.apply(this, args);
				if (self.__firstDraw === undefined) {
					self.__firstDraw = performance.now();
				}
				return r;
			};
		}
	}
})();`

// BenchmarkWebAppStart loads the web app (the ibkey app, and Fyne's hello
// world when scripts/web-bench.sh has built it) served by ibkey serve, in
// Chromium as a phone, and reports the time to its first frame: cold (a
// new browser profile: no cache, no service worker) and warm (a reload
// from the service worker's cache), and its memory a few seconds after:
// the JavaScript heap and the WebAssembly module's linear memory. It also
// reports when the module was downloaded and compiled (ms-compiled): the
// rest, to the first frame, is the Go program's start.
//
//	scripts/web-bench.sh
//	go test -run '^$' -bench WebAppStart -benchtime 3x ./internal/webapp/
func BenchmarkWebAppStart(b *testing.B) {
	apps := []struct{ name, dir, query string }{
		{"ibkey", filepath.Join(repo, "build", "web"), ""},
		{"hello", filepath.Join(repo, "build", "web-hello"), ""},
	}
	if os.Getenv("IBKEY_BENCH_DEMO") == "1" {
		apps[0].query = "?demo"
	}
	for _, a := range apps {
		if _, err := os.Stat(filepath.Join(a.dir, "index.html")); err != nil {
			b.Logf("skip %s: %v (scripts/web-bench.sh builds it)", a.name, err)
			continue
		}
		dir, err := filepath.Abs(a.dir)
		if err != nil {
			b.Fatal(err)
		}
		s := startServiceWeb(b, dir)
		for _, warm := range []bool{false, true} {
			name := a.name + "/cold"
			if warm {
				name = a.name + "/warm"
			}
			b.Run(name, func(b *testing.B) {
				var frame, inst, jsHeap, wasmMem float64
				for range b.N {
					b.StopTimer()
					p := browsertest.New(b, browsertest.Options{})
					p.Do(browsertest.Phone(browsertest.Android), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
						_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: firstDraw})
						return err
					}))
					u := strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + "/app/" + a.query
					if warm {
						// The first load installs the service worker; the
						// next start finds it in control. In between, the
						// browser finishes with the first load (it compiles
						// the module's hot code again in the background for
						// seconds), as when the app is opened again later.
						load(b, p, u)
						waitFor(b, p, `navigator.serviceWorker.ready.then(() => true)`)
						p.Do(chromedp.Navigate("about:blank"))
						time.Sleep(3 * time.Second)
					}
					b.StartTimer()
					ms := load(b, p, u)
					b.StopTimer()
					if warm && !browsertest.Eval[bool](p, `navigator.serviceWorker.controller !== null`) {
						b.Fatal("the warm start was not served by the service worker")
					}
					frame += ms
					inst += browsertest.Eval[float64](p, `performance.getEntriesByName('ibkey-instantiated')[0].startTime`)
					time.Sleep(3 * time.Second) // the start's work after the first frame
					js, mem := memory(b, p)
					jsHeap += js
					wasmMem += mem
				}
				n := float64(b.N)
				b.ReportMetric(frame/n, "ms-first-frame")
				b.ReportMetric(inst/n, "ms-compiled")
				b.ReportMetric(jsHeap/n/(1<<20), "MB-js-heap")
				b.ReportMetric(wasmMem/n/(1<<20), "MB-wasm-memory")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// load opens u and returns the milliseconds from the navigation's start
// to the first frame.
func load(b *testing.B, p *browsertest.Browser, u string) float64 {
	b.Helper()
	p.Do(chromedp.Navigate(u))
	return waitFor(b, p, `new Promise((ok) => { const f = () => self.__firstDraw === undefined ? setTimeout(f, 5) : ok(self.__firstDraw); f(); })`)
}

func waitFor(b *testing.B, p *browsertest.Browser, expr string) float64 {
	b.Helper()
	switch v := browsertest.Eval[any](p, expr).(type) {
	case float64:
		return v
	case bool:
		return 0
	default:
		b.Fatalf("%s: %v", expr, v)
	}
	return 0
}

// memory is the page's JavaScript heap in use and its WebAssembly
// memory, in bytes.
func memory(b *testing.B, p *browsertest.Browser) (jsHeap, wasm float64) {
	b.Helper()
	p.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			return err
		}
		for _, m := range res.Metrics {
			if m.Name == "JSHeapUsedSize" {
				jsHeap = m.Value
			}
		}
		return nil
	}))
	wasm = browsertest.Eval[float64](p, `typeof ibkeyWasmMemory === 'function' ? ibkeyWasmMemory() : 0`)
	return jsHeap, wasm
}
