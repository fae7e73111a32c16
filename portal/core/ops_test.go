package core_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// The lifetimes below are docs/PROTOCOL.md's: a login's challenge and a
// proof's challenge 3 minutes, a seamless request 2 minutes, an activation
// code, a Session ID and a pending device 10 minutes; docs/SECURITY.md's
// lock: 15 minutes after the 5th consecutive failure.
const (
	challengeTTL = 3 * time.Minute
	requestTTL   = 2 * time.Minute
	codeTTL      = 10 * time.Minute
	lockTime     = 15 * time.Minute
	lockAfter    = 5
)

// instants are the three instants around an expiry at end: one
// nanosecond before (still live), the instant itself and one nanosecond
// after (both over).
func instants(end time.Time) []struct {
	name string
	at   time.Time
	live bool
} {
	return []struct {
		name string
		at   time.Time
		live bool
	}{
		{"1ns before", end.Add(-time.Nanosecond), true},
		{"at the instant", end, false},
		{"1ns after", end.Add(time.Nanosecond), false},
	}
}

// snapshot is what the store holds of users and logins that an operation
// could change: devices, accounts' locks, the logins' states, fraud
// reports, deliveries, events and the audit log.
func (e *env) snapshot(users, logins []string) string {
	e.t.Helper()
	var b strings.Builder
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		ds, err := tx.Devices("")
		if err != nil {
			return err
		}
		for _, d := range ds {
			fmt.Fprintf(&b, "device %s %s %s %s %s\n", d.ID, d.Username, d.State, d.Activated, d.Retired)
			pd, err := tx.PendingDeliveries(d.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "  %d deliveries pending\n", len(pd))
			evs, err := tx.Events(d.ID, 0, e.clock(), 100)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "  %d events pending\n", len(evs))
		}
		for _, u := range users {
			a, err := tx.Account(u)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "account %s %+v %q %v\n", u, a.Lockout, a.Password, a.MustChange)
		}
		for _, id := range logins {
			l, err := tx.Login(id)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "login %s %s %s\n", id, l.Status, l.Reason)
		}
		frs, err := tx.FraudReports()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%d fraud reports\n", len(frs))
		au, err := tx.Audit(store.AuditFilter{})
		for _, a := range au {
			fmt.Fprintf(&b, "audit %s %s %s\n", a.Event, a.Username, a.Outcome)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

// push returns the seamless request of login id that the device's channel
// carries, with the approval of number.
func (e *env) push(d device, id string, number int) (protocol.Event, string) {
	e.t.Helper()
	evs, err := e.svc.WaitEvents(context.Background(), core.EventsRequest{Device: d.auth})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, se := range evs.Events {
		ev, err := protocol.OpenEvent(e.svc.PublicKey(), d.auth.DeviceID, se)
		if err != nil {
			e.t.Fatal(err)
		}
		if ev.ID == id {
			r, err := ocra.Generate(ocra.MustParseSuite(protocol.SuiteApprove), d.secret, protocol.ApprovalInput(ev, se.Payload, number))
			if err != nil {
				e.t.Fatal(err)
			}
			return ev, r
		}
	}
	e.t.Fatalf("no request %s on the channel: %+v", id, evs)
	return protocol.Event{}, ""
}

func (e *env) login(username string) core.Login {
	e.t.Helper()
	l, err := e.svc.StartLogin(context.Background(), core.LoginRequest{Username: username, Password: "password1", IP: "192.0.2.9"})
	if err != nil || l.ID == "" || len(l.Challenge) != 6 {
		e.t.Fatalf("login %+v %v", l, err)
	}
	return l
}

// TestRespondExpiry: a login's challenge is taken until the instant it
// expires (3 minutes after it was issued) and refused from that instant
// on; its status says expired from the same instant.
func TestRespondExpiry(t *testing.T) {
	e := newEnv(t)
	d := e.enroll("ann")
	ctx := context.Background()
	for _, c := range instants(t0.Add(challengeTTL)) {
		t.Run(c.name, func(t *testing.T) {
			e.at(t0)
			l := e.login("ann")
			if !l.ExpiresAt.Equal(t0.Add(challengeTTL)) {
				t.Fatalf("expires at %v, want %v", l.ExpiresAt, t0.Add(challengeTTL))
			}
			e.at(c.at)
			st, err := e.svc.LoginStatus(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]core.Status{true: core.StatusPending, false: core.StatusExpired}[c.live]; st.Status != want {
				t.Errorf("status %s, want %s", st.Status, want)
			}
			_, err = e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)})
			if c.live && err != nil {
				t.Fatalf("right response: %v", err)
			}
			if !c.live && !errors.Is(err, core.ErrExpired) {
				t.Fatalf("right response: %v, want ErrExpired", err)
			}
		})
	}
}

