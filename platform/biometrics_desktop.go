//go:build (darwin && !ios) || (linux && !android) || windows

package platform

// NewBiometrics returns the device's biometric check. On desktop systems
// (macOS, Linux, Windows) there is none yet: it reports BiometricNone, and
// Enroll and Authenticate return ErrUnsupported. macOS Touch ID (the same
// Keychain access control as iOS) and Windows Hello may come later.
func NewBiometrics() Biometrics {
	return noBiometrics{}
}
