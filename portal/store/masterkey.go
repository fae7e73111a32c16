package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"ibkey/internal/atomicfile"
	"ibkey/internal/atrest"
)

// MasterKeySize is the size of the service's master key.
const MasterKeySize = atrest.KeySize

// ErrWrongKey means the database holds values sealed under another master
// key than the one given, or that its key file is missing. The database is
// left as it was.
var ErrWrongKey = errors.New("store: the key file does not open this database")

// MasterKey is the service's master key: 32 random bytes kept outside the
// database (in a key file, see [OpenKeyFile]). Every engine seals under it,
// with XChaCha20-Poly1305, the OCRA secret and card PIN hash of each
// device, the service's identity key and the portal's sessions, so that a
// copy of the database alone gives none of them. A MasterKey prints as
// "redacted".
type MasterKey struct{ k *atrest.Key }

// NewMasterKey makes a MasterKey of 32 bytes.
func NewMasterKey(b []byte) (*MasterKey, error) {
	k, err := atrest.NewKey(b)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &MasterKey{k}, nil
}

// AtRest is the sealing key of an engine.
func (k *MasterKey) AtRest() *atrest.Key { return k.k }

// String hides the key from logs and %v.
func (k *MasterKey) String() string { return "store.MasterKey(redacted)" }

// GoString hides the key from %#v.
func (k *MasterKey) GoString() string { return k.String() }

// KeyFor gives an engine's open its master key once it knows whether the
// database holds sealed values already (sealed): an engine calls it before
// it writes anything.
type KeyFor func(sealed bool) (*MasterKey, error)

// FixedKey is the KeyFor of a key in hand.
func FixedKey(k *MasterKey) KeyFor {
	return func(bool) (*MasterKey, error) {
		if k == nil {
			return nil, errors.New("store: no master key")
		}
		return k, nil
	}
}

// OpenKeyFile opens a store (open is an engine's open with a KeyFor) with
// the master key in keyFile.
//
// On the first start, when the database holds no sealed value yet (a new
// database, or one of an older version, whose secrets are then sealed in
// one transaction), a missing key file is made: 32 random bytes, mode
// 0600, written atomically and never over an existing file. When the
// database holds sealed values, a missing or wrong key file is
// [ErrWrongKey] and the database is left as it was: a key is never made
// anew over it. made says whether this call made the key file.
func OpenKeyFile(keyFile string, open func(KeyFor) (Store, error)) (st Store, made bool, err error) {
	if keyFile == "" {
		return nil, false, errors.New("store: no key file named")
	}
	missing := false
	st, err = open(func(sealed bool) (*MasterKey, error) {
		k, err := ReadKeyFile(keyFile)
		if !errors.Is(err, fs.ErrNotExist) {
			return k, err
		}
		if sealed {
			missing = true
			return nil, fmt.Errorf("%w (%s is missing)", ErrWrongKey, keyFile)
		}
		k, made, err = createKeyFile(keyFile, rand.Reader)
		return k, err
	})
	if errors.Is(err, ErrWrongKey) && !missing {
		if made {
			// Another process sealed the database under another key
			// meanwhile: the key made here opens nothing.
			os.Remove(keyFile)
			made = false
		}
		err = fmt.Errorf("%w (%s)", ErrWrongKey, keyFile)
	}
	if err != nil {
		return nil, false, err
	}
	return st, made, nil
}

// ReadKeyFile reads a master key: a file of exactly 32 bytes.
func ReadKeyFile(name string) (*MasterKey, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("store: key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MasterKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("store: key file: %w", err)
	}
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("store: key file %s is not %d bytes", name, MasterKeySize)
	}
	return NewMasterKey(b)
}

// LoadOrCreateKeyFile reads the master key in name, or makes it there
// (32 random bytes, mode 0600, atomically) when there is none. created
// says whether this call made it.
func LoadOrCreateKeyFile(name string) (k *MasterKey, created bool, err error) {
	k, err = ReadKeyFile(name)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	return createKeyFile(name, rand.Reader)
}

// createKeyFile makes a new master key in name, or reads the one another
// process made first. created says whether this call made it.
func createKeyFile(name string, rnd io.Reader) (k *MasterKey, created bool, err error) {
	b := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, false, fmt.Errorf("store: master key: %w", err)
	}
	if err := atomicfile.Create(name, b); errors.Is(err, fs.ErrExist) {
		k, err := ReadKeyFile(name)
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("store: create key file: %w", err)
	}
	k, err = NewMasterKey(b)
	return k, true, err
}
