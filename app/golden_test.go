package app

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// tour walks through every screen of a flavor, calling snap on each with
// the screen's file name.
func tour(t *testing.T, fl Flavor, snap func(x *fixture, name string)) {
	x := newFixture(t, fl)
	more := map[Flavor]string{IOS: "tab.more", Android: "more"}[fl]

	snap(x, "01-login")
	x.tap("services")
	snap(x, "02-services")
	x.tap("authenticate")
	snap(x, "03-authenticate")
	x.tap("back")
	x.tap("back")
	x.tap("login")
	snap(x, "04-home")
	x.tap(more)
	snap(x, "05-more")
	x.tap("2fa")
	snap(x, "06-two-factor")

	// Add User.
	x.tap("add-user")
	snap(x, "10-add-user-intro")
	x.tap("continue")
	x.typeIn("username", "bob")
	x.typeIn("password", "secret")
	snap(x, "11-add-user-credentials")
	x.tap("continue")
	x.typeIn("code", "123456")
	snap(x, "12-add-user-code")
	x.tap("no-code")
	snap(x, "13-add-user-no-code")
	if fl == IOS {
		x.tap("activate")
		snap(x, "14-add-user-face-id")
		x.tap("use-passcode")
	} else {
		x.tap("send")
	}
	x.typeIn("pin", "3917")
	x.typeIn("pin2", "3917")
	snap(x, "15-add-user-pin")
	x.tap("activate")
	snap(x, "16-add-user-done")
	x.tap("done")
	x.tap(more)
	x.tap("2fa")
	x.tap("add-user")
	x.tap("use-link")
	x.typeIn("link", "ABCD-1234")
	snap(x, "17-add-user-session-id")
	x.u.lock()
	// bob again: the warning before replacing.
	x.tap("services")
	x.tap("authenticate")
	x.tap("add-user")
	x.tap("continue")
	x.typeIn("username", "bob")
	x.typeIn("password", "secret")
	x.tap("continue")
	x.typeIn("code", "123456")
	x.tap(map[Flavor]string{IOS: "activate", Android: "send"}[fl])
	snap(x, "18-add-user-replace")
	x.tap("cancel")
	// A DSC+ card: its PIN first.
	x.tap("add-card")
	x.typeIn("username", "carl")
	x.typeIn("password", "secret")
	x.tap("continue")
	x.typeIn("pin", "4826")
	x.typeIn("pin2", "4826")
	snap(x, "19-add-card-pin")
	x.u.lock()

	// Generate.
	x.tap("services")
	x.tap("authenticate")
	x.tap("generate")
	snap(x, "20-generate-choose-user")
	x.tap("user:Alice")
	x.typeIn("challenge", "123456")
	if fl == Android {
		x.typeIn("pin", "2468")
	}
	snap(x, "21-generate-challenge")
	x.tap("generate-passcode")
	if fl == IOS {
		x.typeIn("pin", "2468")
		snap(x, "22-generate-passcode")
		x.tap("unlock")
	}
	snap(x, "23-generate-response")
	x.u.lock()

	// Seamless approval.
	x.tap("login")
	r := request("Alice")
	x.u.handleEvent(Event{Online: true, Request: &r})
	snap(x, "30-approve-request")
	x.tap("num:42")
	snap(x, "31-approve-number")
	x.tap("approve")
	x.typeIn("pin", "2468")
	snap(x, "32-approve-unlock")
	x.tap("unlock")
	snap(x, "33-approve-done")
	x.tap("done")
	r.ID = "req-2"
	x.u.handleEvent(Event{Online: true, Request: &r})
	x.tap("deny")
	snap(x, "34-deny-reason")
	x.tap("deny-mistake")
	snap(x, "35-denied")
	x.tap("done")
	x.u.handleEvent(Event{Online: false})
	snap(x, "36-home-offline")
	r.ID = "req-3"
	x.fake.SetOnline(false)
	x.u.handleEvent(Event{Online: false, Request: &r})
	x.tap("num:42")
	x.tap("approve")
	x.typeIn("pin", "2468")
	x.tap("unlock")
	snap(x, "37-approve-offline")
	x.fake.SetOnline(true)
	x.u.handleEvent(Event{Online: true})
	x.u.requests = nil
	x.u.lock()

	// Users.
	x.tap("login")
	x.tap(more)
	x.tap("users")
	snap(x, "40-users")
	x.tap("user:Alice")
	snap(x, "41-user")
	x.tap("rename")
	snap(x, "42-rename")
	x.tap("back")
	x.tap("change-pin")
	snap(x, "43-change-pin")
	x.tap("back")
	x.tap("inbox")
	snap(x, "44-inbox-unlock")
	x.typeIn("pin", "2468")
	x.tap("open")
	snap(x, "45-inbox")
	x.tap("back")
	x.tap("remove")
	snap(x, "46-remove")
	x.u.lock()

	// DSC+.
	x.tap("login")
	x.tap("dsc:Card")
	snap(x, "50-dsc-pin")
	for _, k := range "1357" {
		x.tap("key:" + string(k))
	}
	x.tap("key:ok")
	for _, k := range "123456" {
		x.tap("key:" + string(k))
	}
	snap(x, "51-dsc-challenge")
	x.tap("key:ok")
	snap(x, "52-dsc-response")
	x.u.lock()

	// Settings.
	x.tap("services")
	x.tap("settings")
	snap(x, "60-settings")
}

// TestGoldens compares every screen's markup with testdata/: goldens for
// the desktop and the mobile simulation (-tags mobile) apart.
func TestGoldens(t *testing.T) {
	dir := "desktop"
	if fyne.CurrentDevice().IsMobile() {
		dir = "mobile"
	}
	forFlavors(t, func(t *testing.T, fl Flavor) {
		tour(t, fl, func(x *fixture, name string) {
			t.Helper()
			test.AssertRendersToMarkup(t, filepath.Join(dir, fl.String(), name+".xml"), x.u.window.Canvas())
		})
	})
}

// TestScreenshots writes every screen of both flavors as PNG, in Fyne's
// light theme, to the directory IBKEY_SCREENSHOTS names:
//
//	IBKEY_SCREENSHOTS=$PWD/docs/screenshots go test -run Screenshots ./app/
func TestScreenshots(t *testing.T) {
	out := os.Getenv("IBKEY_SCREENSHOTS")
	if out == "" {
		t.Skip("IBKEY_SCREENSHOTS is not set")
	}
	forFlavors(t, func(t *testing.T, fl Flavor) {
		first := true
		tour(t, fl, func(x *fixture, name string) {
			if first {
				test.ApplyTheme(t, variantTheme{theme.DefaultTheme(), theme.VariantLight})
				x.u.render()
				first = false
			}
			f, err := os.Create(filepath.Join(out, fl.String()+"-"+name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := png.Encode(f, x.u.window.Canvas().Capture()); err != nil {
				t.Fatal(err)
			}
		})
	})
}
