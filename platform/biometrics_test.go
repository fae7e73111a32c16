package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func TestBiometricKindString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind BiometricKind
		want string
	}{
		{BiometricNone, "none"},
		{TouchID, "Touch ID"},
		{FaceID, "Face ID"},
		{Fingerprint, "fingerprint"},
		{BiometricKind(9), "BiometricKind(9)"},
	} {
		if got := tc.kind.String(); got != tc.want {
			t.Errorf("%d.String() = %q, want %q", int(tc.kind), got, tc.want)
		}
	}
}

func TestNewBiometrics(t *testing.T) {
	t.Parallel()
	b := NewBiometrics()
	if k := b.Kind(); k != BiometricNone {
		t.Errorf("Kind() = %v, want none", k)
	}
	if _, err := b.Enroll("user"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Enroll: err = %v, want ErrUnsupported", err)
	}
	if _, err := b.Authenticate("user", "Unlock"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Authenticate: err = %v, want ErrUnsupported", err)
	}
	if err := b.Remove("user"); err != nil {
		t.Errorf("Remove: %v", err)
	}
}

// fixedRand returns a reader of key bytes b, b+1, b+2, ...
func fixedRand(b byte) io.Reader {
	buf := make([]byte, 1024)
	for i := range buf {
		buf[i] = b + byte(i)
	}
	return bytes.NewReader(buf)
}

func TestFakeBiometricsOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		outcome Outcome
		wantErr error
	}{
		{Succeed, nil},
		{Fail, ErrBiometricFailed},
		{Cancel, ErrBiometricCancelled},
		{LockOut, ErrBiometricLockedOut},
		{Outcome(42), nil}, // an error, but no sentinel
	} {
		t.Run(tc.outcome.String(), func(t *testing.T) {
			t.Parallel()
			f := NewFakeBiometrics(FaceID, fixedRand(7))
			if f.Kind() != FaceID {
				t.Fatalf("Kind() = %v", f.Kind())
			}
			key, err := f.Enroll("alice")
			if err != nil {
				t.Fatal(err)
			}
			if len(key) != 32 || !bytes.Equal(key[:3], []byte{7, 8, 9}) {
				t.Fatalf("Enroll = %x, want 32 bytes from rand", key)
			}
			if f.Prompts() != 0 {
				t.Fatalf("Enroll showed a prompt")
			}
			f.SetOutcome(tc.outcome)
			got, err := f.Authenticate("alice", "Log in as alice")
			if f.LastReason() != "Log in as alice" || f.Prompts() != 1 {
				t.Errorf("LastReason() = %q after %d prompts", f.LastReason(), f.Prompts())
			}
			switch {
			case tc.outcome == Succeed:
				if err != nil || !bytes.Equal(got, key) {
					t.Fatalf("Authenticate = %x, %v; want %x", got, err, key)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("Authenticate = %x, %v; want %v", got, err, tc.wantErr)
				}
			default:
				if err == nil || got != nil {
					t.Fatalf("Authenticate = %x, %v; want an error", got, err)
				}
			}
		})
	}
}

func TestFakeBiometricsKeys(t *testing.T) {
	t.Parallel()
	f := NewFakeBiometrics(TouchID, nil) // crypto/rand
	if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Authenticate before Enroll: err = %v, want ErrNotFound", err)
	}
	if f.Prompts() != 0 || f.LastReason() != "" {
		t.Fatalf("a prompt was shown for a missing key")
	}

	alice, err := f.Enroll("alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := f.Enroll("bob")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(alice, bob) {
		t.Fatal("two enrollments gave one key")
	}
	alice[0] ^= 0xFF // the caller's copy
	alice[0] ^= 0xFF
	got, _ := f.Authenticate("alice", "Unlock")
	got[0] ^= 0xFF
	if again, _ := f.Authenticate("alice", "Unlock"); !bytes.Equal(again, alice) {
		t.Fatal("changing a returned key changed the fake")
	}

	// Enroll again replaces the key.
	alice2, err := f.Enroll("alice")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(alice2, alice) {
		t.Fatal("re-enrolling kept the old key")
	}
	if got, _ := f.Authenticate("alice", "Unlock"); !bytes.Equal(got, alice2) {
		t.Fatal("Authenticate does not give the new key")
	}

	// A removed key is gone; the others stay.
	if err := f.Remove("alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("alice"); err != nil {
		t.Fatalf("Remove of an absent key: %v", err)
	}
	if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Authenticate after Remove: err = %v, want ErrNotFound", err)
	}
	if got, err := f.Authenticate("bob", "Unlock"); err != nil || !bytes.Equal(got, bob) {
		t.Fatalf("bob's key: %x, %v", got, err)
	}
}

