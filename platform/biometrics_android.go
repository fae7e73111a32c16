//go:build android

package platform

// NewBiometrics returns the device's biometric check. On Android it reports
// BiometricNone for now and Enroll and Authenticate return ErrUnsupported.
//
// The native backend (a later issue) will, through JNI:
//   - Kind: BiometricManager.canAuthenticate(BIOMETRIC_STRONG) == BIOMETRIC_SUCCESS
//     gives Fingerprint;
//   - Enroll: generate an AES-256 key in the AndroidKeyStore under name with
//     KeyGenParameterSpec setUserAuthenticationRequired(true),
//     setUserAuthenticationParameters(0, AUTH_BIOMETRIC_STRONG) and
//     setInvalidatedByBiometricEnrollment(true); wrap a random 32-byte key
//     with it and keep the wrapped key in the app's files;
//   - Authenticate: BiometricPrompt with a CryptoObject (the Cipher that
//     unwraps) and reason as the subtitle (ERROR_USER_CANCELED /
//     ERROR_NEGATIVE_BUTTON -> ErrBiometricCancelled, onAuthenticationFailed
//     -> ErrBiometricFailed, ERROR_LOCKOUT / ERROR_LOCKOUT_PERMANENT ->
//     ErrBiometricLockedOut);
//   - Remove: KeyStore.deleteEntry and removal of the wrapped key.
func NewBiometrics() Biometrics {
	return noBiometrics{}
}
