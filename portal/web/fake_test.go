package web

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testSuite is the OCRA suite of IB Key challenge/response.
var testSuite = ocra.MustParseSuite("OCRA-1:HOTP-SHA256-8:QN06")

// fakeUser is an account of the fake service, with its device's OCRA key.
type fakeUser struct {
	name        string
	password    string
	phone       string
	key         []byte // nil: no active device
	push        bool   // the device takes seamless login requests
	fails       int
	lockedUntil time.Time
	enrolling   bool // an enrollment waits for its activation code
	mustChange  bool // the password is a temporary one
}

type fakeLogin struct {
	core.Login
	purpose core.Purpose
	status  core.Status
}

// Fake is a Backend with the service's rules in small: real OCRA checks of
// responses (suite OCRA-1:HOTP-SHA256-8:QN06), single-use challenges that
// expire, number matching, a lockout after MaxFails wrong responses and an
// outbox. Tests play the phone with Response and Approve.
type Fake struct {
	mu       sync.Mutex
	now      func() time.Time
	users    map[string]*fakeUser
	logins   map[string]*fakeLogin
	last     map[string]string // username -> last login id
	outbox   []core.Message
	enrolled []Enrollment
	seq      int
	base     string // the service's URL in enrollment links

	TTL      time.Duration // challenge lifetime, 3 minutes
	MaxFails int           // wrong responses before the lock, 5
	Lockout  time.Duration // how long the lock lasts, 15 minutes

	// StartErr, when set, is what StartLogin returns (rate limit, faults).
	StartErr error
	Requests []core.LoginRequest // every StartLogin request, in order
	// SetTempPasswordCalls counts the calls of SetTempPassword.
	SetTempPasswordCalls int
}

func newFake(now func() time.Time) *Fake {
	return &Fake{
		now: now, base: "https://ibkey.example", users: map[string]*fakeUser{}, logins: map[string]*fakeLogin{}, last: map[string]string{},
		TTL: 3 * time.Minute, MaxFails: 5, Lockout: 15 * time.Minute,
	}
}

// AddUser adds an account with a device whose key is key (nil: no device).
func (f *Fake) AddUser(name, password string, key []byte, push bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[name] = &fakeUser{name: name, password: password, phone: "+15555550100", key: key, push: push}
}

// user finds an account by its exact name, else by its name in lower case.
// Like a service whose usernames tell case apart, it keeps "Alice" and
// "alice" apart when both were added.
func (f *Fake) user(name string) *fakeUser {
	if u := f.users[name]; u != nil {
		return u
	}
	return f.users[strings.ToLower(name)]
}

func (f *Fake) randomDigits(n int) string {
	var b [8]byte
	rand.Read(b[:])
	v := binary.BigEndian.Uint64(b[:])
	s := fmt.Sprintf("%020d", v)
	return s[len(s)-n:]
}

func (f *Fake) StartLogin(ctx context.Context, req core.LoginRequest) (core.Login, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Requests = append(f.Requests, req)
	if f.StartErr != nil {
		return core.Login{}, f.StartErr
	}
	u := f.user(req.Username)
	if u == nil || u.password != req.Password {
		return core.Login{}, core.ErrBadCredentials
	}
	now := f.now()
	if now.Before(u.lockedUntil) {
		return core.Login{}, &core.LockedError{Until: u.lockedUntil}
	}
	if u.key == nil {
		return core.Login{}, core.ErrNoDevice
	}
	f.seq++
	l := core.Login{
		ID: fmt.Sprintf("login-%d", f.seq), Username: u.name, Challenge: f.randomDigits(6),
		ExpiresAt: now.Add(f.TTL), Push: u.push,
	}
	if u.push {
		l.Number = 10 + f.seq%90
	}
	f.logins[l.ID] = &fakeLogin{Login: l, purpose: req.Purpose, status: core.StatusPending}
	f.last[strings.ToLower(u.name)] = l.ID
	return l, nil
}

// lockedErr returns the lock error of u at now, or nil.
func (f *Fake) lockedErr(u *fakeUser, now time.Time) error {
	if now.Before(u.lockedUntil) {
		return &core.LockedError{Until: u.lockedUntil}
	}
	return nil
}

func (f *Fake) Respond(ctx context.Context, req core.ResponseRequest) (core.LoginState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.respond(req.LoginID, req.Response); err != nil {
		return core.LoginState{}, err
	}
	return f.state(f.logins[req.LoginID]), nil
}

// state is the LoginState of l: an approved login of an account with a
// temporary password must change it.
func (f *Fake) state(l *fakeLogin) core.LoginState {
	return core.LoginState{Status: l.status, PasswordChangeRequired: l.status == core.StatusApproved && f.user(l.Username).mustChange}
}

func (f *Fake) respond(id, response string) error {
	l := f.logins[id]
	if l == nil {
		return core.ErrNotFound
	}
	u := f.user(l.Username)
	now := f.now()
	if err := f.lockedErr(u, now); err != nil {
		return err
	}
	if l.status != core.StatusPending {
		return core.ErrSpent
	}
	if !now.Before(l.ExpiresAt) {
		l.status = core.StatusExpired
		return core.ErrExpired
	}
	_, err := ocra.Verify(testSuite, u.key, response, ocra.Input{Challenge: l.Challenge}, ocra.Window{})
	switch {
	case err == nil:
		l.status = core.StatusApproved
		u.fails = 0
		return nil
	case errors.Is(err, ocra.ErrMismatch):
		l.status = core.StatusFailed
		u.fails++
		left := f.MaxFails - u.fails
		if left <= 0 {
			u.lockedUntil = now.Add(f.Lockout)
			u.fails = 0
			return &core.LockedError{Until: u.lockedUntil}
		}
		return &core.BadResponseError{AttemptsLeft: left}
	default:
		return err
	}
}

