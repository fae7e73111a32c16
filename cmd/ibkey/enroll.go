package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ibkey/authcore/device"
	"ibkey/authcore/protocol"
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
	d := newDevice(v)
	var enr protocol.Enrollment
	var code string
	if *link != "" {
		// The portal's link: the session stands for the password and the
		// code, and names the user.
		enr, err = d.EnrollSession(ctx, *service, *link)
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
		enr, err = d.Enroll(ctx, *service, *username, password, *channel)
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
			enr, err = d.Resend(ctx, *service, enr.ID, "")
			if err != nil {
				return fmt.Errorf("users add: resend: %w", err)
			}
			fmt.Fprintf(e.stderr, "ibkey: activation code sent again by %s to %s\n", enr.Channel, enr.To)
		}
	}
	// The service checks the code before the PIN is asked, as the app
	// does; a card's PIN comes first, since it is an input of the card's
	// key at the service. authcore/device then seals the secret into the
	// vault and only then confirms, which makes this the user's one active
	// device.
	claim := device.Claim{Code: code}
	if *link != "" {
		claim = device.Claim{Session: enr.Session}
	}
	var prot device.Protection
	if *card {
		if claim.CardPIN, err = e.readNewCardPIN(); err != nil {
			return err
		}
	}
	pa, err := d.Begin(ctx, *service, enr.ID, claim)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	defer pa.Close()
	if !*card {
		pin, err := e.readNewPIN("users add", "PIN: ", "PIN again: ")
		if err != nil {
			return err
		}
		prot.PIN = pin
	}
	u, err := pa.Finish(ctx, *name, prot)
	var ce *device.ConfirmError
	if errors.As(err, &ce) {
		if ce.Unanswered {
			fmt.Fprintf(e.stderr, "ibkey: the service did not answer the confirmation; %q stays on this device: it works if the service took the confirmation, else remove it (ibkey users remove %s) and add it again\n", *name, *name)
		}
		if ce.Kept != nil {
			fmt.Fprintf(e.stderr, "ibkey: remove the unconfirmed user: %v\n", ce.Kept)
		}
		return fmt.Errorf("users add: confirm: %w", ce.Err)
	}
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", *name, u.Account, *service)
	return nil
}

// readNewCardPIN reads a new DSC+ card's PIN twice.
func (e *env) readNewCardPIN() (string, error) {
	pin, err := e.readSecret("Card PIN: ")
	if err != nil {
		return "", err
	}
	again, err := e.readSecret("PIN again: ")
	if err != nil {
		return "", err
	}
	if pin != again {
		return "", errors.New("users add: the PINs differ")
	}
	if err := device.CheckCardPIN(pin); err != nil {
		return "", fmt.Errorf("users add: %w", err)
	}
	return pin, nil
}

// serviceClient is the device's client of the service at base.
func serviceClient(base string) *protocol.Client {
	return &protocol.Client{BaseURL: base, HTTP: &http.Client{Timeout: 60 * time.Second}}
}
