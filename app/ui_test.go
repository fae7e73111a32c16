package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"ibkey/app/demo"
	"ibkey/platform"
)

func TestWindowTitle(t *testing.T) {
	x := newFixture(t, IOS)
	if got := x.u.Window().Title(); got != "ibkey" {
		t.Errorf("title %q, want %q", got, "ibkey")
	}
	x.at("login")
}

func TestNavigation(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		gen := map[Flavor]string{IOS: "Generate Code", Android: "Generate Response"}[fl]

		// Login screen: Services at the top left, then Authenticate.
		x.at("login")
		x.tap("services")
		x.at("services")
		x.tap("authenticate")
		x.at("authenticate")
		x.see("Add User", gen)
		if !x.has("add-user") || !x.has("generate") {
			t.Fatalf("Authenticate lacks Add User or Generate: %v", keys(x.u.buttons))
		}
		x.tap("back")
		x.tap("back")
		x.at("login")

		// Home: the users and their quick actions.
		x.tap("login")
		x.at("home")
		x.see("Alice", "U1234567", "Joint", "Card", "Active on this device", gen)
		if !x.has("gen:Alice") || !x.has("dsc:Card") {
			t.Errorf("quick actions missing: %v", keys(x.u.buttons))
		}
		// More: bottom right on iOS (tab bar), top left on Android (menu).
		switch fl {
		case IOS:
			if x.has("more") || !x.has("tab.more") {
				t.Fatalf("iOS: want More in the tab bar, buttons %v", keys(x.u.buttons))
			}
			x.tap("tab.more")
		case Android:
			if x.has("tab.more") || !x.has("more") {
				t.Fatalf("Android: want More at the top left, buttons %v", keys(x.u.buttons))
			}
			x.tap("more")
		}
		x.at("more")
		x.tap("2fa")
		x.at("2fa")
		x.see("Two-Factor Authentication", "Add User", gen)
		x.tap("back")
		x.tap("logout")
		x.at("login")
	})
}

// TestMoreIsBottomRightOnIOS checks where More is drawn, not just that it
// exists.
func TestMorePosition(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		id := map[Flavor]string{IOS: "tab.more", Android: "more"}[fl]
		b := x.u.buttons[id]
		pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(b).Add(fyne.NewPos(b.Size().Width/2, b.Size().Height/2))
		size := x.u.window.Canvas().Size()
		right, bottom := pos.X > size.Width/2, pos.Y > size.Height/2
		if fl == IOS && !(right && bottom) {
			t.Errorf("iOS More at %v in %v, want bottom right", pos, size)
		}
		if fl == Android && (right || bottom) {
			t.Errorf("Android More at %v in %v, want top left", pos, size)
		}
	})
}

func TestAddUser(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		if fl == IOS {
			x.tap("tab.more")
		} else {
			x.tap("more")
		}
		x.tap("2fa")
		x.tap("add-user")
		x.at("enroll-intro")
		x.tap("continue")
		x.at("enroll-credentials")

		x.typeIn("username", "bob")
		x.typeIn("password", "wrong")
		x.tap("continue")
		x.at("enroll-credentials")
		x.see("Wrong username or password.")

		x.u.entries["password"].(interface{ SetText(string) }).SetText("")
		x.typeIn("password", "secret")
		x.tap("continue")
		x.at("enroll-code")
		x.called("StartEnrollment  bob sms")
		x.see("SMS", "+1 ••• ••• 0123")

		// Didn't receive a security code? -> Voice.
		x.tap("no-code")
		x.tap("voice")
		x.called("Resend enr-1 voice")
		x.see("call")

		x.typeIn("code", "12x3456")
		if got := x.entryText("code"); got != "123 456" {
			t.Errorf("code shown %q, want %q", got, "123 456")
		}
		switch fl {
		case IOS:
			// Activate, then Face ID.
			x.tap("activate")
			x.at("enroll-gate")
			x.see("Face ID")
			x.tap("use-bio")
			x.called("CheckCode enr-1 code=123456 card=")
			x.called("Activate act-1 pin= bio=true")
		case Android:
			if x.has("activate") {
				t.Error("Android code screen has Activate; want Send")
			}
			x.tap("send")
			x.at("enroll-pin")
			// The vault's PIN rule, before anything is sent: 2580 is
			// too easy to guess.
			x.typeIn("pin", "2580")
			x.typeIn("pin2", "2580")
			x.tap("activate")
			x.at("enroll-pin")
			x.see("must not be easy to guess")
			x.u.entries["pin"].(interface{ SetText(string) }).SetText("")
			x.u.entries["pin2"].(interface{ SetText(string) }).SetText("")
			x.typeIn("pin", "3917")
			x.typeIn("pin2", "3918")
			x.tap("activate")
			x.at("enroll-pin")
			x.see("differ")
			x.u.entries["pin2"].(interface{ SetText(string) }).SetText("")
			x.typeIn("pin2", "3917")
			x.tap("activate")
			x.called("Activate act-1 pin=3917 bio=false")
		}
		x.at("enroll-done")
		x.see("bob is ready")
		x.tap("done")
		x.at("home")
		x.see("bob")
		if fl == Android && x.fake.PIN("bob") != "3917" {
			t.Errorf("bob's PIN %q", x.fake.PIN("bob"))
		}
	})
}