func (f *Fake) LoginStatus(ctx context.Context, id string) (core.LoginState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logins[id]
	if l == nil {
		return core.LoginState{}, core.ErrNotFound
	}
	if l.status == core.StatusPending && !f.now().Before(l.ExpiresAt) {
		l.status = core.StatusExpired
	}
	return f.state(l), nil
}

// SetTempPassword follows the service: only after an approved login of an
// account with a temporary password, before the login's challenge expires.
func (f *Fake) SetTempPassword(ctx context.Context, req core.NewPasswordRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.SetTempPasswordCalls++
	id, pw := req.LoginID, req.Password
	l := f.logins[id]
	if l == nil {
		return core.ErrNotFound
	}
	u := f.user(l.Username)
	now := f.now()
	if err := f.lockedErr(u, now); err != nil {
		return err
	}
	if l.status != core.StatusApproved || !u.mustChange || !now.Before(l.ExpiresAt) {
		return core.ErrNoChangePending
	}
	if strings.EqualFold(pw, "password123") {
		return &core.PasswordError{Reason: "That password is on a list of common passwords. Choose another."}
	}
	u.password, u.mustChange = pw, false
	return nil
}

func (f *Fake) ChangePassword(ctx context.Context, req core.ChangePasswordRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pw := req.Password
	u := f.user(req.Username)
	if u == nil {
		return core.ErrNotFound
	}
	if err := f.lockedErr(u, f.now()); err != nil {
		return err
	}
	if strings.EqualFold(pw, "password123") {
		return &core.PasswordError{Reason: "That password is on a list of common passwords. Choose another."}
	}
	u.password, u.mustChange = pw, false
	return nil
}

// StartLinkEnrollment records the enrollment as the Add a device page
// shows it, with the link of the service at f.base.
func (f *Fake) StartLinkEnrollment(ctx context.Context, req core.LinkRequest) (core.LinkEnrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.user(req.Username)
	if u == nil {
		return core.LinkEnrollment{}, core.ErrNotFound
	}
	f.seq++
	le := core.LinkEnrollment{ID: fmt.Sprint("enrollment-", f.seq), Username: u.name, SessionID: fmt.Sprintf("K7QF2MZP%04dXW3D", f.seq), ExpiresAt: f.now().Add(10 * time.Minute)}
	f.enrolled = append(f.enrolled, Enrollment{Link: le.Link(f.base), SessionID: protocol.FormatSessionID(le.SessionID), ExpiresAt: le.ExpiresAt})
	return le, nil
}

func (f *Fake) ResendCode(ctx context.Context, req core.ResendCodeRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := Channel(req.Channel)
	u := f.user(req.Username)
	if u == nil || u.password != req.Password {
		return core.ErrBadCredentials
	}
	if err := f.lockedErr(u, f.now()); err != nil {
		return err
	}
	if !u.enrolling {
		return core.ErrNoEnrollment
	}
	code := f.randomDigits(6)
	text := "Your IB Key activation code is " + code
	if ch == ChannelVoice {
		text = "Your IB Key activation code is " + strings.Join(strings.Split(code, ""), " ")
	}
	f.outbox = append(f.outbox, core.Message{Time: f.now(), Channel: string(ch), To: u.phone, Username: u.name, Code: code, Text: text})
	return nil
}

func (f *Fake) Outbox(ctx context.Context) ([]core.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.Message(nil), f.outbox...), nil
}

// --- the phone's side, for tests ---

// LastLogin returns the last login started for username.
func (f *Fake) LastLogin(t testing.TB, username string) core.Login {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logins[f.last[strings.ToLower(username)]]
	if l == nil {
		t.Fatalf("no login for %s", username)
	}
	return l.Login
}

// Approve answers a seamless login as the phone does: with the number the
// person picked. A wrong number fails the login.
func (f *Fake) Approve(id string, number int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logins[id]
	if l == nil || !l.Push {
		return core.ErrNotFound
	}
	if l.status != core.StatusPending || !f.now().Before(l.ExpiresAt) {
		return core.ErrSpent
	}
	if number != l.Number {
		l.status = core.StatusFailed
		return errors.New("fake: wrong number")
	}
	l.status = core.StatusApproved
	return nil
}

// Deny refuses a seamless login on the phone.
func (f *Fake) Deny(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.logins[id]; l != nil && l.status == core.StatusPending {
		l.status = core.StatusDenied
	}
}

// setTemporary gives username a temporary password, as
// `ibkey admin temp-password` does: it must be changed at the next login.
func (f *Fake) setTemporary(username, pw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.user(username)
	u.password, u.mustChange = pw, true
}

func (f *Fake) mustChange(username string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.user(username).mustChange
}

func (f *Fake) setEnrolling(username string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.user(username).enrolling = true
}

func (f *Fake) password(username string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.user(username).password
}

func (f *Fake) enrollments() []Enrollment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Enrollment(nil), f.enrolled...)
}

// respond computes the response string of key to challenge, as the app
// does.
func respond(t testing.TB, key []byte, challenge string) string {
	t.Helper()
	r, err := ocra.Generate(testSuite, key, ocra.Input{Challenge: challenge})
	if err != nil {
		t.Fatalf("ocra: %v", err)
	}
	return r
}

// wrong returns a response that differs from right in its last digit.
func wrong(right string) string {
	b := []byte(right)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

var _ Backend = (*Fake)(nil)
