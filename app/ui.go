// Package app is ibkey's user interface: the screens and navigation of the
// iOS and Android flavors, on Fyne. It holds no crypto and no HTTP: it
// drives an [Authenticator] (the vault and the service behind an adapter,
// or the in-memory demo of app/demo), so that tests drive it with fakes.
//
// # Layout of the package
//
//   - auth.go: the names of package auth (the Authenticator interface and
//     its types); app/demo implements it in memory for --demo and the tests.
//   - ui.go: the UI, navigation and the flavors' chrome (top bar, tab bar).
//   - screens_*.go: one file per area (start, enroll, generate, approve,
//     users, dsc, settings).
//   - translations/: English and French, through fyne.io/fyne/v2/lang.
package app

import (
	"context"
	"errors"
	"image/color"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"ibkey/assets"
	"ibkey/platform"
)

// Options are what the UI is built from.
type Options struct {
	// Flavor is IOS or Android; FlavorAuto takes it from the platform
	// (a phone) or from the Flavor setting (a desktop).
	Flavor Flavor
	// Auth is the authenticator: the adapter over the vault and the
	// service, or a Fake. Required.
	Auth Authenticator
	// Bio is the device's biometric check, used for its kind (Touch ID,
	// Face ID, fingerprint); nil means none. The Authenticator does the
	// checks themselves.
	Bio platform.Biometrics
	// Now is the clock (time.Now when nil); its location is the one times
	// are shown in.
	Now func() time.Time
	// NoWatch keeps ShowAndRun from watching for seamless login requests
	// once the first frame is drawn (tests that feed events themselves).
	NoWatch bool
	// OnScreen, when set, is told the id of each screen shown ("login",
	// "enroll-code", ...), on the UI's goroutine: a readout for drivers
	// of the real window, which cannot see Fyne's widgets.
	OnScreen func(id string)
}

// Preference keys.
const (
	prefFlavor   = "flavor"
	prefAutoLock = "autolock_seconds"
	prefTheme    = "theme"
	prefLanguage = "language"
)

// UI is the app's user interface in one window.
type UI struct {
	app    fyne.App
	window fyne.Window
	opts   Options
	flavor Flavor
	words  words
	auth   Authenticator

	stack []screen // the navigation: the last is shown

	// Widgets of the screen shown, by id, for the tests and the
	// keyboard: buttons, entries, selects and radio groups.
	buttons map[string]*widget.Button
	entries map[string]fyne.Focusable
	selects map[string]*widget.Select
	radios  map[string]*widget.RadioGroup
	message *widget.Label // the error or status line of the screen

	// State of the flows, kept here and not in widgets.
	online    bool
	requests  []LoginRequest // seamless requests waiting
	enroll    enrollState
	gen       genState
	approval  approvalState
	userName  string // the user the Users screens are about
	dsc       dscState
	hiddenAt  time.Time // when the app left the foreground
	bg        sync.WaitGroup
	watchMu   sync.Mutex // guards stopWatch and closed
	stopWatch context.CancelFunc
	closed    bool // Close was called
	events    int  // events handled, for tests
	eventsMu  sync.Mutex
}

// screen is one page of the navigation.
type screen struct {
	id    string
	title string
	// tab is "home" or "more" for the screens under the iOS tab bar and
	// the Android menu; "" for the pages of a flow.
	tab   string
	build func() fyne.CanvasObject
	// onBack, when set, is what Back does on this screen instead of
	// going back one screen.
	onBack func()
	// onRune and onKey take the keyboard when no entry has the focus
	// (the DSC+ card's keypad); Escape is Back on every screen.
	onRune func(rune)
	onKey  func(*fyne.KeyEvent)
}

// New builds the UI of a in a new window titled "ibkey" and shows the
// login screen.
func New(a fyne.App, o Options) *UI {
	if o.Auth == nil {
		panic("app: Options.Auth is nil")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u := &UI{app: a, opts: o, auth: o.Auth, online: true}
	u.flavor = o.Flavor
	if u.flavor == FlavorAuto {
		u.flavor = detectFlavor(a)
	}
	u.words = u.flavor.words()
	setLanguage(a.Preferences().StringWithFallback(prefLanguage, LangSystem))
	u.applyTheme(a.Preferences().StringWithFallback(prefTheme, themeSystem))
	fontsReady := warmFonts()
	u.window = a.NewWindow("ibkey")
	// The app's icon is set after the window is made, so that the window
	// does not decode it before its first frame; ShowAndRun gives it to
	// the window after.
	a.SetIcon(assets.Icon)
	u.window.Resize(fyne.NewSize(390, 760))
	if !fyne.CurrentDevice().IsMobile() {
		// Ctrl+Q (Cmd+Q on macOS) quits, as desktop apps do.
		u.window.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { a.Quit() })
	}
	a.Lifecycle().SetOnExitedForeground(func() { u.exitedForeground(u.opts.Now()) })
	a.Lifecycle().SetOnEnteredForeground(func() { u.enteredForeground(u.opts.Now()) })
	fontsReady()
	u.reset(u.loginScreen())
	return u
}

