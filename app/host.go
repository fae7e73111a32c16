package app

import "strings"

// osFromBrowser is the operating system a browser runs on, as a GOOS value,
// from its user agent and its navigator.maxTouchPoints: "ios" for iPhones
// and iPads (an iPad's Safari says Macintosh but has a touch screen),
// "android", "darwin", "windows", else "linux". The web app takes its
// flavor from it (hostOS on js).
func osFromBrowser(userAgent string, touchPoints int) string {
	switch {
	case strings.Contains(userAgent, "iPhone"), strings.Contains(userAgent, "iPad"), strings.Contains(userAgent, "iPod"):
		return "ios"
	case strings.Contains(userAgent, "Android"):
		return "android"
	case strings.Contains(userAgent, "Macintosh"):
		if touchPoints > 1 {
			return "ios"
		}
		return "darwin"
	case strings.Contains(userAgent, "Windows"):
		return "windows"
	}
	return "linux"
}
