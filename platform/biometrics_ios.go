//go:build ios

package platform

// NewBiometrics returns the device's biometric check. On iOS it reports
// BiometricNone for now and Enroll and Authenticate return ErrUnsupported.
//
// The native backend (a later issue) will, through cgo and Objective-C:
//   - Kind: LAContext canEvaluatePolicy:LAPolicyDeviceOwnerAuthenticationWithBiometrics
//     and biometryType (LABiometryTypeTouchID / LABiometryTypeFaceID);
//   - Enroll: SecItemAdd of a random 32-byte kSecClassGenericPassword item
//     with SecAccessControlCreateWithFlags(kSecAttrAccessibleWhenPasscodeSetThisDeviceOnly,
//     kSecAccessControlBiometryCurrentSet), replacing any item under name;
//   - Authenticate: SecItemCopyMatching of that item with an LAContext whose
//     localizedReason is reason (errSecUserCanceled -> ErrBiometricCancelled,
//     errSecAuthFailed -> ErrBiometricFailed, LAErrorBiometryLockout ->
//     ErrBiometricLockedOut, errSecItemNotFound -> ErrNotFound);
//   - Remove: SecItemDelete.
func NewBiometrics() Biometrics {
	return noBiometrics{}
}