// TestConfirmExpiry: a pending device is confirmed until the instant it
// expires (10 minutes after its activation); from that instant its
// confirmation is spent, and the user's device stays the active one.
func TestConfirmExpiry(t *testing.T) {
	e := newEnv(t)
	old := e.enroll("bea")
	ctx := context.Background()
	for _, c := range instants(t0.Add(codeTTL)) {
		t.Run(c.name, func(t *testing.T) {
			e.at(t0)
			p := e.activate("bea")
			if !p.act.ExpiresAt.Equal(t0.Add(codeTTL)) {
				t.Fatalf("expires at %v", p.act.ExpiresAt)
			}
			e.at(c.at)
			err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: p.auth, Response: p.confirm})
			if c.live {
				if err != nil {
					t.Fatalf("confirm: %v", err)
				}
				old = p.device // replaced the one before
				return
			}
			if !errors.Is(err, core.ErrSpent) {
				t.Fatalf("confirm: %v, want ErrSpent", err)
			}
			// The device before is still the one that works.
			if _, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: old.auth, Kind: core.ProofPIN}); err != nil {
				t.Fatalf("the active device after a late confirmation: %v", err)
			}
			if _, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: p.auth, Kind: core.ProofPIN}); !errors.Is(err, core.ErrUnauthorized) {
				t.Fatalf("the late device: %v, want ErrUnauthorized", err)
			}
		})
	}
}

// TestActivateExpiry: an activation code is taken until the instant it
// expires, 10 minutes after it was sent.
func TestActivateExpiry(t *testing.T) {
	e := newEnv(t)
	e.user("cal")
	ctx := context.Background()
	for _, c := range instants(t0.Add(codeTTL)) {
		t.Run(c.name, func(t *testing.T) {
			e.at(t0)
			enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "cal", Password: "password1"})
			if err != nil {
				t.Fatal(err)
			}
			if !enr.ExpiresAt.Equal(t0.Add(codeTTL)) {
				t.Fatalf("expires at %v", enr.ExpiresAt)
			}
			e.at(c.at)
			k, _ := protocol.NewActivationKey(rand.Reader)
			_, err = e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: e.gw.code(), PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)})
			if c.live != (err == nil) || (!c.live && !errors.Is(err, core.ErrExpired)) {
				t.Fatalf("activate: %v, want live %v", err, c.live)
			}
		})
	}
}

// TestSessionExpiry: a Session ID is exchanged and activates until the
// instant it expires, 10 minutes after the link was shown.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	e.user("dee")
	ctx := context.Background()
	for _, c := range instants(t0.Add(codeTTL)) {
		t.Run(c.name, func(t *testing.T) {
			e.at(t0)
			link, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "dee"})
			if err != nil {
				t.Fatal(err)
			}
			if !link.ExpiresAt.Equal(t0.Add(codeTTL)) {
				t.Fatalf("expires at %v", link.ExpiresAt)
			}
			e.at(c.at)
			enr, err := e.svc.ExchangeSession(ctx, core.SessionRequest{Session: link.SessionID})
			if !c.live {
				if !errors.Is(err, core.ErrBadSession) {
					t.Fatalf("exchange: %v, want ErrBadSession", err)
				}
			} else if err != nil || enr.ID != link.ID || enr.Username != "dee" {
				t.Fatalf("exchange: %+v %v", enr, err)
			}
			k, _ := protocol.NewActivationKey(rand.Reader)
			_, err = e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: link.ID, Session: link.SessionID, PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)})
			if c.live != (err == nil) || (!c.live && !errors.Is(err, core.ErrExpired)) {
				t.Fatalf("activate: %v, want live %v", err, c.live)
			}
		})
	}
}

// TestApproveExpiry: a seamless request is approved until the instant it
// expires, 2 minutes after it was issued, and leaves the device's pending
// list at that instant.
func TestApproveExpiry(t *testing.T) {
	e := newEnv(t)
	d := e.enroll("eve")
	ctx := context.Background()
	for _, c := range instants(t0.Add(requestTTL)) {
		t.Run(c.name, func(t *testing.T) {
			e.at(t0)
			l := e.login("eve")
			if !l.Push {
				t.Fatal("no seamless request")
			}
			ev, r := e.push(d, l.ID, l.Number)
			if !ev.ExpiresAt.Equal(t0.Add(requestTTL)) {
				t.Fatalf("request expires at %v", ev.ExpiresAt)
			}
			e.at(c.at)
			evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(evs.Pending, l.ID) != c.live {
				t.Errorf("pending %v, want the request listed: %v", evs.Pending, c.live)
			}
			st, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l.ID, Number: l.Number, Response: r})
			if c.live != (err == nil) || (c.live && st != core.StatusApproved) || (!c.live && !errors.Is(err, core.ErrSpent)) {
				t.Fatalf("approve: %s %v, want live %v", st, err, c.live)
			}
		})
	}
}

