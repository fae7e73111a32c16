// Command ibkey-app is the ibkey authenticator: the Fyne app for iOS,
// Android and the desktop.
package main

import (
	fyneapp "fyne.io/fyne/v2/app"

	"ibkey/app"
)

func main() {
	app.New(fyneapp.NewWithID("io.github.ibkey")).ShowAndRun()
}
