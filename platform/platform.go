// Package platform holds ibkey's seams to the operating system: where small
// secrets are kept (SecretStore) and the biometric check that releases a key
// (Biometrics), with in-memory fakes for tests.
//
// # Secrets
//
// A [SecretStore] keeps a few named secrets of one vault: the 32-byte vault
// key, the device pepper. When unsure, use [OpenSecretStore]: it picks the OS
// keyring ([NewKeyring]: Secret Service, macOS Keychain, Windows Credential
// Manager) and falls back to a file ([NewFileStore]) on machines without one.
// Tests use [NewMemoryStore].
//
// The keyring backend is built on desktop systems only. On iOS and Android
// [NewKeyring] returns a store whose methods fail with [ErrUnsupported]; the
// native Keychain and Keystore backends come later.
//
// # In a browser
//
// The web app (GOOS=js) keeps its files in [IndexedDB] ([OpenIndexedDB]),
// which is the browser's side of the storage seam ([Storage]) under the
// vault and the file store: one record per file, replaced in one durable
// transaction, Web Locks between tabs. [NewWebSecretStore] is the file
// store there, each secret sealed under a WebCrypto AES-GCM key that cannot
// be exported; [NewWebBiometrics] is WebAuthn with the PRF extension.
//
// # Biometrics
//
// [Biometrics] creates a random key that only a successful biometric check
// releases (iOS Keychain access control, Android Keystore user
// authentication), so that biometric unlock is bound cryptographically, not
// by a UI gate. [NewBiometrics] reports [BiometricNone] on every native
// system for now; tests and UI work use [NewFakeBiometrics].
//
// No secret value appears in an error of this package.
package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"unicode"
)

type notFound struct{}

func (notFound) Error() string        { return "platform: secret not found" }
func (notFound) Is(target error) bool { return target == fs.ErrNotExist }

var (
	// ErrNotFound is returned when no secret (or biometric key) is kept
	// under the name asked for. It matches fs.ErrNotExist too, so that
	// consumers such as the vault need not import this package.
	ErrNotFound error = notFound{}
	// ErrUnsupported is returned when this operating system has no backend
	// for the operation.
	ErrUnsupported = errors.New("platform: unsupported on this platform")
	// ErrDamaged is returned when a stored secret or a secret file cannot be
	// read back. The damaged data is left as it is.
	ErrDamaged = errors.New("platform: secret storage damaged")
)

// SecretStore keeps small named secrets (a few dozen bytes each) of one vault.
// Implementations are safe for concurrent use.
type SecretStore interface {
	// Get returns the secret kept under name, or ErrNotFound.
	Get(name string) ([]byte, error)
	// Set keeps secret under name, replacing any secret kept there.
	Set(name string, secret []byte) error
	// Delete removes the secret kept under name. It returns nil when there
	// is none.
	Delete(name string) error
}

const (
	// maxNameLen caps a secret's name in bytes.
	maxNameLen = 128
	// MaxSecretLen is the largest secret a SecretStore accepts, in bytes.
	// Windows Credential Manager stores at most 2560 bytes, and keyring
	// values are base64-encoded.
	MaxSecretLen = 1024
)

var errSecretTooLarge = fmt.Errorf("platform: secret longer than %d bytes", MaxSecretLen)

// checkName reports whether name can be used as the name of a secret: it is
// non-empty, short and printable.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("platform: secret name must be 1 to %d bytes", maxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("platform: secret name %q has a non-printable character", name)
		}
	}
	return nil
}

// checkSet validates the arguments of SecretStore.Set.
func checkSet(name string, secret []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	if len(secret) > MaxSecretLen {
		return errSecretTooLarge
	}
	return nil
}