// A wrong code is told on the code screen, before any PIN is asked (it
// came after the PIN was set twice); the right one then goes on.
func TestAddUserWrongCode(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("services")
		x.tap("authenticate")
		x.tap("add-user")
		x.tap("continue")
		x.typeIn("username", "bob")
		x.typeIn("password", "secret")
		x.tap("continue")
		x.typeIn("code", "654321")
		action := map[Flavor]string{IOS: "activate", Android: "send"}[fl]
		x.tap(action)
		x.at("enroll-code")
		x.see("That security code is not right")
		x.called("CheckCode enr-1 code=654321")
		if x.fake.Pending() != 0 {
			t.Error("a wrong code left an activation")
		}
		code := x.u.entries["code"].(*digitEntry)
		code.TypedShortcut(&fyne.ShortcutSelectAll{})
		x.typeIn("code", "123456")
		x.tap(action)
		if fl == IOS {
			x.at("enroll-gate") // then Face ID or a passcode
		} else {
			x.at("enroll-pin")
		}
	})
}

// Leaving Add User after the code was taken drops the activation (its key
// is cleared): Back from the first screen after it, and the auto-lock.
func TestAddUserAbandoned(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		toCode := func() {
			x.tap("services")
			x.tap("authenticate")
			x.tap("add-user")
			x.tap("continue")
			x.typeIn("username", "bob")
			x.typeIn("password", "secret")
			x.tap("continue")
			x.typeIn("code", "123456")
			x.tap(map[Flavor]string{IOS: "activate", Android: "send"}[fl])
			if x.fake.Pending() != 1 {
				t.Fatalf("%d activations after the code, want 1", x.fake.Pending())
			}
		}
		toCode()
		if fl == IOS {
			x.at("enroll-gate")
			x.tap("use-passcode")
			x.tap("back") // to the choice: still the same activation
			x.at("enroll-gate")
			if x.fake.Pending() != 1 {
				t.Fatal("Back to the choice dropped the activation")
			}
		}
		x.tap("back")
		x.at("enroll-intro")
		x.see("nothing was added")
		if x.fake.Pending() != 0 {
			t.Errorf("Back left %d activations", x.fake.Pending())
		}
		x.called("Cancel act-1")
		x.u.lock()
		toCode()
		x.u.lock() // the auto-lock, or Log Out
		if x.fake.Pending() != 0 {
			t.Errorf("the lock left %d activations", x.fake.Pending())
		}
	})
}

// Adding an account that is on this device already warns first, and
// replaces the entry rather than leaving a second one that says "Not
// active".
func TestAddUserSameAccount(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		add := func() {
			x.tap("services")
			x.tap("authenticate")
			x.tap("add-user")
			x.tap("continue")
			x.typeIn("username", "bob")
			x.typeIn("password", "secret")
			x.tap("continue")
			x.typeIn("code", "123456")
			x.tap(map[Flavor]string{IOS: "activate", Android: "send"}[fl])
		}
		finish := func() {
			if fl == IOS {
				x.tap("use-passcode")
			}
			x.typeIn("pin", "3917")
			x.typeIn("pin2", "3917")
			x.tap("activate")
			x.at("enroll-done")
			x.tap("done")
		}
		add()
		finish()
		x.u.lock()
		add()
		x.at("enroll-replace")
		x.see("bob is on this device already", "This account (U1000002) is on this device as bob")
		x.tap("replace")
		finish()
		users, _ := x.fake.Users()
		n := 0
		for _, us := range users {
			if us.Account == "U1000002" {
				n++
				if us.Name != "bob" || !us.Active {
					t.Errorf("the entry %+v", us)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d entries of the account, want 1: %+v", n, users)
		}
		x.at("home")
	})
}

func TestAddUserWithLink(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("services")
		x.tap("authenticate")
		x.tap("add-user")
		x.tap("use-link")
		x.typeIn("link", "nope")
		x.tap("continue")
		x.see("not an enrollment link")
		x.u.entries["link"].(interface{ SetText(string) }).SetText("")
		x.typeIn("link", "ibkey://enroll?session=ABCD-1234")
		x.tap("continue")
		if fl == IOS {
			x.at("enroll-gate")
			x.tap("use-bio")
		} else {
			x.at("enroll-pin")
			x.typeIn("pin", "8264")
			x.typeIn("pin2", "8264")
			x.tap("activate")
		}
		x.at("enroll-done")
		x.see("portal-user is ready")
	})
}

