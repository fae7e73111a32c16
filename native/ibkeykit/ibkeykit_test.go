package ibkeykit_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/vault"
	"ibkey/native/ibkeykit"
)

// The 20-byte key "12345678901234567890" of RFC 4226, RFC 6238 (SHA-1)
// and RFC 6287.
var key20 = []byte("12345678901234567890")

func TestOTP(t *testing.T) {
	for _, c := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		// RFC 6287 Appendix C.1, OCRA-1:HOTP-SHA1-6:QN08.
		{"OCRA Q=00000000", func() (string, error) {
			return ibkeykit.OCRA("OCRA-1:HOTP-SHA1-6:QN08", key20, &ibkeykit.OCRAInput{Challenge: "00000000"})
		}, "237653"},
		{"OCRA Q=11111111", func() (string, error) {
			return ibkeykit.OCRA("OCRA-1:HOTP-SHA1-6:QN08", key20, &ibkeykit.OCRAInput{Challenge: "11111111"})
		}, "243178"},
		// RFC 6287 Appendix C.1, OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1, the
		// 32-byte key, C=0, PIN 1234.
		{"OCRA with C and P", func() (string, error) {
			return ibkeykit.OCRA("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", []byte("12345678901234567890123456789012"),
				&ibkeykit.OCRAInput{Challenge: "12345678", Counter: 0, PIN: "1234"})
		}, "65347737"},
		// RFC 4226 Appendix D.
		{"HOTP 0", func() (string, error) { return ibkeykit.HOTP("SHA1", key20, 0, 6) }, "755224"},
		{"HOTP 9", func() (string, error) { return ibkeykit.HOTP("SHA1", key20, 9, 6) }, "520489"},
		// RFC 6238 Appendix B, T = 1111111109.
		{"TOTP SHA1", func() (string, error) { return ibkeykit.TOTP("SHA1", key20, 1111111109, 30, 8) }, "07081804"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.got()
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	for name, f := range map[string]func() (string, error){
		"bad suite": func() (string, error) { return ibkeykit.OCRA("OCRA-9", key20, &ibkeykit.OCRAInput{Challenge: "1234"}) },
		"no input":  func() (string, error) { return ibkeykit.OCRA("OCRA-1:HOTP-SHA1-6:QN08", key20, nil) },
		"unused counter": func() (string, error) {
			return ibkeykit.OCRA("OCRA-1:HOTP-SHA1-6:QN08", key20, &ibkeykit.OCRAInput{Challenge: "1234", Counter: 1})
		},
		"negative counter": func() (string, error) { return ibkeykit.HOTP("SHA1", key20, -1, 6) },
		"bad hash":         func() (string, error) { return ibkeykit.HOTP("MD5", key20, 1, 6) },
		"zero period":      func() (string, error) { return ibkeykit.TOTP("SHA1", key20, 59, 0, 6) },
	} {
		if _, err := f(); ibkeykit.Code(err) != ibkeykit.CodeInvalid {
			t.Errorf("%s: %v, code %q", name, err, ibkeykit.Code(err))
		}
	}
}

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("boom"), ibkeykit.CodeOther},
		// What a native app passes back: the message of the exception.
		{errors.New("ibkeykit: wrong_pin: device: wrong PIN"), ibkeykit.CodeWrongPIN},
		{errors.New("ibkeykit: expired"), ibkeykit.CodeExpired},
		{errors.New("ibkeykit: not a code: x"), ibkeykit.CodeOther},
	} {
		if got := ibkeykit.Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// nativeStore is a SecretStore as a native app writes it: a missing
// secret is nil, or the exception notFound when it is set.
type nativeStore struct {
	mu       sync.Mutex
	m        map[string][]byte
	notFound error // thrown for a missing secret, when not nil
	fail     error // thrown by every Get, when not nil
}

func (s *nativeStore) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	b, ok := s.m[name]
	if !ok && s.notFound != nil {
		return nil, s.notFound
	}
	return bytes.Clone(b), nil
}

func (s *nativeStore) Set(name string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = bytes.Clone(b)
	return nil
}

