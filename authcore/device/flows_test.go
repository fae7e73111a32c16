package device

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

// TestActivate: an enrollment seals the derived secret under the PIN and
// confirms it; the service then takes the device's responses.
func TestActivate(t *testing.T) {
	t.Parallel()
	f, ts, d, _ := enrollAlice(t)
	if got := f.took(); !slices.Equal(got, []string{
		"POST /api/v1/enrollments", "POST /api/v1/enrollments/enr-1/activate", "POST /api/v1/devices/dev-1/confirm",
	}) {
		t.Errorf("calls %q", got)
	}
	if !f.confirmed {
		t.Fatal("not confirmed")
	}
	u, err := d.Vault.User("alice")
	if err != nil || u.Service != ts.URL || u.DeviceID != fakeDevice || u.Account != "U1234567" || !u.Gate.HasPIN() {
		t.Fatalf("user %+v, %v", u, err)
	}
	r, err := d.Respond("alice", "654 321", vault.Unlock{PIN: "2468"})
	if err != nil || !f.check("654321", r) {
		t.Errorf("response %q, %v: the service refuses it", r, err)
	}
	r, _ = d.Respond("alice", "654321", vault.Unlock{PIN: "1357"})
	if f.check("654321", r) {
		t.Error("a wrong PIN gave the right response")
	}
	if _, err := d.Respond("bob", "654321", vault.Unlock{PIN: "2468"}); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("no such user: %v", err)
	}
	if _, err := d.Respond("alice", "65432x", vault.Unlock{PIN: "2468"}); err == nil {
		t.Error("a malformed challenge was answered")
	}
	if _, err := d.Respond("alice", "654321", vault.Unlock{Biometric: true}); err == nil {
		t.Error("a gate alice lacks was opened")
	}
	// The name is taken now; the service is not asked.
	ctx := context.Background()
	if _, err := d.Activate(ctx, ts.URL, fakeEnroll, fakeCode, "alice", Protection{PIN: "2468"}); !errors.Is(err, vault.ErrExists) {
		t.Errorf("a second alice: %v", err)
	}
	if got := f.took(); len(got) != 0 {
		t.Errorf("calls %q for a name taken", got)
	}
	if e, err := d.Resend(ctx, ts.URL, fakeEnroll, ""); err != nil || e.Channel != "voice" {
		t.Errorf("Resend: %+v, %v", e, err)
	}
	if _, err := d.Enroll(ctx, ts.URL, "alice", "wrong", ""); !errors.Is(err, protocol.ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
}

// TestActivateRefusals: a wrong code writes nothing; protections are
// checked before the service is asked; a service that picks another
// suite or sends no identity key is refused.
func TestActivateRefusals(t *testing.T) {
	t.Parallel()
	f, ts := newFakeService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := testDevice(t, ts, &now)
	ctx := context.Background()
	_, err := d.Activate(ctx, ts.URL, fakeEnroll, "87654321", "alice", Protection{PIN: "2468"})
	var pe *protocol.Error
	if !errors.Is(err, protocol.ErrInvalidCode) || !errors.As(err, &pe) || pe.AttemptsLeft != 9 {
		t.Errorf("wrong code: %v", err)
	}
	if users, _ := d.Vault.List(); len(users) != 0 {
		t.Errorf("a wrong code left users %+v", users)
	}
	f.took()
	for _, c := range []struct {
		p    Protection
		want error
	}{
		{Protection{}, vault.ErrNoGate},
		{Protection{PIN: "1111"}, vault.ErrBadPIN},
		{Protection{PIN: "12"}, vault.ErrBadPIN},
		{Protection{Card: true, PIN: "2468", Biometric: true}, vault.ErrInvalid},
		{Protection{Card: true, PIN: "24680"}, vault.ErrBadPIN},
		{Protection{Card: true, PIN: "24a8"}, vault.ErrBadPIN},
		{Protection{Card: true, PIN: "1111"}, vault.ErrBadPIN},
	} {
		if _, err := d.Activate(ctx, ts.URL, fakeEnroll, fakeCode, "alice", c.p); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.p, err, c.want)
		}
	}
	if got := f.took(); len(got) != 0 {
		t.Errorf("calls %q for refused protections", got)
	}
	if _, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode, CardPIN: "111"}); !errors.Is(err, vault.ErrBadPIN) {
		t.Errorf("Begin with a bad card PIN: %v", err)
	}
	f.set(func(f *fakeService) { f.wrongSuite = protocol.SuiteDSC })
	if _, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode}); err == nil || !strings.Contains(err.Error(), "chose suite") {
		t.Errorf("another suite: %v", err)
	}
	f.set(func(f *fakeService) { f.wrongSuite = "OCRA-1:HOTP-SHA256-8:QN06-X" })
	if _, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode}); err == nil {
		t.Error("a suite that does not parse")
	}
	f.set(func(f *fakeService) { f.wrongSuite, f.noServiceKey = "", true })
	if _, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode}); err == nil || !strings.Contains(err.Error(), "identity key") {
		t.Errorf("no service key: %v", err)
	}
	// Randomness that runs dry stops Begin before the service is asked.
	f.took()
	for _, n := range []int{0, 40, 64 + 31} {
		d2 := *d
		d2.Rand = strings.NewReader(strings.Repeat("x", n))
		if _, err := d2.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode}); err == nil {
			t.Errorf("Begin with %d random bytes", n)
		}
	}
	if got := f.took(); len(got) != 0 {
		t.Errorf("calls %q without randomness", got)
	}
}

