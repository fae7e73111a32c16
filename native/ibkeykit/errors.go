package ibkeykit

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	core "ibkey/authcore/device"
	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/platform"
)

// The stable codes of this package's errors: [Code] returns one of them.
// They are the same in Go, Java, Kotlin, Objective-C and Swift; new ones
// may be added, and a native app treats a code it does not know as
// [CodeOther].
const (
	// CodeOther: none of the outcomes below; the message says what.
	CodeOther = "other"
	// CodeInvalid: an argument is not acceptable (an empty object made by
	// its constructor instead of by this package, a bad name, a suite or
	// challenge the algorithm refuses, a negative counter).
	CodeInvalid = "invalid"

	// Local outcomes, from the vault on this device.

	// CodeBadPIN: a new PIN breaks the rules (4 to 6 characters, not too
	// easy to guess). It never means a wrong PIN: only the service can
	// tell a wrong PIN (CodeWrongPIN).
	CodeBadPIN = "bad_pin"
	// CodeNoUser: no user has that name.
	CodeNoUser = "no_user"
	// CodeExists: a user already has that name.
	CodeExists = "exists"
	// CodeNoGate: the user has no gate of the kind asked for (a biometric
	// unlock of a PIN-only user), or none was chosen.
	CodeNoGate = "no_gate"
	// CodeNoBiometrics: a biometric gate is asked for and the vault was
	// opened without Biometrics.
	CodeNoBiometrics = "no_biometrics"
	// CodeDamaged: the vault file, or the key that seals it, cannot be read
	// back; the file is left as it is.
	CodeDamaged = "damaged"
	// CodeTooNew: the vault file was written by a newer version.
	CodeTooNew = "too_new"
	// CodeBusy: another process holds the vault's lock for too long.
	CodeBusy = "busy"
	// CodeNotEnrolled: the user was imported, not enrolled with a
	// service: it has no device channel and no inbox.
	CodeNotEnrolled = "not_enrolled"

	// Biometric outcomes, from the native Biometrics (see [Biometrics]).

	// CodeCancelled: the person (or the system) dismissed the prompt.
	CodeCancelled = "cancelled"
	// CodeBiometricFailed: the check did not recognise the person.
	CodeBiometricFailed = "biometric_failed"
	// CodeBiometricLockedOut: too many failed checks; the device passcode
	// is needed first.
	CodeBiometricLockedOut = "biometric_locked_out"
	// CodeNotFound: a native SecretStore or Biometrics has nothing under
	// the name asked for. A native implementation signals it by throwing
	// an exception whose message is this code (see [SecretStore]).
	CodeNotFound = "not_found"

	// Answers of the service (docs/PROTOCOL.md, "Errors").

	// CodeOffline: the service could not be reached; nothing was decided.
	CodeOffline = "offline"
	// CodeWrongPIN: the service refused a response: the PIN (or the
	// biometric key) was wrong. It counts toward the service's lockout.
	CodeWrongPIN = "wrong_pin"
	// CodeWrongNumber: the number chosen is not the one the browser shows.
	CodeWrongNumber = "wrong_number"
	// CodeExpired: the login request, activation code or activation is
	// over (expired, used, answered elsewhere): start again.
	CodeExpired = "expired"
	// CodeBadCredentials: wrong username or password at enrollment.
	CodeBadCredentials = "bad_credentials"
	// CodeBadCode: a wrong activation code; the message says the tries
	// left.
	CodeBadCode = "bad_code"
	// CodeRateLimited: too many tries or messages; wait.
	CodeRateLimited = "rate_limited"
	// CodeLocked: the account is locked at the service.
	CodeLocked = "locked"
	// CodeRetired: another device was activated for the user, or the
	// service no longer knows this one: remove the user and enroll again.
	CodeRetired = "retired"
	// CodeSignature: an event did not verify under the service key pinned
	// at enrollment: it is forged or damaged, and was not acted on.
	CodeSignature = "signature"
	// CodeConfirm: the service refused the activation's confirmation (the
	// user is removed from the vault again), or never answered it (the
	// user stays: it works if the service took it). The message says which.
	CodeConfirm = "confirm"
)

