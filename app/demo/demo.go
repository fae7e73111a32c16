// Package demo is an in-memory authenticator ([auth.Authenticator]): the
// app's --demo mode and the fake behind the UI tests. It holds no secret
// worth the name: its responses are a hash of the user, the PIN and the
// challenge, so that a wrong PIN gives a wrong response as the real one
// does. It follows the real rules where the UI shows them: the PIN rule of
// vault.CheckPIN, the gates of the vault.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"ibkey/app/auth"
	core "ibkey/authcore/device"
	"ibkey/authcore/digits"
	"ibkey/authcore/vault"
	"ibkey/platform"
)

// Fake is an auth.Authenticator in memory, for tests and for the --demo mode. Its
// responses are a hash of the user, the PIN and the challenge, so that a
// wrong PIN gives a wrong response as the real one does. It records every
// call (see Calls) and is safe for concurrent use.
type Fake struct {
	// Password is the password StartEnrollment accepts; Code the
	// activation code Activate accepts; Link the link or Session ID
	// EnrollWithLink accepts.
	Password, Code, Link string
	// Bio, when set, is asked for the biometric checks and enrollments.
	Bio platform.Biometrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	users   []fakeUser
	calls   []string
	offline bool
	watch   []*fakeWatcher
	demo    bool
	seq     int
	nact    int
	// accounts are the account numbers by username; acts the activations
	// CheckCode took, by id.
	accounts map[string]string
	acts     map[string]fakeActivation
}

type fakeWatcher struct {
	in   chan auth.Event
	done chan struct{}
}

func (f *Fake) send(ev auth.Event) {
	f.mu.Lock()
	ws := append([]*fakeWatcher(nil), f.watch...)
	f.mu.Unlock()
	for _, w := range ws {
		select {
		case w.in <- ev:
		case <-w.done:
		}
	}
}

type fakeUser struct {
	auth.User
	pin   string
	inbox []auth.Delivery
	// answered holds the ids of requests answered for this user.
	answered map[string]string
}

// NewFake returns a Fake with no users that accepts password "secret",
// code "123456" and Session ID "ABCD-1234".
func NewFake() *Fake {
	return &Fake{Password: "secret", Code: "123456", Link: "ABCD-1234"}
}

// New returns the Fake of the --demo mode: three users (Alice with PIN
// 2468, a joint account with biometrics, and a DSC+ card), a temporary
// password in Alice's inbox, and a seamless login request a few seconds
// after Watch. bio (see Biometrics) is asked for the biometric checks.
func New(bio platform.Biometrics) *Fake {
	f := NewFake()
	f.Bio = bio
	f.demo = true
	now := time.Now()
	f.AddUser(auth.User{Name: "Alice", Account: "U1234567", Service: "https://localhost:8443", Gate: auth.GatePIN, Active: true, Device: "dev-1", LastUsed: now.Add(-2 * time.Hour)}, "2468")
	f.AddUser(auth.User{Name: "Joint account", Account: "U7654321", Service: "https://localhost:8443", Gate: auth.GateBiometric, Active: true, Device: "dev-2"}, "")
	f.AddUser(auth.User{Name: "DSC+ card", Account: "U5550001", Service: "https://localhost:8443", Gate: auth.GateCard, Active: false, Device: "dev-3"}, "")
	f.AddDelivery("Alice", auth.Delivery{Label: "Temporary password", Text: "tulip-9-harbor", Created: now.Add(-10 * time.Minute)})
	return f
}

// AddUser puts a user on the device, with pin when its gate has one.
func (f *Fake) AddUser(u auth.User, pin string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, fakeUser{User: u, pin: pin, answered: map[string]string{}})
}

// AddDelivery puts a delivery in a user's inbox.
func (f *Fake) AddDelivery(user string, d auth.Delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.find(user); u != nil {
		u.inbox = append(u.inbox, d)
	}
}