// TestBeginFinish: Begin holds the secret in memory; Finish after Close,
// or twice, is refused; a protection the vault refuses leaves the pending
// activation to finish again.
func TestBeginFinish(t *testing.T) {
	t.Parallel()
	f, ts := newFakeService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := testDevice(t, ts, &now)
	ctx := context.Background()
	e, err := d.EnrollSession(ctx, ts.URL, fakeSession)
	if err != nil || e.Session != fakeSession || e.Username != "alice" {
		t.Fatalf("EnrollSession: %+v, %v", e, err)
	}
	if _, err := d.EnrollSession(ctx, ts.URL, "0000000000000000"); !errors.Is(err, protocol.ErrInvalidCode) {
		t.Errorf("a wrong Session ID: %v", err)
	}
	p, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Session: fakeSession})
	if err != nil {
		t.Fatal(err)
	}
	if p.Username() != "alice" || p.Account() != "U1234567" || p.DeviceID() != fakeDevice || p.Service() != ts.URL || p.Card() || p.Spent() || !p.ExpiresAt().IsZero() {
		t.Errorf("pending %+v", p)
	}
	if users, _ := d.Vault.List(); len(users) != 0 {
		t.Fatal("Begin wrote the vault")
	}
	if _, err := p.Finish(ctx, "alice", Protection{PIN: "1111"}); !errors.Is(err, vault.ErrBadPIN) || p.Spent() {
		t.Fatalf("an easy PIN: %v, spent %v", err, p.Spent())
	}
	if _, err := p.Finish(ctx, "alice", Protection{Card: true, PIN: "2468"}); !errors.Is(err, vault.ErrInvalid) {
		t.Errorf("a card at Finish: %v", err)
	}
	u, err := p.Finish(ctx, "alice", Protection{PIN: "2468"})
	if err != nil || u.Name != "alice" || !f.confirmed || !p.Spent() {
		t.Fatalf("Finish: %+v, %v", u, err)
	}
	if _, err := p.Finish(ctx, "alice2", Protection{PIN: "2468"}); !errors.Is(err, ErrSpent) {
		t.Errorf("Finish twice: %v", err)
	}
	p2, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode})
	if err != nil {
		t.Fatal(err)
	}
	p2.Close()
	if !p2.Spent() {
		t.Error("closed, not spent")
	}
	if _, err := p2.Finish(ctx, "bob", Protection{PIN: "2468"}); !errors.Is(err, ErrSpent) {
		t.Errorf("Finish after Close: %v", err)
	}
	// ActivateSession is the same flow.
	d2 := testDevice(t, ts, &now)
	if _, err := d2.ActivateSession(ctx, ts.URL, fakeEnroll, fakeSession, "carol", Protection{PIN: "2468"}); err != nil {
		t.Errorf("ActivateSession: %v", err)
	}
}

