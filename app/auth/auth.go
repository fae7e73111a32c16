// Package auth is what the app's UI (package app) asks of an
// authenticator: the [Authenticator] interface, the types it speaks in and
// the sentinel errors the UI explains. The real adapter over the vault and
// the service (app/device) and the in-memory demo (app/demo) implement it;
// package app re-exports every name, so that app.User is auth.User.
package auth

import (
	"context"
	"errors"
	"time"

	"ibkey/authcore/vault"
)

// Authenticator is everything the UI asks of the authenticator: the users on
// this device, enrollment with the service, responses to challenges,
// seamless approvals and the inbox. It holds the crypto and the network; the
// UI holds neither. The app's adapter implements it over the vault and the
// service's client (app/device); app/demo implements it in memory for the
// tests and --demo.
//
// Methods that take a context may talk to the service; they are called from
// a goroutine, never from the UI's. The others are local and fast.
type Authenticator interface {
	// Users lists the users on this device, in a stable order.
	Users() ([]User, error)

	// StartEnrollment sends username and password to service (a base URL;
	// "" is the default service) and has an activation code sent by
	// channel. ErrBadCredentials when the service refuses them.
	StartEnrollment(ctx context.Context, service, username, password string, channel Channel) (Enrollment, error)
	// EnrollWithLink starts an enrollment from the link of the Client
	// Portal's QR code or from the Session ID it shows. When the
	// enrollment's NeedsCode is false, CheckCode takes an empty code.
	EnrollWithLink(ctx context.Context, link string) (Enrollment, error)
	// Resend sends a new activation code by channel. ErrRateLimited when
	// it is too early (see Enrollment.ResendAfter).
	Resend(ctx context.Context, e Enrollment, channel Channel) (Enrollment, error)
	// CheckCode sends the activation code to the service (for an
	// enrollment by link its Session ID stands for the code), which checks
	// it before anything else and agrees the new user's key with this
	// device: ErrBadCode when the code is wrong, ErrExpired when the
	// enrollment is over. For a DSC+ card, cardPIN is the card's PIN (a
	// card's PIN is an input of its key, fixed before the code is sent, as
	// a hardware card's PIN is set before the card is registered); "" for
	// an IB Key user. The Activation holds the key in memory until
	// Activate seals it or Cancel drops it; nothing is on the device yet,
	// and the user's earlier device stays active.
	CheckCode(ctx context.Context, e Enrollment, code, cardPIN string) (Activation, error)
	// Activate protects the new user's key as p says (a card takes none),
	// seals it on this device and confirms with the service, which makes
	// this device the user's IB Key. The user is called a.Username unless
	// another user has that name; a.Replaces, when set, is replaced: it is
	// removed and its name taken. ErrBadPIN, ErrCancelled and ErrExists
	// come before anything is sent and leave a as it was, to try again;
	// after any other outcome a is spent.
	Activate(ctx context.Context, a Activation, p Protection) (User, error)
	// Cancel drops an activation that will not be finished: its key is
	// cleared from memory.
	Cancel(a Activation)

	// Respond turns a challenge (digits only) into the response string to
	// type into the login page. A wrong PIN gives a wrong response, never
	// an error: only the service can tell.
	Respond(user, challenge string, u Unlock) (string, error)
	// DSC is the soft DSC+ card of a card user: the card's PIN and the
	// challenge give the 8-digit response.
	DSC(user, pin, challenge string) (string, error)

	// Watch delivers connectivity changes and seamless login requests for
	// every user on this device, and the end of each request delivered
	// (Event.Over), until ctx ends; then it closes the channel.
	Watch(ctx context.Context) <-chan Event
	// Approve answers a login request with the number chosen among its
	// three, after the unlock. ErrWrongNumber when it is not the browser's,
	// ErrExpired when the request is over, ErrOffline when the service
	// cannot be reached.
	Approve(ctx context.Context, r LoginRequest, number int, u Unlock) error
	// Deny refuses a login request, saying why.
	Deny(ctx context.Context, r LoginRequest, reason DenyReason) error

	// Rename gives a user another name on this device.
	Rename(user, name string) error
	// Remove deletes a user from this device.
	Remove(ctx context.Context, user string) error
	// ChangePIN seals a user's secret under a new PIN. When the service is
	// reachable the old PIN is first proved to it (ErrWrongPIN); offline
	// it is not checked.
	ChangePIN(ctx context.Context, user, old, new string) error
	// Inbox opens the deliveries (temporary passwords) sealed to this
	// device for a user, after the unlock is proved to the service.
	Inbox(ctx context.Context, user string, u Unlock) ([]Delivery, error)
}