func TestGenerate(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		if fl == IOS {
			x.tap("tab.more")
		} else {
			x.tap("more")
		}
		x.tap("2fa")
		x.tap("generate")
		// Several users: choose one (the card is not offered).
		x.at("gen-user")
		if x.has("user:Card") {
			t.Error("the DSC+ card is offered for Generate")
		}
		x.tap("user:Alice")
		x.at("generate")

		x.typeIn("challenge", "12")
		x.tap("generate-passcode")
		x.see("The challenge has 6 digits.")

		x.typeIn("challenge", "3a4-567")
		if got := x.entryText("challenge"); got != "123 456" {
			t.Errorf("challenge shown %q, want %q", got, "123 456")
		}
		switch fl {
		case Android: // PIN and challenge, then Generate Passcode
			x.typeIn("pin", "2468")
			x.tap("generate-passcode")
		case IOS: // challenge, Generate Passcode, then the passcode
			if x.has("pin") {
				t.Error("iOS asks the passcode before the challenge")
			}
			x.tap("generate-passcode")
			x.at("generate-unlock")
			x.typeIn("pin", "2468")
			x.tap("unlock")
		}
		x.at("response")
		want := demo.Response("Alice", "2468", "123456")
		x.see(want[:4]+" "+want[4:], "Challenge 123 456", "3 minutes from when the page showed it")
		// No time of its own: the app cannot know when the page showed
		// the challenge ("good until 08:01" while the page said 08:00:16).
		x.notSee("until")
		x.notSee("14:3")
		x.called("Respond Alice 123456 pin=2468")
		x.tap("copy")
		if got := fyne.CurrentApp().Clipboard().Content(); got != want {
			t.Errorf("clipboard %q, want %q", got, want)
		}
		x.see("Copied.")
		x.tap("done")
		x.at("more")
	})
}

// A wrong PIN gives a wrong response, not an error.
func TestGenerateWrongPIN(t *testing.T) {
	x := newFixture(t, Android)
	x.tap("login")
	x.tap("gen:Alice")
	x.typeIn("pin", "1357")
	x.typeIn("challenge", "123456")
	x.tap("generate-passcode")
	x.at("response")
	wrong := demo.Response("Alice", "1357", "123456")
	x.see(wrong[:4] + " " + wrong[4:])
}

func TestGenerateBiometric(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		x.tap("gen:Joint")
		x.at("generate")
		if x.has("pin") {
			t.Error("a biometric user is asked a PIN")
		}
		x.typeIn("challenge", "654321")

		x.bio.SetOutcome(platform.Cancel)
		x.tap("generate-passcode")
		x.at("generate")
		x.see("Cancelled.")

		x.bio.SetOutcome(platform.Succeed)
		x.tap("generate-passcode")
		x.at("response")
		if !strings.Contains(x.bio.LastReason(), "Joint") {
			t.Errorf("biometric prompt reason %q", x.bio.LastReason())
		}
		x.called("Respond Joint 654321 pin= bio=true")
	})
}

func TestGenerateNoUsers(t *testing.T) {
	x := newFixtureWith(t, IOS, false)
	x.tap("services")
	x.tap("authenticate")
	x.tap("generate")
	x.at("no-users")
	x.tap("add-user")
	x.at("enroll-intro")
}

func request(user string) LoginRequest {
	return LoginRequest{
		ID: "req-1", Device: map[string]string{"Alice": "dev-1", "Joint": "dev-2", "Card": "dev-3"}[user], User: user, App: "Client Portal", Place: "Zurich, CH", IP: "203.0.113.7",
		Browser: "Firefox on Linux", Time: testNow.Add(-20 * time.Second), ExpiresAt: testNow.Add(2 * time.Minute),
		Numbers: [3]int{17, 42, 86},
	}
}

func TestApprove(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		r := request("Alice")
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.at("approve")
		x.see("Client Portal", "Zurich, CH (203.0.113.7)", "Firefox on Linux", "14:29", "just now", "17", "42", "86")
		if !x.u.buttons["approve"].Disabled() {
			t.Error("Approve enabled before a number is chosen")
		}
		x.tap("num:42")
		x.tap("approve")
		// Alice has a PIN: Android asks it; iOS asks the passcode (no
		// biometric gate).
		x.at("approve-unlock")
		x.typeIn("pin", "1111")
		x.tap("unlock")
		// The service refuses the response and spends the request: no
		// second try that would only read "This has expired".
		x.at("approve-result")
		x.see("Not approved", "Wrong PIN. The login was refused")
		x.tap("done")
		x.at("home")
		r.ID = "req-2"
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.tap("num:42")
		x.tap("approve")
		x.typeIn("pin", "2468")
		x.tap("unlock")
		x.at("approve-result")
		x.see("Approved")
		if got := x.fake.Answer("Alice", "req-2"); got != "approve 42" {
			t.Errorf("answer %q", got)
		}
		x.tap("done")
		x.at("home")
		if len(x.u.requests) != 0 {
			t.Errorf("requests left: %v", x.u.requests)
		}
	})
}

