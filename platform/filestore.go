package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"ibkey/internal/atomicfile"
)

const (
	// secretFileName is the name of the file store's file in its directory.
	secretFileName = "secrets"
	// secretFileVersion is the version of the file's format written.
	secretFileVersion = 1
	// maxSecretFileSize caps how much of a secret file is read.
	maxSecretFileSize = 1 << 20
)

// secretFile is the JSON form of the file store's file. Secrets are
// base64-encoded by encoding/json.
type secretFile struct {
	Version int               `json:"version"`
	Secrets map[string][]byte `json:"secrets"`
}

// Storage keeps the file store's file: a folder of the file system
// ([NewFileStore]) or, in a browser, IndexedDB. It is the storage seam the
// vault keeps its file behind too (vault.Storage).
type Storage interface {
	// Read returns the content of the file called name, at most limit
	// bytes, and a stamp of it; an error matching fs.ErrNotExist when
	// there is none.
	Read(name string, limit int64, now time.Time) (data []byte, stamp string, err error)
	// Stamp returns the stamp the file called name has now.
	Stamp(name string) (string, error)
	// Replace replaces (or makes) the file called name with data,
	// atomically.
	Replace(name string, data []byte) error
	// TryLock takes the exclusive lock called name without waiting.
	TryLock(name string) (unlock func(), ok bool, err error)
}

// sealer seals each secret of a file store before it is stored, and opens
// it when read: the browser's store seals with a WebCrypto key that cannot
// be exported. name is bound to the seal.
type sealer interface {
	seal(name string, secret []byte) ([]byte, error)
	open(name string, sealed []byte) ([]byte, error)
}

// fileStore is a SecretStore kept in one file, rewritten atomically on every
// change.
type fileStore struct {
	st    Storage
	path  string     // the file, in messages
	sealr sealer     // nil: secrets are kept as they are
	mu    sync.Mutex // serialises read-modify-write within this process
}

// NewFileStore returns a SecretStore that keeps its secrets in the file
// dir/secrets (mode 0600), creating dir (mode 0700) if needed. It is meant for
// machines without an OS keyring: the secrets are protected only by the file's
// permissions.
//
// Every change rewrites the whole file atomically (a temporary file in dir,
// fsync, rename, fsync of dir), so a crash leaves either the old or the new
// file. A damaged file makes every method fail with an error wrapping
// [ErrDamaged] and is never overwritten.
//
// The store is safe for concurrent use within one process; two processes
// changing one store at the same time may lose one of the changes. (The
// vault sets its secrets only while it holds its own lock.)
func NewFileStore(dir string) (SecretStore, error) {
	if dir == "" {
		return nil, errors.New("platform: file store needs a directory")
	}
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("platform: create file store directory: %w", err)
	}
	return &fileStore{st: d, path: filepath.Join(d.Path(), secretFileName)}, nil
}

func (s *fileStore) Get(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, err := s.load()
	if err != nil {
		return nil, err
	}
	secret, ok := secrets[name]
	if !ok {
		return nil, ErrNotFound
	}
	if s.sealr != nil {
		return s.sealr.open(name, secret)
	}
	return secret, nil
}

func (s *fileStore) Set(name string, secret []byte) error {
	if err := checkSet(name, secret); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, err := s.load()
	if err != nil {
		return err
	}
	if s.sealr != nil {
		if secrets[name], err = s.sealr.seal(name, secret); err != nil {
			return err
		}
	} else {
		secrets[name] = bytes.Clone(secret)
	}
	return s.save(secrets)
}

func (s *fileStore) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := secrets[name]; !ok {
		return nil
	}
	delete(secrets, name)
	return s.save(secrets)
}

// load reads the file; a missing file is an empty store. Errors never quote
// the file's content, which holds secrets.
func (s *fileStore) load() (map[string][]byte, error) {
	data, _, err := s.st.Read(secretFileName, maxSecretFileSize+1, time.Now())
	if errors.Is(err, fs.ErrNotExist) {
		return make(map[string][]byte), nil
	}
	if err != nil {
		return nil, fmt.Errorf("platform: read secret file: %w", err)
	}
	if len(data) > maxSecretFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrDamaged, s.path, maxSecretFileSize)
	}
	var file secretFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil || dec.More() {
		// The decoder's message may quote a byte of the file: leave it out.
		return nil, fmt.Errorf("%w: %s is not a valid secret file", ErrDamaged, s.path)
	}
	if file.Version != secretFileVersion {
		return nil, fmt.Errorf("%w: %s has version %d, want %d", ErrDamaged, s.path, file.Version, secretFileVersion)
	}
	if file.Secrets == nil {
		file.Secrets = make(map[string][]byte)
	}
	return file.Secrets, nil
}

// save writes secrets to the file atomically.
func (s *fileStore) save(secrets map[string][]byte) error {
	data, err := json.Marshal(secretFile{Version: secretFileVersion, Secrets: secrets})
	if err != nil {
		return fmt.Errorf("platform: encode secret file: %w", err)
	}
	if err := s.st.Replace(secretFileName, data); err != nil {
		return fmt.Errorf("platform: write secret file: %w", err)
	}
	return nil
}
