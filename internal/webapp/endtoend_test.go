//go:build !js

package webapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"ibkey/internal/browsertest"
)

// scene is alice's account on the real service, with an IB Key on the
// command line, a phone in Chromium and the Client Portal in a tab of the
// same browser, as on a computer.
type scene struct {
	t    *testing.T
	s    *service
	p    *phone
	desk *portalTab
	cli  *cliDevice
	base string // the service's URL, by the name localhost
	gen  string // the id of the home screen's Generate button for alice
}

const alicePassword = "correct horse battery"

// newScene starts the service with alice and her command-line device, and
// a phone with the user agent ua; face gives the phone Face ID (a virtual
// platform authenticator with PRF).
func newScene(t *testing.T, ua string, face bool) *scene {
	s := startService(t)
	s.run(alicePassword+"\n", "admin", "useradd", "--db", s.db(), "--username", "alice", "--phone", "+15550001234")
	// localhost, not 127.0.0.1: an IP address is no WebAuthn relying party.
	base := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	p := newPhone(t, ua, base)
	if face {
		p.authenticator()
	}
	return &scene{t: t, s: s, p: p, desk: &portalTab{t: t, b: p.NewTab(), base: base}, cli: s.enrollCLI("alice", alicePassword, "1357"), base: base}
}

// addDevice logs in to the portal with the command line's IB Key, verifies
// again and opens Add a device: the web app's link and the Session ID.
func (c *scene) addDevice() (link, session string) {
	c.t.Helper()
	d := c.desk
	d.open("/login")
	d.credentials("alice", alicePassword, "login")
	d.submit(c.cli.respond(d.challenge()))
	d.wait("account-user")
	d.click("add-device")
	d.credentials("alice", alicePassword, "stepup")
	d.submit(c.cli.respond(d.challenge()))
	link = d.attr("app-link", "href")
	if !strings.HasPrefix(link, c.base+"/app/#enroll=") {
		c.t.Fatalf("the Add a device page links to %q", link)
	}
	d.shot(c.p, "portal-device")
	return link, d.text("session-id")
}

// enrolled takes the phone from Add User's last screen to the home screen
// and notes alice's Generate button there.
func (c *scene) enrolled() {
	c.t.Helper()
	c.p.waitScreen("enroll-done")
	c.p.doc("enroll-done")
	c.p.tap("done")
	home := c.p.waitScreen("home")
	for id := range home.Widgets {
		if strings.HasPrefix(id, "gen:") {
			c.gen = id
		}
	}
	if c.gen == "" {
		c.t.Fatalf("no user to generate for on the home screen: %v", keys(home.Widgets))
	}
	c.p.doc("home")
}

// pushLogin logs in to the portal again (out first) and waits for the
// phone to show the login request: the number the browser shows.
func (c *scene) pushLogin() string {
	c.t.Helper()
	c.desk.logout()
	c.desk.credentials("alice", alicePassword, "login")
	number := c.desk.text("number")
	c.p.waitScreen("approve")
	if _, ok := c.p.layout().Widgets["num:"+number]; !ok {
		c.t.Fatalf("the phone does not offer the browser's number %s: %v", number, keys(c.p.layout().Widgets))
	}
	return number
}

// loggedIn checks that the portal let alice in.
func (c *scene) loggedIn(how string) {
	c.t.Helper()
	if got := c.desk.text("account-user"); got != "alice" {
		c.t.Fatalf("%s: the portal logged in %q", how, got)
	}
}

