package app

import (
	"sort"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"ibkey/app/demo"
	"ibkey/platform"
)

// testNow is the clock of the tests: a Tuesday afternoon, in UTC.
var testNow = time.Date(2025, 3, 4, 14, 30, 0, 0, time.UTC)

// fixture is a UI on a test app with a Fake and fake biometrics.
type fixture struct {
	t    *testing.T
	u    *UI
	fake *demo.Fake
	bio  *platform.FakeBiometrics
}

// newFixture makes a UI of flavor over a Fake with Alice (PIN 2468) and a
// joint account (biometric) and a DSC+ card; biometrics are Face ID on iOS
// and fingerprint on Android.
func newFixture(t *testing.T, flavor Flavor) *fixture {
	t.Helper()
	return newFixtureWith(t, flavor, true)
}

func newFixtureWith(t *testing.T, flavor Flavor, users bool) *fixture {
	t.Helper()
	a := test.NewTempApp(t)
	a.Preferences().SetString(prefLanguage, LangEN) // not the machine's locale
	kind := platform.Fingerprint
	if flavor == IOS {
		kind = platform.FaceID
	}
	bio := platform.NewFakeBiometrics(kind, nil)
	f := demo.NewFake()
	f.Bio = bio
	f.Now = func() time.Time { return testNow }
	if users {
		f.AddUser(User{Name: "Alice", Account: "U1234567", Service: "https://ibkey.example", Gate: GatePIN, Active: true, Device: "dev-1", LastUsed: testNow.Add(-2 * time.Hour)}, "2468")
		f.AddUser(User{Name: "Joint", Account: "U7654321", Service: "https://ibkey.example", Gate: GateBiometric, Active: true, Device: "dev-2"}, "")
		f.AddUser(User{Name: "Card", Account: "U5550001", Gate: GateCard, Active: false, Device: "dev-3"}, "")
		f.AddDelivery("Alice", Delivery{Label: "Temporary password", Text: "tulip-9-harbor", Created: testNow.Add(-10 * time.Minute)})
		if _, err := bio.Enroll("ibkey-Joint"); err != nil {
			t.Fatal(err)
		}
	}
	u := New(a, Options{Flavor: flavor, Auth: f, Bio: bio, Now: func() time.Time { return testNow }, NoWatch: true})
	t.Cleanup(u.Close)
	return &fixture{t: t, u: u, fake: f, bio: bio}
}

// tap taps the button id of the screen shown and waits for the work it
// starts.
func (x *fixture) tap(id string) {
	x.t.Helper()
	b, ok := x.u.buttons[id]
	if !ok {
		x.t.Fatalf("screen %q has no button %q; it has %v", x.u.current(), id, keys(x.u.buttons))
	}
	if b.Disabled() {
		x.t.Fatalf("screen %q: button %q is disabled", x.u.current(), id)
	}
	test.Tap(b)
	x.u.wait()
}

// has reports whether the screen shown has the button id.
func (x *fixture) has(id string) bool {
	_, ok := x.u.buttons[id]
	return ok
}

// typeIn types text into the entry id of the screen shown.
func (x *fixture) typeIn(id, text string) {
	x.t.Helper()
	e, ok := x.u.entries[id]
	if !ok {
		x.t.Fatalf("screen %q has no entry %q; it has %v", x.u.current(), id, keys(x.u.entries))
	}
	test.Type(e, text)
}

// entryText is the text of the entry id.
func (x *fixture) entryText(id string) string {
	x.t.Helper()
	switch e := x.u.entries[id].(type) {
	case *widget.Entry:
		return e.Text
	case *digitEntry:
		return e.Text
	}
	x.t.Fatalf("no entry %q", id)
	return ""
}

// at fails unless the screen shown is id.
func (x *fixture) at(id string) {
	x.t.Helper()
	if got := x.u.current(); got != id {
		x.t.Fatalf("screen %q, want %q (texts: %q)", got, id, x.texts())
	}
}

// texts is every visible text of the window, in order.
func (x *fixture) texts() []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch o := o.(type) {
		case *canvas.Text:
			if o.Text != "" {
				out = append(out, o.Text)
			}
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
	walk(x.u.window.Canvas().Content())
	return out
}

// see fails unless some text of the window contains each of want (a
// wrapped paragraph's lines read as one, joined by spaces).
func (x *fixture) see(want ...string) {
	x.t.Helper()
	all := strings.Join(x.texts(), "\n")
	joined := strings.Join(x.texts(), " ")
	for _, w := range want {
		if !strings.Contains(all, w) && !strings.Contains(joined, w) {
			x.t.Errorf("screen %q does not show %q; it shows:\n%s", x.u.current(), w, all)
		}
	}
}

// notSee fails if some text of the window contains s.
func (x *fixture) notSee(s string) {
	x.t.Helper()
	if all := strings.Join(x.texts(), "\n"); strings.Contains(all, s) || strings.Contains(strings.Join(x.texts(), " "), s) {
		x.t.Errorf("screen %q shows %q:\n%s", x.u.current(), s, all)
	}
}

// called fails unless the Fake recorded a call starting with prefix.
func (x *fixture) called(prefix string) {
	x.t.Helper()
	for _, c := range x.fake.Calls() {
		if strings.HasPrefix(c, prefix) {
			return
		}
	}
	x.t.Errorf("no call %q; calls: %q", prefix, x.fake.Calls())
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// forFlavors runs f for iOS and Android.
func forFlavors(t *testing.T, f func(t *testing.T, fl Flavor)) {
	for _, fl := range []Flavor{IOS, Android} {
		t.Run(fl.String(), func(t *testing.T) { f(t, fl) })
	}
}
