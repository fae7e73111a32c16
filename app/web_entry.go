package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// Entry points of the web app (app/web). Call them on the UI's goroutine.

// EnrollWithLink starts Add User with the Client Portal's enrollment link
// or Session ID, as if the person had chosen "I have a QR code link or
// Session ID" and typed it: the web app opened from the portal's Add a
// device link. An error stays on that screen, where the person can try
// again.
func (u *UI) EnrollWithLink(link string) {
	u.enroll = enrollState{}
	u.push(u.enrollLinkScreen())
	if e, ok := u.entries["link"].(*widget.Entry); ok {
		e.SetText(link)
	}
	if b := u.buttons["continue"]; b != nil {
		b.OnTapped()
	}
}

// Widgets are the widgets of the screen shown that have an id (buttons,
// entries, selects, radio groups), by id: where they are is what the web
// app's tests tap.
func (u *UI) Widgets() map[string]fyne.CanvasObject {
	out := map[string]fyne.CanvasObject{}
	for id, b := range u.buttons {
		out[id] = b
	}
	for id, e := range u.entries {
		if o, ok := e.(fyne.CanvasObject); ok {
			out[id] = o
		}
	}
	for id, s := range u.selects {
		out[id] = s
	}
	for id, r := range u.radios {
		out[id] = r
	}
	return out
}
