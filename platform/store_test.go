package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testSecretStore checks the SecretStore contract on s, which must be empty.
func testSecretStore(t *testing.T, s SecretStore) {
	t.Helper()
	key := bytes.Repeat([]byte{0xA5}, 32)
	pepper := []byte("pepper\x00\xff binary")

	if _, err := s.Get("vault-key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an absent name: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete("vault-key"); err != nil {
		t.Fatalf("Delete of an absent name: %v", err)
	}

	in := bytes.Clone(key)
	if err := s.Set("vault-key", in); err != nil {
		t.Fatalf("Set: %v", err)
	}
	in[0] ^= 0xFF // the store must have copied it
	if err := s.Set("pepper", pepper); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Set("empty", nil); err != nil {
		t.Fatalf("Set of an empty secret: %v", err)
	}

	for _, tc := range []struct {
		name string
		want []byte
	}{
		{"vault-key", key},
		{"pepper", pepper},
		{"empty", nil},
	} {
		got, err := s.Get(tc.name)
		if err != nil {
			t.Fatalf("Get(%q): %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("Get(%q) = %x, want %x", tc.name, got, tc.want)
		}
	}

	out, _ := s.Get("vault-key")
	out[0] ^= 0xFF // and must hand out a copy
	if got, _ := s.Get("vault-key"); !bytes.Equal(got, key) {
		t.Fatalf("changing a returned secret changed the store")
	}

	key2 := bytes.Repeat([]byte{0x5A}, 32)
	if err := s.Set("vault-key", key2); err != nil {
		t.Fatalf("Set over an existing secret: %v", err)
	}
	if got, _ := s.Get("vault-key"); !bytes.Equal(got, key2) {
		t.Fatalf("after replacing: Get = %x, want %x", got, key2)
	}

	if err := s.Delete("vault-key"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get("vault-key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if got, err := s.Get("pepper"); err != nil || !bytes.Equal(got, pepper) {
		t.Fatalf("Delete removed another secret: %x, %v", got, err)
	}

	for _, bad := range []string{"", strings.Repeat("n", maxNameLen+1), "tab\there", "bad\xffutf8"} {
		if _, err := s.Get(bad); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want a name error", bad, err)
		}
		if err := s.Set(bad, key); err == nil {
			t.Errorf("Set(%q): no error", bad)
		}
		if err := s.Delete(bad); err == nil {
			t.Errorf("Delete(%q): no error", bad)
		}
	}
	big := bytes.Repeat([]byte("s3cr3t"), MaxSecretLen)
	err := s.Set("big", big[:MaxSecretLen+1])
	if err == nil {
		t.Fatalf("Set of %d bytes: no error", MaxSecretLen+1)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error quotes the secret: %v", err)
	}
	if err := s.Set("max", big[:MaxSecretLen]); err != nil {
		t.Fatalf("Set of %d bytes: %v", MaxSecretLen, err)
	}
}

// testConcurrent sets and reads secrets from several goroutines.
func testConcurrent(t *testing.T, s SecretStore) {
	t.Helper()
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("secret-%d", i)
			secret := []byte{byte(i), 1, 2, 3}
			if err := s.Set(name, secret); err != nil {
				t.Errorf("Set(%q): %v", name, err)
				return
			}
			if got, err := s.Get(name); err != nil || !bytes.Equal(got, secret) {
				t.Errorf("Get(%q) = %x, %v", name, got, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if _, err := s.Get(fmt.Sprintf("secret-%d", i)); err != nil {
			t.Errorf("secret-%d lost: %v", i, err)
		}
	}
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	testSecretStore(t, NewMemoryStore())
}

func TestMemoryStoreConcurrent(t *testing.T) {
	t.Parallel()
	testConcurrent(t, NewMemoryStore())
}

func newFileStore(t *testing.T, dir string) SecretStore {
	t.Helper()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatalf("NewFileStore: %v", err)
	}
	return s
}

func TestFileStore(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "vault")
	testSecretStore(t, newFileStore(t, dir))

	// A second store on the same directory reads what the first wrote.
	got, err := newFileStore(t, dir).Get("pepper")
	if err != nil || !bytes.Equal(got, []byte("pepper\x00\xff binary")) {
		t.Fatalf("reopened store: Get = %q, %v", got, err)
	}
}

func TestFileStoreConcurrent(t *testing.T) {
	t.Parallel()
	testConcurrent(t, newFileStore(t, t.TempDir()))
}

func TestFileStorePermissions(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions on Windows")
	}
	dir := filepath.Join(t.TempDir(), "a", "vault")
	s := newFileStore(t, dir)
	if err := s.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want fs.FileMode
	}{
		{dir, 0o700},
		{filepath.Join(dir, "secrets"), 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestFileStoreAtomicWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newFileStore(t, dir)
	if err := s.Set("k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secrets")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	if err := s.Set("k", []byte("new")); err != nil {
		t.Fatal(err)
	}

	// The old file was replaced by a rename, not rewritten in place: a
	// reader that opened it still sees it whole.
	if runtime.GOOS != "windows" {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(old); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), before) {
			t.Errorf("old file changed in place: %q, was %q", buf.Bytes(), before)
		}
	}
	// No temporary file is left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"secrets"}) {
		t.Errorf("directory holds %q, want only secrets", names)
	}
	if got, err := s.Get("k"); err != nil || string(got) != "new" {
		t.Errorf("Get = %q, %v", got, err)
	}
}

