package ibkeykit

import (
	"net/url"
	"strings"
	"sync"
	"time"

	core "ibkey/authcore/device"
	"ibkey/authcore/protocol"
)

// Enrollment is an enrollment started at a service: it waits for the
// activation code that the service sent by SMS or voice call.
type Enrollment struct {
	ID       string
	Service  string // the service's base URL
	Username string
	Channel  string // "sms" or "voice": how the code was sent
	To       string // where the code was sent, masked by the service
	// ExpiresAt is when the code expires, and ResendAfter when another may
	// be asked for, in Unix seconds (0: not said).
	ExpiresAt, ResendAfter int64
}

func toEnrollment(service, username string, e protocol.Enrollment) *Enrollment {
	return &Enrollment{
		ID: e.ID, Service: service, Username: username, Channel: e.Channel, To: e.To,
		ExpiresAt: unix(e.ExpiresAt), ResendAfter: unix(e.ResendAfter),
	}
}

func serviceURL(service string) (string, error) {
	u, err := url.Parse(service)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errorf(CodeInvalid, "service %q is not an http or https URL", service)
	}
	return strings.TrimSuffix(service, "/"), nil
}

// StartEnrollment starts adding a user: it signs in to the service at
// the base URL service with the account's username and password, and the
// service sends an activation code by channel, "sms" or "voice" ("" is
// sms). A wrong password is CodeBadCredentials.
func (v *Vault) StartEnrollment(service, username, password, channel string) (*Enrollment, error) {
	ctx, err := v.context()
	if err != nil {
		return nil, err
	}
	service, err = serviceURL(service)
	if err != nil {
		return nil, err
	}
	e, err := v.d.Enroll(ctx, service, username, password, channel)
	if err != nil {
		return nil, wrap(err)
	}
	return toEnrollment(service, username, e), nil
}

// Resend asks for a new activation code by channel: "voice" to have it
// read in a call, "sms", or "" for the other channel than the last one.
func (v *Vault) Resend(enrollment *Enrollment, channel string) (*Enrollment, error) {
	ctx, err := v.context()
	if err != nil {
		return nil, err
	}
	e := enrollment
	if e == nil || e.ID == "" || e.Service == "" {
		return nil, errEmpty
	}
	n, err := v.d.Resend(ctx, e.Service, e.ID, channel)
	if err != nil {
		return nil, wrap(err)
	}
	return toEnrollment(e.Service, e.Username, n), nil
}

// Activate sends the activation code to the service, which checks it
// first (CodeBadCode with the tries left; CodeExpired). Then this device
// and the service agree on the new OCRA secret, which the returned
// Activation holds in memory only, until Confirm seals it in the vault.
// cardPIN, when not "", makes the new user a soft DSC+ card with that
// 4-digit PIN. Nothing is written on this device.
func (v *Vault) Activate(enrollment *Enrollment, code, cardPIN string) (*Activation, error) {
	ctx, err := v.context()
	if err != nil {
		return nil, err
	}
	e := enrollment
	if e == nil || e.ID == "" || e.Service == "" {
		return nil, errEmpty
	}
	p, err := v.d.Begin(ctx, e.Service, e.ID, core.Claim{Code: code, CardPIN: cardPIN})
	if err != nil {
		return nil, wrap(err)
	}
	a := &Activation{v: v, p: p}
	// The secret is not kept past its use, as in the Fyne app: the
	// service forgets an unconfirmed activation then too.
	until := 10 * time.Minute // an activation code's life, when the service names no time
	if !p.ExpiresAt().IsZero() {
		until = time.Until(p.ExpiresAt())
	}
	time.AfterFunc(until, a.Cancel)
	return a, nil
}

// Activation is an activation that the service took and this device has
// not yet sealed: Confirm finishes it, Cancel drops it. Get one from
// Vault.Activate; an empty one (its constructor's) refuses Confirm.
type Activation struct {
	v  *Vault
	mu sync.Mutex
	p  *core.Pending
}

// Username and Account are the service's names of the account being
// added.
func (a *Activation) Username() string {
	if a.p == nil {
		return ""
	}
	return a.p.Username()
}

// Account is the service's account name of the user being added.
func (a *Activation) Account() string {
	if a.p == nil {
		return ""
	}
	return a.p.Account()
}

// Card reports whether the new user is a soft DSC+ card.
func (a *Activation) Card() bool { return a.p != nil && a.p.Card() }

// ExpiresAt is when the service stops waiting for the confirmation, in
// Unix seconds (0: not said).
func (a *Activation) ExpiresAt() int64 {
	if a.p == nil {
		return 0
	}
	return unix(a.p.ExpiresAt())
}

// Protection is how a new user's secret is sealed: a PIN, the biometric
// check or both. A card takes none (its PIN was given to Activate).
type Protection struct {
	PIN       string
	Biometric bool
}

// Confirm seals the secret in the vault as the user called name under
// protection and confirms with the service, which only then makes this
// device the user's active one (and retires any other). What fails before the
// confirmation is sent (CodeBadPIN, CodeExists, CodeCancelled) leaves the
// Activation as it was, to confirm again; after it, the Activation is
// spent. CodeConfirm says the service refused the confirmation (the user
// is removed again) or never answered it.
func (a *Activation) Confirm(name string, protection *Protection) (*User, error) {
	if a.p == nil || a.v == nil {
		return nil, errEmpty
	}
	ctx, err := a.v.context()
	if err != nil {
		return nil, err
	}
	var prot core.Protection
	if protection != nil {
		prot = core.Protection{PIN: protection.PIN, Biometric: protection.Biometric}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := a.p.Finish(ctx, strings.TrimSpace(name), prot)
	if err != nil {
		return nil, wrap(err)
	}
	return toUser(u), nil
}

// Cancel drops the activation without sealing it: its secret is cleared
// from memory, the service's activation expires unconfirmed and the
// user's earlier device stays active. An activation neither confirmed nor
// cancelled is cancelled when the service stops waiting for it.
func (a *Activation) Cancel() {
	if a.p == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.p.Close()
}
