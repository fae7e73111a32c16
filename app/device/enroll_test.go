package device_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"ibkey/app"
	"ibkey/portal/web"
)

// newUI is the app's UI of flavor over auth, on a test app.
func newUI(t *testing.T, auth app.Authenticator, fl app.Flavor) driver {
	t.Helper()
	a := test.NewTempApp(t)
	a.Preferences().SetString("language", app.LangEN)
	u := app.New(a, app.Options{Flavor: fl, Auth: auth, NoWatch: true})
	t.Cleanup(u.Close)
	return driver{t, u}
}

// texts is every visible text of the window.
func (d driver) texts() string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch o := o.(type) {
		case *canvas.Text:
			out = append(out, o.Text)
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(d.u.Window().Canvas().Content())
	return strings.Join(out, "\n")
}

// addUser goes through Add User up to the code screen for username.
func (d driver) addUser(username string, card bool) {
	d.t.Helper()
	switch {
	case d.u.Screen() == "home" && d.u.Button("tab.more") != nil:
		d.tap("tab.more")
		d.tap("2fa")
	case d.u.Screen() == "home":
		d.tap("more")
		d.tap("2fa")
	default:
		d.tap("services")
		d.tap("authenticate")
	}
	d.tap("add-user")
	if card {
		d.tap("add-card")
	} else {
		d.tap("continue")
	}
	d.typeIn("username", username)
	d.typeIn("password", "demo-password")
	d.tap("continue")
}

// Adding an account that is on this device already warns before going
// on, and the new entry replaces the old one (it left a second entry, the
// first saying "Not active"); the service's logins go to the new one.
func TestReplaceSameAccountRealService(t *testing.T) {
	s := newService(t)
	auth, v := newAuth(t, s)
	d := newUI(t, auth, app.Android)
	d.addUser("demo", false)
	d.typeIn("code", s.gw.lastCode(t))
	d.tap("send")
	d.typeIn("pin", "8264")
	d.typeIn("pin2", "8264")
	d.tap("activate")
	d.at("enroll-done")
	d.tap("done")
	if err := auth.Rename("demo", "Me"); err != nil {
		t.Fatal(err)
	}
	first := v.Users()[0].DeviceID

	d.addUser("demo", false)
	d.typeIn("code", s.gw.lastCode(t))
	d.tap("send")
	d.at("enroll-replace")
	if txt := d.texts(); !strings.Contains(txt, "Me is on this device already") {
		t.Fatalf("the warning does not name the entry:\n%s", txt)
	}
	d.tap("replace")
	d.typeIn("pin", "9173")
	d.typeIn("pin2", "9173")
	d.tap("activate")
	d.at("enroll-done")
	users := v.Users()
	if len(users) != 1 || users[0].Name != "Me" || users[0].DeviceID == first {
		t.Fatalf("vault users %+v: want one, called Me, the new device", users)
	}
	us, _ := auth.Users()
	if len(us) != 1 || !us[0].Active {
		t.Fatalf("app users %+v", us)
	}
	l := s.login()
	r, err := auth.Respond("Me", l.Challenge, app.Unlock{PIN: "9173"})
	if err != nil {
		t.Fatal(err)
	}
	if code := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": r}, nil); code != http.StatusOK {
		t.Fatalf("the new entry's response: %d", code)
	}
}

