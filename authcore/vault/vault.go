package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"ibkey/internal/atomicfile"
)

// SecretStore keeps the vault's device-bound secrets (the vault key and the
// device pepper): the platform's keyring, keychain or keystore. It must be
// scoped to one vault. Get reports absence with an error for which
// errors.Is(err, fs.ErrNotExist) is true.
type SecretStore interface {
	Get(name string) ([]byte, error)
	Set(name string, secret []byte) error
	Delete(name string) error
}

// Biometrics creates random keys that only a successful biometric check
// releases. Enroll creates the key called name and returns it;
// Authenticate asks for the check, showing reason, and returns the key.
type Biometrics interface {
	Enroll(name string) ([]byte, error)
	Authenticate(name, reason string) ([]byte, error)
	Remove(name string) error
}

// Names of the vault's files in its folder and of its secrets in the
// SecretStore.
const (
	FileName     = "vault.ibk"
	lockName     = "vault.lock"
	VaultKeyName = "vault-key"
	PepperName   = "device-pepper"
)

// lastUsedStep is how stale LastUsed may get before Unlock rewrites it:
// LastUsed is kept to the minute, so that a burst of unlocks writes once.
const lastUsedStep = time.Minute

// Vault is the users of one device, kept in one file. It is safe for
// concurrent use, and several processes may use one vault at once.
type Vault struct {
	store   Storage
	dir     string // the folder, when opened with Open
	path    string // the file's name in messages
	secrets SecretStore
	bio     Biometrics
	key     []byte // the vault key: seals the file
	pepper  []byte // the device pepper: an input of every PIN seal

	kdf      KDF              // the cost of new PIN seals; tests lower it
	lockWait time.Duration    // how long to wait for another process's lock
	clock    func() time.Time // the time of a read; tests move it

	mu    sync.Mutex // serialises writes within the process
	cmu   sync.Mutex // guards cache
	cache cache
}

// cache is the file as last read or written, decoded: the sealed slots stay
// sealed, as in the file. The file is read again only when its stamp says
// it changed, or cannot say; it is decoded again only when its bytes
// changed.
type cache struct {
	raw   []byte // the file's bytes
	stamp string // atomicfile's stamp of raw; "" when unknown
	body  *body  // raw decoded; never changed in place
	users []User // body's users, sorted by name
}

// Storage keeps the vault's file: a folder of the file system ([Open]) or
// the browser's IndexedDB ([OpenStorage]). Implementations are safe for
// concurrent use.
type Storage interface {
	// Read returns the content of the file called name, at most limit
	// bytes, and a stamp of it: a string equal to what Stamp returns
	// until the file changes, or "" when the backend cannot tell at this
	// time now (then the vault compares the bytes). A missing file gives
	// an error matching fs.ErrNotExist.
	Read(name string, limit int64, now time.Time) (data []byte, stamp string, err error)
	// Stamp returns the stamp the file called name has now, without
	// reading it.
	Stamp(name string) (string, error)
	// Replace replaces (or makes) the file called name with data,
	// atomically: after a crash it holds the old content or the new,
	// whole.
	Replace(name string, data []byte) error
	// TryLock takes the exclusive lock called name without waiting, one
	// that other processes (other tabs) using the same storage respect; ok
	// is false when another holder has it. unlock releases it.
	TryLock(name string) (unlock func(), ok bool, err error)
}

// Open opens the vault in the folder dir, creating it (mode 0700) when it
// is missing: the file vault.ibk (mode 0600), written atomically
// (temporary file, fsync, rename, fsync of the folder) under the lock file
// vault.lock (flock). It is OpenStorage over the folder.
func Open(dir string, secrets SecretStore, bio Biometrics) (*Vault, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: no vault folder", ErrInvalid)
	}
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("vault: create folder: %w", err)
	}
	return open(d, d.Path(), secrets, bio)
}

// OpenStorage opens the vault kept in st. On first use it creates the
// vault key and the device pepper in secrets and writes an empty vault. bio
// may be nil: then users with a biometric gate can be listed but not added
// or unlocked by biometrics.
//
// A vault file that cannot be read (damaged, truncated, from a newer
// version, sealed under a key that secrets does not hold) gives an error
// and is left as it is.
func OpenStorage(st Storage, secrets SecretStore, bio Biometrics) (*Vault, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: no storage", ErrInvalid)
	}
	return open(st, "", secrets, bio)
}

