package device

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"ibkey/authcore/digits"
	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

// Enroll starts an enrollment at the service with the account's
// credentials; the service sends an activation code by channel (sms or
// voice; "" is sms).
func (d *Device) Enroll(ctx context.Context, service, username, password, channel string) (protocol.Enrollment, error) {
	return d.client(service).Enroll(ctx, protocol.EnrollRequest{Username: username, Password: password, Channel: channel})
}

// Resend asks for a new activation code by channel ("" is the other
// channel than the last one).
func (d *Device) Resend(ctx context.Context, service, enrollmentID, channel string) (protocol.Enrollment, error) {
	return d.client(service).Resend(ctx, enrollmentID, channel)
}

// Protection is how a new user's secret is sealed: a PIN, a biometric
// check or both; or, with Card, a soft DSC+ whose PIN (the card's) is an
// input of every response.
type Protection struct {
	PIN       string
	Biometric bool
	Card      bool
}

func (p Protection) check() error {
	if p.Card {
		if p.Biometric {
			return fmt.Errorf("%w: a card takes its PIN, not biometrics", vault.ErrInvalid)
		}
		return CheckCardPIN(p.PIN)
	}
	if p.PIN == "" && !p.Biometric {
		return fmt.Errorf("%w: a user needs a PIN or a biometric gate", vault.ErrNoGate)
	}
	if p.PIN != "" {
		return vault.CheckPIN(p.PIN)
	}
	return nil
}

// CardPINDigits is the length of a DSC+ card's PIN: the card's keypad
// takes 4 digits.
const CardPINDigits = 4

// CheckCardPIN reports whether pin may be a soft DSC+ card's PIN: 4 digits
// that vault.CheckPIN takes (not too easy to guess). The error wraps
// vault.ErrBadPIN.
func CheckCardPIN(pin string) error {
	if len(pin) != CardPINDigits || !digits.Only(pin) {
		return fmt.Errorf("%w: a card's PIN is %d digits", vault.ErrBadPIN, CardPINDigits)
	}
	return vault.CheckPIN(pin)
}

// Activate activates this device for the enrollment enrollmentID at
// service with the activation code, derives the OCRA secret, seals it in
// the vault as the user called name under p, and confirms with the
// service, which only then makes this device the user's active one: Begin
// and then Finish, for callers that have the protection before the code.
// The confirmation is sent again while the service does not answer it; if
// the service refuses it the user is removed from the vault again (see
// [ConfirmError]).
func (d *Device) Activate(ctx context.Context, service, enrollmentID, code, name string, p Protection) (vault.User, error) {
	return d.activate(ctx, service, enrollmentID, Claim{Code: code}, name, p)
}

// EnrollSession exchanges the Session ID of a Client Portal link (see
// protocol.ParseEnrollLink) for its enrollment at service; no code is sent.
func (d *Device) EnrollSession(ctx context.Context, service, session string) (protocol.Enrollment, error) {
	return d.client(service).EnrollSession(ctx, session)
}

// ActivateSession is Activate for an enrollment by link: the session
// (protocol.Enrollment.Session) stands in for the activation code.
func (d *Device) ActivateSession(ctx context.Context, service, enrollmentID, session, name string, p Protection) (vault.User, error) {
	return d.activate(ctx, service, enrollmentID, Claim{Session: session}, name, p)
}

func (d *Device) activate(ctx context.Context, service, enrollmentID string, c Claim, name string, p Protection) (vault.User, error) {
	if err := p.check(); err != nil {
		return vault.User{}, err
	}
	if _, err := d.Vault.User(name); err == nil {
		return vault.User{}, fmt.Errorf("%w: %q", vault.ErrExists, name)
	} else if !errors.Is(err, vault.ErrNoUser) {
		return vault.User{}, err
	}
	if p.Card {
		c.CardPIN, p = p.PIN, Protection{}
	}
	pa, err := d.Begin(ctx, service, enrollmentID, c)
	if err != nil {
		return vault.User{}, err
	}
	defer pa.Close()
	return pa.Finish(ctx, name, p)
}

// Claim is what proves an enrollment to the service at its activation:
// the activation code it sent, or for an enrollment by link the Session
// ID (protocol.Enrollment.Session). CardPIN, when not "", makes the new
// user a soft DSC+ card with that PIN (see CheckCardPIN): the service
// keeps its hash from the activation on, since the PIN is an input of
// every response of the card, as a hardware card's PIN is set before the
// card is registered.
type Claim struct {
	Code, Session string
	CardPIN       string
}

