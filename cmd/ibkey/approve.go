package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
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
	u, err := v.User(*name)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	if u.Service == "" || u.DeviceID == "" || len(u.ServiceKey) == 0 {
		return fmt.Errorf("approve: %s was not enrolled with a service", *name)
	}
	token, _, err := v.Keys(*name)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := serviceClient(u.Service)
	ev, payload, err := waitLogin(ctx, c, u.DeviceID, token, u.ServiceKey)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	fmt.Fprintf(e.stderr, "ibkey: login request for %s: %s from %s (%s) at %s; numbers %s\n",
		ev.Username, ev.Context.App, ev.Context.IP, ev.Context.Browser, ev.Context.Time.Local().Format(time.DateTime), joinInts(ev.Numbers))
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	if *deny {
		if _, err := c.Approve(actx, u.DeviceID, token, protocol.ApprovalRequest{RequestID: ev.ID, Deny: *reason}); err != nil {
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
	s, err := v.Unlock(*name, unlockWith(pin), time.Now())
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	resp, err := s.RespondSuite(ocra.MustParseSuite(protocol.SuiteApprove), protocol.ApprovalInput(ev, payload, n))
	s.Close()
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	if _, err := c.Approve(actx, u.DeviceID, token, protocol.ApprovalRequest{RequestID: ev.ID, Number: n, Response: resp}); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	fmt.Fprintf(e.stdout, "approved\t%s\t%s\t%s\n", ev.ID, ev.Context.App, ev.Context.IP)
	return nil
}

// waitLogin long-polls the device channel until a login request signed by
// the pinned service key arrives, and returns it with its signed payload.
func waitLogin(ctx context.Context, c *protocol.Client, deviceID string, token, serviceKey []byte) (protocol.Event, []byte, error) {
	var after int64
	for {
		wait := 25 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 {
			return protocol.Event{}, nil, errors.New("no login request came")
		}
		evs, err := c.Events(ctx, deviceID, token, after, wait)
		if err != nil {
			if ctx.Err() != nil {
				return protocol.Event{}, nil, errors.New("no login request came")
			}
			return protocol.Event{}, nil, err
		}
		for _, se := range evs.Events {
			ev, err := protocol.OpenEvent(serviceKey, deviceID, se)
			if err != nil {
				return protocol.Event{}, nil, err // a forged event: stop, loudly
			}
			if ev.Type == protocol.EventLogin && !ev.Expired(time.Now()) && len(ev.Numbers) == 3 {
				return ev, se.Payload, nil
			}
		}
		if evs.Next > after {
			after = evs.Next
		}
	}
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
