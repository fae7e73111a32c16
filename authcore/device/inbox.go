package device

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/authcore/verifier"
)

// Delivery is a message sealed to this device, opened.
type Delivery struct {
	ID, Kind string // Kind: verifier.TempPasswordKind ("temp_password")
	Text     []byte
	Created  time.Time
}

// Inbox opens the deliveries sealed to this device for the user called
// name. It proves the unlock to the service first: the secret that how
// opens answers an inbox challenge, which the service counts toward the
// lockout. A refused response wraps ErrWrongPIN. The service releases each
// delivery once.
func (d *Device) Inbox(ctx context.Context, name string, how vault.Unlock) ([]Delivery, error) {
	u, token, deliveryKey, err := d.enrolled(name)
	if err != nil {
		return nil, err
	}
	if len(deliveryKey) != 32 {
		return nil, fmt.Errorf("%w: %q has no delivery key", ErrNotEnrolled, name)
	}
	c := d.client(u.Service)
	ch, err := c.InboxChallenge(ctx, u.DeviceID, token)
	if err != nil {
		return nil, err
	}
	resp, err := d.answer(name, ch.Challenge, how)
	if err != nil {
		return nil, err
	}
	box, err := c.Inbox(ctx, u.DeviceID, token, protocol.InboxRequest{ChallengeID: ch.ID, Response: resp})
	if err != nil {
		return nil, serviceOutcome(err)
	}
	out := make([]Delivery, 0, len(box.Deliveries))
	for _, x := range box.Deliveries {
		label := verifier.DeliveryLabel(x.Kind, x.ID, u.DeviceID)
		if x.Label != label {
			return out, fmt.Errorf("device: delivery %s is not addressed to this device", x.ID)
		}
		pt, err := protocol.Open(deliveryKey, label, x.Sealed)
		if err != nil {
			return out, fmt.Errorf("device: delivery %s: %w", x.ID, err)
		}
		out = append(out, Delivery{ID: x.ID, Kind: x.Kind, Text: pt, Created: x.CreatedAt})
	}
	return out, nil
}

// WhenOffline says what [Device.ChangePIN] does when the service of an
// enrolled user cannot be reached ([Offline]).
type WhenOffline int

const (
	// RefuseOffline changes nothing and returns the error.
	RefuseOffline WhenOffline = iota
	// ChangeOffline changes the PIN unchecked; ChangePIN reports it
	// unconfirmed.
	ChangeOffline
)

// ChangePIN re-seals the secret of the user called name under newPIN.
//
// The vault cannot tell a wrong old PIN (that is the point of the PIN
// gate), and a secret re-sealed from a wrong one stays wrong for good. So
// when the user was enrolled with a service, the old PIN is proved to it
// first with a PIN challenge, which counts toward the lockout and releases
// nothing (the inbox is left as it is): a refusal wraps ErrWrongPIN and
// changes nothing. When the service cannot be reached, offline says what
// to do. A user that was imported, not enrolled, has no service to prove
// it to: its PIN is changed unconfirmed.
//
// confirmed reports whether the service accepted the old PIN.
func (d *Device) ChangePIN(ctx context.Context, name, oldPIN, newPIN string, offline WhenOffline) (confirmed bool, err error) {
	if err := vault.CheckPIN(newPIN); err != nil {
		return false, err
	}
	u, err := d.Vault.User(name)
	if err != nil {
		return false, err
	}
	if !u.Gate.HasPIN() {
		return false, fmt.Errorf("%w: %q has no PIN to change on this device", vault.ErrNoGate, name)
	}
	err = d.provePIN(ctx, name, vault.Unlock{PIN: oldPIN})
	switch {
	case err == nil:
		confirmed = true
	case errors.Is(err, ErrNotEnrolled), Offline(err) && offline == ChangeOffline:
		// Nothing to prove it to: change it unconfirmed.
	default:
		return false, err
	}
	if err := d.Vault.ChangePIN(name, oldPIN, newPIN, d.rand()); err != nil {
		return false, err
	}
	return confirmed, nil
}

// provePIN proves to the service that how opens the secret of the user
// called name: the secret answers a PIN challenge. A refused response wraps
// ErrWrongPIN.
func (d *Device) provePIN(ctx context.Context, name string, how vault.Unlock) error {
	u, token, _, err := d.enrolled(name)
	if err != nil {
		return err
	}
	c := d.client(u.Service)
	ch, err := c.PINChallenge(ctx, u.DeviceID, token)
	if err != nil {
		return err
	}
	resp, err := d.answer(name, ch.Challenge, how)
	if err != nil {
		return err
	}
	err = c.ProvePIN(ctx, u.DeviceID, token, protocol.ProofResponse{ChallengeID: ch.ID, Response: resp})
	if errors.Is(err, protocol.ErrInvalidResponse) {
		return fmt.Errorf("%w: %w", ErrWrongPIN, err)
	}
	return err
}

// answer opens the secret of the user called name as how says and answers
// a challenge of the service.
func (d *Device) answer(name, challenge string, how vault.Unlock) (string, error) {
	s, err := d.Vault.Unlock(name, how, d.now())
	if err != nil {
		return "", err
	}
	defer s.Close()
	return s.Respond(ocra.Input{Challenge: challenge})
}
