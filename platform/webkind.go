package platform

import "strings"

// WebBiometricKind guesses, from the browser's user agent string and its
// platform hint (navigator.userAgentData.platform, "" where there is none),
// the check that the device's platform
// authenticator shows, for the words of the app. No browser says which it
// is, so this is a guess:
//   - an iPhone: Face ID (every iPhone since the X but the SE);
//   - an iPad (iPadOS reports itself as a Mac with touch points) or a Mac:
//     Touch ID (every iPad and Mac but the iPad Pro's Face ID);
//   - Android and every other system: fingerprint, the most common check
//     there (Windows Hello may as well be a face or a PIN).
func WebBiometricKind(userAgent, platform string) BiometricKind {
	switch {
	case strings.Contains(userAgent, "iPhone") || strings.Contains(userAgent, "iPod") || platform == "iOS":
		return FaceID
	case strings.Contains(userAgent, "iPad"):
		return TouchID
	case platform == "macOS" || strings.Contains(userAgent, "Macintosh"):
		return TouchID // a Mac, or an iPad asking for the desktop site
	default:
		return Fingerprint
	}
}
