//go:build !ios && !android && !darwin && !linux && !windows

package platform

// NewBiometrics returns the device's biometric check. This system has no
// biometric backend: it reports BiometricNone, and Enroll and Authenticate
// return ErrUnsupported. In a browser (js), NewWebBiometrics is WebAuthn's.
func NewBiometrics() Biometrics {
	return noBiometrics{}
}