func TestFakeBiometricsLockout(t *testing.T) {
	t.Parallel()
	f := NewFakeBiometrics(Fingerprint, nil)
	key, err := f.Enroll("alice")
	if err != nil {
		t.Fatal(err)
	}
	f.SetOutcome(Fail)
	for i := range FakeMaxFailures {
		if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrBiometricFailed) {
			t.Fatalf("failure %d: err = %v, want ErrBiometricFailed", i+1, err)
		}
	}
	if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrBiometricLockedOut) {
		t.Fatalf("after %d failures: err = %v, want ErrBiometricLockedOut", FakeMaxFailures, err)
	}
	// SetOutcome (the device passcode entered) ends the lockout.
	f.SetOutcome(Succeed)
	if got, err := f.Authenticate("alice", "Unlock"); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("after SetOutcome(Succeed): %x, %v", got, err)
	}

	// A success resets the count of failures in a row; a cancel neither
	// counts nor resets it.
	try := func(o Outcome, want error) {
		t.Helper()
		f.outcomeKeepingFailures(t, o)
		if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, want) {
			t.Fatalf("outcome %v: err = %v, want %v", o, err, want)
		}
	}
	for range FakeMaxFailures - 1 {
		try(Fail, ErrBiometricFailed)
	}
	try(Succeed, nil)
	for range FakeMaxFailures - 1 {
		try(Fail, ErrBiometricFailed)
	}
	try(Cancel, ErrBiometricCancelled)
	try(Fail, ErrBiometricFailed)
	try(Fail, ErrBiometricLockedOut)

	// The LockOut outcome stays locked out whatever comes next, until
	// SetOutcome.
	f.SetOutcome(LockOut)
	f.Authenticate("alice", "Unlock")
	f.outcomeKeepingFailures(t, Succeed)
	if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrBiometricLockedOut) {
		t.Fatalf("after LockOut: err = %v, want ErrBiometricLockedOut", err)
	}
}

// outcomeKeepingFailures changes the outcome without ending a lockout or
// resetting the count of failures, as a person trying again would.
func (f *FakeBiometrics) outcomeKeepingFailures(t *testing.T, o Outcome) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome = o
}

func TestFakeBiometricsNone(t *testing.T) {
	t.Parallel()
	f := NewFakeBiometrics(BiometricNone, nil)
	if _, err := f.Enroll("alice"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Enroll: err = %v, want ErrUnsupported", err)
	}
	if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Authenticate: err = %v, want ErrUnsupported", err)
	}
}

func TestFakeBiometricsRandError(t *testing.T) {
	t.Parallel()
	errRand := errors.New("no entropy")
	f := NewFakeBiometrics(TouchID, iotest.ErrReader(errRand))
	if _, err := f.Enroll("alice"); !errors.Is(err, errRand) {
		t.Fatalf("Enroll: err = %v, want the reader's error", err)
	}
	if _, err := f.Authenticate("alice", "Unlock"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed Enroll left a key: %v", err)
	}
	if _, err := NewFakeBiometrics(TouchID, strings.NewReader("short")).Enroll("bob"); err == nil {
		t.Fatal("Enroll from a short reader: no error")
	}
}

func TestFakeBiometricsConcurrent(t *testing.T) {
	t.Parallel()
	f := NewFakeBiometrics(FaceID, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("user-%d", i)
			key, err := f.Enroll(name)
			if err != nil {
				t.Error(err)
				return
			}
			f.SetOutcome(Succeed)
			got, err := f.Authenticate(name, "Unlock "+name)
			if err != nil || !bytes.Equal(got, key) {
				t.Errorf("%s: %x, %v", name, got, err)
			}
			f.LastReason()
			f.Remove(name)
		})
	}
	wg.Wait()
}

func ExampleFakeBiometrics() {
	b := NewFakeBiometrics(FaceID, nil)
	key, _ := b.Enroll("alice")

	b.SetOutcome(Cancel)
	_, err := b.Authenticate("alice", "Log in to IBKR as alice")
	fmt.Println(err)

	b.SetOutcome(Succeed)
	released, _ := b.Authenticate("alice", "Log in to IBKR as alice")
	fmt.Println(b.Kind(), bytes.Equal(released, key), b.LastReason())
	// Output:
	// platform: biometric check cancelled
	// Face ID true Log in to IBKR as alice
}