func TestApproveBiometricWrongNumber(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		r := request("Joint")
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.tap("num:17")
		x.tap("approve")
		x.at("approve-result")
		x.see("Not approved", "not the number shown in your browser")
		x.called("Approve Joint req-1 17 pin= bio=true")
		if x.bio.Prompts() != 1 {
			t.Errorf("%d biometric prompts", x.bio.Prompts())
		}
	})
}

func TestDeny(t *testing.T) {
	for _, c := range []struct {
		id     string
		reason DenyReason
		say    string
	}{{"deny-fraud", DenyFraud, "Denied and reported"}, {"deny-mistake", DenyMistake, "Denied"}} {
		t.Run(string(c.reason), func(t *testing.T) {
			forFlavors(t, func(t *testing.T, fl Flavor) {
				x := newFixture(t, fl)
				x.tap("login")
				r := request("Alice")
				x.u.handleEvent(Event{Online: true, Request: &r})
				x.tap("deny")
				x.at("approve-deny")
				x.tap(c.id)
				x.at("approve-result")
				x.see(c.say)
				if got := x.fake.Answer("Alice", "req-1"); got != "deny "+string(c.reason) {
					t.Errorf("answer %q", got)
				}
			})
		})
	}
}

func TestApproveOffline(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		x.u.handleEvent(Event{Online: false})
		x.at("home")
		x.see("You are offline", "log in with a challenge")

		r := request("Joint")
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.fake.SetOnline(false) // no watchers: only the service goes away
		x.tap("num:42")
		x.tap("approve")
		x.at("approve-offline")
		x.see("You are offline")
		x.tap("fallback-generate")
		x.at("generate")
		x.see("For Joint")
	})
}

// The UI watches the Authenticator, from after the first frame, and shows
// a request when it comes.
func TestWatch(t *testing.T) {
	a := test.NewTempApp(t)
	f := demo.NewFake()
	f.AddUser(User{Name: "Alice", Gate: GatePIN, Active: true}, "2468")
	u := New(a, Options{Flavor: Android, Auth: f, Now: func() time.Time { return testNow }})
	defer u.Close()
	if slices.Contains(f.Calls(), "Watch") {
		t.Fatal("New watches before the first frame")
	}
	u.afterFirstFrame() // what ShowAndRun runs once the window is drawn
	r := request("Alice")
	f.Push(r)
	deadline := time.Now().Add(5 * time.Second)
	for u.eventsHandled() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the pushed request was not handled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := u.current(); got != "approve" {
		t.Errorf("screen %q, want approve", got)
	}
}

func TestUsers(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		if fl == IOS {
			x.tap("tab.more")
		} else {
			x.tap("more")
		}
		x.tap("users")
		x.at("users")
		x.see("Alice", "Joint", "Card", "Not active: another device")
		x.tap("user:Alice")
		x.at("user")
		x.see("U1234567", "https://ibkey.example", "dev-1", "Active on this device", "4 Mar 2025 12:30")

		// Rename.
		x.tap("rename")
		x.u.entries["name"].(interface{ SetText(string) }).SetText("")
		x.typeIn("name", "Joint")
		x.tap("save")
		x.see("A user already has that name.")
		x.u.entries["name"].(interface{ SetText(string) }).SetText("")
		x.typeIn("name", "Alicia")
		x.tap("save")
		x.at("user")
		x.see("Alicia", "Renamed.")
		x.called("Rename Alice Alicia")

		// Change the PIN: the old one is checked by the service.
		x.tap("change-pin")
		x.typeIn("old-pin", "1111")
		x.typeIn("new-pin", "8264")
		x.typeIn("new-pin2", "8264")
		x.tap("save")
		x.see("Wrong PIN.")
		x.at("change-pin")
		x.u.entries["old-pin"].(interface{ SetText(string) }).SetText("")
		x.typeIn("old-pin", "2468")
		x.tap("save")
		x.at("user")
		x.see("Saved.")
		if got := x.fake.PIN("Alicia"); got != "8264" {
			t.Errorf("PIN %q after change", got)
		}

		// Inbox: the temporary password, once.
		x.tap("inbox")
		x.at("inbox")
		x.typeIn("pin", "8264")
		x.tap("open")
		x.at("inbox-open")
		x.see("Temporary password", "tulip-9-harbor")
		x.tap("copy:0")
		if got := fyne.CurrentApp().Clipboard().Content(); got != "tulip-9-harbor" {
			t.Errorf("clipboard %q", got)
		}
		x.tap("back")
		x.tap("inbox")
		x.typeIn("pin", "8264")
		x.tap("open")
		x.see("No messages.")
		x.tap("back")

		// Remove.
		x.tap("remove")
		x.at("remove")
		x.tap("confirm-remove")
		x.at("users")
		x.see("Alicia was removed")
		if _, ok := x.u.userNamed("Alicia"); ok {
			t.Error("Alicia still on the device")
		}
	})
}