// An activation dropped after the code was checked leaves nothing on the
// device, cannot be finished any more, and leaves the account's device as
// it was.
func TestActivationCancelledRealService(t *testing.T) {
	s := newService(t)
	auth, v := newAuth(t, s)
	ctx := context.Background()
	e, err := auth.StartEnrollment(ctx, "", "demo", "demo-password", app.SMS)
	if err != nil {
		t.Fatal(err)
	}
	activate(t, auth, e, s.gw.lastCode(t), "8264")

	other, ov := newAuth(t, s)
	e2, err := other.StartEnrollment(ctx, "", "demo", "demo-password", app.SMS)
	if err != nil {
		t.Fatal(err)
	}
	act, err := other.CheckCode(ctx, e2, s.gw.lastCode(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if act.Username != "demo" || act.Account == "" || act.Replaces != nil {
		t.Fatalf("activation %+v", act)
	}
	other.Cancel(act)
	if _, err := other.Activate(ctx, act, app.Protection{PIN: "8264"}); !errors.Is(err, app.ErrExpired) {
		t.Fatalf("Activate after Cancel: %v, want ErrExpired", err)
	}
	if len(ov.Users()) != 0 {
		t.Fatalf("a cancelled activation left %+v", ov.Users())
	}
	// The first device is still the account's IB Key.
	l := s.login()
	if !l.Push {
		t.Fatal("the first device is no longer active")
	}
	r, _ := auth.Respond(v.Users()[0].Name, l.Challenge, app.Unlock{PIN: "8264"})
	if code := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": r}, nil); code != http.StatusOK {
		t.Fatalf("the first device's response: %d", code)
	}
}

// browser is a browser on the service's Client Portal pages.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newBrowser(t *testing.T, s *service) *browser {
	jar, _ := cookiejar.New(nil)
	c := *s.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, base: s.ts.URL, client: &c}
}

func (p *browser) do(method, path string, form url.Values) (int, string, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		form.Set("csrf", p.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		p.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

var challengeRE = regexp.MustCompile(`id="challenge"[^>]*>([0-9 ]+)<`)

// The seed's DSC+ login, end to end: Add User > DSC+ card in the app (the
// service issues and activates a soft card for the account), then the
// Client Portal's login through its pages; the challenge goes into the
// card's keypad with the card's PIN, and the portal takes the response.
func TestCardLoginRealService(t *testing.T) {
	s := newService(t)
	s.srv.MountWeb(web.Options{}, "")
	auth, v := newAuth(t, s)
	d := newUI(t, auth, app.IOS)
	d.addUser("demo", true)
	d.at("enroll-card-pin")
	d.typeIn("pin", "4826")
	d.typeIn("pin2", "4826")
	d.tap("continue")
	d.typeIn("code", s.gw.lastCode(t))
	d.tap("activate")
	d.at("enroll-done")
	if us := v.Users(); len(us) != 1 || us[0].Gate != app.GateCard {
		t.Fatalf("vault users %+v, want one card", us)
	}
	d.tap("done")

	p := newBrowser(t, s)
	p.do("GET", "/login", nil)
	if code, loc, _ := p.do("POST", "/login", url.Values{"username": {"demo"}, "password": {"demo-password"}}); code != http.StatusSeeOther || loc != "/login/verify" {
		t.Fatalf("POST /login: %d %s", code, loc)
	}
	_, _, page := p.do("GET", "/login/verify", nil)
	m := challengeRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "DSC+ card") {
		t.Fatalf("the verify page has no challenge or no word for a card:\n%s", page)
	}
	challenge := strings.ReplaceAll(m[1], " ", "")

	// Generate Code with only a card on the device opens the card.
	d.tap("tab.more")
	d.tap("2fa")
	d.tap("generate")
	d.at("dsc")
	for _, k := range "4826" {
		d.tap("key:" + string(k))
	}
	d.tap("key:ok")
	for _, k := range challenge {
		d.tap("key:" + string(k))
	}
	d.tap("key:ok")
	resp := regexp.MustCompile(`\b\d{4} \d{4}\b`).FindString(d.texts())
	if resp == "" {
		t.Fatalf("no response on the card:\n%s", d.texts())
	}
	if code, loc, body := p.do("POST", "/login/verify", url.Values{"response": {resp}}); code != http.StatusSeeOther || loc != "/account" {
		t.Fatalf("POST /login/verify %q: %d %s\n%s", resp, code, loc, body)
	}
	if _, _, acct := p.do("GET", "/account", nil); !strings.Contains(acct, "demo") {
		t.Fatalf("account page:\n%s", acct)
	}
}