// TestProofExpiry: a PIN or inbox challenge is taken until the instant it
// expires, 3 minutes after it was issued.
func TestProofExpiry(t *testing.T) {
	e := newEnv(t)
	d := e.enroll("fay")
	ctx := context.Background()
	for _, kind := range []core.ProofKind{core.ProofPIN, core.ProofInbox} {
		for _, c := range instants(t0.Add(challengeTTL)) {
			t.Run(string(kind)+" "+c.name, func(t *testing.T) {
				e.at(t0)
				ch, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: kind})
				if err != nil {
					t.Fatal(err)
				}
				if !ch.ExpiresAt.Equal(t0.Add(challengeTTL)) {
					t.Fatalf("expires at %v", ch.ExpiresAt)
				}
				e.at(c.at)
				req := core.ProofRequest{Device: d.auth, ChallengeID: ch.ID, Response: d.respond(t, ch.Challenge)}
				if kind == core.ProofPIN {
					err = e.svc.ProvePIN(ctx, req)
				} else {
					_, err = e.svc.OpenInbox(ctx, req)
				}
				if c.live != (err == nil) || (!c.live && !errors.Is(err, core.ErrSpent)) {
					t.Fatalf("proof: %v, want live %v", err, c.live)
				}
			})
		}
	}
}

// TestTempPasswordExpiry: a new password after a login approved with a
// temporary one is taken until the login's challenge expires.
func TestTempPasswordExpiry(t *testing.T) {
	e := newEnv(t)
	d := e.enroll("gil")
	ctx := context.Background()
	for _, c := range instants(t0.Add(challengeTTL)) {
		t.Run(c.name, func(t *testing.T) {
			e.at(t0)
			if _, err := e.svc.IssueTempPassword(ctx, "gil"); err != nil {
				t.Fatal(err)
			}
			l := e.login2("gil", e.tempPassword(d))
			st, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)})
			if err != nil || !st.PasswordChangeRequired {
				t.Fatalf("respond: %+v %v", st, err)
			}
			e.at(c.at)
			err = e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: l.ID, Password: "password1"})
			if c.live != (err == nil) || (!c.live && !errors.Is(err, core.ErrNoChangePending)) {
				t.Fatalf("new password: %v, want live %v", err, c.live)
			}
			if !c.live { // back to the usual password for the next case
				if err := e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "gil", Password: "password1"}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// login2 starts a login with a password.
func (e *env) login2(username, password string) core.Login {
	e.t.Helper()
	l, err := e.svc.StartLogin(context.Background(), core.LoginRequest{Username: username, Password: password})
	if err != nil || l.ID == "" || len(l.Challenge) != 6 {
		e.t.Fatalf("login %+v %v", l, err)
	}
	return l
}

// tempPassword opens the device's inbox and returns the temporary
// password sealed to it.
func (e *env) tempPassword(d device) string {
	e.t.Helper()
	ctx := context.Background()
	ch, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofInbox})
	if err != nil {
		e.t.Fatal(err)
	}
	ds, err := e.svc.OpenInbox(ctx, core.ProofRequest{Device: d.auth, ChallengeID: ch.ID, Response: d.respond(e.t, ch.Challenge)})
	if err != nil || len(ds) != 1 {
		e.t.Fatalf("inbox: %+v %v", ds, err)
	}
	pw, err := protocol.Open(d.delivery.Bytes(), ds[0].Label, ds[0].Sealed)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(pw)
}

// TestLockExpiry: the 5th consecutive wrong password locks the account
// for 15 minutes: locked until the instant the lock ends, open from it.
func TestLockExpiry(t *testing.T) {
	for _, c := range instants(t0.Add(lockTime)) {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.enroll("hal")
			ctx := context.Background()
			for i := range lockAfter {
				_, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "hal", Password: "wrong password"})
				if !errors.Is(err, core.ErrBadCredentials) {
					t.Fatalf("wrong password %d: %v", i+1, err)
				}
			}
			var le *core.LockedError
			if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "hal", Password: "password1"}); !errors.As(err, &le) || !le.Until.Equal(t0.Add(lockTime)) {
				t.Fatalf("after %d failures: %v, want locked until %v", lockAfter, err, t0.Add(lockTime))
			}
			e.at(c.at)
			_, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "hal", Password: "password1"})
			if c.live != errors.Is(err, core.ErrLocked) || (!c.live && err != nil) {
				t.Fatalf("login: %v, want locked %v", err, c.live)
			}
		})
	}
}

