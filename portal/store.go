package portal

import (
	"context"
	"errors"
	"time"

	"ibkey/authcore/verifier"
)

// ErrNotFound is returned by a Tx when no record has the key asked for.
var ErrNotFound = errors.New("portal: not found")

// ErrExists is returned when a record with the same key exists already.
var ErrExists = errors.New("portal: already exists")

// Store keeps the service's records. Update runs fn in a read-write
// transaction; transactions of one Store are serialised, so that a read
// followed by a write in one fn is atomic (a challenge is consumed once).
// View runs fn in a read-only transaction.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is what a transaction reads and writes.
type Tx interface {
	Meta(key string) ([]byte, error)
	PutMeta(key string, value []byte) error

	Account(username string) (Account, error)
	InsertAccount(Account) error
	UpdateAccount(Account) error
	Accounts() ([]Account, error)

	Enrollment(id string) (verifier.Enrollment, error)
	InsertEnrollment(e verifier.Enrollment, created time.Time) error
	UpdateEnrollment(verifier.Enrollment) error
	// EnrollmentByLocator returns the newest pending enrollment by link
	// with that locator that has not expired at now.
	EnrollmentByLocator(locator string, now time.Time) (verifier.Enrollment, error)
	// RecentEnrollments returns up to limit enrollments of username
	// created at or after since, newest first.
	RecentEnrollments(username string, since time.Time, limit int) ([]verifier.Enrollment, error)

	Device(id string) (Device, error)
	ActiveDevice(username string) (Device, error)
	Devices(username string) ([]Device, error)
	InsertDevice(Device) error
	UpdateDevice(Device) error

	Login(id string) (Login, error)
	InsertLogin(Login) error
	UpdateLogin(Login) error
	// PendingPush counts the user's pending seamless requests at now.
	PendingPush(username string, now time.Time) (int, error)
	// PendingPushes returns the user's pending logins that have a
	// seamless request and have not expired at now, oldest first.
	PendingPushes(username string, now time.Time) ([]Login, error)

	InsertEvent(Event) (int64, error)
	// Events returns up to limit events of the device after seq that have
	// not expired at now and whose login is still pending.
	Events(deviceID string, after int64, now time.Time, limit int) ([]Event, error)
	LastEvent(deviceID string) (int64, error)

	InsertDelivery(Delivery) error
	PendingDeliveries(deviceID string) ([]Delivery, error)
	MarkDelivered(id string, now time.Time) error

	InsertFraudReport(FraudReport) error
	FraudReports() ([]FraudReport, error)

	// InsertSend records a code sent by SMS or voice; CountSends counts
	// those to username and to phone at or after since; PruneSends drops
	// those before.
	InsertSend(Send) error
	CountSends(username, phone string, since time.Time) (toUser, toPhone int, err error)
	PruneSends(before time.Time) error

	InsertAudit(AuditEvent) error
	// Audit returns the audit records that f selects, oldest first.
	Audit(f AuditFilter) ([]AuditEvent, error)
}

// Account is one user of the service.
type Account struct {
	Username   string
	Account    string // the account number, e.g. U1234567
	Phone      string
	Password   string // an Argon2id hash in PHC form
	MustChange bool   // the password is a temporary one
	Lockout    verifier.Lockout
	Created    time.Time
}

// Device states.
const (
	DevicePending = "pending" // activated, waiting for its confirmation
	DeviceActive  = "active"
	DeviceRetired = "retired"
)

// Device is one device of a user.
type Device struct {
	ID               string
	Username         string
	EnrollmentID     string
	State            string
	Suite            string
	Secret           []byte
	PINHash          []byte // DSC+: SHA-1 of the card PIN
	ChannelHash      []byte // SHA-256 of the channel token
	DeliveryKey      []byte // X25519 public key
	ConfirmChallenge string
	Created          time.Time
	Expires          time.Time // of a pending device
	Activated        time.Time
	Retired          time.Time
}

// Login kinds and states.
const (
	KindLogin = "login"
	KindInbox = "inbox"
	KindPIN   = "pin" // a proof of the PIN alone, before a PIN change

	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusDenied   = "denied"
	StatusFailed   = "failed"
	StatusExpired  = "expired"
)

// Login is one challenge: a relying-party login (with its seamless request
// when Payload is set), an inbox proof or a PIN proof.
type Login struct {
	ID            string
	Username      string
	DeviceID      string
	Kind          string
	Challenge     string
	PushChallenge string
	Number        int
	Payload       []byte // the signed event payload of the seamless request
	Status        string
	Created       time.Time
	Expires       time.Time
	App, IP       string
	Browser       string
	Reason        string
	Purpose       string // what a portal login is for: "" (a login) or a step-up's task
}

// Event is one signed event for a device.
type Event struct {
	Seq       int64
	DeviceID  string
	Kind      string
	RefID     string
	Payload   []byte
	Signature []byte
	Expires   time.Time
}

// Delivery is a sealed message for a device.
type Delivery struct {
	ID        string
	DeviceID  string
	Kind      string
	Label     string
	Sealed    []byte
	Created   time.Time
	Delivered time.Time
}

// FraudReport records a login that its user denied as fraud.
type FraudReport struct {
	LoginID, Username, DeviceID string
	IP, App, Browser            string
	Time                        time.Time
}

// Send is a code sent by SMS or voice.
type Send struct {
	Time     time.Time
	Username string
	Phone    string
	Channel  string
}
