//go:build js

package app

import "syscall/js"

// hostOS is the operating system of the browser the app runs in, as a
// GOOS value (osFromBrowser), so that the web app on an iPhone has the iOS
// flavor and elsewhere the Android one (docs/WEB.md).
func hostOS() string {
	nav := js.Global().Get("navigator")
	touch := 0
	if t := nav.Get("maxTouchPoints"); t.Type() == js.TypeNumber {
		touch = t.Int()
	}
	return osFromBrowser(nav.Get("userAgent").String(), touch)
}