// TestWebAppEndToEnd is the web app on an iPhone (the iOS flavor) with
// Face ID, against the real service: it moves alice's IB Key to itself
// with the Client Portal's Add a device link, approves a login by number
// matching, answers the portal's challenge with a passcode (the challenge
// typed on the phone's keyboard, the response copied), finds everything
// after a reload, and answers a challenge with the service stopped, from
// the service worker's cache.
func TestWebAppEndToEnd(t *testing.T) {
	c := newScene(t, browsertest.IPhone, true)
	p := c.p
	link, _ := c.addDevice()

	// The phone opens the link: Add User starts by itself; Face ID.
	p.open(link)
	p.waitScreen("enroll-gate")
	if h := browsertest.Eval[string](p.Browser, `location.hash`); h != "" {
		t.Errorf("the address keeps %q", h)
	}
	p.doc("enroll-gate")
	p.tap("use-bio")
	c.enrolled()

	// A login approved on the phone, by number matching.
	number := c.pushLogin()
	p.doc("approve")
	p.tap("num:" + number)
	p.tapWhen("approve")
	p.waitScreen("approve-result")
	p.doc("approved")
	c.loggedIn("approved on the phone")
	p.tap("done")
	p.waitScreen("home")

	// A login answered with a passcode: the phone gets the login as a
	// request too, and goes back from it to generate instead.
	c.pushLogin()
	challenge := c.desk.challenge()
	p.tap("back")
	p.waitScreen("home")
	p.tap(c.gen)
	p.waitScreen("generate")
	p.tapField("challenge")
	p.typeKeys(challenge)
	p.doc("generate")
	p.tap("generate-passcode")
	p.waitScreen("response")
	p.doc("response")
	p.tap("copy")
	c.desk.submit(p.clipboard())
	c.loggedIn("a passcode")

	// A reload finds alice on the phone.
	p.open(c.base + "/app/")
	p.doc("login")
	p.tap("login")
	if _, ok := p.waitScreen("home").Widgets[c.gen]; !ok {
		t.Fatalf("after a reload, no %s", c.gen)
	}
	if !browsertest.Eval[bool](p.Browser, `navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller !== null)`) {
		t.Fatal("the service worker does not control the page")
	}

	// Offline: a login is started, the service stops, the phone starts the
	// app from the service worker's cache and answers the challenge; the
	// answer goes in when the service is back.
	login := c.s.startLogin("alice", alicePassword)
	c.s.stop()
	p.open(c.base + "/app/")
	p.tap("login")
	p.waitScreen("home")
	p.tap(c.gen)
	p.waitScreen("generate")
	p.tapField("challenge")
	p.typeKeys(login.Challenge)
	p.tap("generate-passcode")
	p.waitScreen("response")
	p.shot("offline-response")
	browsertest.Eval[bool](p.Browser, `navigator.clipboard.writeText('').then(() => true)`)
	p.tap("copy")
	offline := p.clipboard()
	c.s.start()
	if status := c.s.respond(login.ID, offline); status != http.StatusOK {
		t.Fatalf("the response made offline: %d", status)
	}
}