// TestSendWindows: the caps on codes sent count the sends at or after one
// hour (and one day) before now: 5 an hour per user (docs/SECURITY.md), so
// a 6th is refused until the instant the first send is an hour old plus a
// nanosecond.
func TestSendWindows(t *testing.T) {
	for _, c := range []struct {
		name string
		at   time.Duration
		ok   bool
	}{
		{"the first send an hour old", time.Hour, false},
		{"1ns later", time.Hour + time.Nanosecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("ida")
			ctx := context.Background()
			for i := range 5 {
				e.at(t0.Add(time.Duration(i) * time.Minute))
				if _, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "ida", Password: "password1"}); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			e.at(t0.Add(time.Hour - time.Nanosecond))
			var rl *core.RateLimitError
			if _, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "ida", Password: "password1"}); !errors.As(err, &rl) || rl.Limit != "sends_user_hour" {
				t.Fatalf("6th send within the hour: %v", err)
			}
			e.at(t0.Add(c.at))
			_, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "ida", Password: "password1"})
			if c.ok != (err == nil) {
				t.Fatalf("send: %v, want allowed %v", err, c.ok)
			}
		})
	}
}

// TestDeviceAuth: every operation of a device is refused with
// ErrUnauthorized, and changes nothing, without the device's own channel
// token: none, a malformed one, a wrong one, or the token of another
// enrolled device (docs/PROTOCOL.md, device auth). A device still pending
// is refused too, but for its confirmation.
func TestDeviceAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	vic := e.enroll("vic")
	other := e.enroll("oto")
	pending := e.activate("vic") // a new device of vic, not confirmed
	l := e.login("vic")
	if _, err := e.svc.IssueTempPassword(ctx, "vic"); err != nil {
		t.Fatal(err)
	}
	_, approval := e.push(vic, l.ID, l.Number)
	inbox, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: vic.auth, Kind: core.ProofInbox})
	if err != nil {
		t.Fatal(err)
	}
	pin, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: vic.auth, Kind: core.ProofPIN})
	if err != nil {
		t.Fatal(err)
	}
	wrong := make([]byte, 32)
	rand.Read(wrong)
	creds := []struct {
		name  string
		token func(id string) []byte
	}{
		{"no token", func(string) []byte { return nil }},
		{"a malformed token", func(id string) []byte { return wrong[:31] }},
		{"a wrong token", func(string) []byte { return wrong }},
		{"another device's token", func(string) []byte { return other.auth.Token }},
		{"the pending device's token", func(id string) []byte {
			if id == pending.auth.DeviceID {
				return nil // its own: not a negative case
			}
			return pending.auth.Token
		}},
	}
	ops := []struct {
		name string
		dev  string // the device whose path it is
		op   func(a core.DeviceAuth) error
	}{
		{"WaitEvents", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			_, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: a})
			return err
		}},
		{"Approve", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			_, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: a, RequestID: l.ID, Number: l.Number, Response: approval})
			return err
		}},
		{"Approve deny fraud", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			_, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: a, RequestID: l.ID, Deny: protocol.DenyFraud})
			return err
		}},
		{"IssueProof inbox", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			_, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: a, Kind: core.ProofInbox})
			return err
		}},
		{"IssueProof pin", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			_, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: a, Kind: core.ProofPIN})
			return err
		}},
		{"OpenInbox", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			_, err := e.svc.OpenInbox(ctx, core.ProofRequest{Device: a, ChallengeID: inbox.ID, Response: vic.respond(t, inbox.Challenge)})
			return err
		}},
		{"ProvePIN", vic.auth.DeviceID, func(a core.DeviceAuth) error {
			return e.svc.ProvePIN(ctx, core.ProofRequest{Device: a, ChallengeID: pin.ID, Response: vic.respond(t, pin.Challenge)})
		}},
		// Last: with its own token it retires vic's device.
		{"Confirm", pending.auth.DeviceID, func(a core.DeviceAuth) error {
			return e.svc.Confirm(ctx, core.ConfirmRequest{Device: a, Response: pending.confirm})
		}},
	}
	users, logins := []string{"vic", "oto"}, []string{l.ID, inbox.ID, pin.ID}
	before := e.snapshot(users, logins)
	for _, o := range ops {
		for _, c := range creds {
			tok := c.token(o.dev)
			if tok == nil && c.name == "the pending device's token" {
				continue
			}
			t.Run(o.name+" with "+c.name, func(t *testing.T) {
				err := o.op(core.DeviceAuth{DeviceID: o.dev, Token: tok})
				if !errors.Is(err, core.ErrUnauthorized) {
					t.Errorf("%v, want ErrUnauthorized", err)
				}
				if after := e.snapshot(users, logins); after != before {
					t.Errorf("the store changed:\n%s\nwas:\n%s", after, before)
				}
			})
		}
	}
	// The same requests with the device's own token work, each once.
	for _, o := range ops {
		if o.name == "Approve deny fraud" {
			continue // the approval took the request
		}
		a := vic.auth
		if o.dev == pending.auth.DeviceID {
			a = pending.auth
		}
		if err := o.op(a); err != nil {
			t.Errorf("%s with the device's own token: %v", o.name, err)
		}
	}
}

