// Package device is the app's real [app.Authenticator]: the users of the
// vault on this device and the IB Key service, through the device-side
// flows of package authcore/device. It maps their outcomes onto the app's
// sentinel errors ([app.ErrOffline], [app.ErrBadCode], ...), turns the
// signed login requests of every user's device channel into
// [app.LoginRequest]s, and holds no UI.
//
// # Which to use
//
// [OpenVault] opens the vault folder as the command line does (the OS
// keyring, else a file store beside the vault); [New] makes the
// Authenticator over it with the default service for Add User.
package device

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"ibkey/app"
	core "ibkey/authcore/device"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/authcore/verifier"
	"ibkey/platform"
)

// Options configure an Auth. Vault is required.
type Options struct {
	Vault *vault.Vault
	// Service is the base URL of the service that Add User enrolls with
	// when the UI names none.
	Service string
	// Client returns the client of the service at base (nil: an
	// http.Client with a 60 s timeout).
	Client func(base string) *protocol.Client
	Rand   io.Reader        // crypto/rand.Reader when nil
	Now    func() time.Time // time.Now when nil
	// Watch tunes the long-polls of Watch.
	Watch core.WatchOptions
}

// Auth implements app.Authenticator over the vault and the service.
type Auth struct {
	core    *core.Device
	vault   *vault.Vault
	service string
	watchO  core.WatchOptions

	mu       sync.Mutex
	requests map[string]core.Request   // login requests shown, by id
	retired  map[string]bool           // device ids the service retired
	released map[string][]app.Delivery // deliveries opened by an Inbox that then failed, by user
	sessions map[string]string         // enrollment id -> Session ID, for enrollments by link
	pending  map[string]*core.Pending  // activations checked by the service, not yet sealed
}

var _ app.Authenticator = (*Auth)(nil)

// New returns the Authenticator over o.Vault.
func New(o Options) *Auth {
	if o.Vault == nil {
		panic("device: Options.Vault is nil")
	}
	return &Auth{
		core:     &core.Device{Vault: o.Vault, Client: o.Client, Rand: o.Rand, Now: o.Now},
		vault:    o.Vault,
		service:  o.Service,
		watchO:   o.Watch,
		requests: map[string]core.Request{},
		retired:  map[string]bool{},
		released: map[string][]app.Delivery{},
		sessions: map[string]string{},
		pending:  map[string]*core.Pending{},
	}
}

// SecretStoreEnv chooses the SecretStore as the command line's does: auto
// (the OS keyring, else a file store beside the vault), keyring or file.
const SecretStoreEnv = "IBKEY_SECRET_STORE"

// DefaultVaultDir is the vault folder of the command line: $IBKEY_VAULT,
// else the ibkey folder of the user's config folder.
func DefaultVaultDir() (string, error) {
	if d := os.Getenv("IBKEY_VAULT"); d != "" {
		return d, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("device: no config folder: %w", err)
	}
	return filepath.Join(cfg, "ibkey"), nil
}

// OpenVault opens the vault in dir with the platform's SecretStore (chosen
// by $IBKEY_SECRET_STORE, as the command line does) and bio, which may be
// nil. A fallback to the file store is said once on stderr.
func OpenVault(dir string, bio platform.Biometrics, stderr io.Writer) (*vault.Vault, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("device: vault folder: %w", err)
	}
	kind := os.Getenv(SecretStoreEnv)
	if kind == "" {
		kind = platform.StoreAuto
	}
	// The keyring's service names the vault, as the command line's does.
	store, err := platform.OpenSecretStoreKind(kind, "ibkey:"+abs, abs, stderr)
	if err != nil {
		return nil, err
	}
	var vb vault.Biometrics
	if bio != nil {
		vb = bio
	}
	return vault.Open(abs, notFoundStore{store}, vb)
}

// notFoundStore makes the platform's "not found" an fs.ErrNotExist, as the
// vault expects.
type notFoundStore struct{ platform.SecretStore }

func (s notFoundStore) Get(name string) ([]byte, error) {
	b, err := s.SecretStore.Get(name)
	if errors.Is(err, platform.ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (%w)", err, fs.ErrNotExist)
	}
	return b, err
}