// TestWebAppPhoneKeyboard types every field the web app needs with the
// events of a phone keyboard (keyCode 229 key events around inserted
// text, a deletion, a word composed with suggestions on, Enter), on an
// Android phone without biometrics, against the real service: the portal's
// Session ID (composed), a new PIN twice, the PIN of a login approval, and
// the PIN and challenge of a passcode that the portal takes. Fyne on its
// own reads key events only: before keyboard.js none of this reached the
// app's fields.
func TestWebAppPhoneKeyboard(t *testing.T) {
	c := newScene(t, browsertest.Android, false)
	p := c.p
	_, session := c.addDevice()

	p.open(c.base + "/app/")
	p.tap("services")
	p.waitScreen("services")
	p.tap("authenticate")
	p.waitScreen("authenticate")
	p.tap("add-user")
	p.waitScreen("enroll-intro")
	p.tap("use-link")
	p.waitScreen("enroll-link")
	p.tapField("link")
	if k := p.keyboard(); k != "text" {
		t.Errorf("the Session ID's keyboard is %q", k)
	}
	p.compose(session)
	p.doc("session-id")
	p.tap("continue")
	p.waitScreen("enroll-pin")
	p.tapField("pin")
	if k := p.keyboard(); k != "password" {
		t.Errorf("the PIN's keyboard is %q", k)
	}
	p.typeKeys("2469")
	p.erase(1)
	p.typeKeys("8")
	p.tapField("pin2")
	p.typeKeys("2468")
	p.doc("new-pin")
	p.enter()
	c.enrolled()

	// The PIN of an approval, then Enter.
	number := c.pushLogin()
	p.tap("num:" + number)
	p.tapWhen("approve")
	p.waitScreen("approve-unlock")
	p.tapField("pin")
	p.typeKeys("2468")
	p.doc("approve-pin")
	p.enter()
	p.waitScreen("approve-result")
	c.loggedIn("approved with the PIN")
	p.tap("done")
	p.waitScreen("home")

	// The PIN and the challenge of a passcode.
	c.pushLogin()
	challenge := c.desk.challenge()
	p.tap("back")
	p.waitScreen("home")
	p.tap(c.gen)
	l := p.waitScreen("generate")
	// The page asks which field a touch ends on, to focus the keyboard's
	// field within the touch (iOS opens the keyboard only then).
	for id, want := range map[string]string{"pin": "password", "challenge": "number", "generate-passcode": "", "back": ""} {
		r := l.Widgets[id]
		if got := browsertest.Eval[string](p.Browser, fmt.Sprintf("ibkeyFieldAt(%g, %g)", r.X+r.W/2, r.Y+r.H/2)); got != want {
			t.Errorf("ibkeyFieldAt(%s) = %q, want %q", id, got, want)
		}
	}
	p.tapField("pin")
	p.typeKeys("2468")
	p.tapField("challenge")
	if k := p.keyboard(); k != "numeric" {
		t.Errorf("the challenge's keyboard is %q", k)
	}
	p.typeKeys(challenge[:3] + "x" + challenge[3:5]) // not a digit: the field takes digits only
	p.erase(1)
	p.typeKeys(challenge[4:])
	p.doc("generate")
	p.tap("generate-passcode")
	p.waitScreen("response")
	p.tap("copy")
	c.desk.submit(p.clipboard())
	c.loggedIn("a passcode from the PIN and challenge typed")
}

// db is the service's database file.
func (s *service) db() string { return filepath.Join(s.dir, "svc.db") }

// cliDevice is a device of the command line: its own vault.
type cliDevice struct {
	s     *service
	vault string
	user  string
	pin   string
}

// enrollCLI enrolls username on a command-line device (users add, the
// code from the outbox), protected by pin.
func (s *service) enrollCLI(username, password, pin string) *cliDevice {
	s.t.Helper()
	d := &cliDevice{s: s, vault: filepath.Join(s.dir, "cli-vault"), user: username, pin: pin}
	cmd := exec.Command(s.bin, "--vault", d.vault, "users", "add", "--service", s.URL, "--username", username)
	cmd.Env = []string{"HOME=" + s.dir, "PATH=" + os.Getenv("PATH"), "IBKEY_SECRET_STORE=file"}
	in, err := cmd.StdinPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	io.WriteString(in, password+"\n")
	code := s.code()
	io.WriteString(in, code+"\n"+pin+"\n"+pin+"\n")
	in.Close()
	if err := cmd.Wait(); err != nil {
		s.t.Fatalf("users add: %v; log:\n%s", err, s.logs.String())
	}
	return d
}

// code waits for the outbox's first message and returns its code.
func (s *service) code() string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(s.dir, "outbox.jsonl"))
		if line, _, ok := bytes.Cut(b, []byte("\n")); ok {
			var m struct{ Code string }
			if err := json.Unmarshal(line, &m); err != nil {
				s.t.Fatal(err)
			}
			return m.Code
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatal("no message in the outbox")
	return ""
}

