package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Channels for activation codes.
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
	// ChannelLink is an enrollment started in the Client Portal: no code is
	// sent; the device activates with the Session ID.
	ChannelLink = "link"
)

// Event types on the device channel.
const (
	EventLogin    = "login"    // a seamless login request to approve or deny
	EventDelivery = "delivery" // a sealed delivery waits in the inbox
)

// Denial reasons.
const (
	DenyMistake = "mistake"
	DenyFraud   = "fraud"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	AttemptsLeft *int   `json:"attempts_left,omitempty"`
}

// EnrollRequest starts an enrollment: POST /api/v1/enrollments.
type EnrollRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Channel  string `json:"channel,omitempty"` // sms (default) or voice
}

// Enrollment is the answer to an enrollment, a resend or a session
// exchange.
type Enrollment struct {
	ID          string    `json:"id"`
	Channel     string    `json:"channel"` // sms, voice, or link
	To          string    `json:"to"`      // the phone number, masked; "" for a link
	ExpiresAt   time.Time `json:"expires_at"`
	ResendAfter time.Time `json:"resend_after,omitzero"` // none for a link
	// Username is the account's username: set by a session exchange, so
	// that the device can name the user before activating.
	Username string `json:"username,omitempty"`
	// Session is the canonical Session ID of an enrollment by link: the
	// activation takes it in ActivateRequest.Session instead of a code.
	Session string `json:"session,omitempty"`
}

// SessionRequest exchanges the Session ID of a portal link for its
// enrollment: POST /api/v1/enrollments/session.
type SessionRequest struct {
	Session string `json:"session"`
}

// ResendRequest asks for a new code: POST /api/v1/enrollments/{id}/resend.
// An empty channel means the other channel than the last one.
type ResendRequest struct {
	Channel string `json:"channel,omitempty"`
}

// ActivateRequest activates a device: POST /api/v1/enrollments/{id}/activate.
type ActivateRequest struct {
	// Code is the activation code of an SMS or voice enrollment.
	Code string `json:"code,omitempty"`
	// Session is the Session ID of an enrollment by link (Enrollment.Session),
	// in place of Code.
	Session string `json:"session,omitempty"`
	// PublicKey is the device's ephemeral X25519 activation key.
	PublicKey []byte `json:"public_key"`
	// DeliveryKey is the device's X25519 public key for sealed deliveries.
	DeliveryKey []byte `json:"delivery_key"`
	// ChannelToken is 32 random bytes that authenticate the device channel;
	// the service keeps only its SHA-256.
	ChannelToken []byte `json:"channel_token"`
	// Card asks for the DSC+ suite; PINHash is then the SHA-1 of the card PIN.
	Card    bool   `json:"card,omitempty"`
	PINHash []byte `json:"pin_hash,omitempty"`
}

