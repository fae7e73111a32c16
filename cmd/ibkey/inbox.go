package main

import (
	"context"
	"fmt"
	"time"

	"ibkey/authcore/vault"
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
// what the service releases with the delivery key (device.Inbox).
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
	// Refuse a user that has no inbox before asking for the PIN.
	u, err := v.User(*name)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if u.Service == "" || u.DeviceID == "" {
		return fmt.Errorf("inbox: %s was not enrolled with a service", *name)
	}
	if _, deliveryKey, err := v.Keys(*name); err != nil {
		return fmt.Errorf("inbox: %w", err)
	} else if len(deliveryKey) != 32 {
		return fmt.Errorf("inbox: %s has no delivery key", *name)
	}
	pin, err := e.readSecret("PIN: ")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ds, err := newDevice(v).Inbox(ctx, *name, unlockWith(pin))
	for _, d := range ds {
		fmt.Fprintf(e.stdout, "%s\t%s\n", d.Kind, d.Text)
	}
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if len(ds) == 0 {
		fmt.Fprintln(e.stderr, "ibkey: the inbox is empty")
	}
	return nil
}