// TestCardActivation: a soft DSC+ card's PIN is hashed into the
// activation and is an input of every response.
func TestCardActivation(t *testing.T) {
	t.Parallel()
	f, ts := newFakeService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := testDevice(t, ts, &now)
	ctx := context.Background()
	u, err := d.Activate(ctx, ts.URL, fakeEnroll, fakeCode, "card", Protection{Card: true, PIN: "2468"})
	if err != nil || u.Gate != vault.GateCard {
		t.Fatalf("card: %+v, %v", u, err)
	}
	if f.suite != protocol.SuiteDSC || len(f.pinHash) != 20 {
		t.Errorf("the service got suite %s, PIN hash %x", f.suite, f.pinHash)
	}
	r, err := d.Respond("card", "111222", vault.Unlock{PIN: "2468"})
	if err != nil || !f.check("111222", r) {
		t.Errorf("card response %q, %v: refused", r, err)
	}
	p, err := d.Begin(ctx, ts.URL, fakeEnroll, Claim{Code: fakeCode, CardPIN: "2468"})
	if err != nil || !p.Card() {
		t.Fatalf("Begin of a card: %v", err)
	}
	p.Close()
}

// TestConfirmRetry: a confirmation that gets no answer is sent again; one
// that the service refuses removes the user; one never answered keeps it.
func TestConfirmRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, ts := newFakeService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := testDevice(t, ts, &now)
	f.set(func(f *fakeService) { f.confirmFails = 1 })
	if _, err := d.Activate(ctx, ts.URL, fakeEnroll, fakeCode, "alice", Protection{PIN: "2468"}); err != nil || !f.confirmed {
		t.Fatalf("confirmed on the second try: %v", err)
	}
	if n := strings.Count(strings.Join(f.took(), "\n"), "/confirm"); n != 2 {
		t.Errorf("%d confirmations, want 2", n)
	}

	f.set(func(f *fakeService) { f.confirmRefuse = true })
	_, err := d.Activate(ctx, ts.URL, fakeEnroll, fakeCode, "bob", Protection{PIN: "2468"})
	var ce *ConfirmError
	if !errors.As(err, &ce) || ce.Unanswered || ce.Kept != nil || !errors.Is(err, protocol.ErrInvalidResponse) {
		t.Fatalf("refused: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "device: confirm: service: invalid_response") {
		t.Errorf("Error() = %q", err)
	}
	if _, err := d.Vault.User("bob"); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("a refused user stays: %v", err)
	}
	if n := strings.Count(strings.Join(f.took(), "\n"), "/confirm"); n != 1 {
		t.Errorf("%d confirmations of a refusal, want 1", n)
	}

	// No answer until the caller gives up: the user stays.
	f.set(func(f *fakeService) { f.confirmRefuse, f.confirmFails = false, 1000 })
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = d.Activate(cctx, ts.URL, fakeEnroll, fakeCode, "carol", Protection{PIN: "2468"})
	if !errors.As(err, &ce) || !ce.Unanswered || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("unanswered: %v", err)
	}
	if _, err := d.Vault.User("carol"); err != nil {
		t.Errorf("an unanswered user is gone: %v", err)
	}
	e := &ConfirmError{Err: errors.New("x"), Kept: errors.New("y")}
	if e.Error() != "device: confirm: x (and the unconfirmed user stays: y)" || e.Unwrap().Error() != "x" {
		t.Errorf("ConfirmError %q", e.Error())
	}
}

// TestRefused: which answers end the confirmation's retries.
func TestRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		want   bool
	}{{400, true}, {401, true}, {403, true}, {410, true}, {499, true}, {408, false}, {429, false}, {500, false}, {503, false}, {399, false}, {200, false}} {
		if got := refused(&protocol.Error{Status: c.status}); got != c.want {
			t.Errorf("refused(%d) = %v", c.status, got)
		}
	}
	if refused(errors.New("network")) {
		t.Error("a network error is a refusal")
	}
}

