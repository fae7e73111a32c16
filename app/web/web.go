// Package web joins the app to the page it runs in when it is built for
// the web (GOOS=js): the page's scripts (cmd/mkweb/page) call
// the functions that [Start] registers.
//
//   - ibkeyKeyboard(deleted, inserted): what a phone keyboard did to the
//     page's hidden field (keyboard.js), replayed on the app's focused
//     field.
//   - ibkeyFocusKind(): "password", "number" or "text", the kind of
//     keyboard the focused field wants.
//   - ibkeyLayout(): a promise of the screen shown and where its widgets
//     are, in CSS pixels, by id: what the web app's browser tests tap.
//     It reads the layout only: no text, no way to act.
//
// A page opened as /app/#enroll=SESSIONID (the Client Portal's Add a
// device link) starts Add User with that Session ID; the fragment never
// reaches a server and is removed from the address at once.
//
// On other platforms Start does nothing.
package web

import (
	"net/url"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/mobile"
)

// EnrollFragment is the key of the Session ID in the fragment of the web
// app's enrollment link: https://HOST/app/#enroll=ABCD-EFGH-JKLM-NPQR.
const EnrollFragment = "enroll"

// enrollSession is the Session ID in a page's fragment (without its "#"),
// or "".
func enrollSession(fragment string) string {
	q, err := url.ParseQuery(fragment)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(q.Get(EnrollFragment))
}

// keyboardKind is the kind of phone keyboard the focused object f wants:
// "password" (no suggestions, nothing remembered), "number" (the number
// pad) or "text".
func keyboardKind(f fyne.Focusable) string {
	k, ok := f.(mobile.Keyboardable)
	if !ok {
		return "text"
	}
	switch k.Keyboard() {
	case mobile.PasswordKeyboard:
		return "password"
	case mobile.NumberKeyboard:
		return "number"
	}
	return "text"
}

// Rect is where a widget is, in CSS pixels from the page's top left.
type Rect struct {
	X, Y, W, H float32
	Visible    bool
	Disabled   bool
}

// Layout is the screen shown and its widgets by id.
type Layout struct {
	Screen  string
	Widgets map[string]Rect
	Focused string // the id of the focused widget, or ""
}
