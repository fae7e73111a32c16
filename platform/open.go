package platform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Kinds of SecretStore that [OpenSecretStoreKind] opens.
const (
	// StoreAuto is the OS keyring when it works, else the file store.
	StoreAuto = "auto"
	// StoreKeyring is the OS keyring, or an error when it does not work.
	StoreKeyring = "keyring"
	// StoreFile is the file store.
	StoreFile = "file"
)

// probeName is a name under which no secret is kept: reading it tells whether
// the keyring works.
const probeName = "ibkey-probe-absent"

// OpenSecretStore opens the SecretStore the command line uses: the OS keyring
// under service when it works; otherwise the file store in dir, after one line
// on stderr saying so when the file store is made. A file store that exists
// in dir is used as it is. It is OpenSecretStoreKind(StoreAuto, ...).
func OpenSecretStore(service, dir string, stderr io.Writer) (SecretStore, error) {
	return OpenSecretStoreKind(StoreAuto, service, dir, stderr)
}

// OpenSecretStoreKind opens the SecretStore of the kind chosen: [StoreAuto],
// [StoreKeyring] or [StoreFile]. The keyring is tried with a read of a name
// that does not exist: any answer but "not found" means it does not work.
// stderr may be nil.
func OpenSecretStoreKind(kind, service, dir string, stderr io.Writer) (SecretStore, error) {
	return openSecretStore(kind, dir, stderr, NewKeyring(service))
}

// openSecretStore is OpenSecretStoreKind with the keyring passed in, so that
// tests can hand it a working or a broken one.
func openSecretStore(kind, dir string, stderr io.Writer, keyring SecretStore) (SecretStore, error) {
	switch kind {
	case StoreFile:
		return NewFileStore(dir)
	case StoreKeyring:
		if err := probe(keyring); err != nil {
			return nil, fmt.Errorf("platform: no OS keyring: %w", err)
		}
		return keyring, nil
	case StoreAuto:
		// A file store made by an earlier fallback stays in use, so that
		// keys do not move when a keyring appears later; it was announced
		// when it was made.
		_, statErr := os.Stat(filepath.Join(dir, secretFileName))
		existed := statErr == nil
		if !existed && probe(keyring) == nil {
			return keyring, nil
		}
		store, err := NewFileStore(dir)
		if err != nil {
			return nil, err
		}
		if !existed && stderr != nil {
			fmt.Fprintf(stderr, "ibkey: no OS keyring; keeping keys in a file store in %s\n", dir)
		}
		return store, nil
	default:
		return nil, fmt.Errorf("platform: unknown secret store kind %q (want %s, %s or %s)", kind, StoreAuto, StoreKeyring, StoreFile)
	}
}

// probe reports whether keyring works: nil when a read of an absent name
// answers ErrNotFound (or, oddly, finds a secret).
func probe(keyring SecretStore) error {
	_, err := keyring.Get(probeName)
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
