package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"ibkey/authcore/device"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

func init() {
	commands["approve"] = command{
		"approve --user NAME [--number N] [--deny] [--reason fraud|mistake] [--timeout 60s]",
		cmdApprove,
	}
}

func cmdApprove(e *env, args []string) error {
	fs := flags("approve")
	name := fs.String("user", "", "the user on this device")
	var number optional
	fs.Var(&number, "number", "the number the browser shows")
	deny := fs.Bool("deny", false, "deny the login request")
	reason := fs.String("reason", protocol.DenyMistake, "why it is denied: fraud or mistake")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for a login request")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("approve: --user is required")
	}
	if *reason != protocol.DenyFraud && *reason != protocol.DenyMistake {
		return usagef("approve: --reason must be fraud or mistake")
	}
	if *timeout <= 0 || *timeout > time.Hour {
		return usagef("approve: --timeout must be more than 0 and at most 1h")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	d := newDevice(v)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := d.WaitLogin(ctx, *name)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	ev := r.Event
	fmt.Fprintf(e.stderr, "ibkey: login request for %s: %s from %s (%s) at %s; numbers %s\n",
		ev.Username, ev.Context.App, ev.Context.IP, ev.Context.Browser, ev.Context.Time.Local().Format(time.DateTime), joinInts(ev.Numbers))
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	if *deny {
		if err := d.Deny(actx, r, *reason); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		fmt.Fprintf(e.stdout, "denied\t%s\t%s\t%s\t%s\n", ev.ID, ev.Context.App, ev.Context.IP, *reason)
		return nil
	}
	if !number.set {
		number.s, err = e.readLine("Number shown in the browser (" + joinInts(ev.Numbers) + "): ")
		if err != nil {
			return err
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(number.s))
	if err != nil || !slices.Contains(ev.Numbers, n) {
		return fmt.Errorf("approve: the number must be one of %s", joinInts(ev.Numbers))
	}
	pin, err := e.readSecret("PIN: ")
	if err != nil {
		return err
	}
	if err := d.Approve(actx, r, n, unlockWith(pin)); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	fmt.Fprintf(e.stdout, "approved\t%s\t%s\t%s\n", ev.ID, ev.Context.App, ev.Context.IP)
	return nil
}

// newDevice is the device-side flows over v, talking to each user's
// service with serviceClient.
func newDevice(v *vault.Vault) *device.Device {
	return &device.Device{Vault: v, Client: serviceClient, Rand: rand.Reader, Now: time.Now}
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
