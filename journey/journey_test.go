package journey

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// The person's account (scripts/run.sh creates it) and the PIN they choose.
const (
	username = "demo"
	password = "demo-password"
	pin      = "8264"
)

// needs skips the test when a tool it drives is missing, except under CI.
func needs(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"Xvfb", "xdotool", "xclip", "import", "dbus-daemon", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath)
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the real-window journey needs %s: scripts/deps.sh test installs them (make test runs it)", strings.Join(missing, ", "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startXvfb starts an X server on a free display and returns ":N".
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if n == "" {
			t.Fatal("Xvfb gave no display")
		}
		return ":" + n
	case <-time.After(20 * time.Second):
		t.Fatal("Xvfb did not start")
	}
	return ""
}

// startBus starts a session bus of the test's own (without one, every
// start of the app launches a dbus-daemon that outlives it) and returns
// its address.
func startBus(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatal("dbus-daemon gave no address")
		}
		return addr
	case <-time.After(20 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	return ""
}

// window is the app's window on the X display, driven as a person does:
// keys and typing through xdotool.
type window struct {
	t       *testing.T
	env     []string // DISPLAY
	id      string   // the X window id
	art     string   // the screenshots' folder
	n       int
	size    string // WIDTHxHEIGHT at the start
	screens string // the file the app writes each screen's id to
}

func (w *window) x(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys presses keys ("Tab", "space", "Return", "Escape", "ctrl+q").
func (w *window) keys(keys ...string) {
	w.t.Helper()
	for _, k := range keys {
		w.x("xdotool", "key", "--clearmodifiers", k)
	}
}

// typ types text.
func (w *window) typ(text string) {
	w.t.Helper()
	w.x("xdotool", "type", "--delay", "25", text)
}

// geometry is the window's size, WIDTHxHEIGHT.
func (w *window) geometry() string {
	w.t.Helper()
	out := w.x("xdotool", "getwindowgeometry", "--shell", w.id)
	var width, height string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "WIDTH="); ok {
			width = v
		}
		if v, ok := strings.CutPrefix(l, "HEIGHT="); ok {
			height = v
		}
	}
	return width + "x" + height
}

// shot keeps a screenshot of the window and checks that it kept its size.
func (w *window) shot(name string) {
	w.t.Helper()
	w.n++
	time.Sleep(250 * time.Millisecond) // the frame after the last change
	path := filepath.Join(w.art, fmt.Sprintf("%02d-%s.png", w.n, name))
	w.x("import", "-window", w.id, path)
	if got := w.geometry(); got != w.size {
		w.t.Errorf("after %s the window is %s, it was %s at the start (%s)", name, got, w.size, path)
	}
}

