package vault

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// KDF is the Argon2id cost of a PIN seal. It is stored with the seal.
type KDF struct {
	MemoryKiB uint32 `json:"m"`
	Time      uint32 `json:"t"`
	Threads   uint8  `json:"p"`
}

// DefaultKDF is the cost of new PIN seals: OWASP's Argon2id minimum
// (m=19 MiB, t=2, p=1).
var DefaultKDF = KDF{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// Caps on a stored KDF: the file sets this cost, so it is bounded when read.
const (
	MaxMemoryKiB = 256 * 1024
	MaxTime      = 10
	MaxThreads   = 4
)

func (k KDF) check() error {
	if k.MemoryKiB < 1 || k.MemoryKiB > MaxMemoryKiB || k.Time < 1 || k.Time > MaxTime || k.Threads < 1 || k.Threads > MaxThreads {
		return fmt.Errorf("%w: Argon2id parameters m=%d t=%d p=%d out of bounds", ErrDamaged, k.MemoryKiB, k.Time, k.Threads)
	}
	return nil
}

const (
	saltSize   = 16
	maxSecret  = 128 // an imported OCRA key may be any length up to this
	keySize    = 32
	idSize     = 16
	maxOpaque  = 1024 // the channel key
	maxText    = 256  // account, service, device id
	maxNameLen = 64
)

// pinSlot seals a secret under a PIN: Sealed = secret XOR ChaCha20 keystream
// under Argon2id(HMAC-SHA256(pepper, PIN), Salt). There is no MAC: every PIN
// opens something.
type pinSlot struct {
	KDF    KDF    `json:"kdf"`
	Salt   []byte `json:"salt"`
	Sealed []byte `json:"sealed"`
}

// pinStream XORs the PIN keystream into b.
func pinStream(b []byte, pin string, pepper, salt []byte, k KDF) {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("ibkey vault pin v1\x00"))
	m.Write([]byte(pin))
	pw := m.Sum(nil)
	key := argonKey(pw, &pinSlot{KDF: k, Salt: salt})
	clear(pw)
	// The salt is fresh for every seal, so the key is used for one
	// keystream only and a zero nonce is safe.
	c, err := chacha20.NewUnauthenticatedCipher(key, make([]byte, chacha20.NonceSize))
	clear(key)
	if err != nil {
		panic("vault: chacha20: " + err.Error()) // sizes are constants
	}
	c.XORKeyStream(b, b)
}

func sealPIN(secret []byte, pin string, pepper []byte, k KDF, rand io.Reader) (*pinSlot, error) {
	s := &pinSlot{KDF: k, Salt: make([]byte, saltSize), Sealed: append([]byte(nil), secret...)}
	if _, err := io.ReadFull(rand, s.Salt); err != nil {
		return nil, fmt.Errorf("vault: read random: %w", err)
	}
	pinStream(s.Sealed, pin, pepper, s.Salt, k)
	return s, nil
}

// open returns what pin opens: the secret for the right PIN, other bytes of
// the same length for any other.
func (s *pinSlot) open(pin string, pepper []byte) []byte {
	b := append([]byte(nil), s.Sealed...)
	pinStream(b, pin, pepper, s.Salt, s.KDF)
	return b
}

// bioSlot seals a secret with XChaCha20-Poly1305 under a key that the
// platform's Biometrics releases after a successful check.
type bioSlot struct {
	Key    string `json:"key"` // the name of the key in Biometrics
	Nonce  []byte `json:"nonce"`
	Sealed []byte `json:"sealed"`
}

func bioAD(id []byte) []byte { return append([]byte("ibkey vault biometric v1\x00"), id...) }

func sealBio(secret, key, id []byte, name string, rand io.Reader) (*bioSlot, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("vault: biometric key: %w", err)
	}
	s := &bioSlot{Key: name, Nonce: make([]byte, a.NonceSize())}
	if _, err := io.ReadFull(rand, s.Nonce); err != nil {
		return nil, fmt.Errorf("vault: read random: %w", err)
	}
	s.Sealed = a.Seal(nil, s.Nonce, secret, bioAD(id))
	return s, nil
}

func (s *bioSlot) open(key, id []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("%w: biometric key has %d bytes", ErrDamaged, len(key))
	}
	if len(s.Nonce) != a.NonceSize() {
		return nil, fmt.Errorf("%w: biometric seal", ErrDamaged)
	}
	b, err := a.Open(nil, s.Nonce, s.Sealed, bioAD(id))
	if err != nil {
		return nil, fmt.Errorf("%w: the biometric key does not open the secret (biometrics re-enrolled?)", ErrDamaged)
	}
	return b, nil
}

// argonKey is the PIN key of a seal, from the peppered PIN.
func argonKey(pw []byte, s *pinSlot) []byte {
	return argon2.IDKey(pw, s.Salt, s.KDF.Time, s.KDF.MemoryKiB, s.KDF.Threads, chacha20.KeySize)
}