func open(st Storage, dir string, secrets SecretStore, bio Biometrics) (*Vault, error) {
	if secrets == nil {
		return nil, fmt.Errorf("%w: no secret store", ErrInvalid)
	}
	path := FileName
	if dir != "" {
		path = filepath.Join(dir, FileName)
	} else if s, ok := st.(fmt.Stringer); ok {
		path = s.String() + "/" + FileName
	}
	v := &Vault{
		store: st, dir: dir, path: path,
		secrets: secrets, bio: bio,
		kdf: DefaultKDF, lockWait: 10 * time.Second, clock: time.Now,
	}
	err := v.withLock(func() error {
		data, stamp, err := v.readFile()
		if err != nil {
			return err
		}
		key, err := v.getSecret(VaultKeyName)
		if err != nil {
			return err
		}
		pepper, err := v.getSecret(PepperName)
		if err != nil {
			return err
		}
		if data != nil {
			if key == nil || pepper == nil {
				return fmt.Errorf("%w: the secret store has lost the vault's keys", ErrDamaged)
			}
			v.key, v.pepper = key, pepper
			b, err := v.decode(data)
			if err != nil {
				return err
			}
			v.setCache(data, stamp, b)
			return nil
		}
		// A new vault: keep the keys a store may still hold (a vault file
		// deleted by hand), make the ones it lacks.
		if key == nil {
			if key, err = v.newSecret(VaultKeyName); err != nil {
				return err
			}
		}
		if pepper == nil {
			if pepper, err = v.newSecret(PepperName); err != nil {
				return err
			}
		}
		v.key, v.pepper = key, pepper
		return v.save(&body{PepperID: pepperID(pepper), Users: []record{}})
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Vault) getSecret(name string) ([]byte, error) {
	b, err := v.secrets.Get(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read %s: %w", name, err)
	}
	if len(b) != keySize {
		return nil, fmt.Errorf("%w: %s in the secret store has %d bytes, want %d", ErrDamaged, name, len(b), keySize)
	}
	return b, nil
}

func (v *Vault) newSecret(name string) ([]byte, error) {
	b := make([]byte, keySize)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return nil, fmt.Errorf("vault: read random: %w", err)
	}
	if err := v.secrets.Set(name, b); err != nil {
		return nil, fmt.Errorf("vault: keep %s: %w", name, err)
	}
	return b, nil
}

// withLock runs fn holding the vault's lock: the process's mutex and the
// storage's lock, so that no other process (or tab) writes meanwhile.
func (v *Vault) withLock(fn func() error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	deadline := time.Now().Add(v.lockWait)
	for wait := time.Millisecond; ; wait = nextLockWait(wait) {
		unlock, ok, err := v.store.TryLock(lockName)
		if err != nil {
			return fmt.Errorf("vault: lock: %w", err)
		}
		if ok {
			defer unlock()
			return fn()
		}
		if time.Now().After(deadline) {
			where := lockName
			if v.dir != "" {
				where = filepath.Join(v.dir, lockName)
			}
			return fmt.Errorf("%w (waited %v for %s)", ErrLocked, v.lockWait, where)
		}
		time.Sleep(wait)
	}
}

// nextLockWait is the pause after w before the next try of a lock that
// another holds: doubled, at most 50 ms.
func nextLockWait(w time.Duration) time.Duration { return min(2*w, 50*time.Millisecond) }

// readFile returns the vault file and its stamp, or nil when there is
// none.
func (v *Vault) readFile() ([]byte, string, error) {
	data, stamp, err := v.store.Read(FileName, maxFileSize+1, v.clock())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("vault: read %s: %w", v.path, err)
	}
	return data, stamp, nil
}

func (v *Vault) decode(data []byte) (*body, error) {
	b, err := decodeFile(data, v.key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.path, err)
	}
	if !bytes.Equal(b.PepperID, pepperID(v.pepper)) {
		return nil, fmt.Errorf("%s: %w: the device pepper in the secret store is not the vault's", v.path, ErrDamaged)
	}
	return b, nil
}

