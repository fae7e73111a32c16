//go:build !js

package web

import "ibkey/app"

// Start does nothing outside a browser.
func Start(u *app.UI) {}