// Calls returns the calls made so far, one string each: the method and its
// arguments, secrets included ("Respond Alice 123456 pin=2468").
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// LastCall returns the last call, or "".
func (f *Fake) LastCall() string {
	c := f.Calls()
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

// Answer returns how a request was answered: "approve N", "deny REASON" or "".
func (f *Fake) Answer(user, id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.find(user); u != nil {
		return u.answered[id]
	}
	return ""
}

// PIN returns a user's PIN.
func (f *Fake) PIN(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.find(user); u != nil {
		return u.pin
	}
	return ""
}

// SetOnline makes the service reachable or not, and tells the watchers.
func (f *Fake) SetOnline(online bool) {
	f.mu.Lock()
	f.offline = !online
	f.mu.Unlock()
	f.send(auth.Event{Online: online})
}

// Push delivers a login request to the watchers.
func (f *Fake) Push(r auth.LoginRequest) {
	f.send(auth.Event{Online: true, Request: &r})
}

// Over tells the watchers that the request k is no longer waiting
// (answered in the browser, refused, expired).
func (f *Fake) Over(k auth.RequestKey) {
	f.mu.Lock()
	online := !f.offline
	f.mu.Unlock()
	f.send(auth.Event{Online: online, Over: &k})
}

// Response is the response the Fake gives for user, PIN (or the biometric
// key's stand-in "bio") and challenge.
func Response(user, pin, challenge string) string {
	h := sha256.Sum256([]byte(user + "\x00" + pin + "\x00" + challenge))
	return fmt.Sprintf("%08d", binary.BigEndian.Uint32(h[:])%100000000)
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fake) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *Fake) find(name string) *fakeUser {
	for i := range f.users {
		if f.users[i].Name == name {
			return &f.users[i]
		}
	}
	return nil
}

func (f *Fake) findLocked(name string) (*fakeUser, error) {
	u := f.find(name)
	if u == nil {
		return nil, fmt.Errorf("%w: %q", auth.ErrNotFound, name)
	}
	return u, nil
}

// Users implements auth.Authenticator.
func (f *Fake) Users() ([]auth.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	us := make([]auth.User, len(f.users))
	for i, u := range f.users {
		us[i] = u.User
	}
	return us, nil
}

// StartEnrollment implements auth.Authenticator.
func (f *Fake) StartEnrollment(_ context.Context, service, username, password string, ch auth.Channel) (auth.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartEnrollment %s %s %s", service, username, ch)
	if f.offline {
		return auth.Enrollment{}, auth.ErrOffline
	}
	if username == "" || password != f.Password {
		return auth.Enrollment{}, auth.ErrBadCredentials
	}
	f.seq++
	now := f.now()
	return auth.Enrollment{
		ID: fmt.Sprintf("enr-%d", f.seq), Service: service, Username: username, Channel: ch,
		To: "+1 ••• ••• 0123", NeedsCode: true,
		ExpiresAt: now.Add(10 * time.Minute), ResendAfter: now.Add(30 * time.Second),
	}, nil
}

// EnrollWithLink implements auth.Authenticator.
func (f *Fake) EnrollWithLink(_ context.Context, link string) (auth.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("EnrollWithLink %s", link)
	if f.offline {
		return auth.Enrollment{}, auth.ErrOffline
	}
	link = strings.TrimSpace(link)
	if link != f.Link && link != "ibkey://enroll?session="+f.Link {
		return auth.Enrollment{}, auth.ErrBadLink
	}
	f.seq++
	return auth.Enrollment{ID: fmt.Sprintf("enr-%d", f.seq), Username: "portal-user", ExpiresAt: f.now().Add(10 * time.Minute)}, nil
}

// Resend implements auth.Authenticator. Like the service, it refuses a
// code by the same channel before e.ResendAfter (ErrRateLimited); the
// other channel may be asked for at once.
func (f *Fake) Resend(_ context.Context, e auth.Enrollment, ch auth.Channel) (auth.Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Resend %s %s", e.ID, ch)
	if f.offline {
		return e, auth.ErrOffline
	}
	now := f.now()
	if ch == e.Channel && now.Before(e.ResendAfter) {
		return e, auth.ErrRateLimited
	}
	e.Channel, e.ResendAfter = ch, now.Add(30*time.Second)
	return e, nil
}