// User is a user on this device, as the UI shows it: no secret.
type User struct {
	Name    string // the name on this device ("Alice", "Joint account")
	Account string // the service's account number
	Service string // the service's base URL
	Gate    Gate
	// Active reports whether this device is the user's active IB Key
	// device: activating another device retires this one.
	Active   bool
	Device   string    // this device's id at the service
	LastUsed time.Time // zero until the first unlock
}

// Gate says how a user's secret is opened: the vault's gates, one notion
// for the whole app. Gate.HasPIN reports a secret sealed under a PIN; a
// card (GateCard) is asked its PIN at each use too, but the PIN is an
// input of the response, not a seal.
type Gate = vault.Gate

// The gates.
const (
	GatePIN          = vault.GatePIN
	GateBiometric    = vault.GateBiometric
	GatePINBiometric = vault.GatePINBiometric
	GateCard         = vault.GateCard // a soft DSC+: the PIN is an input of the response
)

// Channel is how an activation code is sent.
type Channel string

// The channels.
const (
	SMS   Channel = "sms"
	Voice Channel = "voice"
)

// Enrollment is an enrollment under way.
type Enrollment struct {
	ID          string
	Service     string
	Username    string
	Channel     Channel
	To          string // the phone number, masked: "+1 ••• ••• 0123"
	NeedsCode   bool   // false when a portal link carries the enrollment
	ExpiresAt   time.Time
	ResendAfter time.Time
}

// Activation is an activation the service took (CheckCode), waiting for
// the protection of its key.
type Activation struct {
	ID       string // the authenticator's handle for it
	Service  string
	Username string // the account's username
	Account  string // the account number
	Card     bool   // a soft DSC+ card
	// Replaces is the user on this device for the same service and
	// account, if there is one: activating replaces it.
	Replaces  *User
	ExpiresAt time.Time // the service waits for the confirmation until then
}

// Protection is how a new user's secret is sealed: a PIN (Android, and
// iOS without biometrics), a biometric check, or both.
type Protection struct {
	PIN       string
	Biometric bool
}

// Unlock opens a user's secret for one operation: a PIN, or a biometric
// check whose system prompt shows Reason.
type Unlock struct {
	PIN       string
	Biometric bool
	Reason    string
}

// Event is what Watch delivers: a connectivity change (Request and Over
// nil), a seamless login request, or the end of one. Online is the
// connectivity at the time, in every event.
type Event struct {
	Online  bool
	Request *LoginRequest
	// Over names a request delivered before that is no longer waiting:
	// answered (here or in the browser), refused, expired, or its user
	// gone from this device. The UI drops it.
	Over *RequestKey
}

// RequestKey names a login request: the device it was sent to (a
// User.Device) and its id.
type RequestKey struct {
	Device string
	ID     string
}

// LoginRequest is a seamless login waiting for the person's answer.
type LoginRequest struct {
	ID     string
	Device string // the device it was sent to: the User.Device of its user
	// User is the name of its user when it came; the user may have been
	// renamed since (Device does not change).
	User      string
	App       string // "Client Portal"
	Place     string // "Zurich, CH"
	IP        string
	Browser   string
	Time      time.Time
	ExpiresAt time.Time
	Numbers   [3]int // one of them is the browser's
}

// PlaceLocal is the Place of a login from a loopback or private address:
// the UI shows it as "this network", translated.
const PlaceLocal = "this network"

// DenyReason says why a login request is refused.
type DenyReason string

// The reasons.
const (
	DenyFraud   DenyReason = "fraud"   // "I did not try to log in"
	DenyMistake DenyReason = "mistake" // "I tried, but by mistake"
)

// Delivery is a message sealed to this device, opened.
type Delivery struct {
	Label   string // "Temporary password"
	Text    string
	Created time.Time
}

// Errors an Authenticator returns for outcomes the UI explains; wrap them
// with detail.
var (
	ErrOffline        = errors.New("auth: the service cannot be reached")
	ErrBadCredentials = errors.New("auth: wrong username or password")
	ErrBadCode        = errors.New("auth: wrong activation code")
	ErrBadLink        = errors.New("auth: not an enrollment link or Session ID")
	ErrExpired        = errors.New("auth: expired or already used")
	ErrRateLimited    = errors.New("auth: too many requests")
	ErrLocked         = errors.New("auth: locked after too many failures")
	ErrWrongNumber    = errors.New("auth: not the number shown in the browser")
	ErrWrongPIN       = errors.New("auth: wrong PIN")
	ErrBadPIN         = errors.New("auth: PIN must be 4 to 6 characters and not easy to guess")
	ErrCancelled      = errors.New("auth: cancelled")
	ErrNotFound       = errors.New("auth: no such user")
	ErrExists         = errors.New("auth: a user has that name")
)

// Key names the request.
func (r LoginRequest) Key() RequestKey { return RequestKey{Device: r.Device, ID: r.ID} }
