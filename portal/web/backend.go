package web

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backend is what the Client Portal pages need from the IB Key service: the
// relying-party login of CONTRACT.md, in process, and the few account tasks
// the portal offers. The service implements it; tests use a fake.
//
// Expected outcomes are the sentinel errors of this package (ErrBadCredentials,
// ErrLocked, ...), possibly wrapped or carried by a typed error that unwraps
// to them (*LockedError, *BadResponseError, *PasswordError). The pages match
// them with errors.Is and errors.As. Any other error is a fault: the page
// says "something went wrong" and the error goes to the log, never to the
// browser.
type Backend interface {
	// StartLogin checks the username and password and starts a login: a
	// challenge for challenge/response and, when the user's device takes
	// notifications, a seamless login request with a number to match.
	// Errors: ErrBadCredentials, ErrLocked, ErrRateLimited, ErrNoDevice.
	StartLogin(ctx context.Context, req LoginRequest) (Login, error)

	// Respond checks the response string to a login's challenge. A nil
	// error means the login is approved (the state's Status is
	// StatusApproved), possibly with PasswordChangeRequired. A wrong
	// response spends the challenge. Errors: ErrBadResponse (as a
	// *BadResponseError with the attempts left), ErrExpired, ErrSpent,
	// ErrNotFound, ErrLocked.
	Respond(ctx context.Context, loginID, response string) (LoginState, error)

	// Status reports where a login stands; the page polls it while the
	// person approves on the phone. Errors: ErrNotFound.
	Status(ctx context.Context, loginID string) (LoginState, error)

	// SetLoginPassword sets a new password after login loginID was
	// approved with a temporary password (PasswordChangeRequired), while
	// the login is still fresh: the person has just proved both factors,
	// so no step-up is asked. Errors: ErrWeakPassword (as a *PasswordError
	// with a reason for people), ErrNoChangePending (not approved, not a
	// temporary password, already changed, or too late), ErrNotFound,
	// ErrLocked, ErrRateLimited.
	SetLoginPassword(ctx context.Context, loginID, newPassword string) error

	// ChangePassword sets a new password for username, whom the portal has
	// just verified again (step-up). Errors: ErrWeakPassword (as a
	// *PasswordError with a reason for people), ErrLocked.
	ChangePassword(ctx context.Context, username, newPassword string) error

	// StartDeviceEnrollment starts adding a device for username, whom the
	// portal has just verified again (step-up): the link goes into a QR code
	// and the Session ID is the same for typing. Errors: ErrLocked,
	// ErrRateLimited.
	StartDeviceEnrollment(ctx context.Context, username string) (Enrollment, error)

	// ResendCode sends the activation code of the user's pending enrollment
	// again, by SMS or by voice ("Didn't receive a security code?"). The
	// person is not logged in (they have no device yet), so the password
	// is checked: nobody else can make the service call their phone.
	// Errors: ErrBadCredentials, ErrNoEnrollment, ErrRateLimited, ErrLocked.
	ResendCode(ctx context.Context, username, password string, channel Channel) error

	// Outbox returns the SMS and voice messages the service has sent, for
	// the developer outbox page (Options.DevOutbox), newest last.
	Outbox(ctx context.Context) ([]Message, error)
}

// Purpose says what a login is for, so that the phone can tell the person.
type Purpose string

// The purposes of the portal's logins.
const (
	PurposeLogin    Purpose = "login"           // logging in to the portal
	PurposePassword Purpose = "change_password" // step-up before changing the password
	PurposeDevice   Purpose = "add_device"      // step-up before adding a device
)

// LoginRequest is one login attempt from a browser.
type LoginRequest struct {
	Username  string
	Password  string
	Purpose   Purpose
	IP        string // the browser's address as the portal sees it
	UserAgent string // at most 256 bytes
}

// Login is a started login.
type Login struct {
	ID        string
	Username  string    // the account's username as the service spells it
	Challenge string    // the challenge for the response string, "123456"
	ExpiresAt time.Time // when the challenge (and the login) expires
	Push      bool      // a notification was sent to the user's device
	Number    int       // the number to match on the phone, when Push
}

// Status is the state of a login.
type Status string

// The states of a login, as in CONTRACT.md.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusDenied   Status = "denied"
	StatusExpired  Status = "expired"
	StatusFailed   Status = "failed"
)

// LoginState is where a login stands.
type LoginState struct {
	Status Status
	// PasswordChangeRequired says that the login is approved and the
	// account's password is a temporary one (ibkey admin temp-password):
	// the person must choose a new one, with SetLoginPassword, before
	// anything else.
	PasswordChangeRequired bool
}

// Channel is how an activation code is sent.
type Channel string

// The channels of activation codes.
const (
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

// Enrollment is a device enrollment started from the portal.
type Enrollment struct {
	Link      string // the enrollment link, shown as a QR code
	SessionID string // the same, for typing into the app or `ibkey users add --link`
	ExpiresAt time.Time
}

// Message is one SMS or voice message the service sent.
type Message struct {
	Time     time.Time
	Channel  Channel
	To       string
	Username string
	Code     string
	Text     string
}

// The expected outcomes of Backend calls.
var (
	ErrBadCredentials  = errors.New("web: wrong username or password")
	ErrLocked          = errors.New("web: account locked")
	ErrRateLimited     = errors.New("web: too many attempts")
	ErrNoDevice        = errors.New("web: no active device")
	ErrBadResponse     = errors.New("web: wrong response")
	ErrExpired         = errors.New("web: challenge expired")
	ErrSpent           = errors.New("web: challenge already used")
	ErrNotFound        = errors.New("web: no such login")
	ErrNoEnrollment    = errors.New("web: no enrollment waiting for a code")
	ErrWeakPassword    = errors.New("web: password refused")
	ErrNoChangePending = errors.New("web: no password change pending for this login")
)

// LockedError says until when an account is locked. It unwraps to ErrLocked.
type LockedError struct {
	Until time.Time // zero: until an administrator unlocks it
}

func (e *LockedError) Error() string {
	if e.Until.IsZero() {
		return "web: account locked until an administrator unlocks it"
	}
	return "web: account locked until " + e.Until.UTC().Format(time.RFC3339)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// BadResponseError is a wrong response with the failures left before the
// account locks. It unwraps to ErrBadResponse.
type BadResponseError struct {
	AttemptsLeft int
}

func (e *BadResponseError) Error() string {
	return fmt.Sprintf("web: wrong response, %d attempts left", e.AttemptsLeft)
}

func (e *BadResponseError) Unwrap() error { return ErrBadResponse }

// PasswordError is a new password that the service refused, with the reason
// written for the person. It unwraps to ErrWeakPassword.
type PasswordError struct {
	Reason string
}

func (e *PasswordError) Error() string { return "web: password refused: " + e.Reason }

func (e *PasswordError) Unwrap() error { return ErrWeakPassword }
