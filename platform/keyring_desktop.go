//go:build (darwin && !ios) || (linux && !android) || windows

package platform

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/zalando/go-keyring"
)

// keyringStore is a SecretStore in the OS keyring through go-keyring: the
// Secret Service on Linux, the Keychain on macOS, the Credential Manager on
// Windows. Each secret is one entry (service, name), its value base64-encoded.
type keyringStore struct {
	service string
}

// NewKeyring returns a SecretStore that keeps its secrets in the OS keyring
// under service, one entry per name. Whether the keyring is reachable shows
// only on the first call; [OpenSecretStore] probes it.
func NewKeyring(service string) SecretStore {
	return keyringStore{service: service}
}

func (s keyringStore) Get(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	value, err := keyring.Get(s.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("platform: keyring get %q: %w", name, err)
	}
	secret, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("%w: keyring entry %q is not base64", ErrDamaged, name)
	}
	return secret, nil
}

func (s keyringStore) Set(name string, secret []byte) error {
	if err := checkSet(name, secret); err != nil {
		return err
	}
	if err := keyring.Set(s.service, name, base64.StdEncoding.EncodeToString(secret)); err != nil {
		return fmt.Errorf("platform: keyring set %q: %w", name, err)
	}
	return nil
}

func (s keyringStore) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := keyring.Delete(s.service, name)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("platform: keyring delete %q: %w", name, err)
	}
	return nil
}
