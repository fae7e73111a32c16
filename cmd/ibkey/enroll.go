package main

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

func init() { userCommands["add"] = usersAdd }

// usersAdd is `ibkey users add`: the IB Key enrollment from the device
// side. users.go dispatches "users add" here.
func usersAdd(e *env, args []string) error {
	fs := flags("users add")
	service := fs.String("service", "", "the service's URL")
	username := fs.String("username", "", "the username at the service")
	channel := fs.String("channel", protocol.ChannelSMS, "how the activation code comes: sms or voice")
	name := fs.String("name", "", "the user's name on this device (default: the username)")
	card := fs.Bool("card", false, "enroll a soft DSC+ card: its PIN is an input of every response")
	link := fs.String("link", "", "the enrollment link or Session ID from the Client Portal's Add device page (no password, no code)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *link != "" {
		if *username != "" {
			return usagef("users add: --link carries the user: leave out --username")
		}
		svc, session, err := protocol.ParseEnrollLink(*link)
		if err != nil {
			return usagef("users add: --link is not an enrollment link or Session ID")
		}
		switch {
		case svc == "" && *service == "":
			return usagef("users add: a Session ID alone needs --service")
		case svc != "" && *service != "" && strings.TrimSuffix(*service, "/") != svc:
			return usagef("users add: the link is for %s, not --service %s", svc, *service)
		case svc != "":
			*service = svc
		}
		*link = session
	} else if *service == "" || *username == "" {
		return usagef("users add: --service and --username (or --link) are required")
	}
	if u, err := url.Parse(*service); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return usagef("users add: --service must be an http or https URL")
	}
	if *channel != protocol.ChannelSMS && *channel != protocol.ChannelVoice {
		return usagef("users add: --channel must be sms or voice")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	ctx := context.Background()
	c := serviceClient(*service)
	var enr protocol.Enrollment
	var code string
	if *link != "" {
		// The portal's link: the session stands for the password and the
		// code, and names the user.
		enr, err = c.EnrollSession(ctx, *link)
		if err != nil {
			return fmt.Errorf("users add: %w", err)
		}
		if *name == "" {
			*name = enr.Username
		}
		if _, err := v.User(*name); err == nil {
			return fmt.Errorf("users add: a user called %q is on this device already", *name)
		}
		fmt.Fprintf(e.stderr, "ibkey: adding %s of %s\n", enr.Username, *service)
	} else {
		if *name == "" {
			*name = *username
		}
		if _, err := v.User(*name); err == nil {
			return fmt.Errorf("users add: a user called %q is on this device already", *name)
		}
		password, err := e.readSecret("Password: ")
		if err != nil {
			return err
		}
		enr, err = c.Enroll(ctx, protocol.EnrollRequest{Username: *username, Password: password, Channel: *channel})
		if err != nil {
			return fmt.Errorf("users add: %w", err)
		}
		fmt.Fprintf(e.stderr, "ibkey: activation code sent by %s to %s; an empty line asks for it again by the other channel\n", enr.Channel, enr.To)
		for {
			code, err = e.readLine("Activation code: ")
			if err != nil {
				return err
			}
			code = strings.TrimSpace(code)
			if code != "" {
				break
			}
			enr, err = c.Resend(ctx, enr.ID, "")
			if err != nil {
				return fmt.Errorf("users add: resend: %w", err)
			}
			fmt.Fprintf(e.stderr, "ibkey: activation code sent again by %s to %s\n", enr.Channel, enr.To)
		}
	}
	pinPrompt := "PIN: "
	if *card {
		pinPrompt = "Card PIN: "
	}
	pin, err := e.readSecret(pinPrompt)
	if err != nil {
		return err
	}
	again, err := e.readSecret("PIN again: ")
	if err != nil {
		return err
	}
	if pin != again {
		return errors.New("users add: the PINs differ")
	}
	if err := vault.CheckPIN(pin); err != nil {
		return fmt.Errorf("users add: %w", err)
	}

	// Keys: the activation key is ephemeral; the channel token and the
	// delivery key are kept in the vault under the device-bound key.
	act, err := protocol.NewActivationKey(rand.Reader)
	if err != nil {
		return err
	}
	delivery, err := protocol.NewActivationKey(rand.Reader)
	if err != nil {
		return err
	}
	token := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, token); err != nil {
		return err
	}
	req := protocol.ActivateRequest{
		Code: code, Session: enr.Session, PublicKey: act.PublicKey().Bytes(), DeliveryKey: delivery.PublicKey().Bytes(), ChannelToken: token,
	}
	if *card {
		h := sha1.Sum([]byte(pin))
		req.Card, req.PINHash = true, h[:]
	}
	a, err := c.Activate(ctx, enr.ID, req)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	if len(a.ServiceKey) != 32 {
		return errors.New("users add: the service sent no identity key")
	}
	suite, err := ocra.ParseSuite(a.Suite)
	if err != nil {
		return fmt.Errorf("users add: the service chose suite %q: %w", a.Suite, err)
	}
	want := protocol.SuiteIBKey
	if *card {
		want = protocol.SuiteDSC
	}
	if a.Suite != want {
		return fmt.Errorf("users add: the service chose suite %q, want %q", a.Suite, want)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	act = nil // ephemeral: dropped once the secret is derived
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	in := ocra.Input{Challenge: a.ConfirmChallenge}
	if *card {
		in.PIN = pin
	}
	confirm, err := ocra.Generate(suite, secret, in)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	nu := vault.NewUser{
		Name: *name, Account: a.Account, Service: *service, DeviceID: a.DeviceID,
		ServiceKey: a.ServiceKey, Suite: suite, Secret: secret,
		ChannelKey: token, DeliveryKey: delivery.Bytes(), Card: *card,
	}
	if !*card {
		nu.PIN = pin
	}
	err = v.Add(nu, rand.Reader, time.Now())
	clear(secret)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	// Sealed on the device first, then confirmed: the service makes this
	// the one active device (retiring any other) only now.
	if err := c.Confirm(ctx, a.DeviceID, token, confirm); err != nil {
		if rerr := v.Remove(*name); rerr != nil {
			fmt.Fprintf(e.stderr, "ibkey: remove the unconfirmed user: %v\n", rerr)
		}
		return fmt.Errorf("users add: confirm: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", *name, a.Account, *service)
	return nil
}

// serviceClient is the device's client of the service at base.
func serviceClient(base string) *protocol.Client {
	return &protocol.Client{BaseURL: base, HTTP: &http.Client{Timeout: 60 * time.Second}}
}
