package app

import (
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Themes, as the Theme setting stores them.
const (
	themeLight  = "light"
	themeDark   = "dark"
	themeSystem = "system"
)

// autoLocks are the auto-lock choices: a label and seconds (-1: never).
var autoLocks = []struct {
	label   string
	seconds int
}{
	{"Immediately", 0},
	{"After 1 minute", 60},
	{"After 5 minutes", 300},
	{"After 15 minutes", 900},
	{"Never", -1},
}

const defaultAutoLock = 300

// settingsScreen: auto-lock, theme, language and, on a desktop, the flavor.
func (u *UI) settingsScreen() screen {
	return screen{id: "settings", title: T("Settings"), build: func() fyne.CanvasObject {
		p := u.app.Preferences()

		var lockLabels []string
		lockLabel := ""
		cur := p.IntWithFallback(prefAutoLock, defaultAutoLock)
		for _, a := range autoLocks {
			lockLabels = append(lockLabels, T(a.label))
			if a.seconds == cur {
				lockLabel = T(a.label)
			}
		}
		lock := widget.NewSelect(lockLabels, nil)
		lock.SetSelected(lockLabel)
		lock.OnChanged = func(s string) {
			for _, a := range autoLocks {
				if T(a.label) == s {
					p.SetInt(prefAutoLock, a.seconds)
				}
			}
		}
		u.selects["autolock"] = lock

		themes := []string{T("Light"), T("Dark"), T("System")}
		themeKeys := []string{themeLight, themeDark, themeSystem}
		th := widget.NewRadioGroup(themes, nil)
		th.Horizontal = true
		for i, k := range themeKeys {
			if k == p.StringWithFallback(prefTheme, themeSystem) {
				th.SetSelected(themes[i])
			}
		}
		th.OnChanged = func(s string) {
			for i, k := range themeKeys {
				if themes[i] == s {
					p.SetString(prefTheme, k)
					u.applyTheme(k)
					u.render()
				}
			}
		}
		u.radios["theme"] = th

		langs := []string{T("System"), "English", "Français"}
		langKeys := []string{LangSystem, LangEN, LangFR}
		lg := widget.NewSelect(langs, nil)
		for i, k := range langKeys {
			if k == p.StringWithFallback(prefLanguage, LangSystem) {
				lg.SetSelected(langs[i])
			}
		}
		lg.OnChanged = func(s string) {
			for i, k := range langKeys {
				if langs[i] == s {
					u.setLanguage(k)
				}
			}
		}
		u.selects["language"] = lg

		form := widget.NewForm(
			widget.NewFormItem(T("Auto-lock"), lock),
			widget.NewFormItem(T("Theme"), th),
			widget.NewFormItem(T("Language"), lg),
		)
		if !fyne.CurrentDevice().IsMobile() {
			fl := widget.NewRadioGroup([]string{"iOS", "Android"}, nil)
			fl.Horizontal = true
			fl.SetSelected(map[Flavor]string{IOS: "iOS", Android: "Android"}[u.flavor])
			fl.OnChanged = func(s string) {
				f := map[string]Flavor{"iOS": IOS, "Android": Android}[s]
				if f == FlavorAuto || f == u.flavor {
					return
				}
				p.SetString(prefFlavor, f.String())
				u.flavor, u.words = f, f.words()
				u.rebuild()
			}
			u.radios["flavor"] = fl
			form.Append(T("Look"), fl)
		}
		return container.NewVBox(
			form,
			caption(T("Auto-lock returns to the login screen when the app has been in the background this long.")),
		)
	}}
}

// setLanguage changes the language and redraws the screens.
func (u *UI) setLanguage(code string) {
	u.app.Preferences().SetString(prefLanguage, code)
	setLanguage(code)
	u.rebuild()
}

// rebuild makes the stack's screens again, for new words.
func (u *UI) rebuild() {
	for i, s := range u.stack {
		switch s.id {
		case "login":
			u.stack[i] = u.loginScreen()
		case "home":
			u.stack[i] = u.homeScreen()
		case "more":
			u.stack[i] = u.moreScreen()
		case "services":
			u.stack[i] = u.servicesScreen()
		case "settings":
			u.stack[i] = u.settingsScreen()
		case "2fa":
			u.stack[i] = u.twoFactorScreen("2fa", T("Two-Factor Authentication"))
		case "authenticate":
			u.stack[i] = u.twoFactorScreen("authenticate", T("Authenticate"))
		}
	}
	u.render()
}

// applyTheme sets the light, dark or system theme.
func (u *UI) applyTheme(k string) {
	switch k {
	case themeLight:
		u.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantLight})
	case themeDark:
		u.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantDark})
	default:
		if u.window != nil { // a change back to the system's, not the start
			u.app.Settings().SetTheme(theme.DefaultTheme())
		}
	}
}

// variantTheme is a theme held to one variant.
type variantTheme struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}

// Auto-lock.

func (u *UI) exitedForeground(now time.Time) { u.hiddenAt = now }

func (u *UI) enteredForeground(now time.Time) {
	if u.hiddenAt.IsZero() {
		return
	}
	secs := u.app.Preferences().IntWithFallback(prefAutoLock, defaultAutoLock)
	away := now.Sub(u.hiddenAt)
	u.hiddenAt = time.Time{}
	if secs >= 0 && away >= time.Duration(secs)*time.Second && u.current() != "login" {
		u.lock()
	}
}
