// Command ibkey-app is the ibkey authenticator: the Fyne app for iOS,
// Android and the desktop.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"ibkey/app"
	"ibkey/app/demo"
	"ibkey/app/device"
	"ibkey/app/web"
)

func main() {
	noLanguageLocale(os.Getenv, os.Setenv)
	flavor := flag.String("flavor", "", "the look on a desktop: ios or android (default: the setting)")
	demoMode := flag.Bool("demo", false, "run on the in-memory demo authenticator")
	vaultDir := flag.String("vault", "", "the vault's folder (default: $IBKEY_VAULT, else the config folder's ibkey, as the ibkey command)")
	service := flag.String("service", os.Getenv("IBKEY_SERVICE"), "the service that Add User enrolls with ($IBKEY_SERVICE)")
	flag.Parse()
	a := fyneapp.NewWithID("io.github.ibkey")
	if os.Getenv("IBKEY_STARTUP_PROBE") == "1" { // docs/APP.md: the cold start
		a.Lifecycle().SetOnStarted(func() {
			fmt.Fprintf(os.Stderr, "ibkey-app: started %d %s\n", time.Now().UnixNano(), cpuTicks())
		})
	}
	var opts app.Options
	if *demoMode {
		fl := app.ParseFlavor(*flavor)
		bio := demo.Biometrics(fl == app.IOS)
		opts = app.Options{Flavor: fl, Auth: demo.New(bio), Bio: bio}
	} else {
		var err error
		if opts, err = realOptions(a, app.ParseFlavor(*flavor), *vaultDir, *service); err != nil {
			fmt.Fprintf(os.Stderr, "ibkey-app: %v\n", err)
			os.Exit(1)
		}
	}
	if path := os.Getenv("IBKEY_SCREEN_LOG"); path != "" {
		opts.OnScreen = screenLog(path)
	}
	u := app.New(a, opts)
	web.Start(u) // in a browser: the page's keyboard and enrollment links
	u.ShowAndRun()
}

// screenLog appends the id of each screen shown to the file at path, one
// a line: the readout a driver of the real window waits on (the journey
// test), set by IBKEY_SCREEN_LOG. It holds no secret: screen ids only.
func screenLog(path string) func(string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ibkey-app: IBKEY_SCREEN_LOG: %v\n", err)
		return nil
	}
	return func(id string) { fmt.Fprintln(f, id) }
}

// noLanguageLocale: a C or POSIX locale with a character set ("C.UTF-8",
// the default of many containers and CI machines) means "no language", but
// Fyne's lang package reads it (through github.com/jeandeaual/go-locale,
// which knows only "C" and "POSIX") as a language called "C" and logs
// "Fyne error: Error parsing user locale C" each time it looks. LANGUAGE,
// which only the choice of a language reads (as in GNU gettext), then
// names English, the app's own fallback. The lang package's first look,
// at its init, comes before main: scripts/run.sh sets LANGUAGE for the
// process. The character set (LC_CTYPE, which GLFW reads for text input)
// is left as it is.
func noLanguageLocale(getenv func(string) string, setenv func(string, string) error) {
	if getenv("LANGUAGE") != "" {
		return
	}
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} { // go-locale's order
		v := getenv(k)
		if v == "" {
			continue
		}
		base, _, _ := strings.Cut(v, ".")
		base, _, _ = strings.Cut(base, "@")
		if v != base && (base == "C" || base == "POSIX") {
			setenv("LANGUAGE", "en")
		}
		return
	}
}

// realOptions are the app over the device's vault (see openVault: the
// folder dir, on the web the browser's storage) and the service.
func realOptions(a fyne.App, f app.Flavor, dir, service string) (app.Options, error) {
	v, bio, err := openVault(a, dir)
	if err != nil {
		return app.Options{}, err
	}
	return app.Options{Flavor: f, Auth: device.New(device.Options{Vault: v, Service: service}), Bio: bio}, nil
}

// cpuTicks is the CPU time the process has used, user and system, in clock
// ticks (utime+stime of /proc/self/stat), for the start probe; "?" where
// there is no /proc.
func cpuTicks() string {
	b, err := os.ReadFile("/proc/self/stat")
	if i := bytes.LastIndexByte(b, ')'); err == nil && i >= 0 {
		// After the command's name: state is field 3, utime 14, stime 15.
		var utime, stime uint64
		f := bytes.Fields(b[i+1:])
		if len(f) > 12 {
			if _, err := fmt.Sscan(string(f[11])+" "+string(f[12]), &utime, &stime); err == nil {
				return fmt.Sprint(utime + stime)
			}
		}
	}
	return "?"
}
