package app

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// Driving the UI from outside the package: tests of the adapters (such as
// app/device against a real service) tap and type through these, as the
// package's own tests do through its maps. Call them on the UI's goroutine
// (the test driver's is the test's).

// Screen is the id of the screen shown ("login", "enroll-code", ...).
func (u *UI) Screen() string { return u.current() }

// Button is the button id of the screen shown, or nil.
func (u *UI) Button(id string) *widget.Button { return u.buttons[id] }

// Entry is the entry id of the screen shown, or nil.
func (u *UI) Entry(id string) fyne.Focusable { return u.entries[id] }

// Wait waits for the work that taps started and its updates of the screen.
func (u *UI) Wait() { u.wait() }

// Message is the text of the screen's message line (an error or a
// status), "" when it is hidden.
func (u *UI) Message() string {
	if u.message == nil || !u.message.Visible() {
		return ""
	}
	return u.message.Text
}

// Deliver hands the UI an event as Watch delivers it, on the caller's
// goroutine (tests that read Watch themselves, so that the UI changes on
// the test's goroutine).
func (u *UI) Deliver(ev Event) { u.handleEvent(ev) }

// Requests are the login requests waiting, oldest first.
func (u *UI) Requests() []LoginRequest { return slices.Clone(u.requests) }