func (d *cliDevice) tryRespond(challenge string) (string, error) {
	cmd := exec.Command(d.s.bin, "--vault", d.vault, "respond", "--user", d.user, "--challenge", challenge)
	cmd.Env = []string{"HOME=" + d.s.dir, "PATH=" + os.Getenv("PATH"), "IBKEY_SECRET_STORE=file"}
	cmd.Stdin = strings.NewReader(d.pin + "\n")
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// respond is the command line's response to challenge.
func (d *cliDevice) respond(challenge string) string {
	d.s.t.Helper()
	r, err := d.tryRespond(challenge)
	if err != nil {
		d.s.t.Fatalf("respond: %v", err)
	}
	return r
}

// apiLogin is a login started by a relying party (POST /api/v1/logins).
type apiLogin struct {
	ID, Challenge string
}

func (s *service) startLogin(username, password string) apiLogin {
	s.t.Helper()
	var l apiLogin
	if status := s.post("/api/v1/logins", map[string]string{"username": username, "password": password}, &l); status != http.StatusCreated {
		s.t.Fatalf("POST /api/v1/logins: %d", status)
	}
	return l
}

// respond answers a login's challenge: the status of the answer.
func (s *service) respond(id, response string) int {
	s.t.Helper()
	return s.post("/api/v1/logins/"+id+"/response", map[string]string{"response": response}, nil)
}

func (s *service) post(path string, in, out any) int {
	s.t.Helper()
	b, _ := json.Marshal(in)
	res, err := http.Post(s.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			s.t.Fatal(err)
		}
	}
	return res.StatusCode
}

// authenticator gives the phone a platform authenticator (Face ID, Touch
// ID, a fingerprint reader) that verifies its user at once and has PRF.
func (p *phone) authenticator() {
	p.t.Helper()
	p.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
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
}

// portalTab is a tab on the Client Portal, as on a computer.
type portalTab struct {
	t    *testing.T
	b    *browsertest.Browser
	base string
}

func (d *portalTab) open(path string) {
	d.t.Helper()
	d.b.Do(chromedp.Navigate(d.base + path))
}

// query runs a read-only action, again if the page navigated under it.
func query[T any](d *portalTab, a chromedp.Action[T]) T {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := chromedp.Run(d.b.Ctx, a)
		if err == nil {
			return v
		}
		if !strings.Contains(err.Error(), "Cannot find context with specified id") || time.Now().After(deadline) {
			d.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *portalTab) wait(id string) {
	d.t.Helper()
	query(d, chromedp.WaitVisible(chromedp.ID(id)))
}

func (d *portalTab) text(id string) string {
	d.t.Helper()
	d.wait(id)
	return strings.TrimSpace(query(d, chromedp.Text(chromedp.ID(id))))
}

func (d *portalTab) attr(id, name string) string {
	d.t.Helper()
	d.wait(id)
	v := query(d, chromedp.AttributeValue(chromedp.ID(id), name))
	if !v.Exists {
		d.t.Fatalf("#%s has no %s", id, name)
	}
	return v.Value
}

func (d *portalTab) click(id string) {
	d.t.Helper()
	d.wait(id)
	d.b.Do(chromedp.Click(chromedp.ID(id)))
}

func (d *portalTab) credentials(user, password, button string) {
	d.t.Helper()
	d.wait("username")
	d.b.Do(
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID(button)),
	)
}

// challenge is the challenge the page shows, digits only.
func (d *portalTab) challenge() string {
	d.t.Helper()
	return strings.ReplaceAll(d.text("challenge"), " ", "")
}

// submit types the response into the page and submits it.
func (d *portalTab) submit(response string) {
	d.t.Helper()
	d.wait("response")
	d.b.Do(chromedp.SendKeys(chromedp.ID("response"), response), chromedp.Click(chromedp.ID("submit-response")))
}

// logout logs out (the header's button) and waits for the login page.
func (d *portalTab) logout() {
	d.t.Helper()
	query(d, chromedp.WaitVisible(chromedp.CSS(".who button")))
	d.b.Do(chromedp.Click(chromedp.CSS(".who button")))
	d.wait("flash")
	d.open("/login")
}

// shot saves the portal's page as a step of the phone's test.
func (d *portalTab) shot(p *phone, name string) {
	d.t.Helper()
	p.n++
	d.b.Screenshot(filepath.Join(p.shots, fmt.Sprintf("%02d-%s.png", p.n, name)))
}
