// Command ibkey-app is the ibkey authenticator: the Fyne app for iOS,
// Android and the desktop.
package main

import (
	"flag"
	"fmt"
	"os"

	fyneapp "fyne.io/fyne/v2/app"

	"ibkey/app"
)

func main() {
	flavor := flag.String("flavor", "", "the look on a desktop: ios or android (default: the setting)")
	demo := flag.Bool("demo", false, "run on the in-memory demo authenticator")
	flag.Parse()
	a := fyneapp.NewWithID("io.github.ibkey")
	// The adapter over authcore/vault and the service plugs in here: until
	// it does, the demo is the only authenticator.
	if !*demo {
		fmt.Fprintln(os.Stderr, "ibkey-app: no service adapter yet: running the demo (--demo)")
	}
	app.New(a, app.DemoOptions(app.ParseFlavor(*flavor))).ShowAndRun()
}