func TestDSC(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		x.tap("dsc:Card")
		x.at("dsc")
		x.see("DSC+", "PIN>")
		for _, k := range "135" {
			x.tap("key:" + string(k))
		}
		x.tap("key:ok")
		x.see("The card's PIN has 4 digits.", "***")
		x.tap("key:7")
		x.tap("key:ok")
		x.see("CHALLNG>")
		for _, k := range "123456" {
			x.tap("key:" + string(k))
		}
		x.see("123 456")
		x.tap("key:ok")
		want := demo.Response("Card", "1357", "123456")
		x.see(want[:4] + " " + want[4:])
		x.called("DSC Card pin=1357 123456")
		x.tap("key:clr")
		x.see("PIN>")
	})
}

func TestSettingsAutoLock(t *testing.T) {
	x := newFixture(t, IOS)
	x.tap("login")
	x.tap("tab.more")
	x.tap("settings")
	x.at("settings")
	x.u.selects["autolock"].SetSelected("Immediately")
	x.u.exitedForeground(testNow)
	x.u.enteredForeground(testNow.Add(time.Second))
	x.at("login")

	x.tap("login")
	x.tap("tab.more")
	x.tap("settings")
	x.u.selects["autolock"].SetSelected("After 5 minutes")
	x.u.exitedForeground(testNow)
	x.u.enteredForeground(testNow.Add(4 * time.Minute))
	x.at("settings")
	x.u.exitedForeground(testNow)
	x.u.enteredForeground(testNow.Add(5 * time.Minute))
	x.at("login")

	x.tap("login")
	x.tap("tab.more")
	x.tap("settings")
	x.u.selects["autolock"].SetSelected("Never")
	x.u.exitedForeground(testNow)
	x.u.enteredForeground(testNow.Add(24 * time.Hour))
	x.at("settings")
}

func TestSettingsTheme(t *testing.T) {
	x := newFixture(t, Android)
	x.tap("services")
	x.tap("settings")
	x.u.radios["theme"].SetSelected("Dark")
	th, ok := fyne.CurrentApp().Settings().Theme().(variantTheme)
	if !ok || th.v != theme.VariantDark {
		t.Errorf("theme %T %v, want dark", fyne.CurrentApp().Settings().Theme(), th.v)
	}
	if got := fyne.CurrentApp().Preferences().String(prefTheme); got != themeDark {
		t.Errorf("theme preference %q", got)
	}
}

// The language is process-wide (Fyne's lang package): this test puts it
// back.
func TestSettingsLanguage(t *testing.T) {
	x := newFixture(t, Android)
	defer setLanguage(LangSystem)
	x.tap("services")
	x.tap("settings")
	x.u.selects["language"].SetSelected("Français")
	x.at("settings")
	x.see("Paramètres", "Verrouillage automatique")
	x.tap("back")
	x.see("Authentifier")
	x.tap("back")
	x.see("Se connecter")
	x.tap("services")
	x.tap("settings")
	x.u.selects["language"].SetSelected("English")
	x.see("Settings", "Auto-lock")
	x.notSee("Paramètres")
}

func TestSettingsFlavor(t *testing.T) {
	if fyne.CurrentDevice().IsMobile() {
		t.Skip("a phone takes the flavor from the platform")
	}
	x := newFixture(t, Android)
	x.tap("services")
	x.tap("settings")
	x.u.radios["flavor"].SetSelected("iOS")
	if x.u.Flavor() != IOS {
		t.Fatalf("flavor %v", x.u.Flavor())
	}
	if got := fyne.CurrentApp().Preferences().String(prefFlavor); got != "ios" {
		t.Errorf("flavor preference %q", got)
	}
	x.tap("back")
	x.tap("authenticate")
	x.see("Generate Code")
}

func TestDetectFlavor(t *testing.T) {
	for _, c := range []struct {
		mobile bool
		goos   string
		pref   Flavor
		want   Flavor
	}{
		{true, "ios", Android, IOS},
		{true, "android", IOS, Android},
		{false, "linux", IOS, IOS},
		{false, "linux", FlavorAuto, Android},
		{false, "darwin", FlavorAuto, IOS},
		{false, "windows", Android, Android},
		{true, "linux", IOS, IOS}, // the mobile simulation on a desktop
	} {
		if got := DetectFlavor(c.mobile, c.goos, c.pref); got != c.want {
			t.Errorf("DetectFlavor(%v, %q, %v) = %v, want %v", c.mobile, c.goos, c.pref, got, c.want)
		}
	}
	for _, s := range []string{"ios", "android"} {
		if got := ParseFlavor(s).String(); got != s {
			t.Errorf("ParseFlavor(%q).String() = %q", s, got)
		}
	}
}

