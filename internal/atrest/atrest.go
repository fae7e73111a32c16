// Package atrest is the format of the values that the IB Key service keeps
// sealed in its database under its master key (the OCRA secrets and the
// service's identity), so that a copy of the database alone gives none of
// them.
//
// # Format
//
//	sealed = version || nonce || XChaCha20-Poly1305(seal key, nonce, plaintext, ad)
//	ad     = version || lp(kind) || lp(row)
//
// version is one byte, 0x01; nonce is 24 random bytes; lp(x) is x preceded
// by its length as a 2-byte big-endian number. kind names what the value
// is ("device secret") and row which record holds it (the device id), so
// that a sealed value moved to another row or field does not open.
//
// The master key is 32 random bytes. The seal key and the key id are
// derived from it:
//
//	seal key = HKDF-SHA256(master, salt = none, info = "ibkey-at-rest-v1 seal", 32)
//	key id   = HMAC-SHA256(master, "ibkey key id")[:16]
//
// The key id is stored beside the sealed values; it tells a wrong key from
// a damaged value without trying one.
package atrest

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Version is the format's version byte.
const Version = 0x01

// KeySize is the size of a master key.
const KeySize = 32

// MaxPlaintext caps what one value may hold.
const MaxPlaintext = 16 << 10

// Overhead is what sealing adds to a plaintext.
const Overhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// ErrFormat means a value is not a sealed value of this format (too short,
// too long, or of another version).
var ErrFormat = errors.New("atrest: not a sealed value")

// ErrOpen means a sealed value does not open: another key, another row or
// kind, or a changed byte.
var ErrOpen = errors.New("atrest: sealed value does not open")

// Key is a master key, ready to seal and open.
type Key struct {
	aead cipher.AEAD
	id   [16]byte
}

// NewKey makes a Key of the 32-byte master key k.
func NewKey(k []byte) (*Key, error) {
	if len(k) != KeySize {
		return nil, fmt.Errorf("atrest: master key is %d bytes, want %d", len(k), KeySize)
	}
	sk, err := hkdf.Key(sha256.New, k, nil, "ibkey-at-rest-v1 seal", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(sk)
	if err != nil {
		return nil, err
	}
	key := &Key{aead: aead}
	m := hmac.New(sha256.New, k)
	m.Write([]byte("ibkey key id"))
	copy(key.id[:], m.Sum(nil))
	return key, nil
}

// ID returns the key's 16-byte id.
func (k *Key) ID() []byte { return k.id[:] }

// String hides the key from logs and %v.
func (k *Key) String() string { return "atrest.Key(redacted)" }

// GoString hides the key from %#v.
func (k *Key) GoString() string { return k.String() }

// Seal seals plaintext as the value kind of row, with a nonce from rand.
func (k *Key) Seal(rand io.Reader, kind, row string, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("atrest: value of %d bytes is over %d", len(plaintext), MaxPlaintext)
	}
	ad, err := associated(kind, row)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, Overhead+len(plaintext))
	out[0] = Version
	nonce := out[1:]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("atrest: nonce: %w", err)
	}
	return k.aead.Seal(out, nonce, plaintext, ad), nil
}

// Open returns the plaintext of sealed, the value kind of row.
func (k *Key) Open(kind, row string, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead || len(sealed) > Overhead+MaxPlaintext {
		return nil, ErrFormat
	}
	if sealed[0] != Version {
		return nil, fmt.Errorf("%w: version %d", ErrFormat, sealed[0])
	}
	ad, err := associated(kind, row)
	if err != nil {
		return nil, err
	}
	nonce, box := sealed[1:1+chacha20poly1305.NonceSizeX], sealed[1+chacha20poly1305.NonceSizeX:]
	pt, err := k.aead.Open(nil, nonce, box, ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func associated(kind, row string) ([]byte, error) {
	if len(kind) > 0xffff || len(row) > 0xffff {
		return nil, errors.New("atrest: kind or row too long")
	}
	ad := make([]byte, 0, 5+len(kind)+len(row))
	ad = append(ad, Version)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(kind)))
	ad = append(ad, kind...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(row)))
	return append(ad, row...), nil
}
