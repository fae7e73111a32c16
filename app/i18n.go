package app

import (
	"embed"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
)

// The translations: one JSON file per language, keyed by the English text.
//
//go:embed translations
var translations embed.FS

var loadTranslations = sync.OnceValue(func() error {
	return lang.AddTranslationsFS(translations, "translations")
})

var (
	langMu  sync.Mutex
	langNow string            // the language set last
	langAt  map[string]string // the file each locale tag holds ("en" → "fr" after French was chosen)
)

// systemLanguage is the system's language ("fr-CH"), read once.
var systemLanguage = sync.OnceValue(func() string {
	return lang.SystemLocale().LanguageString()
})

// T translates an English text through Fyne's lang package; data fills
// its {{.Field}} templates.
func T(s string, data ...any) string { return lang.L(s, data...) }

// Languages the app speaks, as the Language setting stores them.
const (
	LangSystem = "system"
	LangEN     = "en"
	LangFR     = "fr"
)

// setLanguage makes the app speak code (LangSystem follows the system's
// locale). Fyne's lang package picks the translation closest to the
// system's locale and has no setter, so a chosen language is loaded under
// the tags it may pick ("en", "fr" and the system's); LangSystem puts each
// file back under its own tag. The lang package is process-wide: so is the
// language.
func setLanguage(code string) {
	langMu.Lock()
	defer langMu.Unlock()
	if code == langNow {
		return
	}
	langNow = code
	if langAt == nil {
		langAt = map[string]string{}
		if err := loadTranslations(); err != nil {
			fyne.LogError("load translations", err)
		} else {
			langAt[LangEN], langAt[LangFR] = LangEN, LangFR // each file under its own tag
		}
	}
	sys := systemLanguage()
	for _, tag := range []string{LangEN, LangFR, sys} {
		use := code
		if code != LangEN && code != LangFR {
			use = LangEN
			if tag == LangFR || (len(sys) >= 2 && sys[:2] == LangFR && tag == sys) {
				use = LangFR
			}
		}
		if langAt[tag] == use {
			continue // parsing the file again would change nothing (the start, in the system's language)
		}
		b, err := translations.ReadFile("translations/" + use + ".json")
		if err == nil {
			err = lang.AddTranslationsForLocale(b, fyne.Locale(tag))
		}
		if err != nil {
			fyne.LogError("add translation "+use, err)
			continue
		}
		langAt[tag] = use
	}
}
