package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"ibkey/authcore/ocra"
)

// The container:
//
//	magic   "IBKEYVLT"            8 bytes
//	version uint16, big-endian    2 bytes
//	key id  HMAC-SHA256(vault key, "key id")[:8]
//	nonce   24 bytes
//	XChaCha20-Poly1305(vault key, nonce, body, ad = the 18 bytes above)
//
// The key id tells a file sealed under another key (a wrong or lost
// SecretStore) from a damaged one. Nothing in the container depends on a PIN.
const (
	magic        = "IBKEYVLT"
	version      = 1
	headerSize   = len(magic) + 2 + keyIDSize
	keyIDSize    = 8
	maxFileSize  = 16 << 20
	maxUsers     = 1000
	bodyOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// body is the decrypted content of the file.
type body struct {
	// PepperID is a check value of the device pepper, so that a lost or
	// replaced pepper gives an error rather than wrong responses. It does
	// not depend on any PIN.
	PepperID []byte   `json:"pepper_id"`
	Users    []record `json:"users"`

	// byName indexes Users by name, in a body read from the file (nil in
	// one being changed).
	byName map[string]int
}

// record is one user as stored.
type record struct {
	ID          []byte    `json:"id"` // random; binds seals and names the biometric key
	Name        string    `json:"name"`
	Account     string    `json:"account,omitempty"`
	Service     string    `json:"service,omitempty"`
	ServiceKey  []byte    `json:"service_key,omitempty"`
	DeviceID    string    `json:"device_id,omitempty"`
	Suite       string    `json:"suite"`
	Gate        Gate      `json:"gate"`
	Created     time.Time `json:"created"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	ChannelKey  []byte    `json:"channel_key,omitempty"`
	DeliveryKey []byte    `json:"delivery_key,omitempty"`
	PIN         *pinSlot  `json:"pin,omitempty"`
	Bio         *bioSlot  `json:"biometric,omitempty"`
	Card        []byte    `json:"card,omitempty"` // a card's secret, under the vault key only
}

func keyID(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ibkey vault key id v1"))
	return m.Sum(nil)[:keyIDSize]
}

func pepperID(pepper []byte) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("ibkey vault pepper id v1"))
	return m.Sum(nil)[:keyIDSize]
}

// encodeFile seals b under key.
func encodeFile(b *body, key []byte, rand io.Reader) ([]byte, error) {
	plain, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("vault: encode: %w", err)
	}
	defer clear(plain)
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("vault: vault key: %w", err)
	}
	out := make([]byte, headerSize+a.NonceSize(), headerSize+bodyOverhead+len(plain))
	copy(out, magic)
	binary.BigEndian.PutUint16(out[len(magic):], version)
	copy(out[len(magic)+2:], keyID(key))
	nonce := out[headerSize:]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("vault: read random: %w", err)
	}
	return a.Seal(out, nonce, plain, out[:headerSize]), nil
}

// decodeFile opens and checks a file sealed under key.
func decodeFile(data, key []byte) (*body, error) {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a vault file", ErrDamaged)
	}
	if len(data) < headerSize {
		return nil, fmt.Errorf("%w: truncated", ErrDamaged)
	}
	switch v := binary.BigEndian.Uint16(data[len(magic):]); {
	case v > version:
		return nil, fmt.Errorf("%w: version %d, this program reads up to %d", ErrTooNew, v, version)
	case v < version:
		return nil, fmt.Errorf("%w: unknown version %d", ErrDamaged, v)
	}
	if len(data) < headerSize+bodyOverhead {
		return nil, fmt.Errorf("%w: truncated", ErrDamaged)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrDamaged, maxFileSize)
	}
	if !hmac.Equal(data[len(magic)+2:headerSize], keyID(key)) {
		return nil, fmt.Errorf("%w: sealed under another vault key (is this the right secret store?)", ErrDamaged)
	}
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("%w: vault key has %d bytes", ErrDamaged, len(key))
	}
	nonce := data[headerSize : headerSize+a.NonceSize()]
	plain, err := a.Open(nil, nonce, data[headerSize+a.NonceSize():], data[:headerSize])
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (changed or truncated)", ErrDamaged)
	}
	defer clear(plain)
	return decodeBody(plain)
}

// decodeBody parses and checks the JSON body. Every check that a hostile or
// damaged body could fail is here, so that the rest of the package can trust
// a record.
func decodeBody(plain []byte) (*body, error) {
	var b body
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrDamaged, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: body: trailing data", ErrDamaged)
	}
	if len(b.PepperID) != keyIDSize {
		return nil, fmt.Errorf("%w: body: pepper id", ErrDamaged)
	}
	if len(b.Users) > maxUsers {
		return nil, fmt.Errorf("%w: more than %d users", ErrDamaged, maxUsers)
	}
	names := make(map[string]int, len(b.Users))
	ids := make(map[string]bool, len(b.Users))
	for i := range b.Users {
		r := &b.Users[i]
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%w: user %d: %v", ErrDamaged, i, err)
		}
		if _, ok := names[r.Name]; ok || ids[string(r.ID)] {
			return nil, fmt.Errorf("%w: user %d: duplicate", ErrDamaged, i)
		}
		names[r.Name], ids[string(r.ID)] = i, true
	}
	b.byName = names
	return &b, nil
}

// check validates a record read from a file.
func (r *record) check() error {
	if len(r.ID) != idSize {
		return fmt.Errorf("id")
	}
	if err := checkName(r.Name); err != nil {
		return err
	}
	for _, s := range []string{r.Account, r.Service, r.DeviceID} {
		if err := checkText(s); err != nil {
			return err
		}
	}
	if r.ServiceKey != nil && len(r.ServiceKey) != ed25519.PublicKeySize {
		return fmt.Errorf("service key")
	}
	suite, err := ocra.ParseSuite(r.Suite)
	if err != nil {
		return err
	}
	if len(r.ChannelKey) > maxOpaque || r.DeliveryKey != nil && len(r.DeliveryKey) != keySize {
		return fmt.Errorf("keys")
	}
	if !r.Gate.valid() {
		return fmt.Errorf("gate %q", r.Gate)
	}
	if (r.PIN != nil) != r.Gate.HasPIN() || (r.Bio != nil) != r.Gate.HasBiometric() || (r.Card != nil) != (r.Gate == GateCard) {
		return fmt.Errorf("gate %q does not match its seals", r.Gate)
	}
	if (suite.PIN() != 0) != (r.Gate == GateCard) {
		return fmt.Errorf("suite %s does not fit gate %q", suite, r.Gate)
	}
	n := -1 // the secret's length, the same in every seal
	same := func(l int) bool {
		if l < 1 || l > maxSecret || n >= 0 && l != n {
			return false
		}
		n = l
		return true
	}
	if r.PIN != nil {
		if err := r.PIN.KDF.check(); err != nil {
			return err
		}
		if len(r.PIN.Salt) != saltSize || !same(len(r.PIN.Sealed)) {
			return fmt.Errorf("PIN seal")
		}
	}
	if r.Bio != nil {
		if err := checkText(r.Bio.Key); err != nil || r.Bio.Key == "" ||
			len(r.Bio.Nonce) != chacha20poly1305.NonceSizeX ||
			!same(len(r.Bio.Sealed)-chacha20poly1305.Overhead) {
			return fmt.Errorf("biometric seal")
		}
	}
	if r.Card != nil && !same(len(r.Card)) {
		return fmt.Errorf("card secret")
	}
	return nil
}