func TestDigitEntry(t *testing.T) {
	test.NewTempApp(t)
	e := newDigitEntry(6, 3)
	w := test.NewWindow(e)
	defer w.Close()
	test.Type(e, "1a2 3-4567890")
	if e.Text != "123 456" {
		t.Errorf("text %q, want %q", e.Text, "123 456")
	}
	e.SetText("98x7")
	if e.Text != "987" {
		t.Errorf("after SetText %q, want %q", e.Text, "987")
	}
}

// A full code field takes typing over a selection, and says why it
// refuses a ninth digit or a letter (issue: extra digits vanished
// silently, and typing over a selection did nothing).
func TestCodeFieldFullAndSelection(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("services")
		x.tap("authenticate")
		x.tap("add-user")
		x.tap("continue")
		x.typeIn("username", "bob")
		x.typeIn("password", "secret")
		x.tap("continue")
		x.at("enroll-code")
		code := x.u.entries["code"].(*digitEntry)
		x.typeIn("code", "12345678")
		x.typeIn("code", "9")
		if code.Text != "123 456 78" {
			t.Errorf("full field after a ninth digit: %q", code.Text)
		}
		x.see("The security code has at most 8 digits.")
		code.TypedShortcut(&fyne.ShortcutSelectAll{})
		x.typeIn("code", "87654321")
		if code.Text != "876 543 21" {
			t.Errorf("typed over the selection: %q, want %q", code.Text, "876 543 21")
		}
		x.notSee("at most 8 digits")
		x.typeIn("code", "x")
		x.see("The security code has digits only: “x” is not one.")
		if code.Text != "876 543 21" {
			t.Errorf("after a letter: %q", code.Text)
		}
	})
}

// Letters in the challenge field are refused with a word; pasted text
// keeps its digits and says what it left out.
func TestChallengeFieldLetters(t *testing.T) {
	x := newFixture(t, IOS)
	x.tap("login")
	x.tap("gen:Alice")
	x.at("generate")
	x.typeIn("challenge", "12a")
	x.see("The challenge has digits only: “a” is not one.")
	if got := x.entryText("challenge"); got != "12" {
		t.Errorf("challenge %q, want 12", got)
	}
	x.typeIn("challenge", "3")
	x.notSee("digits only")
	ch := x.u.entries["challenge"].(*digitEntry)
	ch.SetText("")
	fyne.CurrentApp().Clipboard().SetContent("Challenge: 654 321")
	ch.TypedShortcut(&fyne.ShortcutPaste{Clipboard: fyne.CurrentApp().Clipboard()})
	if ch.Text != "654 321" {
		t.Errorf("pasted challenge %q, want %q", ch.Text, "654 321")
	}
	x.see("“C” is not one.")
	// A digit typed in the middle stays where it was typed.
	ch.SetText("12456")
	ch.CursorColumn = 2 // after "12"
	x.typeIn("challenge", "3")
	if ch.Text != "123 456" {
		t.Errorf("typed in the middle: %q, want %q", ch.Text, "123 456")
	}
}

// A login request's user agent of 300 characters, a service's long URL
// and a user's 64-character name wrap or shorten: the window keeps its
// size on every screen that shows them (a long user agent widened it from
// 390 to 873 px, and it stayed so).
func TestLongTextKeepsTheWindowSize(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		long := strings.Repeat("Long name ", 7)[:64]
		x.fake.AddUser(User{Name: long, Account: "U7777777", Service: "https://" + strings.Repeat("ibkey-service.", 8) + "example/", Gate: GatePIN, Active: true, Device: strings.Repeat("d", 32)}, "3917")
		start := x.u.window.Canvas().Size()
		check := func(where string) {
			t.Helper()
			if got := x.u.window.Canvas().Size(); got != start {
				t.Errorf("%s: window %v, want %v", where, got, start)
			}
			if w := x.u.window.Content().MinSize().Width; w > start.Width {
				t.Errorf("%s: content needs %v px, the window has %v", where, w, start.Width)
			}
		}
		x.tap("login")
		check("home")
		r := request(long)
		r.Browser = strings.Repeat("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 ", 3)[:300]
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.at("approve")
		x.see("Mozilla/5.0")
		check("login request")
		x.tap("num:42")
		check("number chosen")
		x.tap("back")
		x.at("home")
		check("home with a request waiting")
		x.u.requests = nil
		if fl == IOS {
			x.tap("tab.more")
		} else {
			x.tap("more")
		}
		x.tap("users")
		check("users")
		x.tap("user:" + long)
		check("user")
		x.u.lock()
		x.tap("login")
		x.tap("gen:" + long)
		check("generate")
	})
}