// CheckCode implements auth.Authenticator. An account's number follows
// its username, so that adding a username again finds the user it
// replaces.
func (f *Fake) CheckCode(_ context.Context, e auth.Enrollment, code, cardPIN string) (auth.Activation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CheckCode %s code=%s card=%s", e.ID, digits.Strip(code), cardPIN)
	if f.offline {
		return auth.Activation{}, auth.ErrOffline
	}
	if e.NeedsCode && digits.Strip(code) != f.Code {
		return auth.Activation{}, auth.ErrBadCode
	}
	if cardPIN != "" {
		if err := core.CheckCardPIN(cardPIN); err != nil {
			return auth.Activation{}, fmt.Errorf("%w (%w)", auth.ErrBadPIN, err)
		}
	}
	if f.accounts == nil {
		f.accounts, f.acts = map[string]string{}, map[string]fakeActivation{}
	}
	account := f.accounts[e.Username]
	if account == "" {
		f.seq++
		account = fmt.Sprintf("U%07d", 1000000+f.seq)
		f.accounts[e.Username] = account
	}
	f.nact++
	a := auth.Activation{
		ID: fmt.Sprintf("act-%d", f.nact), Service: e.Service, Username: e.Username, Account: account,
		Card: cardPIN != "", ExpiresAt: f.now().Add(10 * time.Minute),
	}
	for _, u := range f.users {
		if u.Service == e.Service && u.Account == account {
			old := u.User
			a.Replaces = &old
			break
		}
	}
	f.acts[a.ID] = fakeActivation{a: a, cardPIN: cardPIN}
	return a, nil
}

// Cancel implements auth.Authenticator.
func (f *Fake) Cancel(a auth.Activation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Cancel %s", a.ID)
	delete(f.acts, a.ID)
}

// Pending reports how many activations wait for Activate or Cancel.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acts)
}

// Activate implements auth.Authenticator.
func (f *Fake) Activate(_ context.Context, act auth.Activation, p auth.Protection) (auth.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Activate %s pin=%s bio=%v", act.ID, p.PIN, p.Biometric)
	fa, ok := f.acts[act.ID]
	if !ok {
		return auth.User{}, auth.ErrExpired
	}
	if f.offline {
		delete(f.acts, act.ID)
		return auth.User{}, auth.ErrOffline
	}
	a := fa.a
	if !a.Card {
		if p.PIN == "" && !p.Biometric {
			return auth.User{}, auth.ErrBadPIN
		}
		if p.PIN != "" {
			if err := checkPIN(p.PIN); err != nil {
				return auth.User{}, err
			}
		}
	}
	name := a.Username
	if a.Replaces != nil {
		name = a.Replaces.Name
	}
	old := -1
	for i := range f.users {
		if a.Replaces != nil && f.users[i].Device == a.Replaces.Device {
			old = i
		}
	}
	for i := 2; f.find(name) != nil && (old < 0 || f.users[old].Name != name); i++ {
		name = fmt.Sprintf("%s (%d)", a.Username, i)
	}
	if p.Biometric && f.Bio != nil {
		if _, err := f.Bio.Enroll("ibkey-" + name); err != nil {
			if errors.Is(err, platform.ErrBiometricCancelled) {
				return auth.User{}, auth.ErrCancelled
			}
			return auth.User{}, fmt.Errorf("enroll biometrics: %w", err)
		}
	}
	delete(f.acts, act.ID)
	gate, pin := auth.GatePIN, p.PIN
	switch {
	case a.Card:
		gate, pin = auth.GateCard, fa.cardPIN
	case p.PIN != "" && p.Biometric:
		gate = auth.GatePINBiometric
	case p.Biometric:
		gate = auth.GateBiometric
	}
	u := auth.User{Name: name, Account: a.Account, Service: a.Service, Gate: gate, Active: true, Device: "dev-" + a.ID}
	if old >= 0 {
		f.users = append(f.users[:old], f.users[old+1:]...) // replaced
	}
	f.users = append(f.users, fakeUser{User: u, pin: pin, answered: map[string]string{}})
	return u, nil
}

