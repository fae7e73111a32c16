package platform

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
)

// Outcome is what the next biometric checks of a [FakeBiometrics] do.
type Outcome int

const (
	// Succeed: the check passes and the key is released.
	Succeed Outcome = iota
	// Fail: the check does not recognise the person (ErrBiometricFailed).
	Fail
	// Cancel: the person dismisses the prompt (ErrBiometricCancelled).
	Cancel
	// LockOut: biometrics are locked out (ErrBiometricLockedOut).
	LockOut
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Succeed:
		return "succeed"
	case Fail:
		return "fail"
	case Cancel:
		return "cancel"
	case LockOut:
		return "lock out"
	default:
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
}

// FakeMaxFailures is the number of failed checks in a row after which a
// FakeBiometrics locks out, as iOS and Android do after five.
const FakeMaxFailures = 5

// FakeBiometrics is a Biometrics for tests. Its keys live in memory, and the
// outcome of each check is set with SetOutcome (Succeed at first). After
// FakeMaxFailures failed checks in a row it locks out until SetOutcome is
// called again (a person entering the device passcode). It is safe for
// concurrent use.
type FakeBiometrics struct {
	kind BiometricKind
	rand io.Reader

	mu         sync.Mutex
	keys       map[string][]byte
	outcome    Outcome
	failures   int
	lockedOut  bool
	lastReason string
	prompts    int
}

// NewFakeBiometrics returns a FakeBiometrics of kind that draws its keys from
// rand (crypto/rand when nil). With kind BiometricNone, Enroll and
// Authenticate return ErrUnsupported, as on a device without biometrics.
func NewFakeBiometrics(kind BiometricKind, rand io.Reader) *FakeBiometrics {
	return &FakeBiometrics{kind: kind, rand: rand, keys: make(map[string][]byte)}
}

// SetOutcome sets what the next checks do, and ends a lockout.
func (f *FakeBiometrics) SetOutcome(o Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome = o
	f.failures = 0
	f.lockedOut = false
}

// LastReason returns the reason shown by the last prompt, or "" when none
// was shown.
func (f *FakeBiometrics) LastReason() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastReason
}

// Prompts returns how many prompts were shown.
func (f *FakeBiometrics) Prompts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prompts
}

// Kind returns the kind given to NewFakeBiometrics.
func (f *FakeBiometrics) Kind() BiometricKind { return f.kind }

// Enroll creates (or replaces) a random 32-byte key under name and returns
// it. It shows no prompt.
func (f *FakeBiometrics) Enroll(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if f.kind == BiometricNone {
		return nil, ErrUnsupported
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rand
	if r == nil {
		r = rand.Reader
	}
	key := make([]byte, biometricKeyLen)
	if _, err := io.ReadFull(r, key); err != nil {
		return nil, fmt.Errorf("platform: make biometric key: %w", err)
	}
	f.keys[name] = key
	return bytes.Clone(key), nil
}

// Authenticate returns ErrNotFound without a prompt when no key is enrolled
// under name. Otherwise it records the prompt and its reason and, when the
// outcome is Succeed and biometrics are not locked out, returns the key.
func (f *FakeBiometrics) Authenticate(name, reason string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if f.kind == BiometricNone {
		return nil, ErrUnsupported
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key, ok := f.keys[name]
	if !ok {
		return nil, ErrNotFound
	}
	f.prompts++
	f.lastReason = reason
	if f.lockedOut {
		return nil, ErrBiometricLockedOut
	}
	switch f.outcome {
	case Succeed:
		f.failures = 0
		return bytes.Clone(key), nil
	case Fail:
		f.failures++
		if f.failures >= FakeMaxFailures {
			f.lockedOut = true
		}
		return nil, ErrBiometricFailed
	case Cancel:
		return nil, ErrBiometricCancelled
	case LockOut:
		f.lockedOut = true
		return nil, ErrBiometricLockedOut
	default:
		return nil, fmt.Errorf("platform: fake biometrics: unknown outcome %v", f.outcome)
	}
}

// Remove deletes the key enrolled under name; nil when there is none.
func (f *FakeBiometrics) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, name)
	return nil
}