// A resend refused as too soon says when it may be asked again (it said
// "Too many tries. Wait a minute"); the other channel is asked at once.
func TestResendTooSoon(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("services")
		x.tap("authenticate")
		x.tap("add-user")
		x.tap("continue")
		x.typeIn("username", "bob")
		x.typeIn("password", "secret")
		x.tap("continue")
		x.tap("no-code")
		x.tap("resend-sms")
		x.at("enroll-code")
		x.see("You can ask again at 14:30:30, in 30 seconds.")
		x.notSee("Wait a minute")
		x.tap("voice")
		x.see("call")
	})
}

// A request that ends elsewhere (answered in the browser, refused,
// expired) leaves the app: from the approval being shown, from the PIN
// screen, and from the list of requests waiting.
func TestRequestOver(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("login")
		r := request("Alice")
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.at("approve")
		x.u.handleEvent(Event{Online: true, Over: &RequestKey{Device: "dev-1", ID: "req-1"}})
		x.at("approve-result")
		x.see("No longer waiting", "answered in the browser, refused, or has expired")
		x.tap("done")
		x.at("home")
		x.notSee("Login request waiting")

		// On the PIN screen.
		r.ID = "req-2"
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.tap("num:42")
		x.tap("approve")
		x.at("approve-unlock")
		x.u.handleEvent(Event{Online: true, Over: &RequestKey{Device: "dev-1", ID: "req-2"}})
		x.at("approve-result")
		x.see("No longer waiting")
		x.tap("done")

		// Waiting behind another: it goes from the list, and the home
		// screen's card with it.
		r.ID = "req-3"
		r2 := request("Joint")
		r2.ID = "req-4"
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.u.handleEvent(Event{Online: true, Request: &r2})
		x.u.handleEvent(Event{Online: true, Request: &r2}) // once only
		if len(x.u.requests) != 2 {
			t.Fatalf("requests %v", x.u.requests)
		}
		x.u.handleEvent(Event{Online: true, Over: &RequestKey{Device: "dev-2", ID: "req-4"}})
		x.tap("deny")
		x.tap("deny-mistake")
		x.tap("done")
		x.at("home")
		x.notSee("Login request waiting")
		if len(x.u.requests) != 0 {
			t.Errorf("requests left: %v", x.u.requests)
		}
	})
}

// A user renamed while a request waits: the request follows the user (it
// names the device, not the name), shows the new name, and Deny works
// (it said "No such user"). Removing the user drops its requests.
func TestRequestRenameRemove(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		more := map[Flavor]string{IOS: "tab.more", Android: "more"}[fl]
		x.tap("login")
		r := request("Alice")
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.tap("back")
		x.at("home")
		x.tap(more)
		x.tap("users")
		x.tap("user:Alice")
		x.tap("rename")
		x.u.entries["name"].(interface{ SetText(string) }).SetText("Alicia")
		x.tap("save")
		x.u.lock()
		x.tap("login")
		x.see("Someone is logging in as Alicia")
		x.tap("review")
		x.at("approve")
		x.see("Alicia")
		x.tap("deny")
		x.tap("deny-mistake")
		x.at("approve-result")
		x.see("Denied")
		x.notSee("No such user")
		if got := x.fake.Answer("Alicia", "req-1"); got != "deny mistake" {
			t.Errorf("answer %q", got)
		}
		x.tap("done")

		r.ID = "req-2"
		x.u.handleEvent(Event{Online: true, Request: &r})
		x.tap("back")
		x.tap(more)
		x.tap("users")
		x.tap("user:Alicia")
		x.tap("remove")
		x.tap("confirm-remove")
		x.at("users")
		if len(x.u.requests) != 0 {
			t.Errorf("requests of a removed user: %v", x.u.requests)
		}
	})
}

// The card's keypad takes the keyboard too: digits, Backspace, Enter.
func TestDSCKeyboard(t *testing.T) {
	x := newFixture(t, Android)
	x.tap("login")
	x.tap("dsc:Card")
	x.at("dsc")
	c := x.u.window.Canvas()
	key := func(name fyne.KeyName) {
		t.Helper()
		c.OnTypedKey()(&fyne.KeyEvent{Name: name})
		x.u.wait()
	}
	test.TypeOnCanvas(c, "1358")
	key(fyne.KeyBackspace)
	test.TypeOnCanvas(c, "7x")
	x.see("****")
	key(fyne.KeyReturn)
	x.see("CHALLNG>")
	test.TypeOnCanvas(c, "123456")
	x.see("123 456")
	key(fyne.KeyEnter)
	want := demo.Response("Card", "1357", "123456")
	x.see(want[:4] + " " + want[4:])
	x.called("DSC Card pin=1357 123456")
	key(fyne.KeyDelete)
	x.see("PIN>")
	// Escape is Back; another screen leaves the digits alone.
	key(fyne.KeyEscape)
	x.at("home")
	if c.OnTypedRune() != nil {
		t.Error("the home screen takes the digits")
	}
}