func (s *nativeStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

// goView is the same store as authcore/vault takes it, to add users
// that the facade then sees.
type goView struct{ s *nativeStore }

func (g goView) Get(name string) ([]byte, error) {
	b, _ := g.s.Get(name)
	if b == nil {
		return nil, fs.ErrNotExist
	}
	return b, nil
}
func (g goView) Set(name string, b []byte) error { return g.s.Set(name, b) }
func (g goView) Delete(name string) error        { return g.s.Delete(name) }

// bio is a native Biometrics: keys in memory, and an exception to throw
// at Authenticate.
type bio struct {
	mu    sync.Mutex
	keys  map[string][]byte
	throw error
}

func (b *bio) Enroll(name string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := make([]byte, 32)
	rand.Read(k)
	b.keys[name] = k
	return bytes.Clone(k), nil
}

func (b *bio) Authenticate(name, reason string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.throw != nil {
		return nil, b.throw
	}
	return bytes.Clone(b.keys[name]), nil
}

func (b *bio) Remove(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.keys, name)
	return nil
}

func TestVault(t *testing.T) {
	for _, notFound := range []error{nil, errors.New(ibkeykit.CodeNotFound), errors.New("java.lang.Exception: not_found")} {
		t.Run(fmt.Sprint(notFound), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "vault")
			store := &nativeStore{m: map[string][]byte{}, notFound: notFound}
			b := &bio{keys: map[string][]byte{}}
			v, err := ibkeykit.OpenVault(dir, store, b)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := store.m[vault.VaultKeyName]; !ok {
				t.Fatalf("no vault key in the native store: %v", store.m)
			}
			// A user added by authcore over the same folder and store:
			// RFC 6287 Appendix C.1's suite and key.
			gv, err := vault.Open(dir, goView{store}, b)
			if err != nil {
				t.Fatal(err)
			}
			nu := vault.NewUser{Name: "bob", Suite: ocra.MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08"), Secret: key20, PIN: "7391", Biometric: true}
			if err := gv.Add(nu, rand.Reader, time.Now()); err != nil {
				t.Fatal(err)
			}
			us, err := v.Users()
			if err != nil || us.Len() != 1 || us.Get(0).Name != "bob" || us.Get(0).Gate != "pin+biometric" || us.Get(1) != nil {
				t.Fatalf("Users: %v, %v", us, err)
			}
			// The right PIN gives RFC 6287's response; a wrong one gives
			// another response, and no error.
			if r, err := v.Respond("bob", "00000000", ibkeykit.WithPIN("7391")); err != nil || r != "237653" {
				t.Fatalf("right PIN: %q, %v", r, err)
			}
			if r, err := v.Respond("bob", "00000000", ibkeykit.WithPIN("4826")); err != nil || r == "237653" || len(r) != 6 {
				t.Fatalf("wrong PIN: %q, %v", r, err)
			}
			if r, err := v.Respond("bob", "00000000", ibkeykit.WithBiometric("Log in")); err != nil || r != "237653" {
				t.Fatalf("biometric: %q, %v", r, err)
			}
			for _, c := range []struct {
				name  string
				err   error
				want  string
				throw error
			}{
				{"cancelled", nil, ibkeykit.CodeCancelled, errors.New("cancelled")},
				{"locked out", nil, ibkeykit.CodeBiometricLockedOut, errors.New("java.lang.Exception: biometric_locked_out")},
				{"failed", nil, ibkeykit.CodeBiometricFailed, errors.New("biometric_failed")},
				{"other", nil, ibkeykit.CodeOther, errors.New("the Keystore key was invalidated")},
			} {
				b.mu.Lock()
				b.throw = c.throw
				b.mu.Unlock()
				_, err := v.Respond("bob", "00000000", ibkeykit.WithBiometric("Log in"))
				if got := ibkeykit.Code(err); got != c.want {
					t.Errorf("%s: %v, code %q, want %q", c.name, err, got, c.want)
				}
			}
			for name, c := range map[string]struct {
				err  error
				want string
			}{
				"bad PIN":  {func() error { _, err := v.Respond("bob", "00000000", ibkeykit.WithPIN("12")); return err }(), ibkeykit.CodeBadPIN},
				"no user":  {func() error { _, err := v.Respond("carol", "00000000", ibkeykit.WithPIN("7391")); return err }(), ibkeykit.CodeNoUser},
				"no gate":  {func() error { _, err := v.Respond("bob", "00000000", &ibkeykit.Unlock{}); return err }(), ibkeykit.CodeNoGate},
				"nil gate": {func() error { _, err := v.Respond("bob", "00000000", nil); return err }(), ibkeykit.CodeNoGate},
				"not enrolled": {func() error { _, err := v.Inbox("bob", ibkeykit.WithPIN("7391")); return err }(),
					ibkeykit.CodeNotEnrolled},
				"rename to a taken name": {func() error {
					gv.Add(vault.NewUser{Name: "eve", Suite: nu.Suite, Secret: key20, PIN: "7391"}, rand.Reader, time.Now())
					return v.Rename("bob", "eve")
				}(), ibkeykit.CodeExists},
			} {
				if got := ibkeykit.Code(c.err); got != c.want {
					t.Errorf("%s: %v, code %q, want %q", name, c.err, got, c.want)
				}
			}
			if err := v.Rename("bob", " Work "); err != nil {
				t.Fatal(err)
			}
			if err := v.Remove("Work"); err != nil {
				t.Fatal(err)
			}
			if _, err := v.User("Work"); ibkeykit.Code(err) != ibkeykit.CodeNoUser {
				t.Fatalf("removed user: %v", err)
			}
		})
	}
}

