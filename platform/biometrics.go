package platform

import (
	"errors"
	"fmt"
)

// BiometricKind is the kind of biometric check a device offers.
type BiometricKind int

const (
	// BiometricNone: no biometric check is available.
	BiometricNone BiometricKind = iota
	// TouchID is Apple's fingerprint check.
	TouchID
	// FaceID is Apple's face check.
	FaceID
	// Fingerprint is Android's (or another system's) fingerprint check.
	Fingerprint
)

// String returns the name shown to a person: "none", "Touch ID", "Face ID"
// or "fingerprint".
func (k BiometricKind) String() string {
	switch k {
	case BiometricNone:
		return "none"
	case TouchID:
		return "Touch ID"
	case FaceID:
		return "Face ID"
	case Fingerprint:
		return "fingerprint"
	default:
		return fmt.Sprintf("BiometricKind(%d)", int(k))
	}
}

var (
	// ErrBiometricFailed is returned when the check did not recognise the
	// person.
	ErrBiometricFailed = errors.New("platform: biometric check failed")
	// ErrBiometricCancelled is returned when the person (or the system)
	// dismissed the prompt.
	ErrBiometricCancelled = errors.New("platform: biometric check cancelled")
	// ErrBiometricLockedOut is returned when too many failed checks have
	// locked biometrics until the device passcode is entered.
	ErrBiometricLockedOut = errors.New("platform: biometric check locked out")
)

// Biometrics is the platform's biometric check that releases a key. The key
// is bound to the check by the platform (iOS Keychain access control, Android
// Keystore user authentication), so biometric unlock does not rest on a UI
// gate.
type Biometrics interface {
	// Kind reports the check this device offers; BiometricNone when there
	// is none or it is not set up.
	Kind() BiometricKind
	// Enroll creates (or replaces) a random 32-byte key under name that only
	// a successful biometric check releases, and returns it once so that
	// the caller can seal with it.
	Enroll(name string) ([]byte, error)
	// Authenticate shows the platform prompt with reason and, after a
	// successful check, returns the key enrolled under name. It returns
	// ErrNotFound when no key is enrolled under name, and
	// ErrBiometricFailed, ErrBiometricCancelled or ErrBiometricLockedOut
	// when the check does not pass.
	Authenticate(name, reason string) ([]byte, error)
	// Remove deletes the key enrolled under name. It returns nil when there
	// is none.
	Remove(name string) error
}

// biometricKeyLen is the length in bytes of a key enrolled with Biometrics.
const biometricKeyLen = 32

// noBiometrics is the Biometrics of a system without a biometric backend.
type noBiometrics struct{}

func (noBiometrics) Kind() BiometricKind                         { return BiometricNone }
func (noBiometrics) Enroll(string) ([]byte, error)               { return nil, ErrUnsupported }
func (noBiometrics) Authenticate(string, string) ([]byte, error) { return nil, ErrUnsupported }

// Remove returns nil: nothing can have been enrolled.
func (noBiometrics) Remove(string) error { return nil }