// Activation is the answer to an activation.
type Activation struct {
	DeviceID     string `json:"device_id"`
	Username     string `json:"username"`
	Account      string `json:"account"`
	Suite        string `json:"suite"`
	ApproveSuite string `json:"approve_suite"`
	// ServiceKey is the service's Ed25519 identity, to pin.
	ServiceKey []byte `json:"service_key"`
	// ServerKey is the service's ephemeral X25519 key for DeriveSecret.
	ServerKey []byte `json:"server_key"`
	// ConfirmChallenge is answered with the new secret to confirm.
	ConfirmChallenge string    `json:"confirm_challenge"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// ConfirmRequest confirms an activation: POST /api/v1/devices/{id}/confirm.
type ConfirmRequest struct {
	Response string `json:"response"`
}

// Status is a one-field answer.
type Status struct {
	Status string `json:"status"`
}

// SignedEvent is one event on the device channel: Payload is the JSON of an
// Event, signed by the service's Ed25519 identity.
type SignedEvent struct {
	Seq       int64  `json:"seq"`
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// Events is the answer of GET /api/v1/devices/{id}/events.
type Events struct {
	Events []SignedEvent `json:"events"`
	Next   int64         `json:"next"`
	// Pending lists the ids of the device's login requests still pending
	// at the service when it answered: not answered (here or in the
	// browser), refused or expired. A request the device holds whose id
	// is missing is over. Nil from a service that does not say.
	Pending []string `json:"pending"`
}

// LoginContext says who, where and what of a login.
type LoginContext struct {
	App     string    `json:"app"`
	IP      string    `json:"ip"`
	Browser string    `json:"browser"`
	Time    time.Time `json:"time"`
}

// Event is the payload of a SignedEvent.
type Event struct {
	Type      string       `json:"type"`
	ID        string       `json:"id"`
	DeviceID  string       `json:"device_id"`
	Username  string       `json:"username"`
	Challenge string       `json:"challenge,omitempty"`
	Numbers   []int        `json:"numbers,omitempty"`
	Context   LoginContext `json:"context"`
	IssuedAt  time.Time    `json:"issued_at"`
	ExpiresAt time.Time    `json:"expires_at"`
}

// ApprovalRequest answers a login request:
// POST /api/v1/devices/{id}/approvals. Either Deny is set (a reason), or
// Number and Response are.
type ApprovalRequest struct {
	RequestID string `json:"request_id"`
	Number    int    `json:"number,omitempty"`
	Response  string `json:"response,omitempty"`
	Deny      string `json:"deny,omitempty"`
}

// ProofChallenge is a challenge whose response, made with the user's
// secret, proves the PIN to the service: single use, until ExpiresAt. The
// inbox's (POST /api/v1/devices/{id}/inbox/challenge) opens the inbox; a
// PIN challenge (POST /api/v1/devices/{id}/pin-challenge) proves the PIN
// and does nothing else.
type ProofChallenge struct {
	ID        string    `json:"id"`
	Challenge string    `json:"challenge"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ProofResponse answers a ProofChallenge: POST /api/v1/devices/{id}/inbox
// or POST /api/v1/devices/{id}/pin-proof.
type ProofResponse struct {
	ChallengeID string `json:"challenge_id"`
	Response    string `json:"response"`
}

// The proof that opens the inbox.
type (
	InboxChallenge = ProofChallenge
	InboxRequest   = ProofResponse
)

// Delivery is one sealed message; open it with Open(deliveryKey, Label, Sealed).
type Delivery struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Label     string    `json:"label"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
}

// Inbox is the answer of an opened inbox.
type Inbox struct {
	Deliveries []Delivery `json:"deliveries"`
}

// The relying-party login API (docs/PROTOCOL.md, "Relying-party login API").

// LoginRequest starts a login: POST /api/v1/logins.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	App      string `json:"app,omitempty"`
	Browser  string `json:"browser,omitempty"`
}

// Login is the answer of POST /api/v1/logins.
type Login struct {
	ID        string    `json:"id"`
	Challenge string    `json:"challenge"`
	ExpiresAt time.Time `json:"expires_at"`
	Push      bool      `json:"push"`
	Number    int       `json:"number,omitempty"`
}

// LoginAnswer answers a login's challenge: POST /api/v1/logins/{id}/response.
type LoginAnswer struct {
	Response string `json:"response"`
}

// LoginStatus is the answer of GET /api/v1/logins/{id}.
type LoginStatus struct {
	Status                 string `json:"status"`
	PasswordChangeRequired bool   `json:"password_change_required,omitempty"`
}

// PasswordChange sets a new password after a login approved with a
// temporary one: POST /api/v1/logins/{id}/password.
type PasswordChange struct {
	Password string `json:"password"`
}

// Stable error codes.
const (
	CodeBadRequest      = "bad_request"
	CodeBadCredentials  = "invalid_credentials"
	CodeInvalidCode     = "invalid_code"
	CodeInvalidResponse = "invalid_response"
	CodeWrongNumber     = "wrong_number"
	CodeLocked          = "locked"
	CodeGone            = "gone"
	CodeNotFound        = "not_found"
	CodeRateLimited     = "rate_limited"
	CodeUnauthorized    = "unauthorized"
	CodeDeviceRetired   = "device_retired"
	CodeNoDevice        = "no_device"
	CodeTooMany         = "too_many_requests"
	CodeTooLarge        = "too_large"
	CodeInternal        = "internal"
)

// Sentinel errors that an *Error unwraps to.
var (
	ErrBadCredentials  = errors.New("protocol: wrong username or password")
	ErrInvalidCode     = errors.New("protocol: wrong activation code")
	ErrInvalidResponse = errors.New("protocol: wrong response")
	ErrWrongNumber     = errors.New("protocol: wrong number")
	ErrLocked          = errors.New("protocol: locked")
	ErrGone            = errors.New("protocol: expired or already used")
	ErrRateLimited     = errors.New("protocol: too many requests")
	ErrDeviceRetired   = errors.New("protocol: device retired")
	ErrUnauthorized    = errors.New("protocol: device not recognised")
)

// Error is an error answer of the service.
type Error struct {
	Status       int
	Code         string
	Message      string
	AttemptsLeft int // -1 when not given
}

func (e *Error) Error() string {
	s := "service: " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.AttemptsLeft >= 0 {
		s += " (" + strconv.Itoa(e.AttemptsLeft) + " attempts left)"
	}
	return s
}

func (e *Error) Unwrap() error {
	switch e.Code {
	case CodeBadCredentials:
		return ErrBadCredentials
	case CodeInvalidCode:
		return ErrInvalidCode
	case CodeInvalidResponse:
		return ErrInvalidResponse
	case CodeWrongNumber:
		return ErrWrongNumber
	case CodeLocked:
		return ErrLocked
	case CodeGone:
		return ErrGone
	case CodeRateLimited:
		return ErrRateLimited
	case CodeDeviceRetired:
		return ErrDeviceRetired
	case CodeUnauthorized:
		return ErrUnauthorized
	}
	return nil
}

// PendingDigest is the digest of a list of pending request ids that a
// device passes back to the events long-poll (EventsQuery.Pending): 32
// lowercase hex digits, the first 16 bytes of SHA-256 over lp(id) for
// each id in sorted order. The order of ids does not matter; the empty
// list has a digest too.
func PendingDigest(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	var b []byte
	for _, id := range s {
		b = lp(b, id)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// ValidDigest reports whether s has the form of a PendingDigest.
func ValidDigest(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