// fakeActivation is an activation CheckCode took.
type fakeActivation struct {
	a       auth.Activation
	cardPIN string
}

// checkPIN is the vault's rule for a new PIN, as the UI's error.
func checkPIN(pin string) error {
	if err := vault.CheckPIN(pin); err != nil {
		return fmt.Errorf("%w (%w)", auth.ErrBadPIN, err)
	}
	return nil
}

// open returns the stand-in of the secret the unlock opens: the PIN, or
// "bio" after a biometric check.
func (f *Fake) open(u *fakeUser, un auth.Unlock) (string, error) {
	if un.Biometric {
		if !u.Gate.HasBiometric() {
			return "", fmt.Errorf("%w: %q has no biometric gate", auth.ErrNotFound, u.Name)
		}
		if f.Bio != nil {
			if _, err := f.Bio.Authenticate("ibkey-"+u.Name, un.Reason); err != nil {
				if errors.Is(err, platform.ErrBiometricCancelled) {
					return "", auth.ErrCancelled
				}
				return "", err
			}
		}
		return "bio", nil
	}
	if len(un.PIN) < vault.MinPIN || len(un.PIN) > vault.MaxPIN {
		return "", auth.ErrBadPIN
	}
	return un.PIN, nil
}

// Respond implements auth.Authenticator.
func (f *Fake) Respond(user, challenge string, un auth.Unlock) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Respond %s %s pin=%s bio=%v", user, challenge, un.PIN, un.Biometric)
	u, err := f.findLocked(user)
	if err != nil {
		return "", err
	}
	key, err := f.open(u, un)
	if err != nil {
		return "", err
	}
	if key == "bio" {
		key = u.pin // the same secret behind either gate
	}
	u.LastUsed = f.now()
	return Response(user, key, challenge), nil
}

// DSC implements auth.Authenticator.
func (f *Fake) DSC(user, pin, challenge string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DSC %s pin=%s %s", user, pin, challenge)
	u, err := f.findLocked(user)
	if err != nil {
		return "", err
	}
	if len(pin) != 4 {
		return "", auth.ErrBadPIN
	}
	u.LastUsed = f.now()
	return Response(user, pin, challenge), nil
}

// Watch implements auth.Authenticator.
func (f *Fake) Watch(ctx context.Context) <-chan auth.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Watch")
	w := &fakeWatcher{in: make(chan auth.Event), done: make(chan struct{})}
	out := make(chan auth.Event)
	f.watch = append(f.watch, w)
	go func() {
		defer close(out)
		defer f.unwatch(w)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-w.in:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	if f.demo {
		go f.demoRequest(ctx)
	}
	return out
}

func (f *Fake) unwatch(w *fakeWatcher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(w.done)
	for i, x := range f.watch {
		if x == w {
			f.watch = append(f.watch[:i], f.watch[i+1:]...)
			break
		}
	}
}

func (f *Fake) demoRequest(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(4 * time.Second):
	}
	now := f.now()
	r := auth.LoginRequest{
		ID: "demo-1", Device: "dev-1", User: "Alice", App: "Client Portal", Place: "Zurich, CH", IP: "203.0.113.7",
		Browser: "Firefox on Linux", Time: now, ExpiresAt: now.Add(2 * time.Minute), Numbers: [3]int{17, 42, 86},
	}
	f.Push(r)
	select { // it expires, as a real one does
	case <-ctx.Done():
	case <-time.After(r.ExpiresAt.Sub(now)):
		f.Over(r.Key())
	}
}

