//go:build linux && !android

package platform

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestBrowser runs this package's browser tests (web_js_test.go) in
// headless Chromium: it builds them for js/wasm, serves them with a page
// that runs them as `go test` would (arguments, environment, output, exit
// code) on localhost (a secure context, as HTTPS is), and gives each tab a
// virtual platform authenticator with user verification and PRF. The
// phases share one browser profile: "write", then two tabs at once in
// "tab", then, after a reload, "check". It skips when /usr/bin/chromium is
// absent, except under CI.
func TestBrowser(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no browser: %v", err)
		}
		t.Fatalf("CI is set and the browser is missing: %v", err)
	}
	if testing.Short() {
		t.Skip("builds the tests for js/wasm")
	}
	watchSources(t)
	dir := t.TempDir()
	build := exec.Command("go", "test", "-c", "-o", filepath.Join(dir, "platform.wasm"), ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the tests for js/wasm: %v\n%s", err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	wasmExec, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(harnessPage))
	})
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(wasmExec)
	})
	mux.HandleFunc("/platform.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		http.ServeFile(w, r, filepath.Join(dir, "platform.wasm"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
	)
	t.Cleanup(cancel)
	first, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	deadline, cancel := context.WithTimeout(first, 3*time.Minute)
	t.Cleanup(cancel)

	tab := func(ctx context.Context) *harnessTab {
		// localhost, not 127.0.0.1: an IP address is no WebAuthn RP ID.
		h := &harnessTab{t: t, ctx: ctx, base: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
		h.authenticator()
		return h
	}
	main := tab(deadline)
	main.run("write", "")

	// Two tabs write at once, each under the Web Lock.
	second, cancel := chromedp.NewContext(first)
	t.Cleanup(cancel)
	other := tab(second)
	var wg sync.WaitGroup
	wg.Go(func() { main.run("tab", "a") })
	wg.Go(func() { other.run("tab", "b") })
	wg.Wait()

	// The first tab again, after the others: a reload finds it all.
	main.run("check", "")
}

// watchSources looks at the Go files that the js/wasm tests are built from
// (this module's, and the dependencies outside the standard library), so
// that go test's cache, which sees only what this process reads, runs
// TestBrowser again when one of them changes.
func watchSources(t *testing.T) {
	list := exec.Command("go", "list", "-deps", "-test", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", ".")
	list.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, d := range strings.Fields(string(out)) {
		files, _ := filepath.Glob(filepath.Join(d, "*.go"))
		for _, f := range files {
			os.Stat(f)
		}
	}
}

// harnessTab is one tab of the browser under test.
type harnessTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// authenticator gives the tab a virtual platform authenticator (internal
// transport) that verifies the user at once and has PRF.
func (h *harnessTab) authenticator() {
	err := chromedp.Do(h.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                webauthn.Ctap2versionCtap21,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				HasPrf:                      true,
				AutomaticPresenceSimulation: true,
			},
		})
		return err
	}))
	if err != nil {
		h.t.Fatalf("virtual authenticator: %v", err)
	}
}

// run loads the page, which runs the browser tests in phase as `go test
// -test.v` would, and fails unless they pass.
func (h *harnessTab) run(phase, tab string) {
	args, _ := json.Marshal([]string{"-test.v", "-test.run=^(TestIndexedDB|TestWeb)"})
	env, _ := json.Marshal(map[string]string{"IBKEY_BROWSER_PHASE": phase, "IBKEY_BROWSER_TAB": tab})
	u := h.base + "/?" + url.Values{"args": {string(args)}, "env": {string(env)}}.Encode()
	if err := chromedp.Do(h.ctx, chromedp.Navigate(u)); err != nil {
		h.t.Fatalf("%s: %v", phase, err)
	}
	_, err := chromedp.Run(h.ctx, chromedp.Poll[bool]("window.testExit !== undefined", chromedp.WithPollingInterval(100*time.Millisecond)))
	code := -1
	if err == nil {
		code, err = chromedp.Run(h.ctx, chromedp.Evaluate[int]("window.testExit"))
	}
	out, _ := chromedp.Run(h.ctx, chromedp.Evaluate[string]("window.testOut.join('\\n')"))
	h.t.Logf("phase %s %s:\n%s", phase, tab, out)
	if err != nil {
		h.t.Fatalf("phase %s: %v", phase, err)
	}
	if code != 0 || !strings.Contains(out, "\nPASS") {
		h.t.Fatalf("phase %s %s: the browser tests failed (exit code %d)", phase, tab, code)
	}
}

// harnessPage runs platform.wasm as a test binary: arguments and
// environment from the query, the output kept in window.testOut, the exit
// code in window.testExit.
const harnessPage = `<!doctype html>
<meta charset="utf-8">
<title>platform tests</title>
<script>
window.testOut = [];
const log = console.log.bind(console);
console.log = (...a) => { window.testOut.push(a.join(" ")); log(...a); };
</script>
<script src="wasm_exec.js"></script>
<script>
const q = new URLSearchParams(location.search);
const go = new Go();
go.argv = ["platform.test", ...JSON.parse(q.get("args"))];
go.env = JSON.parse(q.get("env"));
go.exit = code => { window.testExit = code; };
WebAssembly.instantiateStreaming(fetch("platform.wasm"), go.importObject)
	.then(r => go.run(r.instance))
	.catch(e => { console.log("harness: " + e); window.testExit = 99; });
</script>
`