// load returns the vault as the file holds it now: from the cache when
// the file's stamp is the cache's, or its bytes are. A missing file
// (deleted since Open) is an error: the vault never silently starts over.
// The body returned is shared: change a clone (see update).
func (v *Vault) load() (*body, error) {
	c := v.cached()
	if c.stamp != "" {
		if now, err := v.store.Stamp(FileName); err == nil && now == c.stamp {
			return c.body, nil
		}
	}
	data, stamp, err := v.readFile()
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%w: %s is missing", ErrDamaged, v.path)
	}
	if c.body != nil && bytes.Equal(data, c.raw) {
		v.cmu.Lock()
		if bytes.Equal(v.cache.raw, data) {
			v.cache.stamp = stamp
		}
		v.cmu.Unlock()
		return c.body, nil
	}
	b, err := v.decode(data)
	if err != nil {
		return nil, err
	}
	v.setCache(data, stamp, b)
	return b, nil
}

func (v *Vault) save(b *body) error {
	data, err := encodeFile(b, v.key, rand.Reader)
	if err != nil {
		return err
	}
	if err := v.store.Replace(FileName, data); err != nil {
		return fmt.Errorf("vault: write %s: %w", v.path, err)
	}
	// The stamp of a file just written cannot tell a change yet: the next
	// load compares the bytes.
	v.setCache(data, "", b)
	return nil
}

// update is a read-modify-write of the file under the lock. fn changes a
// copy of the body whose Users slice is its own: fn may append, delete and
// set fields of records, but not change the bytes of a record in place. A
// file that does not read is never written.
func (v *Vault) update(fn func(b *body) error) error {
	return v.withLock(func() error {
		cur, err := v.load()
		if err != nil {
			return err
		}
		b := &body{PepperID: cur.PepperID, Users: slices.Clone(cur.Users)}
		if err := fn(b); err != nil {
			return err
		}
		return v.save(b)
	})
}

func (v *Vault) cached() cache {
	v.cmu.Lock()
	defer v.cmu.Unlock()
	return v.cache
}

func (v *Vault) setCache(raw []byte, stamp string, b *body) {
	if b.byName == nil {
		b.byName = make(map[string]int, len(b.Users))
		for i := range b.Users {
			b.byName[b.Users[i].Name] = i
		}
	}
	users := sortedUsers(b)
	v.cmu.Lock()
	v.cache = cache{raw: raw, stamp: stamp, body: b, users: users}
	v.cmu.Unlock()
}

// Users returns the users sorted by name, reloaded from the file; if the
// file cannot be read it returns the users last read. Use List to see the
// error.
func (v *Vault) Users() []User {
	users, err := v.List()
	if err != nil {
		return cloneUsers(v.cached().users)
	}
	return users
}

// List returns the users sorted by name, as the file holds them now.
func (v *Vault) List() ([]User, error) {
	b, err := v.load()
	if err != nil {
		return nil, err
	}
	c := v.cached()
	if c.body != b { // changed meanwhile by another call
		return sortedUsers(b), nil
	}
	return cloneUsers(c.users), nil
}

func sortedUsers(b *body) []User {
	users := make([]User, len(b.Users))
	for i := range b.Users {
		users[i] = b.Users[i].user()
	}
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return users
}

// cloneUsers copies users and their service keys, so that callers cannot
// change the cache.
func cloneUsers(users []User) []User {
	out := slices.Clone(users)
	for i := range out {
		out[i].ServiceKey = bytes.Clone(out[i].ServiceKey)
	}
	return out
}

