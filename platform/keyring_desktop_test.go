//go:build (darwin && !ios) || (linux && !android) || windows

package platform

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

// Environment variables of the real keyring test. With IBKEY_TEST_KEYRING=1,
// TestKeyringOS runs itself again in a child test process (marked by
// realKeyringChildEnv) where go-keyring's mock is not installed.
const (
	realKeyringEnv      = "IBKEY_TEST_KEYRING"
	realKeyringChildEnv = "IBKEY_TEST_KEYRING_CHILD"
)

func TestMain(m *testing.M) {
	// go-keyring keeps its backend in a package variable: every test of
	// this process uses its in-memory mock, so that no test touches the OS
	// keyring unless TestKeyringOS asks for it.
	if os.Getenv(realKeyringChildEnv) != "1" {
		keyring.MockInit()
	}
	os.Exit(m.Run())
}

// The keyring tests below use go-keyring's mock, which is not safe for
// concurrent use: they do not call t.Parallel.

func TestKeyringStoreMock(t *testing.T) {
	testSecretStore(t, NewKeyring("ibkey-test-contract"))
}

func TestKeyringStoreEncoding(t *testing.T) {
	const service = "ibkey-test-encoding"
	s := NewKeyring(service)
	secret := []byte{0, 1, 2, 0xFE, 0xFF}
	if err := s.Set("k", secret); err != nil {
		t.Fatal(err)
	}
	raw, err := keyring.Get(service, "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString(secret); raw != want {
		t.Errorf("keyring holds %q, want %q", raw, want)
	}

	// An entry that is not base64 (written by something else) is damaged.
	if err := keyring.Set(service, "foreign", "s3cr3t!"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get("foreign")
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Get of a non-base64 entry: err = %v, want ErrDamaged", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error quotes the entry: %v", err)
	}
}

func TestKeyringStoreBroken(t *testing.T) {
	errDBus := errors.New("dbus: no session bus")
	keyring.MockInitWithError(errDBus)
	t.Cleanup(keyring.MockInit)

	s := NewKeyring("ibkey-test-broken")
	if _, err := s.Get("k"); !errors.Is(err, errDBus) || errors.Is(err, ErrNotFound) {
		t.Errorf("Get: err = %v, want the keyring's error", err)
	}
	if err := s.Set("k", []byte("v")); !errors.Is(err, errDBus) {
		t.Errorf("Set: err = %v, want the keyring's error", err)
	}
	if err := s.Delete("k"); !errors.Is(err, errDBus) {
		t.Errorf("Delete: err = %v, want the keyring's error", err)
	}

	// OpenSecretStore falls back to the file store.
	dir := filepath.Join(t.TempDir(), "vault")
	var stderr bytes.Buffer
	store, err := OpenSecretStore("ibkey-test-broken", dir, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.(*fileStore); !ok {
		t.Errorf("OpenSecretStore gave %T, want a file store", store)
	}
	if want := "ibkey: no OS keyring; keeping keys in a file store in " + dir + "\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	if _, err := OpenSecretStoreKind(StoreKeyring, "ibkey-test-broken", dir, nil); !errors.Is(err, errDBus) {
		t.Errorf("OpenSecretStoreKind(keyring): err = %v, want the keyring's error", err)
	}
}

func TestOpenSecretStoreMockKeyring(t *testing.T) {
	var stderr bytes.Buffer
	s, err := OpenSecretStore("ibkey-test-open", t.TempDir(), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(keyringStore); !ok {
		t.Errorf("OpenSecretStore gave %T, want the keyring", s)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
}

// TestKeyringOS uses the real OS keyring (on Linux, a Secret Service such as
// gnome-keyring) when IBKEY_TEST_KEYRING=1.
func TestKeyringOS(t *testing.T) {
	if os.Getenv(realKeyringEnv) != "1" {
		t.Skip("set " + realKeyringEnv + "=1 to test the real OS keyring")
	}
	if os.Getenv(realKeyringChildEnv) != "1" {
		// This process has go-keyring's mock installed: run this test
		// again in a child process without it.
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeyringOS$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), realKeyringChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child test process:\n%s", out)
		if err != nil {
			t.Fatalf("real keyring test failed: %v", err)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestKeyringOS")) {
			t.Fatalf("real keyring test did not pass")
		}
		return
	}

	service := "ibkey-test-" + rand.Text()
	s, err := OpenSecretStoreKind(StoreKeyring, service, t.TempDir(), nil)
	if err != nil {
		t.Fatalf("OS keyring unavailable: %v", err)
	}
	if _, ok := s.(keyringStore); !ok {
		t.Fatalf("got %T, want the keyring", s)
	}
	t.Cleanup(func() {
		for _, name := range []string{"vault-key", "pepper", "empty", "max"} {
			s.Delete(name)
		}
	})
	testSecretStore(t, s)

	key := make([]byte, 32)
	rand.Read(key)
	if err := s.Set("vault-key", key); err != nil {
		t.Fatal(err)
	}
	got, err := NewKeyring(service).Get("vault-key")
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Get = %x, %v; want %x", got, err, key)
	}
	fmt.Fprintln(os.Stderr, "real OS keyring: round trip ok")
}