// TestPollAndApprove: signed login requests come through the channel;
// approvals are checked here (one of the three numbers) and at the
// service (the browser's number, the PIN).
func TestPollAndApprove(t *testing.T) {
	t.Parallel()
	f, _, d, now := enrollAlice(t)
	ctx := context.Background()
	ev := f.login("l1", []int{12, 57, 89}, now.Add(2*time.Minute))
	f.login("l0", []int{12, 57, 89}, now.Add(-time.Second)) // expired
	f.login("l2", []int{12, 57}, now.Add(2*time.Minute))    // not three numbers
	reqs, next, err := d.Poll(ctx, "alice", 0, time.Second)
	if err != nil || len(reqs) != 1 || reqs[0].Event.ID != "l1" || reqs[0].User != "alice" || next != 3 {
		t.Fatalf("Poll = %+v, %d, %v", reqs, next, err)
	}
	if reqs, next, err := d.Poll(ctx, "alice", 3, time.Second); err != nil || len(reqs) != 0 || next != 3 {
		t.Errorf("Poll after 3 = %+v, %d, %v", reqs, next, err)
	}
	r := reqs[0]
	if !slices.Equal(r.Event.Numbers, ev.Numbers) {
		t.Fatal(r.Event)
	}
	if err := d.Approve(ctx, r, 13, vault.Unlock{PIN: "2468"}); !errors.Is(err, ErrWrongNumber) {
		t.Errorf("a number not offered: %v", err)
	}
	if err := d.Approve(ctx, r, 12, vault.Unlock{PIN: "2468"}); !errors.Is(err, ErrWrongNumber) || !errors.Is(err, protocol.ErrWrongNumber) {
		t.Errorf("not the browser's number: %v", err)
	}
	if err := d.Approve(ctx, r, 57, vault.Unlock{PIN: "1357"}); !errors.Is(err, ErrWrongPIN) {
		t.Errorf("a wrong PIN: %v", err)
	}
	if err := d.Approve(ctx, r, 57, vault.Unlock{PIN: "2468"}); err != nil {
		t.Errorf("approve: %v", err)
	}
	if err := d.Approve(ctx, r, 57, vault.Unlock{}); !errors.Is(err, vault.ErrNoGate) {
		t.Errorf("no gate: %v", err)
	}
	gone := r
	gone.Event.ID = "l9"
	if err := d.Approve(ctx, gone, 57, vault.Unlock{PIN: "2468"}); !errors.Is(err, ErrExpired) {
		t.Errorf("a request the service no longer has: %v", err)
	}
	// Expiry, to the nanosecond, by the device's clock.
	saved := *now
	*now = ev.ExpiresAt
	if err := d.Approve(ctx, r, 57, vault.Unlock{PIN: "2468"}); !errors.Is(err, ErrExpired) {
		t.Errorf("at expires_at: %v", err)
	}
	*now = ev.ExpiresAt.Add(-time.Nanosecond)
	if err := d.Approve(ctx, r, 57, vault.Unlock{PIN: "2468"}); err != nil {
		t.Errorf("1 ns before expires_at: %v", err)
	}
	if reqs, _, _ := d.Poll(ctx, "alice", 0, time.Second); len(reqs) != 1 {
		t.Errorf("1 ns before expires_at: %d requests", len(reqs))
	}
	*now = ev.ExpiresAt
	if reqs, _, _ := d.Poll(ctx, "alice", 0, time.Second); len(reqs) != 0 {
		t.Errorf("at expires_at: %d requests", len(reqs))
	}
	*now = saved
	if err := d.Deny(ctx, r, "bored"); err == nil {
		t.Error("a deny reason that is not one")
	}
	if err := d.Deny(ctx, r, protocol.DenyFraud); err != nil {
		t.Errorf("deny: %v", err)
	}
	f.mu.Lock()
	last := f.approved[len(f.approved)-1]
	f.mu.Unlock()
	if last.Deny != protocol.DenyFraud || last.RequestID != "l1" || last.Response != "" {
		t.Errorf("deny sent %+v", last)
	}
	other := r
	other.Event.DeviceID = "dev-2"
	if err := d.Deny(ctx, other, protocol.DenyMistake); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("deny for another device: %v", err)
	}
	if err := d.Approve(ctx, other, 57, vault.Unlock{PIN: "2468"}); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("approve for another device: %v", err)
	}
}

