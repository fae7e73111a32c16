package core

import (
	"errors"
	"fmt"
	"time"
)

// The outcomes of the operations, one error per outcome. Where an outcome
// has details (until when an account is locked, how many attempts are
// left) it comes as a typed error that unwraps to its sentinel: match with
// errors.Is, read the details with errors.As. Any other error is a fault
// of the service (its store, its gateway): the transports log it and tell
// the client only that something went wrong.
var (
	// ErrBadRequest is input the operation cannot take (as an
	// *InputError saying what is wrong, for people).
	ErrBadRequest = errors.New("core: bad request")
	// ErrBadCredentials is a wrong username or password; an unknown user
	// gets it too.
	ErrBadCredentials = errors.New("core: wrong username or password")
	// ErrUnauthorized is a device channel token that is missing or wrong,
	// or a device not confirmed yet.
	ErrUnauthorized = errors.New("core: device not recognised")
	// ErrDeviceRetired is a device that another one replaced.
	ErrDeviceRetired = errors.New("core: the device was replaced by another")
	// ErrNoDevice is a user without an active device.
	ErrNoDevice = errors.New("core: no active device")
	// ErrLocked is a locked account (as a *LockedError).
	ErrLocked = errors.New("core: account locked")
	// ErrRateLimited is a limit on requests or on codes sent (as a
	// *RateLimitError naming the limit).
	ErrRateLimited = errors.New("core: too many requests")
	// ErrBadResponse is a wrong OCRA response or approval; the challenge
	// is spent and the failure counted (as a *BadResponseError).
	ErrBadResponse = errors.New("core: wrong response")
	// ErrWrongNumber is an approval of another number than the login
	// shows: the login is refused, nothing is counted.
	ErrWrongNumber = errors.New("core: wrong number")
	// ErrBadCode is a wrong activation code, counted (as a *BadCodeError).
	ErrBadCode = errors.New("core: wrong activation code")
	// ErrBadSession is a wrong, expired, used or replaced Session ID.
	ErrBadSession = errors.New("core: wrong or expired Session ID")
	// ErrKeyMismatch is a confirmation whose response does not match the
	// device's secret (as a *KeyMismatchError).
	ErrKeyMismatch = errors.New("core: the device's secret does not match")
	// ErrTooManyTries is an enrollment that took its last wrong code.
	ErrTooManyTries = errors.New("core: too many wrong codes")
	// ErrNotFound is no such login, enrollment, request or challenge (as
	// a *NotFoundError saying which).
	ErrNotFound = errors.New("core: not found")
	// ErrExpired is a challenge, request or enrollment past its time.
	ErrExpired = errors.New("core: expired")
	// ErrSpent is a challenge, request or enrollment used already, or
	// issued to a device since retired.
	ErrSpent = errors.New("core: already used")
	// ErrNoChangePending is a password change after a login that was not
	// approved with a temporary password, or too late.
	ErrNoChangePending = errors.New("core: no password change pending")
	// ErrWeakPassword is a new password the policy refuses (as a
	// *PasswordError with the reason for people).
	ErrWeakPassword = errors.New("core: password refused")
	// ErrNoEnrollment is a resend with no SMS or voice enrollment pending.
	ErrNoEnrollment = errors.New("core: no enrollment waiting for a code")
	// ErrNoGateway is a service that cannot send codes.
	ErrNoGateway = errors.New("core: activation codes cannot be sent")
	// ErrGateway is a gateway that failed to send a code (as a
	// *GatewayError with the gateway's error, for the log).
	ErrGateway = errors.New("core: the code could not be sent")
	// ErrUnavailable is a wait ended because the service is stopping (or
	// the client went away).
	ErrUnavailable = errors.New("core: the service is stopping")

	// ErrBadUsername is a username that cannot exist.
	ErrBadUsername = errors.New("core: username must be 1 to 64 ASCII letters, digits or ._@+- (the case of letters does not matter)")
	// ErrBadPhone is a phone number not in E.164 form.
	ErrBadPhone = errors.New("core: phone must be in E.164 form, +CC then digits")
	// ErrNoUser is an administrator's command for an unknown user.
	ErrNoUser = errors.New("core: no such user")
	// ErrUserExists is an account made twice.
	ErrUserExists = errors.New("core: the user exists already")
)

// InputError is input an operation refuses, with what is wrong.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return "core: bad request: " + e.Msg }
func (e *InputError) Unwrap() error { return ErrBadRequest }

func badRequest(msg string) error { return &InputError{msg} }

// LockedError is a locked account: until when, or until an administrator
// unlocks it (Hard).
type LockedError struct {
	Until time.Time // zero when Hard
	Hard  bool
}

func (e *LockedError) Error() string {
	if e.Hard || e.Until.IsZero() {
		return "core: account locked until an administrator unlocks it"
	}
	return "core: account locked until " + e.Until.UTC().Format(time.RFC3339)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// RateLimitError names the limit that refused a request: ip, account,
// session, pages, links, resend_interval, enrollment_sends,
// sends_user_hour, sends_user_day, sends_phone_hour or sends_phone_day.
type RateLimitError struct{ Limit string }

func (e *RateLimitError) Error() string { return "core: too many requests (" + e.Limit + ")" }
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

func rateLimited(limit string) error { return &RateLimitError{limit} }

// BadResponseError is a wrong response with the failures left before the
// account locks. Approval says it answered a seamless request (where a
// wrong PIN is the likely cause), not a challenge.
type BadResponseError struct {
	AttemptsLeft int
	Approval     bool
}

func (e *BadResponseError) Error() string {
	return fmt.Sprintf("core: wrong response, %d attempts left", e.AttemptsLeft)
}

func (e *BadResponseError) Unwrap() error { return ErrBadResponse }

// BadCodeError is a wrong activation code with the tries left: the fewer
// of the enrollment's and the account's.
type BadCodeError struct{ AttemptsLeft int }

func (e *BadCodeError) Error() string {
	return fmt.Sprintf("core: wrong activation code, %d attempts left", e.AttemptsLeft)
}

func (e *BadCodeError) Unwrap() error { return ErrBadCode }

// NotFoundError says what was not found: login, enrollment, login request,
// challenge.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return "core: no such " + e.What }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

func notFound(what string) error { return &NotFoundError{what} }

// KeyMismatchError is a confirmation that does not match the device's
// secret. Retired says the pending device was retired by it (enroll
// again); else the device was active already and stays so.
type KeyMismatchError struct{ Retired bool }

func (e *KeyMismatchError) Error() string { return ErrKeyMismatch.Error() }
func (e *KeyMismatchError) Unwrap() error { return ErrKeyMismatch }

// PasswordError is a new password the policy refuses, with the reason
// written for people.
type PasswordError struct{ Reason string }

func (e *PasswordError) Error() string { return "core: password refused: " + e.Reason }
func (e *PasswordError) Unwrap() error { return ErrWeakPassword }

// GatewayError is a gateway's failure to send a code; Err is for the log.
type GatewayError struct{ Err error }

func (e *GatewayError) Error() string { return "core: the code could not be sent: " + e.Err.Error() }
func (e *GatewayError) Unwrap() error { return ErrGateway }
