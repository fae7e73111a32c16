// Package store is where the IB Key service keeps its records: the
// [Store] interface and its transactions ([Tx]), the records they read and
// write, how times are kept ([StoreTime]), the master key that seals the
// secrets at rest ([MasterKey]) and the errors every engine gives.
//
// # Which to use
//
// An engine implements Store: package sqlite (one file, the embedded
// default) and package postgres (a PostgreSQL database that several
// service instances share). Package storetest is the suite of tests every
// engine passes. The service (package core) sees only this package.
//
// # Transactions
//
// [Store.Update] runs a function in a read-write transaction. The function
// returns nil to commit, an error to roll back, or an error marked with
// [Commit] to commit and then return the error: an outcome that refuses the
// caller and must still be written (a wrong response spends its challenge
// and counts toward the account's lock). An engine may run the function
// again after a transient conflict (a serialization failure, a deadlock),
// so the function touches nothing but the Tx and its own variables, and
// sets every result again on each run.
package store

import (
	"context"
	"errors"
	"time"

	"ibkey/authcore/verifier"
)

// Errors of the store.
var (
	// ErrNotFound is returned by a Tx when no record has the key asked for.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned when a record with the same key exists already.
	ErrExists = errors.New("store: already exists")
	// ErrAccountTaken is returned by InsertAccount when another account
	// has the account number: pick another one and insert again, in the
	// same transaction.
	ErrAccountTaken = errors.New("store: account number taken")
	// ErrConflict is returned by a conditional write whose condition no
	// longer holds (a login that is not pending any more): the database
	// enforces what the caller's reads should have seen.
	ErrConflict = errors.New("store: the record changed meanwhile")
	// ErrClosed is returned by a store closed already.
	ErrClosed = errors.New("store: closed")
	// ErrBadUsername is an account whose username is not in its
	// canonical form (protocol.CanonicalUsername): the store keeps one
	// form, whoever asks.
	ErrBadUsername = errors.New("store: username not in its canonical form")
)

// Store keeps the service's records.
type Store interface {
	// Update runs fn in a read-write transaction. It commits when fn
	// returns nil or an error marked by Commit (and returns that error,
	// unmarked); it rolls back and returns the error otherwise. Reads in
	// fn see the writes committed before; reads of an account, a login or
	// an enrollment hold that row until the end of the transaction, so
	// that a read followed by a write is atomic (a challenge is spent
	// once). fn may run more than once (see the package documentation).
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction: one consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Take takes a token of bucket b at now, in a statement of its own
	// (a bucket many requests share is held only for that statement).
	Take(ctx context.Context, b Bucket, now time.Time) (Taken, error)
	// Close releases the store's connections.
	Close() error
}

// Listener is a Store that carries [Tx.Notify] between processes: Listen
// calls fn with the device id of every Notify committed by any process
// using the database, until ctx ends. After a lost connection it
// reconnects and calls fn("") once: notifications may have been missed,
// every waiting device should look again.
type Listener interface {
	Listen(ctx context.Context, fn func(deviceID string)) error
}

// Rekeyer is a Store that can seal its secrets under another master key
// (every engine here is one): Rekey seals every sealed value again under
// k, in one transaction, and the store goes on with k. Another handle
// still on the old key (another instance) no longer opens them: stop them
// first, and start them again with the new key file.
type Rekeyer interface {
	Rekey(ctx context.Context, k *MasterKey) error
}