// withRates turns the service's rate limits on, at their defaults.
func withRates(c *core.Config) { c.Rate = core.RateLimit{} }

// TestSessionLimit: Session ID exchanges are limited per client address,
// 12 a minute (docs/SECURITY.md) in bursts of 10 (core.RateLimit's
// default): a script cannot probe Session IDs faster, and an address idle
// for an hour gets the burst again, not an hour's worth at once.
func TestSessionLimit(t *testing.T) {
	e := newEnv(t, withRates)
	ctx := context.Background()
	probe := func(ip string, i int) error {
		s := fmt.Sprintf("ZZZZ%012d", i) // no such locator
		_, err := e.svc.ExchangeSession(ctx, core.SessionRequest{Session: s, IP: ip})
		return err
	}
	allowed := func(ip string) int {
		t.Helper()
		n := 0
		for i := range 1000 {
			err := probe(ip, i)
			var rl *core.RateLimitError
			if errors.As(err, &rl) {
				if rl.Limit != core.LimitSession {
					t.Fatalf("refused by %s, want %s", rl.Limit, core.LimitSession)
				}
				return n
			}
			if !errors.Is(err, core.ErrBadSession) {
				t.Fatalf("probe %d: %v", i, err)
			}
			n++
		}
		return n
	}
	if n := allowed("192.0.2.7"); n != 10 {
		t.Fatalf("%d probes at once, want the burst of 10", n)
	}
	if n := allowed("192.0.2.8"); n != 10 {
		t.Fatalf("another address: %d probes, want its own 10", n)
	}
	e.advance(time.Minute)
	if n := allowed("192.0.2.7"); n != 10 {
		t.Fatalf("a minute later: %d probes, want 10 (12 a minute, capped by the burst)", n)
	}
	e.advance(5 * time.Second)
	if n := allowed("192.0.2.7"); n != 1 {
		t.Fatalf("5 s later: %d, want 1 (12 a minute)", n)
	}
	e.advance(time.Hour)
	if n := allowed("192.0.2.7"); n != 10 {
		t.Fatalf("an hour idle: %d probes at once, want the burst of 10", n)
	}
	// The refusals are audited, the first of each address in a minute.
	var refused int
	if err := core.ReadAudit(ctx, e.st, store.AuditFilter{}, func(a store.AuditEvent) error {
		if a.Event == core.AuditRateLimited && a.Detail["limit"] == core.LimitSession {
			refused++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Of the five refusals the one 5 s after another of its address is not.
	if refused != 4 {
		t.Fatalf("%d refusals audited, want 4 (one per address per minute)", refused)
	}
}

// TestRequestLimit: requests are limited per client address, 20 a second
// (docs/SECURITY.md) in bursts of 60 (core.RateLimit's default), and an
// address idle for an hour gets the burst, not 72,000.
func TestRequestLimit(t *testing.T) {
	e := newEnv(t, withRates)
	ctx := context.Background()
	allowed := func(ip string) int {
		t.Helper()
		for i := range 100000 {
			err := e.svc.AllowIP(ctx, ip)
			var rl *core.RateLimitError
			if errors.As(err, &rl) && rl.Limit == core.LimitIP {
				return i
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return -1
	}
	if n := allowed("192.0.2.7"); n != 60 {
		t.Fatalf("%d at once, want 60", n)
	}
	e.advance(time.Second)
	if n := allowed("192.0.2.7"); n != 20 {
		t.Fatalf("a second later: %d, want 20", n)
	}
	e.advance(time.Hour)
	if n := allowed("192.0.2.7"); n != 60 {
		t.Fatalf("an hour idle: %d at once, want the burst of 60", n)
	}
}

// holdStore holds the first read of one login by the goroutine whose
// context is marked first, until the goroutine marked second has reached
// the store: inside a write transaction of its own (where the engine makes
// it wait for the first's), or past its own read of the login. So two
// answers to one challenge overlap on every run as far as the code lets
// them: a respond that read and wrote in separate transactions would have
// both read the login pending before either wrote.
type holdStore struct {
	store.Store
	login string

	mu       sync.Mutex
	holding  bool // the first read is held
	inWrite  bool // ... in a write transaction
	held     chan struct{}
	release  chan struct{}
	released bool
}

type whoKey struct{}

const (
	first  = "first"
	second = "second"
)

// hold sets the login to hold, for one round.
func (h *holdStore) hold(login string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.login, h.holding, h.inWrite, h.released = login, false, false, false
	h.held, h.release = make(chan struct{}), make(chan struct{})
}

func (h *holdStore) let() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.released = true
		close(h.release)
	}
}

func (h *holdStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	h.mu.Lock()
	enter := ctx.Value(whoKey{}) == second && h.holding && h.inWrite
	h.mu.Unlock()
	if enter {
		h.let()
	}
	return h.Store.Update(ctx, func(tx store.Tx) error { return fn(holdTx{tx, h, ctx, true}) })
}

func (h *holdStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return h.Store.View(ctx, func(tx store.Tx) error { return fn(holdTx{tx, h, ctx, false}) })
}

type holdTx struct {
	store.Tx
	h     *holdStore
	ctx   context.Context
	write bool
}

func (t holdTx) read(id string) {
	t.h.mu.Lock()
	login, held := t.h.login, t.h.held
	t.h.mu.Unlock()
	if id != login {
		return
	}
	switch t.ctx.Value(whoKey{}) {
	case first:
		t.h.mu.Lock()
		hold, release := !t.h.holding, t.h.release
		t.h.holding, t.h.inWrite = true, t.write
		t.h.mu.Unlock()
		if hold {
			close(held)
			<-release
		}
	case second:
		t.h.let()
	}
}

func (t holdTx) Login(id string) (store.Login, error) {
	l, err := t.Tx.Login(id)
	t.read(id)
	return l, err
}

func (t holdTx) LoginAccount(id string) (store.Login, store.Account, store.Device, error) {
	l, a, d, err := t.Tx.LoginAccount(id)
	t.read(id)
	return l, a, d, err
}

// TestRespondOnce: of two right responses to one challenge that overlap
// (the first held after reading the login until the second has reached
// the store), exactly one is approved and the other finds it spent; the
// account is not counted a failure.
func TestRespondOnce(t *testing.T) {
	hs := &holdStore{}
	e := newEnv(t, func(c *core.Config) {
		hs.Store = c.Store
		c.Store = hs
	})
	d := e.enroll("roy")
	for round := range 3 {
		l := e.login("roy")
		hs.hold(l.ID)
		r := d.respond(t, l.Challenge)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			_, errs[0] = e.svc.Respond(context.WithValue(context.Background(), whoKey{}, first), core.ResponseRequest{LoginID: l.ID, Response: r})
		})
		select {
		case <-hs.held:
		case <-done: // it never read the login: the check below says so
		}
		wg.Go(func() {
			_, errs[1] = e.svc.Respond(context.WithValue(context.Background(), whoKey{}, second), core.ResponseRequest{LoginID: l.ID, Response: r})
		})
		wg.Wait()
		ok, spent := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, core.ErrSpent):
				spent++
			}
		}
		if ok != 1 || spent != 1 {
			t.Fatalf("round %d: the first %v, the second %v; want one approved, one ErrSpent", round, errs[0], errs[1])
		}
		if s := e.snapshot([]string{"roy"}, []string{l.ID}); !strings.Contains(s, "login "+l.ID+" approved") || !strings.Contains(s, "Failures:0") {
			t.Fatalf("round %d:\n%s", round, s)
		}
	}
}

