//go:build !((darwin && !ios) || (linux && !android) || windows)

package platform

// unsupportedStore is the SecretStore of a system without a keyring backend.
type unsupportedStore struct{}

// NewKeyring returns a SecretStore whose methods fail with [ErrUnsupported]:
// this system (iOS, Android or another) has no keyring backend yet. The
// native iOS Keychain and Android Keystore backends come later.
func NewKeyring(service string) SecretStore {
	return unsupportedStore{}
}

func (unsupportedStore) Get(string) ([]byte, error) { return nil, ErrUnsupported }
func (unsupportedStore) Set(string, []byte) error   { return ErrUnsupported }
func (unsupportedStore) Delete(string) error        { return ErrUnsupported }
