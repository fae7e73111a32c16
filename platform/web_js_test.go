//go:build js

package platform

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/vault"
	"ibkey/internal/storagetest"
)

// These tests need a browser: IndexedDB, Web Locks, WebCrypto and (for
// biometrics) a WebAuthn platform authenticator with PRF. Under node they
// skip. TestBrowser (browser_test.go) builds them and runs them in
// headless Chromium with a virtual authenticator, in phases set by
// IBKEY_BROWSER_PHASE: "write", then two tabs at once in "tab", then,
// after a reload, "check".

func needBrowser(t *testing.T) {
	t.Helper()
	if !defined(js.Global().Get("indexedDB")) {
		t.Skip("no IndexedDB: not in a browser")
	}
}

func phase() string { return os.Getenv("IBKEY_BROWSER_PHASE") }

// run is this page's run: database names of the contract suite are new at
// each run, those of the phases are shared across them.
var run = fmt.Sprint(time.Now().UnixNano())

func openDB(t *testing.T, name string) *IndexedDB {
	t.Helper()
	db, err := OpenIndexedDB(name)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestIndexedDBContract(t *testing.T) {
	needBrowser(t)
	if phase() != "write" {
		t.Skip("in the write phase")
	}
	storagetest.Run(t, storagetest.Options{
		Open:   func(t *testing.T, where string) storagetest.Storage { return openDB(t, "contract-"+run+"-"+where) },
		Stamps: true,
	})
}

// TestWebPersist: files, secrets and biometric keys written before a
// reload are there after it, the same.
func TestWebPersist(t *testing.T) {
	needBrowser(t)
	db := openDB(t, "persist")
	store, err := NewWebSecretStore(db)
	if err != nil {
		t.Fatal(err)
	}
	file := bytes.Repeat([]byte("ibkey\x00\xff"), 1000)
	secret := []byte("a 32-byte vault key, or nearly..")
	switch phase() {
	case "write":
		for _, data := range [][]byte{[]byte("old"), file} { // written, then replaced
			if err := db.Replace("f", data); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Set("vault-key", secret); err != nil {
			t.Fatal(err)
		}
	case "check":
		got, _, err := db.Read("f", 1<<20, time.Now())
		if err != nil || !bytes.Equal(got, file) {
			t.Fatalf("after a reload: %d bytes, %v; want the %d written", len(got), err, len(file))
		}
		if got, err := store.Get("vault-key"); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("after a reload: secret %q, %v", got, err)
		}
	default:
		t.Skip("in the write and check phases")
	}
}

// TestWebSecretStore: the SecretStore contract, with the secrets sealed in
// IndexedDB under a key that cannot be exported.
func TestWebSecretStore(t *testing.T) {
	needBrowser(t)
	if phase() != "write" {
		t.Skip("in the write phase")
	}
	db := openDB(t, "secrets-"+run)
	s, err := NewWebSecretStore(db)
	if err != nil {
		t.Fatal(err)
	}
	testSecretStore(t, s)
	testConcurrent(t, s)

	// The file in IndexedDB holds no secret in the clear.
	secret := []byte("s3cr3t-s3cr3t-s3cr3t")
	if err := s.Set("probe", secret); err != nil {
		t.Fatal(err)
	}
	raw, _, err := db.Read(secretFileName, 1<<20, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, secret) || strings.Contains(string(raw), "czNjcjN0") { // base64 of s3cr3t
		t.Fatal("the stored file holds the secret in the clear")
	}
	// A second store on the database (another tab) uses the same key.
	s2, err := NewWebSecretStore(openDB(t, "secrets-"+run))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get("probe"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("second store: %q, %v", got, err)
	}

	// The key is a CryptoKey that no script can read.
	key, err := db.wrapKey()
	if err != nil {
		t.Fatal(err)
	}
	if !key.InstanceOf(js.Global().Get("CryptoKey")) || key.Get("extractable").Bool() {
		t.Fatalf("the wrapping key is not a non-extractable CryptoKey")
	}
	for _, format := range []string{"raw", "jwk"} {
		_, err := callAwait(js.Global().Get("crypto").Get("subtle"), "exportKey", format, key)
		if !errName(err, "InvalidAccessError") {
			t.Fatalf("exportKey(%s): %v, want InvalidAccessError", format, err)
		}
	}

	// A sealed secret changed in storage does not open: an error, never
	// another secret.
	f, err := s.(*fileStore).load()
	if err != nil {
		t.Fatal(err)
	}
	f["probe"][len(f["probe"])-1] ^= 1
	if err := s.(*fileStore).save(f); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("probe"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Get of a changed seal: %v, want ErrDamaged", err)
	}
	// Nor does one moved to another name.
	f["vault-key2"] = f["max"]
	if err := s.(*fileStore).save(f); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("vault-key2"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Get of a seal moved to another name: %v, want ErrDamaged", err)
	}
}

// TestWebLocksTab is one of two tabs appending to one file at once, under
// the Web Lock; the check phase finds every line of both.
func TestWebLocksTab(t *testing.T) {
	needBrowser(t)
	db := openDB(t, "tabs")
	const per = 40
	switch phase() {
	case "tab":
		tab := os.Getenv("IBKEY_BROWSER_TAB")
		for i := range per {
			if err := storagetest.Add(db, "lines", tab+"-"+fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
	case "check":
		lines, err := storagetest.Lines(db, "lines")
		if err != nil {
			t.Fatal(err)
		}
		for _, tab := range []string{"a", "b"} {
			for i := range per {
				if !lines[tab+"-"+fmt.Sprint(i)] {
					t.Errorf("line %s-%d lost", tab, i)
				}
			}
		}
	default:
		t.Skip("in the tab and check phases")
	}
}

// TestWebBiometrics: keys from WebAuthn's PRF, stable across calls and
// reloads, distinct per name, gone once removed.
func TestWebBiometrics(t *testing.T) {
	needBrowser(t)
	if phase() != "write" && phase() != "check" {
		t.Skip("in the write and check phases")
	}
	db := openDB(t, "bio")
	b := NewWebBiometrics(db)
	if b.Kind() == BiometricNone {
		t.Fatal("Kind() = none: no platform authenticator with PRF (the virtual one?)")
	}
	keep := func(k []byte) { // the test's own record of the key, to compare after the reload
		if err := db.Replace("test-alice-key", k); err != nil {
			t.Fatal(err)
		}
	}
	if phase() == "write" {
		if _, err := b.Authenticate("alice", "Log in"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Authenticate before Enroll: %v, want ErrNotFound", err)
		}
		alice, err := b.Enroll("alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(alice) != 32 {
			t.Fatalf("key of %d bytes", len(alice))
		}
		for range 2 {
			if got, err := b.Authenticate("alice", "Log in"); err != nil || !bytes.Equal(got, alice) {
				t.Fatalf("Authenticate = %x, %v; want Enroll's %x", got, err, alice)
			}
		}
		bob, err := b.Enroll("bob")
		if err != nil || bytes.Equal(bob, alice) {
			t.Fatalf("Enroll(bob) = %x, %v: want a key of its own", bob, err)
		}
		if err := b.Remove("bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate("bob", "Log in"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Authenticate after Remove: %v, want ErrNotFound", err)
		}
		keep(alice)
		return
	}
	want, _, err := db.Read("test-alice-key", 100, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Authenticate("alice", "Log in"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after a reload: Authenticate = %x, %v; want %x", got, err, want)
	}
}

// TestWebVault is the app's vault in the browser, as main wires it: a PIN
// user and a biometric user answer the same before and after a reload.
func TestWebVault(t *testing.T) {
	needBrowser(t)
	if phase() != "write" && phase() != "check" {
		t.Skip("in the write and check phases")
	}
	db := openDB(t, "vault")
	secrets, err := NewWebSecretStore(db)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.OpenStorage(db, secrets, NewWebBiometrics(db))
	if err != nil {
		t.Fatal(err)
	}
	suite := ocra.MustParseSuite("OCRA-1:HOTP-SHA256-8:QN06")
	key := bytes.Repeat([]byte{7}, 32)
	answer := func(name string, how vault.Unlock) string {
		t.Helper()
		s, err := v.Unlock(name, how, time.Now())
		if err != nil {
			t.Fatalf("Unlock %s: %v", name, err)
		}
		defer s.Close()
		r, err := s.Respond(ocra.Input{Challenge: "123456"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want, err := ocra.Generate(suite, key, ocra.Input{Challenge: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	if phase() == "write" {
		for _, u := range []vault.NewUser{
			{Name: "pin", Suite: suite, Secret: key, PIN: "2468"},
			{Name: "face", Suite: suite, Secret: key, Biometric: true},
		} {
			if err := v.Add(u, rand.Reader, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := answer("pin", vault.Unlock{PIN: "2468"}); got != want {
		t.Errorf("PIN user: %s, want %s", got, want)
	}
	if got := answer("pin", vault.Unlock{PIN: "1357"}); got == want {
		t.Error("a wrong PIN gave the right response")
	}
	if got := answer("face", vault.Unlock{Biometric: true}); got != want {
		t.Errorf("biometric user: %s, want %s", got, want)
	}
	if users := v.Users(); len(users) != 2 {
		t.Errorf("%d users, want 2", len(users))
	}
}

// TestWebLockExclusive: a Web Lock held by one handle is not had by
// another until released, even while many goroutines try.
func TestWebLockExclusive(t *testing.T) {
	needBrowser(t)
	if phase() != "write" {
		t.Skip("in the write phase")
	}
	db := openDB(t, "lock-"+run)
	var mu sync.Mutex
	holders, most := 0, 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				for {
					unlock, ok, err := db.TryLock("l")
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						time.Sleep(time.Millisecond)
						continue
					}
					mu.Lock()
					holders++
					most = max(most, holders)
					mu.Unlock()
					time.Sleep(time.Millisecond)
					mu.Lock()
					holders--
					mu.Unlock()
					unlock()
					break
				}
			}
		})
	}
	wg.Wait()
	if most != 1 {
		t.Fatalf("%d holders at once, want 1", most)
	}
}