func TestFileStoreDamaged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"garbage", "s3cr3t garbage"},
		{"truncated", `{"version":1,"secrets":{"k":"czNjcjN0`},
		{"bad base64", `{"version":1,"secrets":{"k":"s3cr3t!!"}}`},
		{"unknown version", `{"version":2,"secrets":{"k":"czNjcjN0"}}`},
		{"no version", `{"secrets":{"k":"czNjcjN0"}}`},
		{"unknown field", `{"version":1,"secrets":{},"s3cr3t":1}`},
		{"trailing data", `{"version":1,"secrets":{}} s3cr3t`},
		{"not an object", `["s3cr3t"]`},
		{"too large", `{"version":1,"secrets":{"k":"` + strings.Repeat("A", maxSecretFileSize) + `"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "secrets")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := newFileStore(t, dir)
			ops := map[string]func() error{
				"Get":    func() error { _, err := s.Get("k"); return err },
				"Set":    func() error { return s.Set("other", []byte("s3cr3t")) },
				"Delete": func() error { return s.Delete("k") },
			}
			for op, f := range ops {
				err := f()
				if !errors.Is(err, ErrDamaged) {
					t.Errorf("%s: err = %v, want ErrDamaged", op, err)
					continue
				}
				if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "czNjcjN0") {
					t.Errorf("%s: error quotes the file: %v", op, err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.content {
				t.Errorf("damaged file was changed")
			}
		})
	}
}

func TestNewFileStoreErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewFileStore(""); err == nil {
		t.Error("NewFileStore(\"\"): no error")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileStore(file); err == nil {
		t.Error("NewFileStore over a file: no error")
	}
}

// errStore is a SecretStore whose every call fails with err: a keyring that
// does not work.
type errStore struct{ err error }

func (s errStore) Get(string) ([]byte, error) { return nil, s.err }
func (s errStore) Set(string, []byte) error   { return s.err }
func (s errStore) Delete(string) error        { return s.err }

func TestOpenSecretStore(t *testing.T) {
	t.Parallel()
	errDBus := errors.New("dbus: no session bus")
	const fallback = "ibkey: no OS keyring; keeping keys in a file store in "
	for _, tc := range []struct {
		name       string
		kind       string
		keyring    SecretStore
		want       string // "keyring", "file" or "error"
		wantErr    error
		wantStderr bool
	}{
		{"auto, keyring works", StoreAuto, NewMemoryStore(), "keyring", nil, false},
		{"auto, keyring fails", StoreAuto, errStore{errDBus}, "file", nil, true},
		{"auto, no keyring backend", StoreAuto, errStore{ErrUnsupported}, "file", nil, true},
		{"keyring, keyring works", StoreKeyring, NewMemoryStore(), "keyring", nil, false},
		{"keyring, keyring fails", StoreKeyring, errStore{errDBus}, "error", errDBus, false},
		{"keyring, no keyring backend", StoreKeyring, errStore{ErrUnsupported}, "error", ErrUnsupported, false},
		{"file", StoreFile, NewMemoryStore(), "file", nil, false},
		{"unknown kind", "vault", NewMemoryStore(), "error", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "vault")
			var stderr bytes.Buffer
			s, err := openSecretStore(tc.kind, dir, &stderr, tc.keyring)
			switch tc.want {
			case "error":
				if err == nil {
					t.Fatalf("no error")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case "keyring":
				if err != nil || s != tc.keyring {
					t.Fatalf("got %T, %v; want the keyring", s, err)
				}
			case "file":
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := s.(*fileStore); !ok {
					t.Fatalf("got %T, want a file store", s)
				}
				if err := s.Set("k", []byte("v")); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(dir, "secrets")); err != nil {
					t.Fatalf("file store not in dir: %v", err)
				}
			}
			wantStderr := ""
			if tc.wantStderr {
				wantStderr = fallback + dir + "\n"
			}
			if got := stderr.String(); got != wantStderr {
				t.Errorf("stderr = %q, want %q", got, wantStderr)
			}
		})
	}
}

func TestOpenSecretStoreNilStderr(t *testing.T) {
	t.Parallel()
	s, err := openSecretStore(StoreAuto, t.TempDir(), nil, errStore{ErrUnsupported})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*fileStore); !ok {
		t.Fatalf("got %T, want a file store", s)
	}
}

func ExampleNewMemoryStore() {
	s := NewMemoryStore()
	if err := s.Set("vault-key", []byte{1, 2, 3}); err != nil {
		panic(err)
	}
	key, _ := s.Get("vault-key")
	_, err := s.Get("pepper")
	fmt.Println(key, err)
	// Output: [1 2 3] platform: secret not found
}

func TestErrNotFoundIsNotExist(t *testing.T) {
	t.Parallel()
	_, err := NewMemoryStore().Get("absent")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get of an absent name: %v, want ErrNotFound matching fs.ErrNotExist", err)
	}
}

// TestOpenSecretStoreKeepsFileStore: once the fallback has made a file
// store, later runs use it silently, even when a keyring has appeared, so
// that the vault's keys never move.
func TestOpenSecretStoreKeepsFileStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var first, second bytes.Buffer
	s, err := openSecretStore(StoreAuto, dir, &first, errStore{ErrUnsupported})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("vault-key", []byte{1}); err != nil {
		t.Fatal(err)
	}
	s, err = openSecretStore(StoreAuto, dir, &second, NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*fileStore); !ok {
		t.Fatalf("second open: got %T, want the file store", s)
	}
	if first.Len() == 0 || second.Len() != 0 {
		t.Errorf("stderr: first %q, second %q; want one announcement, the first time", first.String(), second.String())
	}
	if v, err := s.Get("vault-key"); err != nil || !bytes.Equal(v, []byte{1}) {
		t.Errorf("Get = %v, %v", v, err)
	}
}
