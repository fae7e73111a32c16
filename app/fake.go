package app

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"ibkey/platform"
)

// Fake is an Authenticator in memory, for tests and for the --demo mode. Its
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
}

type fakeWatcher struct {
	in   chan Event
	done chan struct{}
}

func (f *Fake) send(ev Event) {
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
	User
	pin   string
	inbox []Delivery
	// answered holds the ids of requests answered for this user.
	answered map[string]string
}

// NewFake returns a Fake with no users that accepts password "secret",
// code "123456" and Session ID "ABCD-1234".
func NewFake() *Fake {
	return &Fake{Password: "secret", Code: "123456", Link: "ABCD-1234"}
}

// NewDemoFake returns a Fake with three users (Alice with PIN 2468, a joint
// account with biometrics, and a DSC+ card), a temporary password in
// Alice's inbox, and a seamless login request a few seconds after Watch.
func NewDemoFake(bio platform.Biometrics) *Fake {
	f := NewFake()
	f.Bio = bio
	f.demo = true
	now := time.Now()
	f.AddUser(User{Name: "Alice", Account: "U1234567", Service: "https://localhost:8443", Gate: GatePIN, Active: true, Device: "dev-1", LastUsed: now.Add(-2 * time.Hour)}, "2468")
	f.AddUser(User{Name: "Joint account", Account: "U7654321", Service: "https://localhost:8443", Gate: GateBiometric, Active: true, Device: "dev-2"}, "")
	f.AddUser(User{Name: "DSC+ card", Account: "U5550001", Service: "https://localhost:8443", Gate: GateCard, Active: false, Device: "dev-3"}, "")
	f.AddDelivery("Alice", Delivery{Label: "Temporary password", Text: "tulip-9-harbor", Created: now.Add(-10 * time.Minute)})
	return f
}

// AddUser puts a user on the device, with pin when its gate has one.
func (f *Fake) AddUser(u User, pin string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, fakeUser{User: u, pin: pin, answered: map[string]string{}})
}

// AddDelivery puts a delivery in a user's inbox.
func (f *Fake) AddDelivery(user string, d Delivery) {
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
	f.send(Event{Online: online})
}

// Push delivers a login request to the watchers.
func (f *Fake) Push(r LoginRequest) {
	f.send(Event{Online: true, Request: &r})
}

// FakeResponse is the response the Fake gives for user, PIN (or the
// biometric key's stand-in "bio") and challenge.
func FakeResponse(user, pin, challenge string) string {
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
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return u, nil
}

// Users implements Authenticator.
func (f *Fake) Users() ([]User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	us := make([]User, len(f.users))
	for i, u := range f.users {
		us[i] = u.User
	}
	return us, nil
}

// StartEnrollment implements Authenticator.
func (f *Fake) StartEnrollment(_ context.Context, service, username, password string, ch Channel) (Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartEnrollment %s %s %s", service, username, ch)
	if f.offline {
		return Enrollment{}, ErrOffline
	}
	if username == "" || password != f.Password {
		return Enrollment{}, ErrBadCredentials
	}
	f.seq++
	now := f.now()
	return Enrollment{
		ID: fmt.Sprintf("enr-%d", f.seq), Service: service, Username: username, Channel: ch,
		To: "+1 ••• ••• 0123", NeedsCode: true,
		ExpiresAt: now.Add(10 * time.Minute), ResendAfter: now.Add(30 * time.Second),
	}, nil
}

// EnrollWithLink implements Authenticator.
func (f *Fake) EnrollWithLink(_ context.Context, link string) (Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("EnrollWithLink %s", link)
	if f.offline {
		return Enrollment{}, ErrOffline
	}
	link = strings.TrimSpace(link)
	if link != f.Link && link != "ibkey://enroll?session="+f.Link {
		return Enrollment{}, ErrBadLink
	}
	f.seq++
	return Enrollment{ID: fmt.Sprintf("enr-%d", f.seq), Username: "portal-user", ExpiresAt: f.now().Add(10 * time.Minute)}, nil
}

// Resend implements Authenticator.
func (f *Fake) Resend(_ context.Context, e Enrollment, ch Channel) (Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Resend %s %s", e.ID, ch)
	if f.offline {
		return e, ErrOffline
	}
	e.Channel = ch
	return e, nil
}

// Activate implements Authenticator.
func (f *Fake) Activate(_ context.Context, e Enrollment, code string, p Protection) (User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Activate %s code=%s pin=%s bio=%v", e.ID, code, p.PIN, p.Biometric)
	if f.offline {
		return User{}, ErrOffline
	}
	if e.NeedsCode && code != f.Code {
		return User{}, ErrBadCode
	}
	if p.PIN == "" && !p.Biometric {
		return User{}, ErrBadPIN
	}
	if p.PIN != "" {
		if err := fakeCheckPIN(p.PIN); err != nil {
			return User{}, err
		}
	}
	name := e.Username
	for i := 2; f.find(name) != nil; i++ {
		name = fmt.Sprintf("%s (%d)", e.Username, i)
	}
	if p.Biometric && f.Bio != nil {
		if _, err := f.Bio.Enroll("ibkey-" + name); err != nil {
			return User{}, fmt.Errorf("enroll biometrics: %w", err)
		}
	}
	gate := GatePIN
	switch {
	case p.PIN != "" && p.Biometric:
		gate = GatePINBiometric
	case p.Biometric:
		gate = GateBiometric
	}
	f.seq++
	u := User{Name: name, Account: fmt.Sprintf("U%07d", 1000000+f.seq), Service: e.Service, Gate: gate, Active: true, Device: fmt.Sprintf("dev-%d", f.seq)}
	f.users = append(f.users, fakeUser{User: u, pin: p.PIN, answered: map[string]string{}})
	return u, nil
}

func fakeCheckPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 6 || strings.Count(pin, pin[:1]) == len(pin) || strings.Contains("0123456789", pin) || strings.Contains("9876543210", pin) {
		return ErrBadPIN
	}
	return nil
}

// open returns the stand-in of the secret the unlock opens: the PIN, or
// "bio" after a biometric check.
func (f *Fake) open(u *fakeUser, un Unlock) (string, error) {
	if un.Biometric {
		if !u.Gate.HasBiometric() {
			return "", fmt.Errorf("%w: %q has no biometric gate", ErrNotFound, u.Name)
		}
		if f.Bio != nil {
			if _, err := f.Bio.Authenticate("ibkey-"+u.Name, un.Reason); err != nil {
				if errors.Is(err, platform.ErrBiometricCancelled) {
					return "", ErrCancelled
				}
				return "", err
			}
		}
		return "bio", nil
	}
	if len(un.PIN) < 4 || len(un.PIN) > 6 {
		return "", ErrBadPIN
	}
	return un.PIN, nil
}

// Respond implements Authenticator.
func (f *Fake) Respond(user, challenge string, un Unlock) (string, error) {
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
	return FakeResponse(user, key, challenge), nil
}

// DSC implements Authenticator.
func (f *Fake) DSC(user, pin, challenge string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DSC %s pin=%s %s", user, pin, challenge)
	u, err := f.findLocked(user)
	if err != nil {
		return "", err
	}
	if len(pin) != 4 {
		return "", ErrBadPIN
	}
	u.LastUsed = f.now()
	return FakeResponse(user, pin, challenge), nil
}

// Watch implements Authenticator.
func (f *Fake) Watch(ctx context.Context) <-chan Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Watch")
	w := &fakeWatcher{in: make(chan Event), done: make(chan struct{})}
	out := make(chan Event)
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
	f.Push(LoginRequest{
		ID: "demo-1", User: "Alice", App: "Client Portal", Place: "Zurich, CH", IP: "203.0.113.7",
		Browser: "Firefox on Linux", Time: now, ExpiresAt: now.Add(2 * time.Minute), Numbers: [3]int{17, 42, 86},
	})
}

// Approve implements Authenticator. The browser's number is the second of
// the three.
func (f *Fake) Approve(_ context.Context, r LoginRequest, number int, un Unlock) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Approve %s %s %d pin=%s bio=%v", r.User, r.ID, number, un.PIN, un.Biometric)
	if f.offline {
		return ErrOffline
	}
	u, err := f.findLocked(r.User)
	if err != nil {
		return err
	}
	if !r.ExpiresAt.IsZero() && f.now().After(r.ExpiresAt) {
		return ErrExpired
	}
	key, err := f.open(u, un)
	if err != nil {
		return err
	}
	if key != "bio" && key != u.pin {
		return ErrWrongPIN
	}
	if number != r.Numbers[1] {
		return ErrWrongNumber
	}
	u.answered[r.ID] = fmt.Sprintf("approve %d", number)
	return nil
}

// Deny implements Authenticator.
func (f *Fake) Deny(_ context.Context, r LoginRequest, reason DenyReason) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Deny %s %s %s", r.User, r.ID, reason)
	if f.offline {
		return ErrOffline
	}
	u, err := f.findLocked(r.User)
	if err != nil {
		return err
	}
	u.answered[r.ID] = "deny " + string(reason)
	return nil
}

// Rename implements Authenticator.
func (f *Fake) Rename(user, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Rename %s %s", user, name)
	u, err := f.findLocked(user)
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: empty name", ErrNotFound)
	}
	if f.find(name) != nil {
		return ErrExists
	}
	u.Name = name
	return nil
}

// Remove implements Authenticator.
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
	return ErrNotFound
}

// ChangePIN implements Authenticator.
func (f *Fake) ChangePIN(_ context.Context, user, old, new string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ChangePIN %s %s %s", user, old, new)
	u, err := f.findLocked(user)
	if err != nil {
		return err
	}
	if !f.offline && old != u.pin {
		return ErrWrongPIN
	}
	if err := fakeCheckPIN(new); err != nil {
		return err
	}
	u.pin = new
	return nil
}

// Inbox implements Authenticator.
func (f *Fake) Inbox(_ context.Context, user string, un Unlock) ([]Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Inbox %s pin=%s bio=%v", user, un.PIN, un.Biometric)
	if f.offline {
		return nil, ErrOffline
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
		return nil, ErrWrongPIN
	}
	ds := u.inbox
	u.inbox = nil // shown once
	return ds, nil
}

var _ Authenticator = (*Fake)(nil)

// DemoOptions are the Options of the --demo mode: a NewDemoFake with fake
// biometrics (Face ID on iOS, fingerprint on Android).
func DemoOptions(f Flavor) Options {
	kind := platform.Fingerprint
	if f == IOS {
		kind = platform.FaceID
	}
	bio := platform.NewFakeBiometrics(kind, nil)
	return Options{Flavor: f, Auth: NewDemoFake(bio), Bio: bio}
}