// pruneHook records when the service prunes the store's buckets.
type pruneHook struct {
	store.Store
	mu     sync.Mutex
	pruned []time.Time
}

func (p *pruneHook) Update(ctx context.Context, fn func(store.Tx) error) error {
	return p.Store.Update(ctx, func(tx store.Tx) error { return fn(pruneTx{tx, p}) })
}

type pruneTx struct {
	store.Tx
	p *pruneHook
}

func (t pruneTx) PruneBuckets(now time.Time) error {
	t.p.mu.Lock()
	t.p.pruned = append(t.p.pruned, now)
	t.p.mu.Unlock()
	return t.Tx.PruneBuckets(now)
}

// TestPrune: the full buckets are dropped from the store once a minute at
// most, by the first request of each minute.
func TestPrune(t *testing.T) {
	hook := &pruneHook{}
	e := newEnv(t, withRates, func(c *core.Config) {
		hook.Store = c.Store
		c.Store = hook
	})
	ctx := context.Background()
	for _, at := range []time.Duration{0, time.Second, time.Minute - time.Nanosecond, time.Minute, time.Minute + time.Second, 3 * time.Minute} {
		e.at(t0.Add(at))
		if err := e.svc.AllowIP(ctx, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Time{t0, t0.Add(time.Minute), t0.Add(3 * time.Minute)}
	if !slices.EqualFunc(hook.pruned, want, time.Time.Equal) {
		t.Fatalf("pruned at %v, want %v", hook.pruned, want)
	}
}

// TestHardLock: failures past the 5th lock again for 15 minutes each, and
// the MaxFailures-th locks until an administrator unlocks (docs/SECURITY.md).
func TestHardLock(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.Limits.MaxFailures = 7 })
	e.enroll("ian")
	ctx := context.Background()
	for i := 1; i <= 7; i++ {
		if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ian", Password: "wrong password"}); !errors.Is(err, core.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
		if i >= lockAfter {
			e.advance(lockTime)
		}
	}
	var le *core.LockedError
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ian", Password: "password1"}); !errors.As(err, &le) || !le.Hard || !le.Until.IsZero() {
		t.Fatalf("after 7 failures: %v, want a hard lock", err)
	}
	e.advance(365 * 24 * time.Hour)
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ian", Password: "password1"}); !errors.As(err, &le) || !le.Hard {
		t.Fatalf("a year later: %v", err)
	}
	var outcomes []string
	core.ReadAudit(ctx, e.st, store.AuditFilter{}, func(a store.AuditEvent) error {
		if a.Event == core.AuditAccountLocked {
			outcomes = append(outcomes, a.Outcome)
		}
		return nil
	})
	if len(outcomes) != 3 || outcomes[2] != "until an administrator unlocks" || !strings.HasPrefix(outcomes[0], "until ") {
		t.Fatalf("locks audited: %q", outcomes)
	}
	if err := core.UnlockAccount(ctx, e.st, e.clock(), "ian"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ian", Password: "password1"}); err != nil {
		t.Fatalf("after the unlock: %v", err)
	}
}