// warmFonts loads the faces of the login screen's two text styles, regular
// and bold (the buttons'), on two goroutines at once while the window is
// made: the first time Fyne measures text in a style it parses the style's
// face, the emoji font and a system fallback, about 28 ms a style under
// perf, on the goroutine that lays out the first frame (docs/APP.md). The
// function it returns waits until they are loaded; call it before the
// first measure of text, so that no face is used on two goroutines at once.
func warmFonts() (wait func()) {
	var wg sync.WaitGroup
	for _, style := range []fyne.TextStyle{{}, {Bold: true}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fyne.MeasureText("IB Key", theme.TextSize(), style)
		}()
	}
	return wg.Wait
}

// Window is the app's window.
func (u *UI) Window() fyne.Window { return u.window }

// Flavor is the flavor shown.
func (u *UI) Flavor() Flavor { return u.flavor }

// ShowAndRun shows the window and runs the app until it quits. What the
// first frame does not need waits until it is drawn: the window's icon,
// and watching for seamless login requests (unless Options.NoWatch).
func (u *UI) ShowAndRun() {
	if !fyne.CurrentDevice().IsMobile() {
		noSaveAtStop(u.app.Lifecycle())
	}
	u.window.Show() // draws the first frame on a desktop
	// fyne.Do from another goroutine queues to the event loop, which
	// Run starts.
	go fyne.Do(u.afterFirstFrame)
	u.app.Run()
	u.Close()
}

// noSaveAtStop drops the save of the preferences that Fyne makes when a
// desktop app stops: it raced Fyne's own watcher of the preferences'
// folder, which saw the file cut short by that save (os.Create truncates
// it before it is written, and the event loop that would order the two is
// gone by then) and logged "Preferences load error: EOF" at quit. Nothing
// is lost: Fyne saves the preferences at each change (its change listener
// writes the file at once). The hook is set through a method of Fyne's
// lifecycle type that fyne.Lifecycle does not list; without it (another
// Fyne) nothing changes.
func noSaveAtStop(lc fyne.Lifecycle) {
	if h, ok := lc.(interface{ SetOnStoppedHookExecuted(func()) }); ok {
		h.SetOnStoppedHookExecuted(func() {})
	}
}

// afterFirstFrame is the start's work that the first frame does not need.
func (u *UI) afterFirstFrame() {
	u.watchMu.Lock()
	defer u.watchMu.Unlock()
	if u.closed {
		return
	}
	u.window.SetIcon(assets.Icon)
	if !u.opts.NoWatch {
		u.watch()
	}
}

// Close stops watching for login requests and drops an activation under
// way (its key is cleared).
func (u *UI) Close() {
	u.watchMu.Lock()
	defer u.watchMu.Unlock()
	if !u.closed {
		u.dropActivation()
	}
	u.closed = true
	if u.stopWatch != nil {
		u.stopWatch()
	}
}

// watch listens for seamless login requests until Close; u.watchMu is held.
func (u *UI) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	u.stopWatch = cancel
	events := u.auth.Watch(ctx)
	go func() {
		for ev := range events {
			fyne.Do(func() {
				u.handleEvent(ev)
				u.eventsMu.Lock()
				u.events++
				u.eventsMu.Unlock()
			})
		}
	}()
}

// async runs work away from the UI's goroutine and then done on it, with
// work's error. The screen's buttons are disabled meanwhile.
func (u *UI) async(work func(ctx context.Context) error, done func(error)) {
	for _, b := range u.buttons {
		b.Disable()
	}
	u.setMessage(T("Please wait…"), false)
	u.bg.Add(1) // done by the callback, so that wait covers it
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := work(ctx)
		fyne.Do(func() {
			defer u.bg.Done()
			for _, b := range u.buttons {
				b.Enable()
			}
			u.setMessage("", false)
			done(err)
		})
	}()
}

