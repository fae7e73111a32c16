package app

import (
	"fyne.io/fyne/v2"

	"ibkey/platform"
)

// Flavor is the look and the words of the app: the iOS app or the Android
// app. The zero Flavor means "from the platform".
type Flavor int

// The flavors.
const (
	FlavorAuto Flavor = iota
	IOS
	Android
)

// String returns "ios", "android" or "auto".
func (f Flavor) String() string {
	switch f {
	case IOS:
		return "ios"
	case Android:
		return "android"
	}
	return "auto"
}

// ParseFlavor reads "ios" or "android"; anything else is FlavorAuto.
func ParseFlavor(s string) Flavor {
	switch s {
	case "ios":
		return IOS
	case "android":
		return Android
	}
	return FlavorAuto
}

// DetectFlavor returns the flavor of the platform: on a phone (or the
// mobile simulation) iOS or Android from goos; on a desktop the
// preference, else iOS on macOS and Android elsewhere.
func DetectFlavor(mobile bool, goos string, preference Flavor) Flavor {
	if mobile && (goos == "ios" || goos == "android") {
		if goos == "ios" {
			return IOS
		}
		return Android
	}
	if preference != FlavorAuto {
		return preference
	}
	if goos == "darwin" || goos == "ios" {
		return IOS
	}
	return Android
}

func detectFlavor(a fyne.App) Flavor {
	return DetectFlavor(fyne.CurrentDevice().IsMobile(), hostOS(), ParseFlavor(a.Preferences().String(prefFlavor)))
}

// words are the labels that differ between the flavors: data, not ifs.
type words struct {
	Generate      string // the menu entry to the challenge/response screen
	Secret        string // what the person types: passcode (iOS), PIN (Android)
	MoreAtBottom  bool   // iOS: More in a bottom tab bar; Android: a menu at the top left
	PINBeforeCode bool   // Android: PIN and challenge together; iOS: challenge, then unlock
}

func (f Flavor) words() words {
	if f == IOS {
		return words{Generate: "Generate Code", Secret: "passcode", MoreAtBottom: true}
	}
	return words{Generate: "Generate Response", Secret: "PIN", PINBeforeCode: true}
}

// bioName is the name of the device's biometric check, "" when none.
func bioName(b platform.Biometrics) string {
	if b == nil {
		return ""
	}
	switch b.Kind() {
	case platform.TouchID:
		return "Touch ID"
	case platform.FaceID:
		return "Face ID"
	case platform.Fingerprint:
		return T("fingerprint")
	}
	return ""
}
