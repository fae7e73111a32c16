package ibkeykit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	core "ibkey/authcore/device"
	"ibkey/authcore/vault"
	"ibkey/platform"
)

// SecretStore is implemented by the native app: the platform's keystore
// (the iOS Keychain, the Android Keystore) for the few secrets of one vault
// (the vault key and the device pepper, 32 bytes each). It must be scoped
// to one vault. docs/MOBILE.md says what each call must do.
type SecretStore interface {
	// Get returns the secret kept under name. When there is none it
	// returns an empty value (null, nil, empty Data) or throws an exception
	// whose message is CodeNotFound; any other exception is a failure,
	// which stops the vault from opening rather than make new keys.
	Get(name string) ([]byte, error)
	// Set keeps secret under name, replacing any secret kept there.
	Set(name string, secret []byte) error
	// Delete removes the secret kept under name; nothing kept is no error.
	Delete(name string) error
}

// Biometrics is implemented by the native app: random keys that the
// platform releases only after its biometric check (a Keychain item with
// biometric access control, a Keystore key that needs user
// authentication). docs/MOBILE.md says what each call must do.
type Biometrics interface {
	// Enroll creates (or replaces) a random 32-byte key under name that
	// only a successful biometric check releases, and returns it.
	Enroll(name string) ([]byte, error)
	// Authenticate shows the platform's prompt with reason and, after a
	// successful check, returns the key enrolled under name. A check that
	// does not pass throws an exception whose message is CodeCancelled,
	// CodeBiometricFailed or CodeBiometricLockedOut; no key under name,
	// CodeNotFound.
	Authenticate(name, reason string) ([]byte, error)
	// Remove deletes the key enrolled under name; none is no error.
	Remove(name string) error
}

// nativeError turns what a native implementation threw into the platform
// package's sentinel its message names, so that the vault and Code see
// the outcome; other errors come back as they are.
func nativeError(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(err.Error())
	for code, sentinel := range map[string]error{
		CodeNotFound:           platform.ErrNotFound,
		CodeCancelled:          platform.ErrBiometricCancelled,
		CodeBiometricFailed:    platform.ErrBiometricFailed,
		CodeBiometricLockedOut: platform.ErrBiometricLockedOut,
	} {
		// Java's exceptions may reach Go as "java.lang.Exception: code".
		if msg == code || strings.HasSuffix(msg, ": "+code) {
			return sentinel
		}
	}
	return fmt.Errorf("ibkeykit/native: %w", err)
}

// secretStore is a native SecretStore as the vault's: absence is
// platform.ErrNotFound, which matches fs.ErrNotExist.
type secretStore struct{ s SecretStore }

func (s secretStore) Get(name string) ([]byte, error) {
	b, err := s.s.Get(name)
	if err != nil {
		return nil, nativeError(err)
	}
	if len(b) == 0 {
		return nil, platform.ErrNotFound
	}
	return b, nil
}

func (s secretStore) Set(name string, secret []byte) error {
	if len(secret) == 0 {
		return errorf(CodeInvalid, "empty secret") // Get could not tell it from none
	}
	return nativeError(s.s.Set(name, secret))
}

func (s secretStore) Delete(name string) error { return nativeError(s.s.Delete(name)) }

// biometrics is a native Biometrics as the vault's.
type biometrics struct{ b Biometrics }

func (b biometrics) Enroll(name string) ([]byte, error) {
	k, err := b.b.Enroll(name)
	return k, nativeError(err)
}

func (b biometrics) Authenticate(name, reason string) ([]byte, error) {
	k, err := b.b.Authenticate(name, reason)
	if err == nil && len(k) == 0 {
		return nil, platform.ErrNotFound
	}
	return k, nativeError(err)
}

func (b biometrics) Remove(name string) error { return nativeError(b.b.Remove(name)) }

// Vault is the users of this device, kept in a folder of the app's own
// storage, with their flows: respond, enroll, approve or deny seamless
// login requests, open the inbox. Get one from OpenVault; an empty Vault
// (its constructor's) refuses every call with CodeInvalid. Its methods
// are safe for concurrent use; those that reach the service block until
// it answers (at most a minute, or the long-poll's wait): call them off
// the UI thread.
type Vault struct {
	v      *vault.Vault
	d      *core.Device
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	released map[string][]*Delivery // opened by an Inbox that then failed, by user
}