// Tx is what a transaction reads and writes.
type Tx interface {
	Meta(key string) ([]byte, error)
	// PutMeta writes a meta value, new or not.
	PutMeta(key string, value []byte) error
	// InsertMeta writes a new meta value: ErrExists when there is one
	// (another instance made it first).
	InsertMeta(key string, value []byte) error

	// Account reads an account; in Update it holds the row.
	Account(username string) (Account, error)
	// InsertAccount adds an account: ErrExists when the username is
	// taken, ErrAccountTaken when the account number is.
	InsertAccount(Account) error
	UpdateAccount(Account) error

	// Enrollment reads an enrollment; in Update it holds the row.
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
	// Devices returns the devices of username, or of everyone when
	// username is empty, in the order they were made.
	Devices(username string) ([]Device, error)
	InsertDevice(Device) error
	// UpdateDevice writes a device's state and times. A second active
	// device of one user is ErrExists: the database keeps one.
	UpdateDevice(Device) error

	// Login reads a login; in Update it holds the row.
	Login(id string) (Login, error)
	// LoginAccount reads a login with its account and its device, in one
	// statement; in Update it holds the login and the account.
	LoginAccount(id string) (Login, Account, Device, error)
	InsertLogin(Login) error
	// UpdateLogin writes the status and reason of a pending login; a
	// login that is no longer pending is ErrConflict (spent once).
	UpdateLogin(Login) error
	// PendingPush counts the user's pending seamless requests at now.
	PendingPush(username string, now time.Time) (int, error)
	// PendingPushes returns the user's pending logins that have a
	// seamless request and have not expired at now, oldest first.
	PendingPushes(username string, now time.Time) ([]Login, error)

	// InsertEvent adds an event for a device and returns its sequence
	// number. The events of one device are written while its user's
	// account is held (Account in Update), so that their numbers follow
	// the order of their commits.
	InsertEvent(Event) (int64, error)
	// Events returns up to limit events of the device after seq that have
	// not expired at now and whose login or delivery is still pending.
	Events(deviceID string, after int64, now time.Time, limit int) ([]Event, error)
	LastEvent(deviceID string) (int64, error)
	// Notify wakes the device's long-polls, in every process, once the
	// transaction commits (nothing if it rolls back).
	Notify(deviceID string) error

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

	// Session reads a portal session by key (the SHA-256 of its id).
	Session(key []byte) (Session, error)
	// InsertSession writes a new session: ErrExists when its key is taken.
	InsertSession(Session) error
	// UpdateSession writes a session's data, kind and times: ErrNotFound
	// when it is gone (logged out, rotated, dropped) meanwhile.
	UpdateSession(Session) error
	// TouchSession sets when a session was last seen.
	TouchSession(key []byte, seen time.Time) error
	DeleteSession(key []byte) error
	// CountSessions counts the sessions of one kind.
	CountSessions(loggedIn bool) (int, error)
	// DropSessions deletes the n least recently seen sessions of a kind.
	DropSessions(loggedIn bool, n int) error
	// PruneSessions deletes the sessions seen before idle or created
	// before created.
	PruneSessions(idle, created time.Time) error

	// PruneBuckets deletes the rate-limit buckets full at now.
	PruneBuckets(now time.Time) error
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
	Secret           []byte // sealed at rest
	PINHash          []byte // DSC+: SHA-1 of the card PIN, sealed at rest
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

// AuditEvent is one record of the audit log.
type AuditEvent struct {
	ID       int64 // set by the store, in the order of writing
	Time     time.Time
	Event    string
	Username string
	Device   string
	IP       string
	Outcome  string
	// Detail holds a few safe details (ids, a channel, a reason). Its
	// keys are not those of the fields above.
	Detail map[string]string
}

// AuditFilter selects audit records: of Username when not empty, at or
// after Since, with ids after After, at most Limit (all when 0).
type AuditFilter struct {
	Username string
	Since    time.Time
	After    int64
	Limit    int
}

// Session is a Client Portal session: its state (Data, sealed at rest
// like the devices' secrets) under the SHA-256 of its id. The id itself is
// never stored.
type Session struct {
	Key      []byte // SHA-256 of the session's id
	Data     []byte
	LoggedIn bool // logged in (or choosing a new password), else a login under way
	Created  time.Time
	Seen     time.Time
}

// Bucket is a token bucket of a rate limit: Rate tokens a second up to
// Burst, under Key (a limit's name and what it limits: "ip:192.0.2.1").
type Bucket struct {
	Key   string
	Rate  float64 // tokens a second, more than 0
	Burst float64 // at least 1
}

// Taken is the outcome of [Store.Take]: OK when a token was taken, else
// Report on the first refusal of the bucket in a minute (one worth an
// audit record; recording every refusal would let a flood write without
// end).
type Taken struct {
	OK, Report bool
}

// committed marks the error of an Update that commits.
type committed struct{ err error }

func (c *committed) Error() string { return c.err.Error() }
func (c *committed) Unwrap() error { return c.err }

// Commit marks err, returned by the function of an Update, as an outcome
// whose writes stand: Update commits, then returns err. Commit(nil) is nil.
func Commit(err error) error {
	if err == nil {
		return nil
	}
	return &committed{err}
}

// Outcome reads what an Update's function returned: whether the
// transaction commits, and the error Update returns then.
func Outcome(err error) (commit bool, out error) {
	if err == nil {
		return true, nil
	}
	var c *committed
	if errors.As(err, &c) {
		return true, c.err
	}
	return false, err
}