// Add User offers a DSC+ card: its PIN comes first (an input of its key),
// then the code; the card works with that PIN.
func TestAddCard(t *testing.T) {
	forFlavors(t, func(t *testing.T, fl Flavor) {
		x := newFixture(t, fl)
		x.tap("services")
		x.tap("authenticate")
		x.tap("add-user")
		x.see("DSC+ card")
		x.tap("add-card")
		x.at("enroll-credentials")
		x.typeIn("username", "carl")
		x.typeIn("password", "secret")
		x.tap("continue")
		x.at("enroll-card-pin")
		x.typeIn("pin", "4826")
		x.typeIn("pin2", "4827")
		x.tap("continue")
		x.see("differ")
		set := func(id, s string) { x.u.entries[id].(interface{ SetText(string) }).SetText(s) }
		set("pin", "1111")
		set("pin2", "1111")
		x.tap("continue")
		x.see("4 digits and must not be easy to guess")
		set("pin", "48261")
		set("pin2", "48261")
		x.tap("continue")
		x.at("enroll-card-pin")
		set("pin", "4826")
		set("pin2", "4826")
		x.tap("continue")
		x.at("enroll-code")
		x.typeIn("code", "123456")
		x.tap(map[Flavor]string{IOS: "activate", Android: "send"}[fl])
		x.called("CheckCode enr-1 code=123456 card=4826")
		x.at("enroll-done")
		x.see("The DSC+ card of carl")
		x.tap("done")
		x.at("home")
		x.tap("dsc:carl")
		for _, k := range "4826" {
			x.tap("key:" + string(k))
		}
		x.tap("key:ok")
		for _, k := range "654321" {
			x.tap("key:" + string(k))
		}
		x.tap("key:ok")
		want := demo.Response("carl", "4826", "654321")
		x.see(want[:4] + " " + want[4:])
	})
}

// On a desktop, Fyne's save of the preferences when the app stops is
// dropped (it raced Fyne's watcher of the file: "Preferences load error:
// EOF" at quit); the preferences were saved at each change.
func TestNoSaveAtStop(t *testing.T) {
	a := test.NewTempApp(t)
	type hooks interface {
		SetOnStoppedHookExecuted(func())
		OnStopped() func()
	}
	lc, ok := a.Lifecycle().(hooks)
	if !ok {
		t.Fatalf("%T has no stop hook: noSaveAtStop does nothing with this Fyne", a.Lifecycle())
	}
	saved := false
	lc.SetOnStoppedHookExecuted(func() { saved = true }) // as Fyne's app does
	noSaveAtStop(a.Lifecycle())
	if f := lc.OnStopped(); f != nil {
		f()
	}
	if saved {
		t.Error("the save at stop still runs")
	}
}

// The keyboard answers a login request too: the number's digits choose
// it, Enter goes on; and Enter in the code field sends the code.
func TestKeyboardApproveAndCode(t *testing.T) {
	x := newFixture(t, Android)
	x.tap("login")
	r := request("Alice")
	x.u.handleEvent(Event{Online: true, Request: &r})
	x.at("approve")
	c := x.u.window.Canvas()
	test.TypeOnCanvas(c, "13")
	x.see("13 is not one of the three numbers")
	c.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn})
	x.at("approve")
	test.TypeOnCanvas(c, "42")
	if x.u.approval.number != 42 || x.u.buttons["approve"].Disabled() {
		t.Fatalf("number %d after typing 42", x.u.approval.number)
	}
	c.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn})
	x.at("approve-unlock")
	x.typeIn("pin", "2468")
	// Enter submits (the test driver runs the answer's screen on the
	// answer's goroutine: call the submit as Enter does, then wait).
	pinEntry := x.u.entries["pin"].(*widget.Entry)
	pinEntry.OnSubmitted(pinEntry.Text)
	x.u.wait()
	x.at("approve-result")
	x.see("Approved")
	x.tap("done")

	x.tap("more")
	x.tap("2fa")
	x.tap("add-user")
	x.tap("continue")
	x.typeIn("username", "bob")
	x.typeIn("password", "secret")
	x.tap("continue")
	x.typeIn("code", "123456")
	code := x.u.entries["code"].(*digitEntry)
	code.OnSubmitted(code.Text)
	x.u.wait()
	x.at("enroll-pin")
}

// Options.OnScreen is told each screen shown.
func TestOnScreen(t *testing.T) {
	a := test.NewTempApp(t)
	a.Preferences().SetString(prefLanguage, LangEN)
	var seen []string
	u := New(a, Options{Flavor: Android, Auth: demo.NewFake(), NoWatch: true, OnScreen: func(id string) { seen = append(seen, id) }})
	t.Cleanup(u.Close)
	test.Tap(u.buttons["login"])
	test.Tap(u.buttons["add-user"])
	if want := []string{"login", "home", "enroll-intro"}; !slices.Equal(seen, want) {
		t.Errorf("screens %v, want %v", seen, want)
	}
}