// OpenVault opens (or creates) the vault in the folder dir, an absolute
// path in the app's own storage (Android: Context.getFilesDir(); iOS: the
// Application Support folder), with the native SecretStore and
// Biometrics; bio may be nil (null, nil) on a device without biometrics.
// The vault file is written atomically under a lock (authcore/vault).
func OpenVault(dir string, store SecretStore, bio Biometrics) (*Vault, error) {
	if store == nil {
		return nil, errorf(CodeInvalid, "no SecretStore")
	}
	if !filepath.IsAbs(dir) {
		return nil, errorf(CodeInvalid, "vault folder %q is not an absolute path", dir)
	}
	var vb vault.Biometrics
	if bio != nil {
		vb = biometrics{bio}
	}
	v, err := vault.Open(dir, secretStore{store}, vb)
	if err != nil {
		return nil, wrap(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Vault{v: v, d: core.New(v), ctx: ctx, cancel: cancel, released: map[string][]*Delivery{}}, nil
}

// Close ends the calls of v that wait for the service (a long-poll, an
// enrollment); they return CodeOffline. v can be used again afterwards.
func (v *Vault) Close() {
	if v.v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cancel()
	v.ctx, v.cancel = context.WithCancel(context.Background())
}

func (v *Vault) context() (context.Context, error) {
	if v == nil || v.v == nil {
		return nil, errEmpty
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ctx, nil
}

// User is what the vault tells about a user without unlocking: no secret.
type User struct {
	Name    string
	Account string // the service's name of the account; "" for an imported token
	Service string // the service's base URL; "" for an imported token
	// DeviceID is this device's id at the service; "" for an imported
	// token, which has no device channel and no inbox.
	DeviceID string
	// Gate is how the secret opens: "pin", "biometric", "pin+biometric",
	// or "card" (a soft DSC+, whose PIN is given at each use).
	Gate  string
	Suite string // the OCRA suite
	// Created and LastUsed are Unix seconds; LastUsed is 0 until the
	// first unlock.
	Created, LastUsed int64
}

func toUser(u vault.User) *User {
	out := &User{
		Name: u.Name, Account: u.Account, Service: u.Service, DeviceID: u.DeviceID,
		Gate: string(u.Gate), Suite: u.Suite.String(), Created: u.Created.Unix(),
	}
	if !u.LastUsed.IsZero() {
		out.LastUsed = u.LastUsed.Unix()
	}
	return out
}

// Users is a list of users, sorted by name.
type Users struct{ users []*User }

// Len returns the number of users.
func (l *Users) Len() int { return len(l.users) }

// Get returns the i-th user, or nil when i is out of range.
func (l *Users) Get(i int) *User {
	if i < 0 || i >= len(l.users) {
		return nil
	}
	return l.users[i]
}

// Users returns the users, sorted by name. Users are added by enrollment
// (StartEnrollment).
func (v *Vault) Users() (*Users, error) {
	if _, err := v.context(); err != nil {
		return nil, err
	}
	us, err := v.v.List()
	if err != nil {
		return nil, wrap(err)
	}
	out := &Users{users: make([]*User, len(us))}
	for i, u := range us {
		out.users[i] = toUser(u)
	}
	return out, nil
}

// User returns the user called name (CodeNoUser when there is none).
func (v *Vault) User(name string) (*User, error) {
	if _, err := v.context(); err != nil {
		return nil, err
	}
	u, err := v.v.User(name)
	if err != nil {
		return nil, wrap(err)
	}
	return toUser(u), nil
}

// Rename gives the user called old the name new (surrounding spaces
// dropped).
func (v *Vault) Rename(old, new string) error {
	if _, err := v.context(); err != nil {
		return err
	}
	return wrap(v.v.Rename(old, strings.TrimSpace(new)))
}

// Remove removes the user called name from this device, and its
// biometric key. The service is not told: this device stays the user's
// active one until another is activated.
func (v *Vault) Remove(name string) error {
	if _, err := v.context(); err != nil {
		return err
	}
	return wrap(v.v.Remove(name))
}

// Unlock says how a user's secret opens: with PIN, or with the biometric
// check when Biometric is set, whose prompt shows Reason. For a card PIN
// is the card's PIN. An empty Unlock chooses no gate (CodeNoGate).
type Unlock struct {
	PIN       string
	Biometric bool
	Reason    string
}

// WithPIN returns the Unlock by pin.
func WithPIN(pin string) *Unlock { return &Unlock{PIN: pin} }

// WithBiometric returns the Unlock by the biometric check, whose prompt
// shows reason.
func WithBiometric(reason string) *Unlock { return &Unlock{Biometric: true, Reason: reason} }

func (u *Unlock) vault() (vault.Unlock, error) {
	if u == nil {
		return vault.Unlock{}, errorf(CodeNoGate, "no unlock given")
	}
	return vault.Unlock{PIN: u.PIN, Biometric: u.Biometric, Reason: u.Reason}, nil
}

// Respond answers a login challenge (as typed: "123 456" is fine) for the
// user called name, its secret opened as how says. A wrong PIN gives a
// wrong response, not an error: only the service can tell (there is no
// PIN oracle on the device). A PIN that breaks the rules is CodeBadPIN.
func (v *Vault) Respond(name, challenge string, how *Unlock) (string, error) {
	if _, err := v.context(); err != nil {
		return "", err
	}
	u, err := how.vault()
	if err != nil {
		return "", err
	}
	r, err := v.d.Respond(name, challenge, u)
	return r, wrap(err)
}

// ChangePIN re-seals the secret of the user called name under newPIN.
// For an enrolled user the old PIN is proved to the service first
// (CodeWrongPIN when it refuses; nothing changes), since the vault cannot
// tell a wrong old PIN and a secret re-sealed from one stays wrong for
// good. When the service cannot be reached the PIN is changed unchecked,
// as the Fyne app does.
func (v *Vault) ChangePIN(name, oldPIN, newPIN string) error {
	ctx, err := v.context()
	if err != nil {
		return err
	}
	_, err = v.d.ChangePIN(ctx, name, oldPIN, newPIN, core.ChangeOffline)
	return wrap(err)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