// mapErr adds to err the app sentinel that says what happened, keeping err
// for detail. Errors without one come back as they are.
func mapErr(err error) error {
	var sentinel error
	var pe *protocol.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, app.ErrBadLink), errors.Is(err, app.ErrCancelled):
		return err
	case errors.Is(err, core.ErrWrongNumber), errors.Is(err, protocol.ErrWrongNumber):
		sentinel = app.ErrWrongNumber
	case errors.Is(err, core.ErrWrongPIN):
		sentinel = app.ErrWrongPIN
	case errors.Is(err, core.ErrExpired), errors.Is(err, protocol.ErrGone), errors.Is(err, core.ErrSpent):
		sentinel = app.ErrExpired
	case core.Offline(err):
		sentinel = app.ErrOffline
	case errors.Is(err, protocol.ErrBadCredentials):
		sentinel = app.ErrBadCredentials
	case errors.Is(err, protocol.ErrInvalidCode):
		sentinel = app.ErrBadCode
	case errors.Is(err, protocol.ErrRateLimited), errors.As(err, &pe) && pe.Status == http.StatusTooManyRequests:
		sentinel = app.ErrRateLimited
	case errors.Is(err, protocol.ErrLocked):
		sentinel = app.ErrLocked
	case errors.Is(err, vault.ErrBadPIN):
		sentinel = app.ErrBadPIN
	case errors.Is(err, vault.ErrNoUser):
		sentinel = app.ErrNotFound
	case errors.Is(err, vault.ErrExists):
		sentinel = app.ErrExists
	case errors.Is(err, platform.ErrBiometricCancelled):
		sentinel = app.ErrCancelled
	default:
		return err
	}
	return fmt.Errorf("%w (%w)", sentinel, err)
}

func (a *Auth) toUser(u vault.User) app.User {
	a.mu.Lock()
	retired := a.retired[u.DeviceID]
	a.mu.Unlock()
	return app.User{
		Name: u.Name, Account: u.Account, Service: u.Service, Gate: app.Gate(u.Gate),
		Active: u.DeviceID != "" && !retired, Device: u.DeviceID, LastUsed: u.LastUsed,
	}
}

// Users implements app.Authenticator.
func (a *Auth) Users() ([]app.User, error) {
	us, err := a.vault.List()
	if err != nil {
		return nil, err
	}
	out := make([]app.User, len(us))
	for i, u := range us {
		out[i] = a.toUser(u)
	}
	return out, nil
}

func (a *Auth) serviceURL(service string) (string, error) {
	if service == "" {
		service = a.service
	}
	if service == "" {
		return "", errors.New("device: no service to enroll with (start the app with --service URL)")
	}
	u, err := url.Parse(service)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("device: service %q is not an http or https URL", service)
	}
	return strings.TrimSuffix(service, "/"), nil
}

func toEnrollment(service, username string, e protocol.Enrollment) app.Enrollment {
	return app.Enrollment{
		ID: e.ID, Service: service, Username: username, Channel: app.Channel(e.Channel), To: e.To,
		NeedsCode: true, ExpiresAt: e.ExpiresAt, ResendAfter: e.ResendAfter,
	}
}

// StartEnrollment implements app.Authenticator.
func (a *Auth) StartEnrollment(ctx context.Context, service, username, password string, ch app.Channel) (app.Enrollment, error) {
	service, err := a.serviceURL(service)
	if err != nil {
		return app.Enrollment{}, err
	}
	e, err := a.core.Enroll(ctx, service, username, password, string(ch))
	if err != nil {
		return app.Enrollment{}, mapErr(err)
	}
	return toEnrollment(service, username, e), nil
}

// Resend implements app.Authenticator.
func (a *Auth) Resend(ctx context.Context, e app.Enrollment, ch app.Channel) (app.Enrollment, error) {
	n, err := a.core.Resend(ctx, e.Service, e.ID, string(ch))
	if err != nil {
		return e, mapErr(err)
	}
	return toEnrollment(e.Service, e.Username, n), nil
}

// CheckCode implements app.Authenticator: authcore/device's Begin, whose
// secret waits in memory (never past its expiry) until Activate or Cancel.
// The activation replaces a user of this device for the same service and
// account, if there is one.
func (a *Auth) CheckCode(ctx context.Context, e app.Enrollment, code, cardPIN string) (app.Activation, error) {
	a.mu.Lock()
	session := a.sessions[e.ID]
	a.mu.Unlock()
	claim := core.Claim{Code: code, CardPIN: cardPIN}
	if session != "" && !e.NeedsCode {
		claim = core.Claim{Session: session, CardPIN: cardPIN}
	}
	p, err := a.core.Begin(ctx, e.Service, e.ID, claim)
	if err != nil {
		return app.Activation{}, mapErr(err)
	}
	act := app.Activation{
		ID: rand.Text(), Service: e.Service, Username: p.Username(), Account: p.Account(),
		Card: p.Card(), ExpiresAt: p.ExpiresAt(),
	}
	if users, err := a.vault.List(); err == nil {
		for _, u := range users {
			if u.Service == e.Service && u.Account != "" && u.Account == p.Account() {
				old := a.toUser(u)
				act.Replaces = &old
				break
			}
		}
	}
	a.mu.Lock()
	a.pending[act.ID] = p
	a.mu.Unlock()
	// Not kept past its use: the service forgets it then too.
	time.AfterFunc(untilExpiry(p), func() { a.Cancel(act) })
	return act, nil
}

