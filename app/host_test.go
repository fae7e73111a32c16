package app

import "testing"

func TestOSFromBrowser(t *testing.T) {
	// User agents as the browsers send them (2025).
	for _, c := range []struct {
		ua     string
		touch  int
		want   string
		mobile bool   // Fyne's web driver: the user agent names Android, iPhone, iPad or iPod
		flav   Flavor // DetectFlavor on the web, no preference
	}{
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 5, "ios", true, IOS},
		{"Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1", 5, "ios", true, IOS},
		// iPadOS Safari asks for desktop sites: a Mac's user agent.
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", 5, "ios", false, IOS},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", 0, "darwin", false, IOS},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", 5, "android", true, Android},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 0, "windows", false, Android},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", 0, "linux", false, Android},
		{"", 0, "linux", false, Android},
	} {
		got := osFromBrowser(c.ua, c.touch)
		if got != c.want {
			t.Errorf("osFromBrowser(%q, %d) = %q, want %q", c.ua, c.touch, got, c.want)
		}
		if f := DetectFlavor(c.mobile, got, FlavorAuto); f != c.flav {
			t.Errorf("%q: flavor %v, want %v", c.ua, f, c.flav)
		}
	}
}
