package vault

import (
	"crypto/ed25519"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"ibkey/authcore/ocra"
)

// Gate says how a user's secret is opened.
type Gate string

// The gates. A user has a PIN, a biometric check, both, or is a card.
const (
	GatePIN          Gate = "pin"
	GateBiometric    Gate = "biometric"
	GatePINBiometric Gate = "pin+biometric"
	// GateCard is a soft DSC+: the PIN is an input of the OCRA computation
	// (the suite has P) and the service verifies it; the secret is sealed
	// under the vault key only.
	GateCard Gate = "card"
)

func (g Gate) valid() bool {
	return g == GatePIN || g == GateBiometric || g == GatePINBiometric || g == GateCard
}

// HasPIN reports whether the secret is sealed under a PIN.
func (g Gate) HasPIN() bool { return g == GatePIN || g == GatePINBiometric }

// HasBiometric reports whether the secret is sealed under a biometric key.
func (g Gate) HasBiometric() bool { return g == GateBiometric || g == GatePINBiometric }

// User is what the vault tells about a user without unlocking: no secret.
type User struct {
	Name, Account, Service, DeviceID string
	ServiceKey                       ed25519.PublicKey // nil for imported tokens
	Suite                            ocra.Suite
	Gate                             Gate
	Created, LastUsed                time.Time // LastUsed is zero until the first unlock
}

func (r *record) user() User {
	s, _ := ocra.ParseSuite(r.Suite) // checked when read
	u := User{
		Name: r.Name, Account: r.Account, Service: r.Service, DeviceID: r.DeviceID,
		Suite: s, Gate: r.Gate, Created: r.Created, LastUsed: r.LastUsed,
	}
	if r.ServiceKey != nil {
		u.ServiceKey = append(ed25519.PublicKey(nil), r.ServiceKey...)
	}
	return u
}

// NewUser is a user to add.
type NewUser struct {
	Name, Account, Service, DeviceID string
	// ServiceKey is the service identity pinned at enrollment (nil for
	// imported tokens).
	ServiceKey ed25519.PublicKey
	Suite      ocra.Suite
	// Secret is the OCRA secret: 32 bytes from enrollment, 1 to 128 bytes
	// for an imported token.
	Secret []byte
	// ChannelKey lets the device listen for notifications before unlock
	// (opaque, up to 1024 bytes; may be nil).
	ChannelKey []byte
	// DeliveryKey is the X25519 private key (32 bytes) of sealed deliveries
	// (may be nil).
	DeliveryKey []byte
	// The gates: a PIN, a biometric check or both.
	PIN       string
	Biometric bool
	// Card makes a soft DSC+: the suite must have a PIN input (P), and PIN
	// and Biometric must be empty (the card's PIN is given at each use and
	// verified by the service).
	Card bool
}

// checkName reports whether s can be a user's display name: 1 to 64 bytes
// of printable UTF-8, no tab or newline (users list prints tab-separated),
// no leading or trailing space.
func checkName(s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("%w: name must be 1 to %d bytes", ErrInvalid, maxNameLen)
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return fmt.Errorf("%w: name starts or ends with a space", ErrInvalid)
	}
	return checkField("name", s)
}

// checkText reports whether s is short printable UTF-8.
func checkText(s string) error { return checkField("text", s) }

func checkField(field, s string) error {
	if len(s) > maxText || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s too long or not UTF-8", ErrInvalid, field)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %s %q has a character that cannot be printed", ErrInvalid, field, s)
		}
	}
	return nil
}

// check validates u and returns its gate.
func (u *NewUser) check() (Gate, error) {
	if err := checkName(u.Name); err != nil {
		return "", err
	}
	for i, s := range []string{u.Account, u.Service, u.DeviceID} {
		if err := checkField([]string{"account", "service", "device id"}[i], s); err != nil {
			return "", err
		}
	}
	if u.ServiceKey != nil && len(u.ServiceKey) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: service key must be %d bytes", ErrInvalid, ed25519.PublicKeySize)
	}
	if u.Suite.IsZero() {
		return "", fmt.Errorf("%w: no suite", ErrInvalid)
	}
	if len(u.Secret) < 1 || len(u.Secret) > maxSecret {
		return "", fmt.Errorf("%w: secret must be 1 to %d bytes", ErrInvalid, maxSecret)
	}
	if len(u.ChannelKey) > maxOpaque {
		return "", fmt.Errorf("%w: channel key longer than %d bytes", ErrInvalid, maxOpaque)
	}
	if u.DeliveryKey != nil && len(u.DeliveryKey) != keySize {
		return "", fmt.Errorf("%w: delivery key must be %d bytes", ErrInvalid, keySize)
	}
	if u.Card {
		if u.Suite.PIN() == 0 {
			return "", fmt.Errorf("%w: a card needs a suite with a PIN input (P)", ErrInvalid)
		}
		if u.PIN != "" || u.Biometric {
			return "", fmt.Errorf("%w: a card has no PIN or biometric gate (its PIN is an input)", ErrInvalid)
		}
		return GateCard, nil
	}
	if u.Suite.PIN() != 0 {
		return "", fmt.Errorf("%w: suite %s has a PIN input: make the user a card", ErrInvalid, u.Suite)
	}
	switch {
	case u.PIN != "" && u.Biometric:
		return GatePINBiometric, CheckPIN(u.PIN)
	case u.PIN != "":
		return GatePIN, CheckPIN(u.PIN)
	case u.Biometric:
		return GateBiometric, nil
	}
	return "", fmt.Errorf("%w: a user needs a PIN or a biometric gate", ErrNoGate)
}