// Pending is an activation that the service took and this device has not
// yet sealed: the code was right, the keys agreed, and the new OCRA
// secret is held in memory only, until [Pending.Finish] seals it in the
// vault and confirms with the service, or [Pending.Close] drops it. Until
// the confirmation the user's earlier device stays the active one; the
// service forgets an activation that is not confirmed by ExpiresAt.
// A Pending is not safe for concurrent use.
type Pending struct {
	d                     *Device
	service, enrollmentID string
	a                     protocol.Activation
	suite                 ocra.Suite
	secret                []byte // the OCRA secret: cleared by Close
	token                 []byte // the device-channel token
	delivery              []byte // the delivery key (X25519 private)
	confirm               string // the response to the confirm challenge
	card, spent           bool
}

// Begin sends the claim to the service at service for the enrollment
// enrollmentID with this device's new keys. The service checks the code
// (or session) before anything else: a wrong one is protocol.ErrInvalidCode
// with the tries left, an expired or used one protocol.ErrGone. On success
// the OCRA secret is derived (the activation key pair is ephemeral: dropped
// at once) and held in the returned Pending, with the response that will
// confirm it. Nothing is written on this device.
func (d *Device) Begin(ctx context.Context, service, enrollmentID string, c Claim) (*Pending, error) {
	if c.CardPIN != "" {
		if err := CheckCardPIN(c.CardPIN); err != nil {
			return nil, err
		}
	}
	rnd := d.rand()
	act, err := protocol.NewActivationKey(rnd)
	if err != nil {
		return nil, err
	}
	delivery, err := protocol.NewActivationKey(rnd)
	if err != nil {
		return nil, err
	}
	token := make([]byte, 32)
	if _, err := io.ReadFull(rnd, token); err != nil {
		return nil, fmt.Errorf("device: read random: %w", err)
	}
	req := protocol.ActivateRequest{
		Code: digits.Strip(c.Code), Session: c.Session, PublicKey: act.PublicKey().Bytes(), DeliveryKey: delivery.PublicKey().Bytes(), ChannelToken: token,
	}
	want := protocol.SuiteIBKey
	if c.CardPIN != "" {
		h := sha1.Sum([]byte(c.CardPIN))
		req.Card, req.PINHash = true, h[:]
		want = protocol.SuiteDSC
	}
	a, err := d.client(service).Activate(ctx, enrollmentID, req)
	if err != nil {
		return nil, err
	}
	if len(a.ServiceKey) != ed25519.PublicKeySize {
		return nil, errors.New("device: the service sent no identity key")
	}
	if a.Suite != want {
		return nil, fmt.Errorf("device: the service chose suite %q, want %q", a.Suite, want)
	}
	suite, err := ocra.ParseSuite(a.Suite)
	if err != nil {
		return nil, fmt.Errorf("device: the service chose suite %q: %w", a.Suite, err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enrollmentID, a.Suite, a.DeviceID)
	act = nil // ephemeral: dropped once the secret is derived
	if err != nil {
		return nil, err
	}
	// The confirmation is made now, so that a card's PIN is not kept.
	confirm, err := ocra.Generate(suite, secret, ocra.Input{Challenge: a.ConfirmChallenge, PIN: c.CardPIN})
	if err != nil {
		clear(secret)
		return nil, fmt.Errorf("device: confirmation response: %w", err)
	}
	return &Pending{
		d: d, service: service, enrollmentID: enrollmentID, a: a, suite: suite,
		secret: secret, token: token, delivery: delivery.Bytes(), confirm: confirm, card: c.CardPIN != "",
	}, nil
}

// Username and Account are the service's names of the account being
// added; DeviceID is this device's id at the service.
func (p *Pending) Username() string { return p.a.Username }
func (p *Pending) Account() string  { return p.a.Account }
func (p *Pending) DeviceID() string { return p.a.DeviceID }

// Service is the service's base URL.
func (p *Pending) Service() string { return p.service }

// Card reports whether the new user is a soft DSC+ card.
func (p *Pending) Card() bool { return p.card }

// ExpiresAt is when the service stops waiting for the confirmation.
func (p *Pending) ExpiresAt() time.Time { return p.a.ExpiresAt }

// Spent reports whether p can no longer be finished: it was closed, or
// its confirmation was sent (whatever the answer).
func (p *Pending) Spent() bool { return p.spent || p.secret == nil }

// Close clears the secret from memory without sealing it: the flow was
// abandoned. The service's activation then expires unconfirmed and the
// user's earlier device stays active. Close after Finish does nothing.
func (p *Pending) Close() {
	clear(p.secret)
	clear(p.token)
	clear(p.delivery)
	p.secret, p.token, p.delivery = nil, nil, nil
}

// ErrSpent: the activation was closed or finished already.
var ErrSpent = errors.New("device: the activation is over; start again")

// Finish seals the secret in the vault as the user called name under prot
// (a card takes none: its PIN was given to Begin and is an input of every
// response) and confirms with the service, which only then makes this
// device the user's active one and retires any other. What fails before
// the confirmation is sent (a PIN the vault refuses, a name taken, a
// biometric enrollment cancelled) leaves p as it was, to finish again;
// once the confirmation is sent p is spent and its secret cleared. The
// confirmation is sent again while the service does not answer it; if the
// service refuses it the user is removed from the vault again (see
// [ConfirmError]).
func (p *Pending) Finish(ctx context.Context, name string, prot Protection) (vault.User, error) {
	if p.Spent() {
		return vault.User{}, ErrSpent
	}
	if !p.card {
		if prot.Card {
			return vault.User{}, fmt.Errorf("%w: a card is asked for at Begin", vault.ErrInvalid)
		}
		if err := prot.check(); err != nil {
			return vault.User{}, err
		}
	}
	d := p.d
	nu := vault.NewUser{
		Name: name, Account: p.a.Account, Service: p.service, DeviceID: p.a.DeviceID,
		ServiceKey: p.a.ServiceKey, Suite: p.suite, Secret: p.secret,
		// Copies: the vault's business what it keeps; these are cleared.
		ChannelKey: bytes.Clone(p.token), DeliveryKey: bytes.Clone(p.delivery), Card: p.card,
	}
	if !p.card {
		nu.PIN, nu.Biometric = prot.PIN, prot.Biometric
	}
	if err := d.Vault.Add(nu, d.rand(), d.now()); err != nil {
		return vault.User{}, err
	}
	p.spent = true
	defer p.Close()
	// Sealed on the device first, then confirmed: the service retires any
	// other device of the user only now.
	if err := confirmRetry(ctx, d.client(p.service), p.a.DeviceID, p.token, p.confirm); err != nil {
		if !refused(err) {
			// No answer: the service may have made this device the
			// user's one device, so the user stays.
			return vault.User{}, &ConfirmError{Err: err, Unanswered: true}
		}
		return vault.User{}, &ConfirmError{Err: err, Kept: d.Vault.Remove(name)}
	}
	return d.Vault.User(name)
}

// confirmDelays are the waits between the tries of a confirmation that
// got no answer (about 15 s in all, or until ctx ends). The service
// answers a repeated confirmation as it did the first (docs/PROTOCOL.md).
var confirmDelays = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// confirmRetry sends the confirmation until the service answers it, at
// most len(confirmDelays)+1 times; it returns the last error.
func confirmRetry(ctx context.Context, c *protocol.Client, deviceID string, token []byte, response string) error {
	err := c.Confirm(ctx, deviceID, token, response)
	for _, wait := range confirmDelays {
		if err == nil || refused(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = c.Confirm(ctx, deviceID, token, response)
	}
	return err
}

// refused reports whether err is the service's answer that it will not
// take the confirmation (a 4xx other than "too many requests" or
// "timeout"), as opposed to no answer or a fault of the service.
func refused(err error) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Status/100 == 4 &&
		pe.Status != http.StatusTooManyRequests && pe.Status != http.StatusRequestTimeout
}

// ConfirmError is the error of [Device.Activate] and
// [Device.ActivateSession] when the service refused the confirmation or did
// not answer it.
//
// When the service refused it, this device is not the user's active one
// and the user is removed from the vault again; Kept, when not nil, says
// why that removal failed (the unconfirmed user stays in the vault).
//
// When Unanswered, every try failed without an answer of the service
// (network errors, 5xx): the user stays in the vault, since the service
// may have made this device the user's active one. It works if it did;
// if not, the service refuses this device (401 on its channel) and the
// user's earlier device stays active: remove the user and enroll again.
type ConfirmError struct {
	Err        error // the service's answer, or why there was none
	Kept       error
	Unanswered bool
}

func (e *ConfirmError) Error() string {
	switch {
	case e.Unanswered:
		return fmt.Sprintf("device: confirm: no answer from the service (the user stays; it works if the service took the confirmation): %v", e.Err)
	case e.Kept != nil:
		return fmt.Sprintf("device: confirm: %v (and the unconfirmed user stays: %v)", e.Err, e.Kept)
	}
	return fmt.Sprintf("device: confirm: %v", e.Err)
}

func (e *ConfirmError) Unwrap() error { return e.Err }
