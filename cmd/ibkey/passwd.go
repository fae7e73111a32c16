package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ibkey/authcore/device"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

func init() { userCommands["passwd"] = cmdUsersPasswd }

// cmdUsersPasswd is `ibkey users passwd --user NAME`: it reads the old PIN
// and the new one twice, and re-seals the user's secret under the new PIN
// (device.ChangePIN). A user enrolled with a service proves the old PIN to
// it first, since the vault cannot tell a wrong one: a refusal, or a
// service that cannot be reached, changes nothing.
func cmdUsersPasswd(e *env, args []string) error {
	fs := flags("users passwd")
	name := fs.String("user", "", "the user on this device")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("users passwd: --user is required")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	// Refuse a user without a PIN before asking for one.
	u, err := v.User(*name)
	if err != nil {
		return fmt.Errorf("users passwd: %w", err)
	}
	switch {
	case u.Gate == vault.GateCard:
		return fmt.Errorf("users passwd: %s is a card: its PIN is changed at the service", *name)
	case !u.Gate.HasPIN():
		return fmt.Errorf("users passwd: %s has no PIN (gate %s)", *name, u.Gate)
	}
	old, err := e.readSecret("Old PIN: ")
	if err != nil {
		return err
	}
	pin, err := e.readNewPIN("users passwd", "New PIN: ", "New PIN again: ")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	confirmed, err := newDevice(v).ChangePIN(ctx, *name, old, pin, device.RefuseOffline)
	var pe *protocol.Error
	switch {
	case errors.Is(err, device.ErrWrongPIN) && errors.As(err, &pe) && pe.AttemptsLeft >= 0:
		return fmt.Errorf("users passwd: the service says the old PIN is wrong (%d attempts left before the lock); the PIN is not changed", pe.AttemptsLeft)
	case errors.Is(err, device.ErrWrongPIN):
		return errors.New("users passwd: the service says the old PIN is wrong; the PIN is not changed")
	case device.Offline(err):
		return fmt.Errorf("users passwd: the service must check the old PIN and cannot be reached; the PIN is not changed: %w", err)
	case err != nil:
		return fmt.Errorf("users passwd: %w", err)
	}
	if !confirmed {
		fmt.Fprintf(e.stderr, "ibkey: %s has no service to check the old PIN: changed on this device only\n", *name)
	}
	return nil
}

// readNewPIN reads a new PIN with prompt, then again with againPrompt, and
// checks it; errors name the command cmd.
func (e *env) readNewPIN(cmd, prompt, againPrompt string) (string, error) {
	pin, err := e.readSecret(prompt)
	if err != nil {
		return "", err
	}
	again, err := e.readSecret(againPrompt)
	if err != nil {
		return "", err
	}
	if pin != again {
		return "", fmt.Errorf("%s: the PINs differ", cmd)
	}
	if err := vault.CheckPIN(pin); err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	return pin, nil
}
