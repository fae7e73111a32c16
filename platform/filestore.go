package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

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

// fileStore is a SecretStore kept in one file, rewritten atomically on every
// change.
type fileStore struct {
	dir  string
	path string
	mu   sync.Mutex // serialises read-modify-write within this process
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
// changing one store at the same time may lose one of the changes.
func NewFileStore(dir string) (SecretStore, error) {
	if dir == "" {
		return nil, errors.New("platform: file store needs a directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("platform: create file store directory: %w", err)
	}
	return &fileStore{dir: dir, path: filepath.Join(dir, secretFileName)}, nil
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
	secrets[name] = bytes.Clone(secret)
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
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return make(map[string][]byte), nil
	}
	if err != nil {
		return nil, fmt.Errorf("platform: open secret file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
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
	if err := atomicfile.Write(s.path, data); err != nil {
		return fmt.Errorf("platform: write secret file: %w", err)
	}
	return nil
}
