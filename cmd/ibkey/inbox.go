package main

import (
	"context"
	"fmt"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/authcore/verifier"
)

func init() {
	commands["inbox"] = command{
		"inbox --user NAME",
		cmdInbox,
	}
}

func unlockWith(pin string) vault.Unlock { return vault.Unlock{PIN: pin} }

// cmdInbox opens the user's sealed deliveries: it proves the PIN to the
// service with a response first (the service counts failures), then opens
// what the service releases with the delivery key.
func cmdInbox(e *env, args []string) error {
	fs := flags("inbox")
	name := fs.String("user", "", "the user on this device")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("inbox: --user is required")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	u, err := v.User(*name)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if u.Service == "" || u.DeviceID == "" {
		return fmt.Errorf("inbox: %s was not enrolled with a service", *name)
	}
	token, deliveryKey, err := v.Keys(*name)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if len(deliveryKey) != 32 {
		return fmt.Errorf("inbox: %s has no delivery key", *name)
	}
	pin, err := e.readSecret("PIN: ")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := serviceClient(u.Service)
	ch, err := c.InboxChallenge(ctx, u.DeviceID, token)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	s, err := v.Unlock(*name, unlockWith(pin), time.Now())
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	resp, err := s.Respond(ocra.Input{Challenge: ch.Challenge})
	s.Close()
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	box, err := c.Inbox(ctx, u.DeviceID, token, protocol.InboxRequest{ChallengeID: ch.ID, Response: resp})
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if len(box.Deliveries) == 0 {
		fmt.Fprintln(e.stderr, "ibkey: the inbox is empty")
		return nil
	}
	for _, d := range box.Deliveries {
		label := verifier.DeliveryLabel(d.Kind, d.ID, u.DeviceID)
		if d.Label != label {
			return fmt.Errorf("inbox: delivery %s is not addressed to this device", d.ID)
		}
		pt, err := protocol.Open(deliveryKey, label, d.Sealed)
		if err != nil {
			return fmt.Errorf("inbox: delivery %s: %w", d.ID, err)
		}
		fmt.Fprintf(e.stdout, "%s\t%s\n", d.Kind, pt)
	}
	return nil
}