// TestPollRefusesForgeries: an event that does not verify under the pinned
// key stops the batch, and next moves past it.
func TestPollRefusesForgeries(t *testing.T) {
	t.Parallel()
	f, _, d, now := enrollAlice(t)
	ctx := context.Background()
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	se, _ := protocol.SignEvent(other, 1, protocol.Event{Type: protocol.EventLogin, ID: "x", DeviceID: fakeDevice, Numbers: []int{1, 2, 3}, ExpiresAt: now.Add(time.Minute)})
	f.login("l1", []int{12, 57, 89}, now.Add(time.Minute))
	f.raw(se)
	reqs, next, err := d.Poll(ctx, "alice", 0, time.Second)
	if !errors.Is(err, protocol.ErrSignature) || len(reqs) != 0 || next != 2 {
		t.Errorf("Poll = %+v, %d, %v", reqs, next, err)
	}
	// A guard, so that a WaitLogin that never returns fails instead.
	gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
	defer gcancel()
	if _, err := d.WaitLogin(gctx, "alice"); !errors.Is(err, protocol.ErrSignature) {
		t.Errorf("WaitLogin: %v", err)
	}
	// An event for another device.
	f2, _, d2, now2 := enrollAlice(t)
	se, _ = protocol.SignEvent(f2.key, 1, protocol.Event{Type: protocol.EventLogin, ID: "y", DeviceID: "dev-2", Numbers: []int{1, 2, 3}, ExpiresAt: now2.Add(time.Minute)})
	f2.raw(se)
	if _, _, err := d2.Poll(ctx, "alice", 0, time.Second); err == nil {
		t.Error("an event for another device was taken")
	}
	// A refused channel.
	f2.set(func(f *fakeService) { f.eventsStatus, f.eventsCode = 403, protocol.CodeDeviceRetired })
	if _, next, err := d2.Poll(ctx, "alice", 7, time.Second); !errors.Is(err, protocol.ErrDeviceRetired) || next != 7 {
		t.Errorf("retired: %d, %v", next, err)
	}
	if _, _, err := d2.Poll(ctx, "nobody", 0, time.Second); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("no such user: %v", err)
	}
}

// TestWaitLogin: WaitLogin returns the first request, and gives up when
// the caller's context ends.
func TestWaitLogin(t *testing.T) {
	t.Parallel()
	f, _, d, now := enrollAlice(t)
	ctx := context.Background()
	f.login("l1", []int{12, 57, 89}, now.Add(time.Minute))
	f.login("l2", []int{12, 57, 89}, now.Add(time.Minute))
	// A guard, so that a WaitLogin that never returns fails instead.
	gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
	defer gcancel()
	r, err := d.WaitLogin(gctx, "alice")
	if err != nil || r.Event.ID != "l1" {
		t.Fatalf("WaitLogin = %+v, %v", r, err)
	}
	f2, _, d2, _ := enrollAlice(t)
	_ = f2
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := d2.WaitLogin(cctx, "alice"); err == nil || !strings.Contains(err.Error(), "no login request came") {
		t.Errorf("WaitLogin without requests: %v", err)
	}
	done, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := d2.WaitLogin(done, "alice"); err == nil {
		t.Error("WaitLogin with a context ended")
	}
}

