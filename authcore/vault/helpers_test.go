package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"

	"ibkey/internal/atomicfile"
)

// testKDF is a cheap Argon2id cost for tests that derive many times.
var testKDF = KDF{MemoryKiB: 8, Time: 1, Threads: 1}

var (
	suiteIB    = ocra.MustParseSuite("OCRA-1:HOTP-SHA256-8:QN06")
	suiteCard  = ocra.MustParseSuite("OCRA-1:HOTP-SHA256-8:QN06-PSHA1")
	testNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	errNoEntry = fmt.Errorf("test store: %w", fs.ErrNotExist)
)

// memStore is a SecretStore in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[name]
	if !ok {
		return nil, errNoEntry
	}
	return bytes.Clone(b), nil
}

func (s *memStore) Set(name string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = bytes.Clone(b)
	return nil
}

func (s *memStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

// dirStore is a SecretStore of one file per secret, so that processes
// share it.
type dirStore string

func (d dirStore) Get(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), name))
}
func (d dirStore) Set(name string, b []byte) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(string(d), name), b)
}
func (d dirStore) Delete(name string) error { return os.Remove(filepath.Join(string(d), name)) }

// fakeBio is a Biometrics whose check passes unless fail is set.
type fakeBio struct {
	mu   sync.Mutex
	keys map[string][]byte
	fail error
}

func newFakeBio() *fakeBio { return &fakeBio{keys: map[string][]byte{}} }

func (f *fakeBio) Enroll(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := make([]byte, 32)
	rand.Read(k)
	f.keys[name] = k
	return bytes.Clone(k), nil
}

func (f *fakeBio) Authenticate(name, reason string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	k, ok := f.keys[name]
	if !ok {
		return nil, errors.New("fake biometrics: no key")
	}
	return bytes.Clone(k), nil
}

func (f *fakeBio) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, name)
	return nil
}

// openTest opens a vault in dir with cheap PIN seals.
func openTest(t testing.TB, dir string, s SecretStore, bio Biometrics) *Vault {
	t.Helper()
	v, err := Open(dir, s, bio)
	if err != nil {
		t.Fatal(err)
	}
	v.kdf = testKDF
	return v
}

func newTest(t testing.TB) (*Vault, *memStore, *fakeBio) {
	t.Helper()
	s, bio := newMemStore(), newFakeBio()
	return openTest(t, filepath.Join(t.TempDir(), "vault"), s, bio), s, bio
}

func secret32(seed byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func pinUser(name, pin string, secret []byte) NewUser {
	return NewUser{Name: name, Account: name + "-acct", Service: "https://ib.example", DeviceID: "dev-" + name,
		Suite: suiteIB, Secret: secret, PIN: pin}
}

func mustAdd(t testing.TB, v *Vault, u NewUser) {
	t.Helper()
	if err := v.Add(u, rand.Reader, testNow); err != nil {
		t.Fatalf("Add %q: %v", u.Name, err)
	}
}

// respond unlocks name with how and answers challenge.
func respond(t testing.TB, v *Vault, name string, how Unlock, challenge string) string {
	t.Helper()
	s, err := v.Unlock(name, how, testNow)
	if err != nil {
		t.Fatalf("Unlock %q: %v", name, err)
	}
	defer s.Close()
	r, err := s.Respond(ocra.Input{Challenge: challenge})
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	return r
}

func want(t testing.TB, suite ocra.Suite, key []byte, in ocra.Input) string {
	t.Helper()
	r, err := ocra.Generate(suite, key, in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
