package main

import (
	"fmt"
	"time"

	"ibkey/authcore/device"
	"ibkey/authcore/ocra"
	"ibkey/authcore/vault"
)

func init() {
	commands["respond"] = command{"respond --user NAME --challenge DIGITS (then the PIN)", cmdRespond}
}

func cmdRespond(e *env, args []string) error {
	fs := flags("respond")
	name := fs.String("user", "", "the user (may be left out when the vault has one)")
	challenge := fs.String("challenge", "", "the challenge shown at login")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *challenge == "" {
		return usagef("respond: --challenge is required")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	u, err := pickUser(v, *name, "respond", func(vault.User) bool { return true })
	if err != nil {
		return err
	}
	// The challenge is checked against the suite before the PIN is asked.
	if _, err := challengeInput(u, *challenge); err != nil {
		return fmt.Errorf("respond: %w", err)
	}
	how := vault.Unlock{Biometric: true, Reason: "Answer a login challenge for " + u.Name}
	if u.Gate.HasPIN() || u.Gate == vault.GateCard {
		pin, err := e.readSecret("PIN: ")
		if err != nil {
			return err
		}
		how = vault.Unlock{PIN: pin}
	}
	r, err := newDevice(v).Respond(u.Name, *challenge, how)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, r)
	return nil
}

// pickUser returns the user called name or, when name is empty, the only
// user that fits.
func pickUser(v *vault.Vault, name, cmd string, fits func(vault.User) bool) (vault.User, error) {
	if name != "" {
		return v.User(name)
	}
	users, err := v.List()
	if err != nil {
		return vault.User{}, err
	}
	var found []vault.User
	for _, u := range users {
		if fits(u) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return vault.User{}, fmt.Errorf("%s: %w in the vault", cmd, vault.ErrNoUser)
	case 1:
		return found[0], nil
	}
	return vault.User{}, usagef("%s: %d users: choose one with --user", cmd, len(found))
}

// challengeInput turns a typed challenge ("123 456") into the input of u's
// suite, and checks it against the suite before any PIN is asked.
func challengeInput(u vault.User, challenge string) (ocra.Input, error) {
	return device.ChallengeInput(u, challenge, time.Now())
}

func unlockRespond(v *vault.Vault, u vault.User, how vault.Unlock, in ocra.Input) (string, error) {
	s, err := v.Unlock(u.Name, how, time.Now())
	if err != nil {
		return "", err
	}
	defer s.Close()
	return s.Respond(in)
}