// screen is the id of the screen the app shows (its last line in the
// screen log).
func (w *window) screen() string {
	b, _ := os.ReadFile(w.screens)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// at waits until the app shows the screen id.
func (w *window) at(id string) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for w.screen() != id {
		if time.Now().After(deadline) {
			w.n++
			path := filepath.Join(w.art, fmt.Sprintf("%02d-failed-waiting-for-%s.png", w.n, id))
			exec.Command("import", "-window", w.id, path).Run()
			w.t.Fatalf("the app shows %q, not %q (%s)", w.screen(), id, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // its widgets take the keyboard
}

// clipboard is the text the app put on the clipboard, once it has some.
func (w *window) clipboard() string {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cmd := exec.Command("xclip", "-o", "-selection", "clipboard")
		cmd.Env = w.env
		out, err := cmd.CombinedOutput()
		if err == nil {
			return strings.TrimSpace(string(out))
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("xclip: %v: %s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browser is headless Chromium on the Client Portal.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	art  string
}

func newBrowser(t *testing.T, base, art string) *browser {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	tctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return &browser{t: t, ctx: tctx, base: base, art: art}
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// query runs a read-only action, again if the page navigated under it.
func query[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := chromedp.Run(b.ctx, a)
		if err == nil {
			return v
		}
		if !strings.Contains(err.Error(), "Cannot find context with specified id") || time.Now().After(deadline) {
			b.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) text(id string) string {
	b.t.Helper()
	query(b, chromedp.WaitVisible(chromedp.ID(id)))
	return strings.TrimSpace(query(b, chromedp.Text(chromedp.ID(id))))
}

// login opens the login page and logs in as the person; the verify page
// follows, with the challenge and the number.
func (b *browser) login() {
	b.t.Helper()
	b.do(
		chromedp.Navigate(b.base+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
	)
}

// shot keeps a screenshot of the page.
func (b *browser) shot(name string) {
	b.t.Helper()
	png := query(b, chromedp.FullScreenshot(90))
	if err := os.WriteFile(filepath.Join(b.art, "portal-"+name+".jpg"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// loggedIn waits until the page is the account page of the person.
func (b *browser) loggedIn() {
	b.t.Helper()
	if got := b.text("account-user"); got != username {
		b.t.Fatalf("the portal says it is %q logged in", got)
	}
}

// lastCode is the activation code of the newest message of the outbox.
func lastCode(t *testing.T, outbox string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(outbox)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var m struct{ Code string }
		if json.Unmarshal([]byte(lines[len(lines)-1]), &m) == nil && m.Code != "" {
			return m.Code
		}
		if time.Now().After(deadline) {
			t.Fatalf("no code in the outbox %s", outbox)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJourney is what a person does with `make run`, in the real window
// (see the package's doc): Add User with the outbox's code, a login
// answered with the app's response string, a login approved in the app;
// then Ctrl+Q. After each step it keeps a screenshot and checks the
// window's size; at the end, that the app wrote no error on stderr (the
// locale and preferences errors it printed before) and kept its settings
// in the demo folder.
func TestJourney(t *testing.T) {
	needs(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(root, "build", "journey", time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", art)

	display := startXvfb(t)
	bus := startBus(t)
	state, home := t.TempDir(), t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	goenv, err := exec.Command(goBin, "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	gv := strings.Split(strings.TrimSpace(string(goenv)), "\n")
	screens := filepath.Join(state, "screens.log")
	xenv := []string{"PATH=" + os.Getenv("PATH"), "DISPLAY=" + display, "HOME=" + home, "DBUS_SESSION_BUS_ADDRESS=" + bus}
	env := append(xenv,
		"LANG=C.UTF-8", // what containers have: Fyne logged "Error parsing user locale C"
		"GO="+goBin, "GOCACHE="+gv[0], "GOMODCACHE="+gv[1], "GOPATH="+gv[2], "GOFLAGS="+os.Getenv("GOFLAGS"),
		"IBKEY_DEMO_DIR="+state, "IBKEY_ADDR=127.0.0.1:0", "IBKEY_SCREEN_LOG="+screens,
	)

	// make run, as the README says (the packages are installed already).
	// Its output goes to files, so that nothing it leaves holds a pipe.
	run := exec.Command(filepath.Join(root, "scripts", "run.sh"), "--flavor", "android")
	run.Env = env
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	errPath := filepath.Join(art, "run.stderr.txt")
	errFile, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	run.Stdout, run.Stderr = errFile, errFile
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	stderr := func() string { b, _ := os.ReadFile(errPath); return string(b) }
	exited := make(chan struct{}) // closed when the script has ended, with runErr
	var runErr error
	go func() { runErr = run.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-run.Process.Pid, syscall.SIGKILL) // the script's group: the service and the app
			<-exited
		}
	})

	// The window, once the script has built and started everything.
	find := exec.Command("xdotool", "search", "--sync", "--onlyvisible", "--name", "^ibkey$")
	find.Env = xenv
	found := make(chan string, 1)
	go func() {
		out, _ := find.Output()
		found <- strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}()
	var id string
	select {
	case id = <-found:
	case <-exited:
		t.Fatalf("scripts/run.sh ended (%v) before the window showed:\n%s", runErr, stderr())
	case <-time.After(5 * time.Minute):
		find.Process.Kill()
		t.Fatalf("no window in 5 minutes:\n%s", stderr())
	}
	w := &window{t: t, env: xenv, id: id, art: art, screens: screens}
	w.x("xdotool", "windowfocus", "--sync", id)
	w.size = w.geometry()
	if w.size != "390x760" {
		t.Errorf("the window opens at %s, want 390x760", w.size)
	}
	urlb, _ := os.ReadFile(filepath.Join(state, "serve.url"))
	base := strings.TrimSpace(string(urlb))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("service URL %q", base)
	}

	// Add User, with the code from the outbox.
	w.at("login")
	w.shot("login")
	w.keys("Tab", "space") // Log In
	w.at("home")
	w.shot("home-no-users")
	w.keys("Tab", "space") // Add User
	w.at("enroll-intro")
	w.keys("Tab", "space") // Continue
	w.at("enroll-credentials")
	w.keys("Tab")
	w.typ(username)
	w.keys("Tab")
	w.typ(password)
	w.shot("credentials")
	w.keys("Return")
	w.at("enroll-code")
	w.shot("code-sent")
	w.keys("Tab")
	w.typ(lastCode(t, filepath.Join(state, "outbox.jsonl")))
	w.keys("Return") // Send: the service checks the code before the PIN
	w.at("enroll-pin")
	w.keys("Tab")
	w.typ(pin)
	w.keys("Tab")
	w.typ(pin)
	w.shot("pin")
	w.keys("Return") // Activate
	w.at("enroll-done")
	w.shot("added")
	list := exec.Command(filepath.Join(state, "bin", "ibkey"), "--vault", filepath.Join(state, "vault"), "users", "list")
	list.Env = append(xenv, "IBKEY_SECRET_STORE=file")
	if out, err := list.Output(); err != nil || !strings.HasPrefix(string(out), username+"\tU") {
		t.Fatalf("users list of the app's vault: %q %v", out, err)
	}
	w.keys("Tab", "space") // Done
	w.at("home")

	// A login answered with a response string: the challenge from the
	// page into the app, the response from the app's Copy into the page.
	b := newBrowser(t, base, art)
	b.login()
	challenge := strings.ReplaceAll(b.text("challenge"), " ", "")
	b.shot("verify")
	w.at("approve") // the login's request comes to the app too
	w.shot("request")
	w.keys("Escape") // the person answers with the challenge instead
	w.at("home")
	w.keys("Tab", "Tab", "space") // past the request's Review: Generate Response
	w.at("generate")
	w.keys("Tab")
	w.typ(pin)
	w.keys("Tab")
	w.typ(challenge)
	w.shot("challenge")
	w.keys("Return")
	w.at("response")
	w.shot("response")
	w.keys("Tab", "space") // Copy
	response := w.clipboard()
	if !regexp.MustCompile(`^\d{8}$`).MatchString(response) {
		t.Fatalf("the clipboard holds %q after Copy", response)
	}
	b.do(
		chromedp.SendKeys(chromedp.ID("response"), response[:4]+" "+response[4:]),
		chromedp.Click(chromedp.ID("submit-response")),
	)
	b.loggedIn()
	b.shot("account")
	w.keys("Tab", "space") // Done, after Copy
	w.at("home")
	w.shot("after-response")

	// A login approved in the app, with the number the page shows.
	b.do(chromedp.Click(chromedp.CSS(".who button"))) // log out
	b.text("flash")
	b.login()
	number := b.text("number")
	if _, err := strconv.Atoi(number); err != nil || len(number) != 2 {
		t.Fatalf("the page's number %q", number)
	}
	w.at("approve")
	w.shot("push-request")
	w.typ(number) // the number, on the keyboard
	w.keys("Return")
	w.at("approve-unlock")
	w.keys("Tab")
	w.typ(pin)
	w.keys("Return")
	w.at("approve-result")
	w.shot("approved")
	b.loggedIn() // the page moves on by itself
	b.shot("account-push")

	// Ctrl+Q quits the app, and the script stops the service.
	w.keys("ctrl+q")
	select {
	case <-exited:
		if runErr != nil {
			t.Errorf("scripts/run.sh: %v", runErr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the app did not quit on Ctrl+Q")
	}
	log := stderr()
	for _, bad := range []string{"Fyne error", "Preferences load error", "Error parsing user locale", "panic", "DATA RACE"} {
		if strings.Contains(log, bad) {
			t.Errorf("the run wrote %q on stderr:\n%s", bad, log)
		}
	}
	if !strings.Contains(log, "service stopped") {
		t.Errorf("the service was not stopped:\n%s", log)
	}
	// The app's settings live in the demo folder (XDG_CONFIG_HOME), not
	// in the home folder's.
	if _, err := os.Stat(filepath.Join(state, "config", "fyne", "io.github.ibkey")); err != nil {
		t.Errorf("the app's settings are not in the demo folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "fyne", "io.github.ibkey")); err == nil {
		t.Error("the app's settings went to the home folder")
	}
}
