package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Every text the code passes to T has an English and a French translation
// with the same template fields.
func TestTranslationsComplete(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lit := regexp.MustCompile(`\bT\(("(?:[^"\\]|\\.)*")`)
	want := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			s, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatal(err)
			}
			want[s] = true
		}
	}
	// Texts that reach T through a variable.
	for _, fl := range []Flavor{IOS, Android} {
		w := fl.words()
		want[w.Generate], want[w.Secret] = true, true
	}
	for _, a := range autoLocks {
		want[a.label] = true
	}
	want["Temporary password"] = true

	field := regexp.MustCompile(`{{\.[A-Za-z]+}}`)
	for _, code := range []string{LangEN, LangFR} {
		data, err := translations.ReadFile("translations/" + code + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s.json: %v", code, err)
		}
		for k := range want {
			v, ok := m[k]
			if !ok {
				t.Errorf("%s.json lacks %q", code, k)
				continue
			}
			a, b := field.FindAllString(k, -1), field.FindAllString(v, -1)
			sort.Strings(a)
			sort.Strings(b)
			if strings.Join(a, ",") != strings.Join(b, ",") {
				t.Errorf("%s.json: %q has fields %v, its translation %v", code, k, b, a)
			}
		}
		for k := range m {
			if !want[k] {
				t.Errorf("%s.json has %q, which the code does not use", code, k)
			}
		}
	}
}

// A chosen language, then the system's again: each file goes back under
// its own tag.
func TestLanguageBackToSystem(t *testing.T) {
	defer setLanguage(LangSystem)
	want := "Settings"
	if strings.HasPrefix(systemLanguage(), LangFR) {
		want = "Paramètres"
	}
	setLanguage(LangSystem)
	if got := T("Settings"); got != want {
		t.Fatalf("system: %q, want %q", got, want)
	}
	setLanguage(LangFR)
	if got := T("Settings"); got != "Paramètres" {
		t.Fatalf("French: %q", got)
	}
	setLanguage(LangEN)
	if got := T("Settings"); got != "Settings" {
		t.Fatalf("English: %q", got)
	}
	setLanguage(LangSystem)
	if got := T("Settings"); got != want {
		t.Errorf("system again: %q, want %q", got, want)
	}
}