// wait waits for the background work started so far and its updates of
// the screen (tests).
func (u *UI) wait() {
	u.bg.Wait()
}

// Navigation.

func (u *UI) push(s screen) {
	u.stack = append(u.stack, s)
	u.render()
}

func (u *UI) back() {
	if top := u.stack[len(u.stack)-1]; top.onBack != nil {
		top.onBack()
		return
	}
	if len(u.stack) > 1 {
		u.stack = u.stack[:len(u.stack)-1]
	}
	u.render()
}

// reset makes s the only screen. An activation under way is dropped (the
// app was locked, or the flow left).
func (u *UI) reset(s screen) {
	u.dropActivation()
	u.stack = []screen{s}
	u.render()
}

// replace shows s instead of the top screen.
func (u *UI) replace(s screen) {
	u.stack[len(u.stack)-1] = s
	u.render()
}

// current is the id of the screen shown.
func (u *UI) current() string { return u.stack[len(u.stack)-1].id }

// render builds the top screen with its chrome.
func (u *UI) render() {
	s := u.stack[len(u.stack)-1]
	u.buttons = map[string]*widget.Button{}
	u.entries = map[string]fyne.Focusable{}
	u.selects = map[string]*widget.Select{}
	u.radios = map[string]*widget.RadioGroup{}
	u.message = widget.NewLabel("")
	u.message.Wrapping = fyne.TextWrapWord
	u.message.Importance = widget.DangerImportance
	u.message.Hide()
	body := s.build()
	content := container.NewBorder(nil, u.message, nil, nil, container.NewVScroll(container.NewPadded(body)))
	var top, bottom fyne.CanvasObject
	top = u.topBar(s)
	if u.words.MoreAtBottom && s.tab != "" {
		bottom = u.tabBar(s.tab)
	}
	u.window.SetContent(container.NewBorder(top, bottom, nil, nil, content))
	u.window.Canvas().SetOnTypedRune(s.onRune)
	u.window.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape && len(u.stack) > 1 {
			u.back() // as the Back button
			return
		}
		if s.onKey != nil {
			s.onKey(k)
		}
	})
	// Word-wrapped labels know their height once they know their width:
	// lay out again now that they do.
	content.Refresh()
	if u.opts.OnScreen != nil {
		u.opts.OnScreen(s.id)
	}
}

// topBar: the back button (or Services, or the Android menu) on the left,
// the title in the middle.
func (u *UI) topBar(s screen) fyne.CanvasObject {
	title := widget.NewLabelWithStyle(s.title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	var left fyne.CanvasObject
	switch {
	case s.id == "login":
		left = u.button("services", T("Services"), theme.MenuIcon(), func() { u.push(u.servicesScreen()) })
	case len(u.stack) > 1:
		left = u.button("back", T("Back"), theme.NavigateBackIcon(), u.back)
	case !u.words.MoreAtBottom && s.tab != "":
		if s.tab == "more" {
			left = u.button("home", T("Home"), theme.HomeIcon(), func() { u.reset(u.homeScreen()) })
		} else {
			left = u.button("more", T("More"), theme.MenuIcon(), func() { u.reset(u.moreScreen()) })
		}
	}
	bar := container.NewStack(title)
	if left != nil {
		// Keep the title centred: an invisible twin of the left button on
		// the right.
		spacer := canvas.NewRectangle(color.Transparent)
		spacer.SetMinSize(left.MinSize())
		bar = container.NewBorder(nil, nil, left, spacer, title)
	}
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHeaderBackground))
	return container.NewVBox(container.NewStack(bg, container.NewPadded(bar)), widget.NewSeparator())
}

// tabBar is the iOS bottom tab bar: Home on the left, More on the right.
func (u *UI) tabBar(tab string) fyne.CanvasObject {
	home := u.button("tab.home", T("Home"), theme.HomeIcon(), func() { u.reset(u.homeScreen()) })
	more := u.button("tab.more", T("More"), theme.MoreHorizontalIcon(), func() { u.reset(u.moreScreen()) })
	home.Importance, more.Importance = widget.LowImportance, widget.LowImportance
	if tab == "home" {
		home.Importance = widget.HighImportance
	} else {
		more.Importance = widget.HighImportance
	}
	return container.NewVBox(widget.NewSeparator(), container.NewGridWithColumns(2, home, more))
}