// requestUser is the user a request is for: by its device, whatever the
// user is called now, else by the name it came with.
func (f *Fake) requestUser(r auth.LoginRequest) (*fakeUser, error) {
	if r.Device != "" {
		for i := range f.users {
			if f.users[i].Device == r.Device {
				return &f.users[i], nil
			}
		}
	}
	return f.findLocked(r.User)
}

// Approve implements auth.Authenticator. The browser's number is the second of
// the three.
func (f *Fake) Approve(_ context.Context, r auth.LoginRequest, number int, un auth.Unlock) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Approve %s %s %d pin=%s bio=%v", r.User, r.ID, number, un.PIN, un.Biometric)
	if f.offline {
		return auth.ErrOffline
	}
	u, err := f.requestUser(r)
	if err != nil {
		return err
	}
	if u.answered[r.ID] != "" {
		return auth.ErrExpired
	}
	if !r.ExpiresAt.IsZero() && f.now().After(r.ExpiresAt) {
		return auth.ErrExpired
	}
	key, err := f.open(u, un)
	if err != nil {
		return err
	}
	if key != "bio" && key != u.pin {
		u.answered[r.ID] = "failed" // as the service: a wrong response spends it
		return auth.ErrWrongPIN
	}
	if number != r.Numbers[1] {
		u.answered[r.ID] = "failed"
		return auth.ErrWrongNumber
	}
	u.answered[r.ID] = fmt.Sprintf("approve %d", number)
	return nil
}

// Deny implements auth.Authenticator.
func (f *Fake) Deny(_ context.Context, r auth.LoginRequest, reason auth.DenyReason) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Deny %s %s %s", r.User, r.ID, reason)
	if f.offline {
		return auth.ErrOffline
	}
	u, err := f.requestUser(r)
	if err != nil {
		return err
	}
	if u.answered[r.ID] != "" {
		return auth.ErrExpired
	}
	u.answered[r.ID] = "deny " + string(reason)
	return nil
}

// Rename implements auth.Authenticator.
func (f *Fake) Rename(user, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Rename %s %s", user, name)
	u, err := f.findLocked(user)
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: empty name", auth.ErrNotFound)
	}
	if f.find(name) != nil {
		return auth.ErrExists
	}
	u.Name = name
	return nil
}

// Remove implements auth.Authenticator.
func (f *Fake) Remove(_ context.Context, user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Remove %s", user)
	for i := range f.users {
		if f.users[i].Name == user {
			f.users = append(f.users[:i], f.users[i+1:]...)
			return nil
		}
	}
	return auth.ErrNotFound
}

// ChangePIN implements auth.Authenticator.
func (f *Fake) ChangePIN(_ context.Context, user, old, new string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ChangePIN %s %s %s", user, old, new)
	u, err := f.findLocked(user)
	if err != nil {
		return err
	}
	if !f.offline && old != u.pin {
		return auth.ErrWrongPIN
	}
	if err := checkPIN(new); err != nil {
		return err
	}
	u.pin = new
	return nil
}

// Inbox implements auth.Authenticator.
func (f *Fake) Inbox(_ context.Context, user string, un auth.Unlock) ([]auth.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Inbox %s pin=%s bio=%v", user, un.PIN, un.Biometric)
	if f.offline {
		return nil, auth.ErrOffline
	}
	u, err := f.findLocked(user)
	if err != nil {
		return nil, err
	}
	key, err := f.open(u, un)
	if err != nil {
		return nil, err
	}
	if key != "bio" && key != u.pin {
		return nil, auth.ErrWrongPIN
	}
	ds := u.inbox
	u.inbox = nil // shown once
	return ds, nil
}

var _ auth.Authenticator = (*Fake)(nil)

// Biometrics are the demo's fake biometrics: Face ID for the iOS flavor,
// a fingerprint for Android.
func Biometrics(ios bool) *platform.FakeBiometrics {
	kind := platform.Fingerprint
	if ios {
		kind = platform.FaceID
	}
	return platform.NewFakeBiometrics(kind, nil)
}