// codedError is an error of this package: a stable Code and the error it
// comes from. Its message is "ibkeykit: CODE: detail", so that the code
// survives the trip through gobind, which gives a native app the message
// only; [Code] reads it back.
type codedError struct {
	Code string
	err  error
}

func (e *codedError) Error() string {
	if e.err == nil {
		return "ibkeykit: " + e.Code
	}
	return "ibkeykit: " + e.Code + ": " + e.err.Error()
}

// Unwrap returns the error e comes from.
func (e *codedError) Unwrap() error { return e.err }

// Code returns the stable code of err, one of the Code constants: "" for
// nil, CodeOther for an error that has none. It takes the error a call of
// this package returned, or the exception a native app got from one (in
// Java and Kotlin `Ibkeykit.code(e)`, in Swift `IbkeykitCode(error)`),
// whose message starts with the code.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *codedError
	if errors.As(err, &e) {
		return e.Code
	}
	if rest, ok := strings.CutPrefix(err.Error(), "ibkeykit: "); ok {
		code, _, _ := strings.Cut(rest, ":")
		if code != "" && !strings.ContainsAny(code, " \t\n") {
			return code
		}
	}
	return CodeOther
}

func errorf(code, format string, args ...any) error {
	return &codedError{Code: code, err: fmt.Errorf(format, args...)}
}

var errEmpty = errorf(CodeInvalid, "empty object: get it from this package, not from its constructor")

// wrap gives err the code that says what happened, as the app's adapter
// (app/device) does for the Fyne app. Errors that have a code keep it.
func wrap(err error) error {
	var e *codedError
	if err == nil || errors.As(err, &e) {
		return err
	}
	var pe *protocol.Error
	var ce *core.ConfirmError
	code := CodeOther
	switch {
	case errors.As(err, &ce):
		code = CodeConfirm
	case errors.Is(err, core.ErrWrongNumber), errors.Is(err, protocol.ErrWrongNumber):
		code = CodeWrongNumber
	case errors.Is(err, core.ErrWrongPIN), errors.Is(err, protocol.ErrInvalidResponse):
		code = CodeWrongPIN
	case errors.Is(err, core.ErrExpired), errors.Is(err, protocol.ErrGone), errors.Is(err, core.ErrSpent):
		code = CodeExpired
	case errors.Is(err, protocol.ErrSignature):
		code = CodeSignature
	case core.Offline(err):
		code = CodeOffline
	case errors.Is(err, protocol.ErrBadCredentials):
		code = CodeBadCredentials
	case errors.Is(err, protocol.ErrInvalidCode):
		code = CodeBadCode
	case errors.Is(err, protocol.ErrRateLimited), errors.As(err, &pe) && pe.Status == http.StatusTooManyRequests:
		code = CodeRateLimited
	case errors.Is(err, protocol.ErrLocked):
		code = CodeLocked
	case errors.Is(err, protocol.ErrDeviceRetired), errors.Is(err, protocol.ErrUnauthorized):
		code = CodeRetired
	case errors.Is(err, core.ErrNotEnrolled):
		code = CodeNotEnrolled
	case errors.Is(err, vault.ErrBadPIN):
		code = CodeBadPIN
	case errors.Is(err, vault.ErrNoUser):
		code = CodeNoUser
	case errors.Is(err, vault.ErrExists):
		code = CodeExists
	case errors.Is(err, vault.ErrNoGate):
		code = CodeNoGate
	case errors.Is(err, vault.ErrNoBiometrics):
		code = CodeNoBiometrics
	case errors.Is(err, vault.ErrDamaged), errors.Is(err, platform.ErrDamaged):
		code = CodeDamaged
	case errors.Is(err, vault.ErrTooNew):
		code = CodeTooNew
	case errors.Is(err, vault.ErrLocked):
		code = CodeBusy
	case errors.Is(err, platform.ErrBiometricCancelled):
		code = CodeCancelled
	case errors.Is(err, platform.ErrBiometricFailed):
		code = CodeBiometricFailed
	case errors.Is(err, platform.ErrBiometricLockedOut):
		code = CodeBiometricLockedOut
	case errors.Is(err, platform.ErrNotFound):
		code = CodeNotFound
	case errors.Is(err, vault.ErrInvalid), errors.Is(err, ocra.ErrSuite):
		code = CodeInvalid
	}
	return &codedError{Code: code, err: err}
}