// Widgets that tests reach by id.

func (u *UI) button(id, label string, icon fyne.Resource, tap func()) *widget.Button {
	b := widget.NewButtonWithIcon(label, icon, tap)
	u.buttons[id] = b
	return b
}

func (u *UI) primary(id, label string, tap func()) *widget.Button {
	b := u.button(id, label, nil, tap)
	b.Importance = widget.HighImportance
	return b
}

func (u *UI) entry(id, placeholder string) *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder(placeholder)
	u.entries[id] = e
	return e
}

func (u *UI) password(id, placeholder string) *widget.Entry {
	e := widget.NewPasswordEntry()
	e.SetPlaceHolder(placeholder)
	u.entries[id] = e
	return e
}

// digits is an entry of at most max digits shown in groups of group. What
// it does not take it says on the screen's message line: notDigit's words
// for a character that is not a digit, full's for a digit beyond max.
func (u *UI) digits(id, placeholder string, max, group int, notDigit func(r rune) string, full string) *digitEntry {
	e := newDigitEntry(max, group)
	e.notDigit, e.full = notDigit, full
	e.say = func(s string) { u.setMessage(s, s != "") }
	e.SetPlaceHolder(placeholder)
	u.entries[id] = e
	return e
}

// setMessage shows text under the screen, as an error or not; "" hides it.
func (u *UI) setMessage(text string, isErr bool) {
	if u.message == nil {
		return
	}
	u.message.Importance = widget.MediumImportance
	if isErr {
		u.message.Importance = widget.DangerImportance
	}
	u.message.SetText(text)
	if text == "" {
		u.message.Hide()
	} else {
		u.message.Show()
	}
}

// showError explains err under the screen.
func (u *UI) showError(err error) { u.setMessage(explain(err), true) }

// explain turns an error into words for people.
func explain(err error) string {
	switch {
	case errors.Is(err, ErrOffline):
		return T("The service cannot be reached. Check your connection and try again.")
	case errors.Is(err, ErrBadCredentials):
		return T("Wrong username or password.")
	case errors.Is(err, ErrBadCode):
		return T("That security code is not right. Check it and try again.")
	case errors.Is(err, ErrBadLink):
		return T("That is not an enrollment link or Session ID.")
	case errors.Is(err, ErrExpired):
		return T("This has expired. Start again.")
	case errors.Is(err, ErrRateLimited):
		return T("Too many tries. Wait a minute and try again.")
	case errors.Is(err, ErrLocked):
		return T("Locked after too many failures. Contact Client Services.")
	case errors.Is(err, ErrWrongNumber):
		return T("That is not the number shown in your browser. The login was refused.")
	case errors.Is(err, ErrWrongPIN):
		return T("Wrong PIN.")
	case errors.Is(err, ErrBadPIN):
		return T("A PIN has 4 to 6 characters and must not be easy to guess.")
	case errors.Is(err, ErrCancelled):
		return T("Cancelled.")
	case errors.Is(err, ErrExists):
		return T("A user already has that name.")
	case errors.Is(err, ErrNotFound):
		return T("No such user.")
	}
	return T("Something went wrong: {{.Err}}", map[string]any{"Err": err.Error()})
}

// Small building blocks.

func heading(s string) *widget.Label {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

func para(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// title is a centred bold line that wraps: the outcome of a flow.
func title(s string) *widget.Label {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

// value is a form's value: word-wrapped, so that a long one (a browser's
// user agent, a service's URL) takes more lines, never more width. A word
// longer than the line is broken.
func value(s string) *widget.Label { return para(s) }

// shortName is the most of a user's name that a button or a card's title
// shows (they cannot wrap); the rest becomes an ellipsis.
const shortName = 24

// short cuts a user's name to shortName characters for a button or a
// card's title.
func short(s string) string {
	r := []rune(s)
	if len(r) <= shortName {
		return s
	}
	return strings.TrimSpace(string(r[:shortName-1])) + "…"
}

func caption(s string) *widget.Label {
	l := para(s)
	l.SizeName = theme.SizeNameCaptionText
	return l
}

// big is large monospace text: a response, a challenge.
func big(s string, size float32) *canvas.Text {
	t := canvas.NewText(s, theme.Color(theme.ColorNameForeground))
	t.TextSize = size
	t.TextStyle = fyne.TextStyle{Monospace: true}
	t.Alignment = fyne.TextAlignCenter
	return t
}
