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
	s, err := d.Vault.Unlock(name, how, d.now())
	if err != nil {
		return nil, err
	}
	resp, err := s.Respond(ocra.Input{Challenge: ch.Challenge})
	s.Close()
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

// ChangePIN re-seals the secret of the user called name under newPIN.
//
// The vault cannot tell a wrong old PIN (that is the point of the PIN
// gate), and a secret re-sealed from a wrong one stays wrong for good. So
// when the user was enrolled with a service, the old PIN is proved to it
// first, by answering an inbox challenge: a refusal wraps ErrWrongPIN and
// changes nothing. When the service cannot be reached ([Offline]) the PIN
// is changed unconfirmed, and confirmed reports false.
//
// The proof opens the inbox, and the service releases its deliveries only
// once: they are returned as released, for the caller to show.
func (d *Device) ChangePIN(ctx context.Context, name, oldPIN, newPIN string) (released []Delivery, confirmed bool, err error) {
	if err := vault.CheckPIN(newPIN); err != nil {
		return nil, false, err
	}
	u, err := d.Vault.User(name)
	if err != nil {
		return nil, false, err
	}
	if !u.Gate.HasPIN() {
		return nil, false, fmt.Errorf("%w: %q has no PIN to change on this device", vault.ErrNoGate, name)
	}
	released, err = d.Inbox(ctx, name, vault.Unlock{PIN: oldPIN})
	switch {
	case err == nil:
		confirmed = true
	case errors.Is(err, ErrNotEnrolled) || Offline(err):
		// Nothing to prove it to: change it unconfirmed.
	default:
		return released, false, err
	}
	if err := d.Vault.ChangePIN(name, oldPIN, newPIN, d.rand()); err != nil {
		return released, confirmed, err
	}
	return released, confirmed, nil
}
