package vault

import "errors"

// Sentinel errors. Detail comes wrapped: test with errors.Is.
var (
	// ErrNoUser: no user has that name.
	ErrNoUser = errors.New("vault: no such user")
	// ErrExists: a user already has that name.
	ErrExists = errors.New("vault: a user with that name exists")
	// ErrBadPIN: a PIN that breaks the rules (length, characters,
	// blocklist). It never means a wrong PIN: a wrong PIN is not detected.
	ErrBadPIN = errors.New("vault: PIN not allowed")
	// ErrInvalid: a field of a new user, a name or an argument is not
	// acceptable.
	ErrInvalid = errors.New("vault: invalid input")
	// ErrNoGate: the user has no gate of the kind asked for, or none was
	// chosen.
	ErrNoGate = errors.New("vault: no such gate")
	// ErrNoBiometrics: a biometric gate is needed and the vault was opened
	// without Biometrics.
	ErrNoBiometrics = errors.New("vault: no biometrics")
	// ErrDamaged: the vault file (or the key that seals it) cannot be read
	// back. The file is left as it is.
	ErrDamaged = errors.New("vault: file damaged")
	// ErrTooNew: the vault file was written by a newer version. The file is
	// left as it is.
	ErrTooNew = errors.New("vault: file written by a newer version")
	// ErrLocked: another process holds the vault's lock for too long.
	ErrLocked = errors.New("vault: locked by another process")
	// ErrClosed: the Secret was closed.
	ErrClosed = errors.New("vault: secret closed")
)