// TestInbox: deliveries sealed to the device open after the PIN is proved;
// one addressed elsewhere or damaged is refused.
func TestInbox(t *testing.T) {
	t.Parallel()
	f, _, d, _ := enrollAlice(t)
	ctx := context.Background()
	f.deliver("del-1", "Xq7mPz4KwR9t", "")
	if _, err := d.Inbox(ctx, "alice", vault.Unlock{PIN: "1357"}); !errors.Is(err, ErrWrongPIN) {
		t.Errorf("a wrong PIN: %v", err)
	}
	got, err := d.Inbox(ctx, "alice", vault.Unlock{PIN: "2468"})
	if err != nil || len(got) != 1 || string(got[0].Text) != "Xq7mPz4KwR9t" || got[0].ID != "del-1" || got[0].Kind != "temp_password" {
		t.Fatalf("Inbox = %+v, %v", got, err)
	}
	f.deliver("del-2", "x", "temp_password/del-2/dev-2")
	if _, err := d.Inbox(ctx, "alice", vault.Unlock{PIN: "2468"}); err == nil || !strings.Contains(err.Error(), "not addressed") {
		t.Errorf("a delivery for another device: %v", err)
	}
	f.deliver("del-3", "x", "")
	f.set(func(f *fakeService) { f.deliveries[0].Sealed[40] ^= 1 })
	if _, err := d.Inbox(ctx, "alice", vault.Unlock{PIN: "2468"}); !errors.Is(err, protocol.ErrSealed) {
		t.Errorf("a damaged delivery: %v", err)
	}
	if _, err := d.Inbox(ctx, "alice", vault.Unlock{Biometric: true}); err == nil {
		t.Error("a gate alice lacks")
	}
	if _, err := d.Inbox(ctx, "nobody", vault.Unlock{PIN: "2468"}); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("no such user: %v", err)
	}
	f.set(func(f *fakeService) { f.tokenHash[0] ^= 1 })
	if _, err := d.Inbox(ctx, "alice", vault.Unlock{PIN: "2468"}); !errors.Is(err, protocol.ErrUnauthorized) {
		t.Errorf("a channel the service refuses: %v", err)
	}
	if _, err := d.ChangePIN(ctx, "alice", "2468", "9173", RefuseOffline); !errors.Is(err, protocol.ErrUnauthorized) {
		t.Errorf("ChangePIN on a refused channel: %v", err)
	}
}

// TestNotEnrolled: a user imported without a service has no channel,
// inbox or approvals.
func TestNotEnrolled(t *testing.T) {
	t.Parallel()
	_, ts := newFakeService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := testDevice(t, ts, &now)
	suite := ocra.MustParseSuite(protocol.SuiteIBKey)
	add := func(nu vault.NewUser) {
		t.Helper()
		if err := d.Vault.Add(nu, rand.Reader, now); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 32)
	add(vault.NewUser{Name: "imported", Suite: suite, Secret: key, PIN: "2468"})
	add(vault.NewUser{Name: "nochannel", Suite: suite, Secret: key, PIN: "2468", Service: ts.URL, DeviceID: "d9", Account: "U9", ServiceKey: make([]byte, 32)})
	add(vault.NewUser{Name: "nodelivery", Suite: suite, Secret: key, PIN: "2468", Service: ts.URL, DeviceID: "d8", Account: "U8", ServiceKey: make([]byte, 32), ChannelKey: make([]byte, 32)})
	ctx := context.Background()
	for _, name := range []string{"imported", "nochannel"} {
		if _, _, err := d.Poll(ctx, name, 0, time.Second); !errors.Is(err, ErrNotEnrolled) {
			t.Errorf("Poll %s: %v", name, err)
		}
		if _, err := d.Inbox(ctx, name, vault.Unlock{PIN: "2468"}); !errors.Is(err, ErrNotEnrolled) {
			t.Errorf("Inbox %s: %v", name, err)
		}
	}
	if _, err := d.Inbox(ctx, "nodelivery", vault.Unlock{PIN: "2468"}); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("Inbox without a delivery key: %v", err)
	}
	if _, err := d.ChangePIN(ctx, "nobody", "2468", "9173", RefuseOffline); !errors.Is(err, vault.ErrNoUser) {
		t.Errorf("ChangePIN of nobody: %v", err)
	}
}

// TestDefaults: a Device's zero fields take the defaults.
func TestDefaults(t *testing.T) {
	t.Parallel()
	v, err := vault.Open(t.TempDir(), &memSecrets{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := New(v)
	if d.Vault != v || d.rand() != rand.Reader {
		t.Error("New")
	}
	c := d.client("https://ib.example")
	if c.BaseURL != "https://ib.example" || c.HTTP == nil || c.HTTP.Timeout != 60*time.Second {
		t.Errorf("client %+v", c)
	}
	if n := d.now(); n.IsZero() || n.Location() != time.Local {
		t.Errorf("now %v", n)
	}
}
