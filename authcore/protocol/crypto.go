package protocol

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"ibkey/authcore/ocra"
)

// Suites of the IB Key service.
const (
	// SuiteIBKey answers a 6-digit challenge with an 8-digit response.
	SuiteIBKey = "OCRA-1:HOTP-SHA256-8:QN06"
	// SuiteDSC is the soft DSC+ card: the card PIN is an input (P).
	SuiteDSC = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
	// SuiteApprove answers a seamless login request: a 40-hex-digit
	// challenge and S = ApprovalSession(payload, number).
	SuiteApprove = "OCRA-1:HOTP-SHA256-8:QH40-S032"
)

// SecretSize is the length of the OCRA secret in bytes.
const SecretSize = 32

var (
	// ErrBadKey: a public key has the wrong length or is not a valid point.
	ErrBadKey = errors.New("protocol: invalid key")
	// ErrSealed: a sealed message could not be opened.
	ErrSealed = errors.New("protocol: sealed message cannot be opened")
	// ErrSignature: an event's signature does not verify under the pinned key.
	ErrSignature = errors.New("protocol: bad event signature")
)

// NewActivationKey returns a fresh X25519 key pair for one activation. The
// device sends its public key and discards the private key once the secret
// is derived and sealed.
func NewActivationKey(rand io.Reader) (*ecdh.PrivateKey, error) {
	var seed [32]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("protocol: activation key: %w", err)
	}
	return ecdh.X25519().NewPrivateKey(seed[:])
}

// DeriveSecret derives the 32-byte OCRA secret from the X25519 agreement of
// own (one side's private key) and peer (the other side's public key):
//
//	shared = X25519(own, peer)
//	salt   = "ibkey-ocra-v1" || devicePub || servicePub
//	info   = lp(enrollmentID) || lp(suite) || lp(deviceID)
//	secret = HKDF-SHA256(shared, salt, info, 32)
//
// where lp(x) is x preceded by its length as a 2-byte big-endian number.
// devicePub and servicePub are the two public keys, so that both sides
// compute the same salt.
func DeriveSecret(own *ecdh.PrivateKey, peer []byte, devicePub, servicePub []byte, enrollmentID, suite, deviceID string) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, ErrBadKey
	}
	shared, err := own.ECDH(pk)
	if err != nil {
		return nil, ErrBadKey
	}
	salt := append([]byte("ibkey-ocra-v1"), devicePub...)
	salt = append(salt, servicePub...)
	info := lp(lp(lp(nil, enrollmentID), suite), deviceID)
	return hkdf.Key(sha256.New, shared, salt, string(info), SecretSize)
}

func lp(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

const sealVersion = 1

// Seal encrypts plaintext to the X25519 public key to for one delivery:
//
//	e = fresh X25519 key pair
//	key = HKDF-SHA256(X25519(e, to), "ibkey-seal-v1" || e.pub || to, lp(label), 32)
//	sealed = 0x01 || e.pub || ChaCha20-Poly1305(key, nonce 0, plaintext, aad label)
//
// label binds the message to its purpose and recipient (the service uses
// "temp_password/" + delivery id + "/" + device id).
func Seal(rand io.Reader, to []byte, label string, plaintext []byte) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(to)
	if err != nil {
		return nil, ErrBadKey
	}
	e, err := NewActivationKey(rand)
	if err != nil {
		return nil, err
	}
	shared, err := e.ECDH(pk)
	if err != nil {
		return nil, ErrBadKey
	}
	epub := e.PublicKey().Bytes()
	aead, err := sealAEAD(shared, epub, to, label)
	if err != nil {
		return nil, err
	}
	out := append([]byte{sealVersion}, epub...)
	var nonce [chacha20poly1305.NonceSize]byte
	return aead.Seal(out, nonce[:], plaintext, []byte(label)), nil
}

// Open decrypts a message sealed to the X25519 private key priv with label.
func Open(priv []byte, label string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+32+chacha20poly1305.Overhead || sealed[0] != sealVersion {
		return nil, ErrSealed
	}
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, ErrBadKey
	}
	epub := sealed[1:33]
	pk, err := ecdh.X25519().NewPublicKey(epub)
	if err != nil {
		return nil, ErrSealed
	}
	shared, err := k.ECDH(pk)
	if err != nil {
		return nil, ErrSealed
	}
	aead, err := sealAEAD(shared, epub, k.PublicKey().Bytes(), label)
	if err != nil {
		return nil, err
	}
	var nonce [chacha20poly1305.NonceSize]byte
	pt, err := aead.Open(nil, nonce[:], sealed[33:], []byte(label))
	if err != nil {
		return nil, ErrSealed
	}
	return pt, nil
}

func sealAEAD(shared, epub, to []byte, label string) (cipher.AEAD, error) {
	salt := append([]byte("ibkey-seal-v1"), epub...)
	salt = append(salt, to...)
	key, err := hkdf.Key(sha256.New, shared, salt, string(lp(nil, label)), chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(key)
}

// ApprovalSession is the S input of [SuiteApprove] for a login request: the
// SHA-256 of the signed request payload (the canonical context: who, where,
// what, when, which challenge and device) and the chosen number:
//
//	S = SHA-256("ibkey-approve-v1" || lp(payload) || uint32be(number))
func ApprovalSession(payload []byte, number int) []byte {
	h := sha256.New()
	h.Write([]byte("ibkey-approve-v1"))
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(payload)))
	if len(payload) > 0xffff {
		n = [2]byte{0xff, 0xff}
	}
	h.Write(n[:])
	h.Write(payload)
	var num [4]byte
	binary.BigEndian.PutUint32(num[:], uint32(number))
	h.Write(num[:])
	return h.Sum(nil)
}

// ApprovalInput is the OCRA input of an approval of the login request ev,
// whose signed payload is payload, with number chosen.
func ApprovalInput(ev Event, payload []byte, number int) ocra.Input {
	return ocra.Input{Challenge: ev.Challenge, Session: ApprovalSession(payload, number)}
}

// SignEvent signs the JSON encoding of ev with the service key.
func SignEvent(key ed25519.PrivateKey, seq int64, ev Event) (SignedEvent, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return SignedEvent{}, err
	}
	return SignedEvent{Seq: seq, Payload: payload, Signature: ed25519.Sign(key, payload)}, nil
}

// OpenEvent checks the signature of se under the pinned service key and
// that it is addressed to deviceID, and decodes it. It does not check
// expiry: compare ExpiresAt with the time.
func OpenEvent(serviceKey ed25519.PublicKey, deviceID string, se SignedEvent) (Event, error) {
	if len(serviceKey) != ed25519.PublicKeySize || !ed25519.Verify(serviceKey, se.Payload, se.Signature) {
		return Event{}, ErrSignature
	}
	var ev Event
	if err := json.Unmarshal(se.Payload, &ev); err != nil {
		return Event{}, fmt.Errorf("protocol: decode event: %w", err)
	}
	if ev.DeviceID != deviceID {
		return Event{}, fmt.Errorf("protocol: event for device %q, not this one", ev.DeviceID)
	}
	return ev, nil
}

// Expired reports whether ev has expired at now.
func (ev Event) Expired(now time.Time) bool { return !now.Before(ev.ExpiresAt) }