func find(b *body, name string) (*record, error) {
	if b.byName != nil {
		if i, ok := b.byName[name]; ok {
			return &b.Users[i], nil
		}
		return nil, fmt.Errorf("%w: %q", ErrNoUser, name)
	}
	for i := range b.Users {
		if b.Users[i].Name == name {
			return &b.Users[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoUser, name)
}

func findID(b *body, id []byte) (*record, error) {
	for i := range b.Users {
		if bytes.Equal(b.Users[i].ID, id) {
			return &b.Users[i], nil
		}
	}
	return nil, fmt.Errorf("%w: removed meanwhile", ErrNoUser)
}

// User returns the user called name, or ErrNoUser.
func (v *Vault) User(name string) (User, error) {
	b, err := v.load()
	if err != nil {
		return User{}, err
	}
	r, err := find(b, name)
	if err != nil {
		return User{}, err
	}
	return r.user(), nil
}

// Add seals u's secret behind its gates and adds u. It checks every field
// (name, PIN rules, suite, key sizes) and returns ErrExists when a user has
// u.Name already. now is the user's creation time.
func (v *Vault) Add(u NewUser, rand io.Reader, now time.Time) error {
	gate, err := u.check()
	if err != nil {
		return err
	}
	if _, err := v.User(u.Name); err == nil {
		return fmt.Errorf("%w: %q", ErrExists, u.Name)
	} else if !errors.Is(err, ErrNoUser) {
		return err
	}
	r := record{
		ID: make([]byte, idSize), Name: u.Name, Account: u.Account, Service: u.Service,
		DeviceID: u.DeviceID, Suite: u.Suite.String(), Gate: gate, Created: now.UTC().Round(0),
		ServiceKey:  bytes.Clone(u.ServiceKey),
		ChannelKey:  bytes.Clone(u.ChannelKey),
		DeliveryKey: bytes.Clone(u.DeliveryKey),
	}
	if _, err := io.ReadFull(rand, r.ID); err != nil {
		return fmt.Errorf("vault: read random: %w", err)
	}
	switch {
	case gate == GateCard:
		r.Card = bytes.Clone(u.Secret)
	case gate.HasPIN():
		if r.PIN, err = sealPIN(u.Secret, u.PIN, v.pepper, v.kdf, rand); err != nil {
			return err
		}
	}
	enrolled := ""
	if gate.HasBiometric() {
		if v.bio == nil {
			return ErrNoBiometrics
		}
		name := "ibkey-bio-" + hex.EncodeToString(r.ID)
		key, err := v.bio.Enroll(name)
		if err != nil {
			return fmt.Errorf("vault: enroll biometrics: %w", err)
		}
		enrolled = name
		r.Bio, err = sealBio(u.Secret, key, r.ID, name, rand)
		clear(key)
		if err != nil {
			v.bio.Remove(name)
			return err
		}
	}
	err = v.update(func(b *body) error {
		if _, err := find(b, u.Name); err == nil {
			return fmt.Errorf("%w: %q", ErrExists, u.Name)
		}
		if len(b.Users) >= maxUsers {
			return fmt.Errorf("%w: at most %d users", ErrInvalid, maxUsers)
		}
		b.Users = append(b.Users, r)
		return nil
	})
	if err != nil && enrolled != "" {
		v.bio.Remove(enrolled)
	}
	return err
}

// Remove removes the user called name, and its biometric key.
func (v *Vault) Remove(name string) error {
	var bioKey string
	err := v.update(func(b *body) error {
		r, err := find(b, name)
		if err != nil {
			return err
		}
		if r.Bio != nil {
			bioKey = r.Bio.Key
		}
		b.Users = slices.DeleteFunc(b.Users, func(x record) bool { return x.Name == name })
		return nil
	})
	if err != nil {
		return err
	}
	if bioKey != "" && v.bio != nil {
		if err := v.bio.Remove(bioKey); err != nil {
			return fmt.Errorf("vault: user removed; its biometric key stays: %w", err)
		}
	}
	return nil
}

// Rename gives the user called old the name new.
func (v *Vault) Rename(old, new string) error {
	if err := checkName(new); err != nil {
		return err
	}
	return v.update(func(b *body) error {
		r, err := find(b, old)
		if err != nil {
			return err
		}
		if old == new {
			return nil
		}
		if _, err := find(b, new); err == nil {
			return fmt.Errorf("%w: %q", ErrExists, new)
		}
		r.Name = new
		return nil
	})
}

// Keys returns the user's device-channel key and X25519 delivery key, which
// work before unlock: they are sealed under the vault key, not the PIN.
// Either may be nil.
func (v *Vault) Keys(name string) (channelKey, deliveryKey []byte, err error) {
	b, err := v.load()
	if err != nil {
		return nil, nil, err
	}
	r, err := find(b, name)
	if err != nil {
		return nil, nil, err
	}
	return bytes.Clone(r.ChannelKey), bytes.Clone(r.DeliveryKey), nil
}

// Unlock says which gate opens a secret: a PIN or a biometric check, whose
// prompt shows Reason. For a card the PIN is the card's PIN.
type Unlock struct {
	PIN       string
	Biometric bool
	Reason    string
}

// Unlock opens the secret of the user called name through the gate how
// chooses and records now as the user's last use (kept to the minute).
//
// A wrong PIN is not an error: it opens a wrong secret, whose responses
// the service refuses. A PIN that breaks the length or character rules is
// ErrBadPIN; a gate the user does not have is ErrNoGate.
func (v *Vault) Unlock(name string, how Unlock, now time.Time) (*Secret, error) {
	b, err := v.load()
	if err != nil {
		return nil, err
	}
	r, err := find(b, name)
	if err != nil {
		return nil, err
	}
	suite := r.user().Suite
	s := &Secret{suite: suite}
	switch {
	case how.PIN != "" && how.Biometric:
		return nil, fmt.Errorf("%w: choose a PIN or biometrics, not both", ErrNoGate)
	case r.Gate == GateCard:
		if how.Biometric {
			return nil, fmt.Errorf("%w: %q is a card: it takes its PIN", ErrNoGate, name)
		}
		if err := checkPINForm(how.PIN); err != nil {
			return nil, err
		}
		s.key, s.pin = bytes.Clone(r.Card), how.PIN
	case how.PIN != "":
		if r.PIN == nil {
			return nil, fmt.Errorf("%w: %q has no PIN", ErrNoGate, name)
		}
		if err := checkPINForm(how.PIN); err != nil {
			return nil, err
		}
		s.key = r.PIN.open(how.PIN, v.pepper)
	case how.Biometric:
		if r.Bio == nil {
			return nil, fmt.Errorf("%w: %q has no biometric gate", ErrNoGate, name)
		}
		if v.bio == nil {
			return nil, ErrNoBiometrics
		}
		key, err := v.bio.Authenticate(r.Bio.Key, how.Reason)
		if err != nil {
			return nil, fmt.Errorf("vault: biometric check: %w", err)
		}
		s.key, err = r.Bio.open(key, r.ID)
		clear(key)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: give a PIN or ask for biometrics", ErrNoGate)
	}
	now = now.UTC().Round(0)
	if d := now.Sub(r.LastUsed); r.LastUsed.IsZero() || d >= lastUsedStep || d <= -lastUsedStep {
		err := v.update(func(b *body) error {
			r, err := findID(b, r.ID)
			if err != nil {
				return err
			}
			r.LastUsed = now
			return nil
		})
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ChangePIN re-seals the user's secret under newPIN, with a fresh salt and
// the current cost.
//
// The vault cannot tell whether oldPIN is right: that is the point of the
// PIN gate. A wrong oldPIN re-seals a wrong secret, and the user's
// responses stay wrong for good. The caller must confirm oldPIN first, by a
// response that the service accepts (the app does so when online).
func (v *Vault) ChangePIN(name, oldPIN, newPIN string, rand io.Reader) error {
	if err := CheckPIN(newPIN); err != nil {
		return err
	}
	if err := checkPINForm(oldPIN); err != nil {
		return err
	}
	b, err := v.load()
	if err != nil {
		return err
	}
	r, err := find(b, name)
	if err != nil {
		return err
	}
	if r.PIN == nil {
		if r.Gate == GateCard {
			return fmt.Errorf("%w: %q is a card: its PIN is changed at the service", ErrNoGate, name)
		}
		return fmt.Errorf("%w: %q has no PIN", ErrNoGate, name)
	}
	secret := r.PIN.open(oldPIN, v.pepper)
	slot, err := sealPIN(secret, newPIN, v.pepper, v.kdf, rand)
	clear(secret)
	if err != nil {
		return err
	}
	return v.update(func(b *body) error {
		cur, err := findID(b, r.ID)
		if err != nil {
			return err
		}
		if cur.PIN == nil || !bytes.Equal(cur.PIN.Salt, r.PIN.Salt) {
			return fmt.Errorf("vault: the PIN of %q changed meanwhile", name)
		}
		cur.PIN = slot
		return nil
	})
}
