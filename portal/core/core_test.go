package core_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
	"ibkey/portal/store/storetest"
)

var fastArgon = core.Argon2Params{Memory: 64, Time: 1, Threads: 1}

type gateway struct {
	mu   sync.Mutex
	last core.Message
	sent int
}

func (g *gateway) Send(_ context.Context, m core.Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last = m
	g.sent++
	return nil
}

// code is the last code sent.
func (g *gateway) code() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last.Code
}

type env struct {
	t   *testing.T
	svc *core.Service
	st  store.Store
	gw  *gateway
	mu  sync.Mutex
	now time.Time // the clock: set it with at or advance
}

// t0 is the time every test starts at.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newEnv makes a service on a SQLite database in a temporary directory,
// with a clock that moves only when the test moves it, and randomness from
// a seeded stream. opts change its Config (limits, rates, the store).
func newEnv(t *testing.T, opts ...func(*core.Config)) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ibkey.db"), storetest.Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, gw: &gateway{}, now: t0}
	cfg := core.Config{
		Store: st, Now: e.clock, Rand: seeded(1), Gateway: e.gw, Argon2: fastArgon,
		Log: slog.New(slog.DiscardHandler), Rate: core.RateLimit{Disabled: true},
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.st = cfg.Store
	e.svc, err = core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close(); st.Close() })
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// at sets the clock.
func (e *env) at(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

// advance moves the clock on by d.
func (e *env) advance(d time.Duration) { e.at(e.clock().Add(d)) }

// seeded is a deterministic random source, safe for concurrent use.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return &lockedReader{r: mrand.NewChaCha8(s)}
}

type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// device is what a device's vault would hold.
type device struct {
	auth     core.DeviceAuth
	secret   []byte
	delivery *ecdh.PrivateKey
}

func (d device) respond(t *testing.T, challenge string) string {
	t.Helper()
	r, err := ocra.Generate(ocra.MustParseSuite(protocol.SuiteIBKey), d.secret, ocra.Input{Challenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// enroll makes an account and enrolls a device for it through the core.
func (e *env) enroll(username string) device {
	e.t.Helper()
	e.user(username)
	return e.addDevice(username)
}

// user makes an account (password "password1").
func (e *env) user(username string) {
	e.t.Helper()
	if _, err := core.CreateAccount(context.Background(), e.st, rand.Reader, e.clock(), username, "+15550001234", "password1", fastArgon); err != nil {
		e.t.Fatal(err)
	}
}

// pendingDevice is an activated device not confirmed yet.
type pendingDevice struct {
	device
	act     protocol.Activation
	confirm string // the right response to its confirmation challenge
}

// activate enrolls a new device for username up to its activation.
func (e *env) activate(username string) pendingDevice {
	e.t.Helper()
	ctx := context.Background()
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: username, Password: "password1", IP: "192.0.2.1"})
	if err != nil {
		e.t.Fatal(err)
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	a, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: e.gw.code(), PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: token})
	if err != nil {
		e.t.Fatal(err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, act.PublicKey().Bytes(), a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		e.t.Fatal(err)
	}
	d := device{auth: core.DeviceAuth{DeviceID: a.DeviceID, Token: token}, secret: secret, delivery: act}
	return pendingDevice{device: d, act: a, confirm: d.respond(e.t, a.ConfirmChallenge)}
}

// addDevice enrolls and confirms a new device for username.
func (e *env) addDevice(username string) device {
	e.t.Helper()
	p := e.activate(username)
	if err := e.svc.Confirm(context.Background(), core.ConfirmRequest{Device: p.auth, Response: p.confirm}); err != nil {
		e.t.Fatal(err)
	}
	return p.device
}

// TestLockedIsOneError: every operation that meets a locked account says
// so with one error, a *LockedError with the lock's end, whatever it is
// (a login, a response, an enrollment, a proof, a portal task).
func TestLockedIsOneError(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.enroll("lou")
	l, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "lou", Password: "password1", IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "lou", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
	if err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "lou"})
	if err != nil {
		t.Fatal(err)
	}
	until := e.now.Add(time.Hour)
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account("lou")
		if err != nil {
			return err
		}
		a.Lockout.Failures, a.Lockout.LockedUntil = 5, until
		return tx.UpdateAccount(a)
	}); err != nil {
		t.Fatal(err)
	}
	for what, op := range map[string]func() error{
		"StartLogin": func() error {
			_, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "lou", Password: "password1"})
			return err
		},
		"Respond": func() error {
			_, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)})
			return err
		},
		"Enroll": func() error {
			_, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "lou", Password: "password1"})
			return err
		},
		"Resend": func() error {
			_, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID, Channel: "voice"})
			return err
		},
		"Activate": func() error {
			k, _ := protocol.NewActivationKey(rand.Reader)
			_, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: e.gw.code(), PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)})
			return err
		},
		"IssueProof": func() error {
			_, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofInbox})
			return err
		},
		"ProvePIN": func() error {
			return e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: proof.ID, Response: d.respond(t, proof.Challenge)})
		},
		"ChangePassword": func() error {
			return e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "lou", Password: "a new password"})
		},
		"StartLinkEnrollment": func() error {
			_, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "lou"})
			return err
		},
		"ExchangeSession": func() error {
			_, err := e.svc.ExchangeSession(ctx, core.SessionRequest{Session: link.SessionID})
			return err
		},
	} {
		var le *core.LockedError
		if err := op(); !errors.As(err, &le) || !le.Until.Equal(until) || le.Hard || !errors.Is(err, core.ErrLocked) {
			t.Errorf("%s on a locked account: %v, want a *LockedError until %v", what, err, until)
		}
	}
}

// script is a random source that gives its bytes, then crypto/rand's.
type script struct{ b []byte }

func (s *script) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return rand.Read(p)
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// TestAccountNumberTaken: an account number that another account has is
// replaced by the next random one, in the same transaction: no account
// creation fails for it.
func TestAccountNumberTaken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	salt := bytes.Repeat([]byte{9}, 16)
	// Each account: a salt of 16 bytes, then 3 bytes per account number
	// drawn (below 10^7, so that each draw is taken as it is).
	first, err := core.CreateAccount(ctx, e.st, &script{append(bytes.Clone(salt), 0, 0, 42)}, e.now, "ann", "+15550001234", "password1", fastArgon)
	if err != nil || first.Account != "U0000042" {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := core.CreateAccount(ctx, e.st, &script{append(bytes.Clone(salt), 0, 0, 42, 0, 0, 42, 0, 0, 43)}, e.now, "bob", "+15550001234", "password1", fastArgon)
	if err != nil || second.Account != "U0000043" {
		t.Fatalf("second, whose first two numbers are taken: %+v %v", second, err)
	}
	// Only taken numbers, every time: a clear error, no account.
	always := &script{append(bytes.Clone(salt), bytes.Repeat([]byte{0, 0, 42}, 40)...)}
	if _, err := core.CreateAccount(ctx, e.st, always, e.now, "cy", "+15550001234", "password1", fastArgon); err == nil || errors.Is(err, core.ErrUserExists) {
		t.Fatalf("no free number: %v", err)
	}
	if _, err := core.CreateAccount(ctx, e.st, rand.Reader, e.now, "BOB", "+15550001234", "password1", fastArgon); !errors.Is(err, core.ErrUserExists) {
		t.Fatalf("bob again: %v", err)
	}
	var _ io.Reader = (*script)(nil)
}