// untilExpiry is how long the service waits for p's confirmation: until
// its expires_at, or the 10 minutes of an activation code when the
// service named no time.
func untilExpiry(p *core.Pending) time.Duration {
	if p.ExpiresAt().IsZero() {
		return 10 * time.Minute
	}
	return time.Until(p.ExpiresAt())
}

// Cancel implements app.Authenticator.
func (a *Auth) Cancel(act app.Activation) {
	a.mu.Lock()
	p := a.pending[act.ID]
	delete(a.pending, act.ID)
	a.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

// Activate implements app.Authenticator. The new user is called
// act.Username, or "act.Username (2)" and so on when a user has that name;
// a user it replaces is removed once the service confirmed, and its name
// taken.
func (a *Auth) Activate(ctx context.Context, act app.Activation, p app.Protection) (app.User, error) {
	a.mu.Lock()
	pa := a.pending[act.ID]
	delete(a.pending, act.ID) // Cancel cannot close it while it is finished
	a.mu.Unlock()
	if pa == nil {
		return app.User{}, fmt.Errorf("%w (%w)", app.ErrExpired, core.ErrSpent)
	}
	base := act.Username
	if base == "" {
		base = "IB Key"
	}
	name := base
	for i := 2; ; i++ {
		if _, err := a.vault.User(name); errors.Is(err, vault.ErrNoUser) {
			break
		} else if err != nil {
			pa.Close()
			return app.User{}, mapErr(err)
		}
		name = fmt.Sprintf("%s (%d)", base, i)
	}
	u, err := pa.Finish(ctx, name, core.Protection{PIN: p.PIN, Biometric: p.Biometric})
	if err != nil {
		if !pa.Spent() && untilExpiry(pa) > 0 {
			a.mu.Lock()
			a.pending[act.ID] = pa // nothing was sent: try again
			a.mu.Unlock()
		} else {
			pa.Close()
		}
		return app.User{}, mapErr(err)
	}
	if r := act.Replaces; r != nil {
		u = a.replace(u, r.Device)
	}
	return a.toUser(u), nil
}

// replace removes the user of device old, which the service retired when
// it confirmed u, and gives u its name. What fails here leaves the two
// entries, the old one retired: nothing is lost.
func (a *Auth) replace(u vault.User, old string) vault.User {
	users, err := a.vault.List()
	if err != nil {
		return u
	}
	i := slices.IndexFunc(users, func(x vault.User) bool { return x.DeviceID == old && x.DeviceID != u.DeviceID })
	if i < 0 {
		return u
	}
	oldName := users[i].Name
	if a.vault.Remove(oldName) != nil || a.vault.Rename(u.Name, oldName) != nil {
		return u
	}
	if nu, err := a.vault.User(oldName); err == nil {
		return nu
	}
	return u
}

func toUnlock(u app.Unlock) vault.Unlock {
	return vault.Unlock{PIN: u.PIN, Biometric: u.Biometric, Reason: u.Reason}
}

// Respond implements app.Authenticator.
func (a *Auth) Respond(user, challenge string, u app.Unlock) (string, error) {
	r, err := a.core.Respond(user, challenge, toUnlock(u))
	return r, mapErr(err)
}

// DSC implements app.Authenticator.
func (a *Auth) DSC(user, pin, challenge string) (string, error) {
	u, err := a.vault.User(user)
	if err != nil {
		return "", mapErr(err)
	}
	if u.Gate != vault.GateCard {
		return "", fmt.Errorf("%w: %q is not a DSC+ card", app.ErrNotFound, user)
	}
	r, err := a.core.Respond(user, challenge, vault.Unlock{PIN: pin})
	return r, mapErr(err)
}

// Rename implements app.Authenticator.
func (a *Auth) Rename(user, name string) error {
	return mapErr(a.vault.Rename(user, strings.TrimSpace(name)))
}

// Remove implements app.Authenticator. The service is not told: the
// device stays the user's active one until another is activated.
func (a *Auth) Remove(_ context.Context, user string) error {
	return mapErr(a.vault.Remove(user))
}

// ChangePIN implements app.Authenticator. Online, the old PIN is proved to
// the service with a PIN challenge, which leaves the inbox as it is;
// offline, the PIN is changed unchecked.
func (a *Auth) ChangePIN(ctx context.Context, user, old, new string) error {
	_, err := a.core.ChangePIN(ctx, user, old, new, core.ChangeOffline)
	return mapErr(err)
}

func (a *Auth) keep(user string, ds []core.Delivery) {
	if len(ds) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, d := range ds {
		a.released[user] = append(a.released[user], toDelivery(d))
	}
}

func toDelivery(d core.Delivery) app.Delivery {
	label := d.Kind
	if d.Kind == verifier.TempPasswordKind {
		label = "Temporary password"
	}
	return app.Delivery{Label: label, Text: string(d.Text), Created: d.Created}
}

// Inbox implements app.Authenticator.
func (a *Auth) Inbox(ctx context.Context, user string, u app.Unlock) ([]app.Delivery, error) {
	ds, err := a.core.Inbox(ctx, user, toUnlock(u))
	if err != nil {
		a.keep(user, ds)
		return nil, mapErr(err)
	}
	a.mu.Lock()
	out := a.released[user]
	delete(a.released, user)
	a.mu.Unlock()
	for _, d := range ds {
		out = append(out, toDelivery(d))
	}
	return out, nil
}

// Watch implements app.Authenticator: it long-polls the device channel of
// every enrolled user and tells each request's end (Over), keyed by device
// id and request id, never by a user's name. The app is online while every
// service answers.
func (a *Auth) Watch(ctx context.Context) <-chan app.Event {
	notices := a.core.Watch(ctx, a.watchO)
	out := make(chan app.Event)
	go func() {
		defer close(out)
		offline := map[string]bool{} // devices whose service does not answer
		online := true
		send := func(ev app.Event) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for n := range notices {
			if n.Over != "" {
				a.mu.Lock()
				_, held := a.requests[n.Over]
				delete(a.requests, n.Over)
				a.mu.Unlock()
				if held && !send(app.Event{Online: online, Over: &app.RequestKey{Device: n.Device, ID: n.Over}}) {
					return
				}
				continue
			}
			if n.Online {
				delete(offline, n.Device)
			} else {
				offline[n.Device] = true
			}
			if errors.Is(n.Err, protocol.ErrDeviceRetired) || errors.Is(n.Err, protocol.ErrUnauthorized) {
				a.mu.Lock()
				a.retired[n.Device] = true
				a.mu.Unlock()
			}
			if errors.Is(n.Err, vault.ErrNoUser) {
				delete(offline, n.Device) // removed: no longer polled
			}
			now := len(offline) == 0
			if n.Request == nil {
				if now != online {
					online = now
					if !send(app.Event{Online: online}) {
						return
					}
				}
				continue
			}
			online = now
			r := *n.Request
			a.mu.Lock()
			_, seen := a.requests[r.Event.ID]
			a.requests[r.Event.ID] = r
			a.mu.Unlock()
			if seen {
				continue
			}
			lr := toLoginRequest(r)
			if !send(app.Event{Online: online, Request: &lr}) {
				return
			}
		}
	}()
	return out
}

func toLoginRequest(r core.Request) app.LoginRequest {
	ev := r.Event
	lr := app.LoginRequest{
		ID: ev.ID, Device: ev.DeviceID, User: r.User, App: ev.Context.App, Place: Place(ev.Context.IP), IP: ev.Context.IP,
		Browser: ev.Context.Browser, Time: ev.Context.Time, ExpiresAt: ev.ExpiresAt,
	}
	if lr.Time.IsZero() {
		lr.Time = ev.IssuedAt
	}
	copy(lr.Numbers[:], ev.Numbers)
	return lr
}

// Place says where a login comes from, by its IP address: app.PlaceLocal
// ("this network") for loopback, private and link-local addresses, and ""
// (unknown) for others: there is no geolocation.
func Place(ip string) string {
	a := net.ParseIP(ip)
	if a != nil && (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast()) {
		return app.PlaceLocal
	}
	return ""
}

func (a *Auth) request(r app.LoginRequest) (core.Request, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cr, ok := a.requests[r.ID]
	if !ok {
		return core.Request{}, fmt.Errorf("%w: login request %s is not known", app.ErrExpired, r.ID)
	}
	return cr, nil
}

func (a *Auth) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.requests, id)
}

// answered reports whether the service took an answer of a request, or
// refused it (which spends the request).
func answered(err error) bool {
	var pe *protocol.Error
	return err == nil || errors.As(err, &pe) && !core.Offline(err)
}

// Approve implements app.Authenticator.
func (a *Auth) Approve(ctx context.Context, r app.LoginRequest, number int, u app.Unlock) error {
	cr, err := a.request(r)
	if err != nil {
		return err
	}
	err = a.core.Approve(ctx, cr, number, toUnlock(u))
	if answered(err) {
		a.forget(r.ID)
	}
	return mapErr(err)
}

// Deny implements app.Authenticator.
func (a *Auth) Deny(ctx context.Context, r app.LoginRequest, reason app.DenyReason) error {
	cr, err := a.request(r)
	if err != nil {
		return err
	}
	err = a.core.Deny(ctx, cr, string(reason))
	if answered(err) {
		a.forget(r.ID)
	}
	return mapErr(err)
}

// EnrollWithLink implements app.Authenticator.
func (a *Auth) EnrollWithLink(ctx context.Context, link string) (app.Enrollment, error) {
	return enrollWithLink(ctx, a, link)
}
