package device

import (
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

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
		return vault.CheckPIN(p.PIN)
	}
	if p.PIN == "" && !p.Biometric {
		return fmt.Errorf("%w: a user needs a PIN or a biometric gate", vault.ErrNoGate)
	}
	if p.PIN != "" {
		return vault.CheckPIN(p.PIN)
	}
	return nil
}

// Activate activates this device for the enrollment enrollmentID at
// service with the activation code, derives the OCRA secret, seals it in
// the vault as the user called name under p, and confirms with the
// service, which only then makes this device the user's active one. The
// confirmation is sent again while the service does not answer it; if the
// service refuses it the user is removed from the vault again (see
// [ConfirmError]).
//
// The activation key pair is ephemeral: dropped once the secret is
// derived. The device-channel token and the delivery key are kept in the
// vault under the device-bound key.
func (d *Device) Activate(ctx context.Context, service, enrollmentID, code, name string, p Protection) (vault.User, error) {
	return d.activate(ctx, service, enrollmentID, code, "", name, p)
}

// EnrollSession exchanges the Session ID of a Client Portal link (see
// protocol.ParseEnrollLink) for its enrollment at service; no code is sent.
func (d *Device) EnrollSession(ctx context.Context, service, session string) (protocol.Enrollment, error) {
	return d.client(service).EnrollSession(ctx, session)
}

// ActivateSession is Activate for an enrollment by link: the session
// (protocol.Enrollment.Session) stands in for the activation code.
func (d *Device) ActivateSession(ctx context.Context, service, enrollmentID, session, name string, p Protection) (vault.User, error) {
	return d.activate(ctx, service, enrollmentID, "", session, name, p)
}

func (d *Device) activate(ctx context.Context, service, enrollmentID, code, session, name string, p Protection) (vault.User, error) {
	if err := p.check(); err != nil {
		return vault.User{}, err
	}
	if _, err := d.Vault.User(name); err == nil {
		return vault.User{}, fmt.Errorf("%w: %q", vault.ErrExists, name)
	} else if !errors.Is(err, vault.ErrNoUser) {
		return vault.User{}, err
	}
	rnd := d.rand()
	act, err := protocol.NewActivationKey(rnd)
	if err != nil {
		return vault.User{}, err
	}
	delivery, err := protocol.NewActivationKey(rnd)
	if err != nil {
		return vault.User{}, err
	}
	token := make([]byte, 32)
	if _, err := io.ReadFull(rnd, token); err != nil {
		return vault.User{}, fmt.Errorf("device: read random: %w", err)
	}
	req := protocol.ActivateRequest{
		Code: code, Session: session, PublicKey: act.PublicKey().Bytes(), DeliveryKey: delivery.PublicKey().Bytes(), ChannelToken: token,
	}
	want := protocol.SuiteIBKey
	if p.Card {
		h := sha1.Sum([]byte(p.PIN))
		req.Card, req.PINHash = true, h[:]
		want = protocol.SuiteDSC
	}
	c := d.client(service)
	a, err := c.Activate(ctx, enrollmentID, req)
	if err != nil {
		return vault.User{}, err
	}
	if len(a.ServiceKey) != ed25519.PublicKeySize {
		return vault.User{}, errors.New("device: the service sent no identity key")
	}
	if a.Suite != want {
		return vault.User{}, fmt.Errorf("device: the service chose suite %q, want %q", a.Suite, want)
	}
	suite, err := ocra.ParseSuite(a.Suite)
	if err != nil {
		return vault.User{}, fmt.Errorf("device: the service chose suite %q: %w", a.Suite, err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enrollmentID, a.Suite, a.DeviceID)
	act = nil // ephemeral: dropped once the secret is derived
	if err != nil {
		return vault.User{}, err
	}
	defer clear(secret)
	in := ocra.Input{Challenge: a.ConfirmChallenge}
	if p.Card {
		in.PIN = p.PIN
	}
	confirm, err := ocra.Generate(suite, secret, in)
	if err != nil {
		return vault.User{}, fmt.Errorf("device: confirmation response: %w", err)
	}
	nu := vault.NewUser{
		Name: name, Account: a.Account, Service: service, DeviceID: a.DeviceID,
		ServiceKey: a.ServiceKey, Suite: suite, Secret: secret,
		ChannelKey: token, DeliveryKey: delivery.Bytes(), Card: p.Card,
	}
	if !p.Card {
		nu.PIN, nu.Biometric = p.PIN, p.Biometric
	}
	if err := d.Vault.Add(nu, rnd, d.now()); err != nil {
		return vault.User{}, err
	}
	// Sealed on the device first, then confirmed: the service retires any
	// other device of the user only now.
	if err := confirmRetry(ctx, c, a.DeviceID, token, confirm); err != nil {
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