// TestSendCaps: at most 10 codes a user in a (rolling) day, and 5 an
// hour and 10 a day to one phone number across users (docs/SECURITY.md).
func TestSendCaps(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user("jan")
	send := func(u string) error {
		_, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: u, Password: "password1"})
		return err
	}
	var rl *core.RateLimitError
	for h := range 2 {
		e.at(t0.Add(time.Duration(h) * (time.Hour + time.Nanosecond)))
		for i := range 5 {
			if err := send("jan"); err != nil {
				t.Fatalf("hour %d, send %d: %v", h, i+1, err)
			}
		}
	}
	e.at(t0.Add(2 * (time.Hour + time.Nanosecond)))
	if err := send("jan"); !errors.As(err, &rl) || rl.Limit != "sends_user_day" {
		t.Fatalf("an 11th in a day: %v", err)
	}
	e.at(t0.Add(24 * time.Hour))
	if err := send("jan"); !errors.As(err, &rl) || rl.Limit != "sends_user_day" {
		t.Fatalf("when the first are a day old: %v", err)
	}
	e.at(t0.Add(24*time.Hour + time.Nanosecond))
	if err := send("jan"); err != nil {
		t.Fatalf("a day and 1ns after the first: %v", err)
	}
	// One phone, two users: 5 an hour to it.
	f := newEnv(t)
	f.user("kev")
	f.user("lia") // the same phone number
	for i := range 5 {
		if _, err := f.svc.Enroll(ctx, core.EnrollRequest{Username: []string{"kev", "lia"}[i%2], Password: "password1"}); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	if _, err := f.svc.Enroll(ctx, core.EnrollRequest{Username: "lia", Password: "password1"}); !errors.As(err, &rl) || rl.Limit != "sends_phone_hour" {
		t.Fatalf("a 6th to the phone in an hour: %v", err)
	}
}

