package portal

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
var ErrWrongKey = errors.New("portal: the key file does not open this database")

// MasterKey is the service's master key: 32 random bytes kept outside the
// database (in a key file, see [OpenSQLiteKeyFile]). The store seals
// under it, with XChaCha20-Poly1305, the OCRA secret and card PIN hash of
// each device and the service's identity key, so that a copy of the
// database alone gives none of them. A MasterKey prints as "redacted".
type MasterKey struct{ k *atrest.Key }

// NewMasterKey makes a MasterKey of 32 bytes.
func NewMasterKey(b []byte) (*MasterKey, error) {
	k, err := atrest.NewKey(b)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	return &MasterKey{k}, nil
}

// String hides the key from logs and %v.
func (k *MasterKey) String() string { return "portal.MasterKey(redacted)" }

// GoString hides the key from %#v.
func (k *MasterKey) GoString() string { return k.String() }

// DefaultKeyFile is the key file of the database at dbPath when none is
// named: beside it, with ".key" added.
func DefaultKeyFile(dbPath string) string { return dbPath + ".key" }

// OpenSQLiteKeyFile opens the database at path as [OpenSQLite] does, with
// the master key in keyFile ([DefaultKeyFile] of path when empty).
//
// On the first start, when the database holds no sealed value yet (a new
// database, or one of an older version, whose secrets are then sealed in
// one transaction), a missing key file is made: 32 random bytes, mode
// 0600, written atomically and never over an existing file. When the
// database holds sealed values, a missing or wrong key file is
// [ErrWrongKey] and the database is left as it was: a key is never made
// anew over it.
func OpenSQLiteKeyFile(path, keyFile string) (Store, error) {
	if keyFile == "" {
		if path == ":memory:" {
			return nil, errors.New("portal: an in-memory database needs a key file named")
		}
		keyFile = DefaultKeyFile(path)
	}
	created, missing := false, false
	st, err := openSQLite(path, 0, func(sealed bool) (*MasterKey, error) {
		k, err := readKeyFile(keyFile)
		if !errors.Is(err, fs.ErrNotExist) {
			return k, err
		}
		if sealed {
			missing = true
			return nil, fmt.Errorf("%w (%s is missing)", ErrWrongKey, keyFile)
		}
		k, created, err = createKeyFile(keyFile, rand.Reader)
		return k, err
	})
	if errors.Is(err, ErrWrongKey) && !missing {
		if created {
			// Another process sealed the database under another key
			// meanwhile: the key made here opens nothing.
			os.Remove(keyFile)
		}
		err = fmt.Errorf("%w (%s)", ErrWrongKey, keyFile)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// readKeyFile reads a master key: a file of exactly 32 bytes.
func readKeyFile(name string) (*MasterKey, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("portal: key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MasterKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("portal: key file: %w", err)
	}
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("portal: key file %s is not %d bytes", name, MasterKeySize)
	}
	return NewMasterKey(b)
}

// createKeyFile makes a new master key in name, or reads the one another
// process made first. created says whether this call made it.
func createKeyFile(name string, rnd io.Reader) (k *MasterKey, created bool, err error) {
	b := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, false, fmt.Errorf("portal: master key: %w", err)
	}
	if err := atomicfile.Create(name, b); errors.Is(err, fs.ErrExist) {
		k, err := readKeyFile(name)
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("portal: create key file: %w", err)
	}
	k, err = NewMasterKey(b)
	return k, true, err
}
