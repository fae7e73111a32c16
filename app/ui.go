// Package app is ibkey's user interface: the screens and navigation of the
// iOS and Android flavors, on Fyne. It holds no crypto and no HTTP: it
// drives authcore through interfaces, so that tests can drive it with fakes.
package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"ibkey/assets"
)

// UI is the app's user interface in one window.
type UI struct {
	app    fyne.App
	window fyne.Window
}

// New builds the UI of a in a new window titled "ibkey".
func New(a fyne.App) *UI {
	a.SetIcon(assets.Icon)
	w := a.NewWindow("ibkey")
	u := &UI{app: a, window: w}
	w.SetContent(container.NewCenter(widget.NewLabel("ibkey")))
	w.Resize(fyne.NewSize(390, 700))
	return u
}

// Window is the app's window.
func (u *UI) Window() fyne.Window { return u.window }

// ShowAndRun shows the window and runs the app until it quits.
func (u *UI) ShowAndRun() { u.window.ShowAndRun() }