// TestLinkTries: a link's Session ID takes 10 wrong tries (docs/PROTOCOL.md),
// each counted toward the account's lock; after the 10th the enrollment
// is failed and further tries count no more. A link leaves the user's
// enrollments by code as they are.
func TestLinkTries(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.Limits.LockoutThreshold = 100 })
	ctx := context.Background()
	e.user("mo")
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "mo", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	code := e.gw.code()
	l, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "mo"})
	if err != nil {
		t.Fatal(err)
	}
	wrongS := l.SessionID[:4] + strings.Repeat("0", 12)
	for i := range 11 {
		if _, err := e.svc.ExchangeSession(ctx, core.SessionRequest{Session: wrongS}); !errors.Is(err, core.ErrBadSession) {
			t.Fatalf("wrong %d: %v", i+1, err)
		}
	}
	if s := e.snapshot([]string{"mo"}, nil); !strings.Contains(s, "Failures:10 ") {
		t.Fatalf("want 10 failures counted:\n%s", s)
	}
	if _, err := e.svc.ExchangeSession(ctx, core.SessionRequest{Session: l.SessionID}); !errors.Is(err, core.ErrBadSession) {
		t.Fatalf("the right one after 10 wrong: %v", err)
	}
	k, _ := protocol.NewActivationKey(rand.Reader)
	if _, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: code, PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}); err != nil {
		t.Fatalf("the code sent before the link: %v", err)
	}
}

// auditDown is a store whose write transactions fail to record one kind of
// audit event.
type auditDown struct {
	store.Store
	event string
}

var errAuditDown = errors.New("audit log unavailable")

func (a auditDown) Update(ctx context.Context, fn func(store.Tx) error) error {
	return a.Store.Update(ctx, func(tx store.Tx) error { return fn(auditDownTx{tx, a.event}) })
}

type auditDownTx struct {
	store.Tx
	event string
}

func (t auditDownTx) InsertAudit(e store.AuditEvent) error {
	if e.Event == t.event {
		return errAuditDown
	}
	return t.Tx.InsertAudit(e)
}

// TestLockNeedsItsRecord: a failure that locks an account and cannot
// write the account.locked record fails whole: the caller gets the
// store's error, and neither the failure nor the lock is kept, so that no
// account is ever locked without a record saying why.
func TestLockNeedsItsRecord(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.Store = auditDown{c.Store, core.AuditAccountLocked} })
	e.enroll("ida")
	ctx := context.Background()
	for i := 1; i < lockAfter; i++ {
		if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ida", Password: "wrong password"}); !errors.Is(err, core.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ida", Password: "wrong password"}); !errors.Is(err, errAuditDown) {
		t.Fatalf("the failure that locks, without its record: %v, want the store's error", err)
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "ida", Password: "password1"}); err != nil {
		t.Fatalf("the lock was kept without its record: %v", err)
	}
}

// writesDown is a store whose write transactions fail before they start.
type writesDown struct{ store.Store }

var errWritesDown = errors.New("store refuses writes")

func (writesDown) Update(context.Context, func(store.Tx) error) error { return errWritesDown }

// TestServiceKeyWriteFails: a store that cannot open a write transaction
// is an error for ServiceKey, even where the key could be read: the read
// again is only for a key another instance made meanwhile (or a damaged
// one), not a way round a store that fails.
func TestServiceKeyWriteFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k, err := core.ServiceKey(ctx, e.st, seeded(2))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := core.ServiceKey(ctx, e.st, seeded(3)); err != nil || !again.Equal(k) {
		t.Fatalf("read again: %v, same key %v", err, again.Equal(k))
	}
	if _, err := core.ServiceKey(ctx, writesDown{e.st}, seeded(3)); !errors.Is(err, errWritesDown) {
		t.Fatalf("writes refused: %v, want the store's error", err)
	}
}

// notifyRec records the devices a write transaction notifies.
type notifyRec struct {
	store.Store
	mu       sync.Mutex
	notified []string
}

func (n *notifyRec) Update(ctx context.Context, fn func(store.Tx) error) error {
	return n.Store.Update(ctx, func(tx store.Tx) error { return fn(notifyTx{tx, n}) })
}

type notifyTx struct {
	store.Tx
	n *notifyRec
}

func (t notifyTx) Notify(device string) error {
	t.n.mu.Lock()
	t.n.notified = append(t.n.notified, device)
	t.n.mu.Unlock()
	return t.Tx.Notify(device)
}

// TestLoginNotifies: a login that sends a push notifies the device in the
// transaction that writes its event, so that an instance other than this
// one wakes the device's long-poll (docs/DEPLOY.md); one with no push
// notifies nobody.
func TestLoginNotifies(t *testing.T) {
	rec := &notifyRec{}
	e := newEnv(t, func(c *core.Config) { rec.Store = c.Store; c.Store = rec })
	d := e.enroll("noa")
	rec.mu.Lock()
	rec.notified = nil
	rec.mu.Unlock()
	l := e.login("noa")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !l.Push || !slices.Equal(rec.notified, []string{d.auth.DeviceID}) {
		t.Fatalf("push %v, notified %q, want the device %q", l.Push, rec.notified, d.auth.DeviceID)
	}
}
