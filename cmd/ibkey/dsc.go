package main

import (
	"fmt"

	"ibkey/authcore/vault"
)

func init() {
	commands["dsc"] = command{"dsc [--user NAME] (the soft DSC+ card: PIN>, CHALLNG>, the response)", cmdDSC}
}

// cmdDSC plays the DSC+ card: PIN>, then CHALLNG>, then the 8-digit
// response. The PIN is an input of the computation, checked by the service.
// On a terminal the prompts go to stderr and the PIN is not echoed; with
// stdin not a terminal the prompts are lines on stdout and the response is
// the last line.
func cmdDSC(e *env, args []string) error {
	fs := flags("dsc")
	name := fs.String("user", "", "the card user (may be left out when the vault has one card)")
	if err := parse(fs, args); err != nil {
		return err
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	isCard := func(u vault.User) bool { return u.Gate == vault.GateCard }
	u, err := pickUser(v, *name, "dsc", isCard)
	if err != nil {
		return err
	}
	if !isCard(u) {
		return fmt.Errorf("dsc: %q is not a card (gate %s)", u.Name, u.Gate)
	}
	if e.ttyFD < 0 {
		fmt.Fprintln(e.stdout, "PIN>")
	}
	pin, err := e.readSecret("PIN> ")
	if err != nil {
		return fmt.Errorf("dsc: no PIN: %w", err)
	}
	if e.ttyFD < 0 {
		fmt.Fprintln(e.stdout, "CHALLNG>")
	}
	challenge, err := e.readLine("CHALLNG> ")
	if err != nil {
		return fmt.Errorf("dsc: no challenge: %w", err)
	}
	in, err := challengeInput(u, challenge)
	if err != nil {
		return fmt.Errorf("dsc: %w", err)
	}
	r, err := unlockRespond(v, u, vault.Unlock{PIN: pin}, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, r)
	return nil
}
