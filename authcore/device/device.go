// Package device is the device side of IB Key as flows: enroll and
// activate a user into the vault, answer a challenge, listen for signed
// login requests, approve or deny them with number matching, open the
// inbox after proving the PIN, and change a PIN proved to the service.
// The command line (cmd/ibkey) and the app's adapter (app/device) both
// drive it, so that the steps and their order live in one place.
//
// It holds no UI and no server: it talks to the service through
// [protocol.Client] and keeps users in a [vault.Vault]. Time and randomness
// are inputs ([Device.Now], [Device.Rand]).
//
// # Which to use
//
// Make a [Device] over an opened vault. [Device.Enroll] then
// [Device.Activate] add a user (Activate also confirms with the service);
// [Device.Respond] answers a login challenge; [Device.WaitLogin] (one user)
// or [Device.Watch] (every user) listen for seamless login requests, which
// [Device.Approve] and [Device.Deny] answer; [Device.Inbox] opens sealed
// deliveries; [Device.ChangePIN] re-seals a secret under a new PIN.
//
// # Errors
//
// Outcomes come back as the sentinels of package protocol (an answer of the
// service: [protocol.ErrLocked], [protocol.ErrGone], ...), of package vault
// (a local outcome: [vault.ErrNoUser], [vault.ErrBadPIN], ...) and of this
// package ([ErrWrongPIN], [ErrWrongNumber], [ErrExpired], [ErrNotEnrolled]).
// [Offline] tells a service that cannot be reached.
package device

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"ibkey/authcore/digits"
	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

// Sentinel errors of this package; detail comes wrapped.
var (
	// ErrWrongPIN: the service refused a response made to prove the PIN.
	ErrWrongPIN = errors.New("device: wrong PIN")
	// ErrWrongNumber: the number chosen is not one of the request's, or the
	// service says it is not the browser's.
	ErrWrongNumber = errors.New("device: not the number shown in the browser")
	// ErrExpired: the login request has expired.
	ErrExpired = errors.New("device: login request expired")
	// ErrNotEnrolled: the user was imported, not enrolled with a service,
	// so it has no device channel or inbox.
	ErrNotEnrolled = errors.New("device: user not enrolled with a service")
)

// Device is this device's side of IB Key over a vault. The zero values of
// the fields other than Vault take defaults. Its methods are safe for
// concurrent use when Client's result is.
type Device struct {
	Vault *vault.Vault
	// Client returns the client of the service at base; nil gives a
	// protocol.Client over an http.Client with a 60 s timeout.
	Client func(base string) *protocol.Client
	// Rand is crypto/rand.Reader when nil.
	Rand io.Reader
	// Now is time.Now when nil.
	Now func() time.Time
}

// New returns a Device over v with the default client, randomness and clock.
func New(v *vault.Vault) *Device { return &Device{Vault: v} }

func (d *Device) client(base string) *protocol.Client {
	if d.Client != nil {
		return d.Client(base)
	}
	return &protocol.Client{BaseURL: base, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

func (d *Device) rand() io.Reader {
	if d.Rand != nil {
		return d.Rand
	}
	return rand.Reader
}

func (d *Device) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Offline reports whether err says that the service could not be reached
// (no route, refused, timed out, a gateway in between that has no answer),
// as opposed to an answer of the service.
func Offline(err error) bool {
	if err == nil {
		return false
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Status == http.StatusBadGateway || pe.Status == http.StatusServiceUnavailable || pe.Status == http.StatusGatewayTimeout
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// enrolled returns the user called name with its device-channel and
// delivery keys, or ErrNotEnrolled.
func (d *Device) enrolled(name string) (vault.User, []byte, []byte, error) {
	u, err := d.Vault.User(name)
	if err != nil {
		return vault.User{}, nil, nil, err
	}
	if u.Service == "" || u.DeviceID == "" || len(u.ServiceKey) == 0 {
		return vault.User{}, nil, nil, fmt.Errorf("%w: %q", ErrNotEnrolled, name)
	}
	token, delivery, err := d.Vault.Keys(name)
	if err != nil {
		return vault.User{}, nil, nil, err
	}
	if len(token) == 0 {
		return vault.User{}, nil, nil, fmt.Errorf("%w: %q has no device-channel key", ErrNotEnrolled, name)
	}
	return u, token, delivery, nil
}

// ChallengeInput turns a typed challenge ("123 456") into the input of u's
// suite at now, and checks it against the suite before any PIN is asked.
func ChallengeInput(u vault.User, challenge string, now time.Time) (ocra.Input, error) {
	in := ocra.Input{Challenge: digits.Strip(challenge)}
	s := u.Suite
	if s.Counter() {
		return in, errors.New("device: a suite with a counter (C) is not supported")
	}
	if s.Session() != 0 {
		return in, errors.New("device: a suite with session data (S) is not supported")
	}
	if s.TimeStep() != 0 {
		in.Time = now
	}
	check := in
	if s.PIN() != 0 {
		check.PIN = "0"
	}
	// Any key shows whether the suite takes the input.
	if _, err := ocra.Generate(s, []byte{0}, check); err != nil {
		return in, err
	}
	return in, nil
}

// Respond answers a login challenge for the user called name, opening its
// secret as how says (for a card, how.PIN is the card's PIN). A wrong PIN
// gives a wrong response, not an error: only the service can tell.
func (d *Device) Respond(name, challenge string, how vault.Unlock) (string, error) {
	u, err := d.Vault.User(name)
	if err != nil {
		return "", err
	}
	in, err := ChallengeInput(u, challenge, d.now())
	if err != nil {
		return "", err
	}
	s, err := d.Vault.Unlock(name, how, d.now())
	if err != nil {
		return "", err
	}
	defer s.Close()
	return s.Respond(in)
}