// A failing SecretStore stops the vault from opening: it must not make
// new keys over ones it could not read.
func TestVaultStoreFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vault")
	store := &nativeStore{m: map[string][]byte{}}
	if _, err := ibkeykit.OpenVault(dir, store, nil); err != nil {
		t.Fatal(err)
	}
	key := bytes.Clone(store.m[vault.VaultKeyName])
	store.fail = errors.New("keystore unavailable")
	if _, err := ibkeykit.OpenVault(dir, store, nil); err == nil {
		t.Fatal("the vault opened over a store that fails")
	}
	if !bytes.Equal(store.m[vault.VaultKeyName], key) {
		t.Fatal("the vault key changed")
	}
	if _, err := ibkeykit.OpenVault("relative", store, nil); ibkeykit.Code(err) != ibkeykit.CodeInvalid {
		t.Fatalf("relative folder: %v", err)
	}
	if _, err := ibkeykit.OpenVault(dir, nil, nil); ibkeykit.Code(err) != ibkeykit.CodeInvalid {
		t.Fatalf("no store: %v", err)
	}
}

// The objects that gobind's constructors make empty are refused.
func TestEmptyObjects(t *testing.T) {
	var v ibkeykit.Vault
	for name, err := range map[string]error{
		"Vault.Users":    func() error { _, err := v.Users(); return err }(),
		"Vault.Respond":  func() error { _, err := v.Respond("x", "1234", ibkeykit.WithPIN("7391")); return err }(),
		"Vault.Poll":     func() error { _, err := v.Poll("x", 0, 1); return err }(),
		"Vault.Activate": func() error { _, err := v.Activate(&ibkeykit.Enrollment{}, "123456", ""); return err }(),
		"Activation.Confirm": func() error {
			_, err := (&ibkeykit.Activation{}).Confirm("x", &ibkeykit.Protection{PIN: "7391"})
			return err
		}(),
	} {
		if ibkeykit.Code(err) != ibkeykit.CodeInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	v.Close() // no panic

	dir := filepath.Join(t.TempDir(), "vault")
	ov, err := ibkeykit.OpenVault(dir, &nativeStore{m: map[string][]byte{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Approve":  ov.Approve(&ibkeykit.Request{}, 1, ibkeykit.WithPIN("7391")),
		"Deny":     ov.Deny(&ibkeykit.Request{}, ibkeykit.DenyFraud),
		"Activate": func() error { _, err := ov.Activate(&ibkeykit.Enrollment{}, "123456", ""); return err }(),
		"Resend":   func() error { _, err := ov.Resend(nil, "voice"); return err }(),
		"service":  func() error { _, err := ov.StartEnrollment("ftp://x", "alice", "pw", ""); return err }(),
	} {
		if ibkeykit.Code(err) != ibkeykit.CodeInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Go callers get the codes from the returned error too.
	if r := (&ibkeykit.Request{}); r.Number(0) != -1 || r.ID() != "" {
		t.Errorf("empty request: %d %q", r.Number(0), r.ID())
	}
}
