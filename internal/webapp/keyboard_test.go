package webapp_test

import (
	"fmt"
	"testing"

	"ibkey/app"
	"ibkey/internal/browsertest"
)

// TestWebAppPhoneKeyboard types into every kind of field the app has with
// the events of a phone keyboard (keyCode 229 and inserted text, a
// deletion, a composed word, Enter) on the in-memory demo (?demo): the
// PIN of a login approval, the PIN and challenge of a passcode (the
// clipboard gets the response of exactly that PIN and challenge), and a
// Session ID typed with suggestions on. Fyne on its own reads key events
// only: all of this typed nothing before keyboard.js.
func TestWebAppPhoneKeyboard(t *testing.T) {
	s := startService(t)
	p := newPhone(t, browsertest.Android, s.URL)
	p.open(s.URL + "/app/?demo")

	// The demo's login request comes a few seconds after the start.
	p.waitScreen("approve")
	p.tap("num:42") // the demo's browser shows the second number
	p.tapWhen("approve")
	p.waitScreen("approve-unlock")
	p.tapField("pin")
	if k := p.keyboard(); k != "password" {
		t.Errorf("the PIN's keyboard is %q", k)
	}
	p.typeKeys("2469")
	p.erase(1)
	p.typeKeys("8")
	p.shot("approve-pin")
	p.enter()
	// A wrong PIN would stay here with an error.
	p.waitScreen("approve-result")
	p.shot("approved")
	p.tap("done")

	p.waitScreen("login")
	p.tap("login")
	p.waitScreen("home")
	p.tap("gen:Alice")
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
	p.typeKeys("123x45") // not a digit: the field takes digits only
	p.erase(1)
	p.typeKeys("56")
	p.shot("generate")
	p.tap("generate-passcode")
	p.waitScreen("response")
	p.shot("response")
	p.tap("copy")
	if got, want := p.clipboard(), app.FakeResponse("Alice", "2468", "123456"); got != want {
		t.Errorf("copied %q, want %q, the response for PIN 2468 and challenge 123456", got, want)
	}
	p.tap("done")

	// Add User with the portal's Session ID, typed on a keyboard that
	// composes words.
	p.waitScreen("home")
	p.tap("more")
	p.waitScreen("more")
	p.tap("2fa")
	p.waitScreen("2fa")
	p.tap("add-user")
	p.waitScreen("enroll-intro")
	p.tap("use-link")
	p.waitScreen("enroll-link")
	p.tapField("link")
	if k := p.keyboard(); k != "text" {
		t.Errorf("the link's keyboard is %q", k)
	}
	p.compose("ABCD-1234") // the demo's Session ID
	p.shot("session-id")
	p.tap("continue")
	p.waitScreen("enroll-pin")
	p.tapField("pin")
	p.typeKeys("1357")
	p.tapField("pin2")
	p.typeKeys("1357")
	p.tap("activate")
	p.waitScreen("enroll-done")
	p.shot("enrolled")
}

// TestWebAppEnrollLinkDemo: the page opened with the portal's link starts
// Add User with its Session ID, and takes it out of the address.
func TestWebAppEnrollLinkDemo(t *testing.T) {
	s := startService(t)
	p := newPhone(t, browsertest.IPhone, s.URL)
	p.open(s.URL + "/app/?demo#enroll=ABCD-1234")
	// The iOS flavor offers Face ID before a passcode.
	p.waitScreen("enroll-gate")
	p.shot("enroll-gate")
	if h := browsertest.Eval[string](p.Browser, `location.hash`); h != "" {
		t.Errorf("the address keeps %q", h)
	}
}
