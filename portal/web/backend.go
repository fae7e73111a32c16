package web

import (
	"context"
	"time"

	"ibkey/portal/core"
)

// Backend is what the Client Portal pages need from the IB Key service:
// operations of its core (package core), which *core.Service implements
// as they are; tests use a fake.
//
// The expected outcomes are the core's domain errors (core.ErrBadCredentials,
// core.ErrLocked, ...), possibly carried by a typed error that unwraps to
// them (*core.LockedError, *core.BadResponseError, *core.PasswordError).
// The pages match them with errors.Is and errors.As. Any other error is a
// fault: the page says "something went wrong" and the error goes to the
// log, never to the browser.
type Backend interface {
	// StartLogin checks the username and password and starts a login: a
	// challenge for challenge/response and, when the user's device takes
	// notifications, a seamless login request with a number to match.
	// Errors: ErrBadCredentials, ErrLocked, ErrRateLimited, ErrNoDevice.
	StartLogin(ctx context.Context, req core.LoginRequest) (core.Login, error)

	// Respond checks the response string to a login's challenge. A nil
	// error means the login is approved, possibly with
	// PasswordChangeRequired. A wrong response spends the challenge.
	// Errors: ErrBadResponse (as a *BadResponseError with the attempts
	// left), ErrExpired, ErrSpent, ErrNotFound, ErrLocked, ErrRateLimited.
	Respond(ctx context.Context, req core.ResponseRequest) (core.LoginState, error)

	// LoginStatus reports where a login stands; the page polls it while
	// the person approves on the phone. Errors: ErrNotFound.
	LoginStatus(ctx context.Context, loginID string) (core.LoginState, error)

	// SetTempPassword sets a new password after a login approved with a
	// temporary password (PasswordChangeRequired), while the login is
	// still fresh: the person has just proved both factors, so no step-up
	// is asked. Errors: ErrWeakPassword (as a *PasswordError with a
	// reason for people), ErrNoChangePending (not approved, not a
	// temporary password, already changed, or too late), ErrNotFound,
	// ErrLocked, ErrRateLimited.
	SetTempPassword(ctx context.Context, req core.NewPasswordRequest) error

	// ChangePassword sets a new password for a user whom the portal has
	// just verified again (step-up). Errors: ErrWeakPassword, ErrLocked.
	ChangePassword(ctx context.Context, req core.ChangePasswordRequest) error

	// StartLinkEnrollment starts adding a device for a user whom the
	// portal has just verified again (step-up): its Session ID goes into
	// a link, shown as a QR code, and is shown for typing. Errors:
	// ErrLocked, ErrRateLimited.
	StartLinkEnrollment(ctx context.Context, req core.LinkRequest) (core.LinkEnrollment, error)

	// ResendCode sends the activation code of the user's pending
	// enrollment again, by SMS or by voice ("Didn't receive a security
	// code?"). The person is not logged in (they have no device yet), so
	// the password is checked: nobody else can make the service call
	// their phone. Errors: ErrBadCredentials, ErrNoEnrollment,
	// ErrRateLimited, ErrLocked.
	ResendCode(ctx context.Context, req core.ResendCodeRequest) error

	// Outbox returns the SMS and voice messages the service has sent, for
	// the developer outbox page (Options.DevOutbox), newest last.
	Outbox(ctx context.Context) ([]core.Message, error)
}

var _ Backend = (*core.Service)(nil)

// SessionStore keeps the portal's sessions, each under the SHA-256 of its
// id (core.PortalSessions keeps them in the service's store, shared by its
// instances; the default keeps them in memory). The pages decide what a
// session holds and when it is live.
type SessionStore interface {
	// Load returns the session under key; ok is false when there is none.
	Load(ctx context.Context, key []byte) (v core.PortalSession, ok bool, err error)
	// Touch records that the session under key was seen at seen.
	Touch(ctx context.Context, key []byte, seen time.Time) error
	// Save writes v if its session is still there (a session rotated,
	// logged out or dropped meanwhile stays gone).
	Save(ctx context.Context, v core.PortalSession) error
	// Rotate stores v in place of the session under old (nil: none),
	// after dropping the sessions seen before idle or created before
	// created and, when v's kind has limit sessions, the least recently
	// seen of that kind.
	Rotate(ctx context.Context, old []byte, v core.PortalSession, limit int, idle, created time.Time) error
	// Delete deletes the session under key.
	Delete(ctx context.Context, key []byte) error
}

var _ SessionStore = core.PortalSessions{}

// Channel is how an activation code is sent.
type Channel string

// The channels of activation codes.
const (
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

// Enrollment is a device enrollment started from the portal, as the Add a
// device page shows it.
type Enrollment struct {
	Link      string // the enrollment link, shown as a QR code
	SessionID string // the same, for typing into the app or `ibkey users add --link`
	ExpiresAt time.Time
}
