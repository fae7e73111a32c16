package core_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// viewHook tells of each View that ends, so that a test knows a
// long-poll has looked at the store.
type viewHook struct {
	store.Store
	mu    sync.Mutex
	views chan struct{}
}

func (v *viewHook) View(ctx context.Context, fn func(store.Tx) error) error {
	err := v.Store.View(ctx, fn)
	v.mu.Lock()
	ch := v.views
	v.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return err
}

// watch returns a channel that receives after each View from now on (up
// to 64 unread).
func (v *viewHook) watch() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.views = make(chan struct{}, 64) // none dropped: a test counts them
	return v.views
}

// looked returns once a long-poll has looked at the store twice (its
// device, then its events), or has returned (done).
func looked(views <-chan struct{}, done <-chan struct{}) {
	for range 2 {
		select {
		case <-views:
		case <-done:
			return
		}
	}
}

// TestWaitEvents: the device's long-poll answers at once with events,
// waits for one otherwise, and with the digest of the pending list it
// holds answers as soon as the list differs.
func TestWaitEvents(t *testing.T) {
	hook := &viewHook{}
	e := newEnv(t, func(c *core.Config) {
		hook.Store = c.Store
		c.Store = hook
		c.CrossProcessPoll = time.Hour // only the service's own wake-ups
		c.MaxWait = time.Hour
	})
	ctx := context.Background()
	d := e.enroll("ivy")
	if _, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, Pending: "not a digest"}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("a malformed digest: %v", err)
	}
	// Nothing: after the wait, an empty answer (not null lists).
	evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, After: 5, Wait: time.Millisecond})
	if err != nil || evs.Events == nil || len(evs.Events) != 0 || evs.Pending == nil || len(evs.Pending) != 0 || evs.Next != 5 {
		t.Fatalf("nothing: %+v %v", evs, err)
	}
	// A negative wait is no wait.
	if _, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, Wait: -time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Woken by a login.
	wait := func(req core.EventsRequest) chan protocol.Events {
		t.Helper()
		views := hook.watch()
		out := make(chan protocol.Events, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			evs, err := e.svc.WaitEvents(ctx, req)
			if err != nil {
				t.Error(err)
			}
			out <- evs
		}()
		looked(views, done) // it has looked at the store: it waits now
		return out
	}
	got := wait(core.EventsRequest{Device: d.auth, Wait: time.Hour})
	l := e.login("ivy")
	evs = <-got
	if len(evs.Events) != 1 || len(evs.Pending) != 1 || evs.Pending[0] != l.ID || evs.Next != evs.Events[0].Seq {
		t.Fatalf("woken: %+v", evs)
	}
	// After the last: nothing new; with the digest of the list held, it
	// waits until the request is answered in the browser.
	digest := protocol.PendingDigest(evs.Pending)
	got = wait(core.EventsRequest{Device: d.auth, After: evs.Next, Wait: time.Hour, Pending: digest})
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); err != nil {
		t.Fatal(err)
	}
	if evs := <-got; len(evs.Events) != 0 || len(evs.Pending) != 0 {
		t.Fatalf("after the response: %+v", evs)
	}
	// A request denied on the device wakes the long-poll that holds the
	// list with it.
	l = e.login("ivy")
	evs, err = e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, After: evs.Next})
	if err != nil || len(evs.Pending) != 1 {
		t.Fatalf("%+v %v", evs, err)
	}
	got = wait(core.EventsRequest{Device: d.auth, After: evs.Next, Wait: time.Hour, Pending: protocol.PendingDigest(evs.Pending)})
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l.ID, Deny: protocol.DenyMistake}); err != nil {
		t.Fatal(err)
	}
	if evs := <-got; len(evs.Events) != 0 || len(evs.Pending) != 0 {
		t.Fatalf("after the denial: %+v", evs)
	}
	// A stale digest: answered at once.
	if evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, Wait: time.Hour, Pending: digest}); err != nil || len(evs.Pending) != 0 {
		t.Fatalf("a stale digest: %+v %v", evs, err)
	}
	// The context ends: ErrUnavailable.
	cctx, cancel := context.WithCancel(ctx)
	views := hook.watch()
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := e.svc.WaitEvents(cctx, core.EventsRequest{Device: d.auth, Wait: time.Hour})
		errc <- err
	}()
	looked(views, done)
	cancel()
	if err := <-errc; !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("cancelled: %v", err)
	}
	// Retired while it waits: told so.
	old := e.login("ivy") // pushed to d
	evs, err = e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth})
	if err != nil {
		t.Fatal(err)
	}
	got2 := make(chan error, 1)
	views = hook.watch()
	done = make(chan struct{})
	go func() {
		defer close(done)
		_, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, After: evs.Next, Wait: time.Hour})
		got2 <- err
	}()
	looked(views, done)
	nd := e.addDevice("ivy")
	if err := <-got2; !errors.Is(err, core.ErrDeviceRetired) {
		t.Fatalf("retired during the wait: %v", err)
	}
	// The new device's list holds its own requests, not the old one's.
	l = e.login("ivy")
	if evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: nd.auth}); err != nil || len(evs.Pending) != 1 || evs.Pending[0] != l.ID || len(evs.Events) != 1 {
		t.Fatalf("the new device's channel: %+v %v (not %s)", evs, err, old.ID)
	}
}

// TestWaitExpiry: a long-poll holding the digest of its list answers when
// a request in it expires, woken by the request's own end.
func TestWaitExpiry(t *testing.T) {
	hook := &viewHook{}
	e := newEnv(t, func(c *core.Config) {
		hook.Store = c.Store
		c.Store = hook
		c.CrossProcessPoll = time.Hour
		c.MaxWait = time.Hour
		c.Limits.RequestTTL = 20 * time.Millisecond
	})
	ctx := context.Background()
	d := e.enroll("jo")
	l := e.login("jo")
	evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth})
	if err != nil || len(evs.Pending) != 1 || evs.Pending[0] != l.ID {
		t.Fatalf("%+v %v", evs, err)
	}
	views := hook.watch()
	got := make(chan protocol.Events, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth, After: evs.Next, Wait: time.Hour, Pending: protocol.PendingDigest(evs.Pending)})
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	looked(views, done)
	e.advance(20 * time.Millisecond) // the request's end; the long-poll's timer is set to it
	if evs := <-got; len(evs.Pending) != 0 {
		t.Fatalf("after the request's end: %+v", evs)
	}
}

// TestApproveInput: an approval needs a number and a response; a denial a
// known reason; requests not pushed to this device are not found.
func TestApproveInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.enroll("kai")
	o := e.enroll("lou")
	l := e.login("kai")
	_, r := e.push(d, l.ID, l.Number)
	for _, c := range []struct {
		req  core.ApprovalRequest
		want error
	}{
		{core.ApprovalRequest{RequestID: l.ID, Deny: "bored"}, core.ErrBadRequest},
		{core.ApprovalRequest{RequestID: l.ID, Number: l.Number}, core.ErrBadRequest},
		{core.ApprovalRequest{RequestID: l.ID, Number: l.Number, Response: strings.Repeat("1", 65)}, core.ErrBadRequest},
		{core.ApprovalRequest{RequestID: l.ID, Number: -1, Response: r}, core.ErrBadRequest},
		{core.ApprovalRequest{RequestID: l.ID, Number: 1001, Response: r}, core.ErrBadRequest},
		{core.ApprovalRequest{RequestID: "nope", Number: l.Number, Response: r}, core.ErrNotFound},
	} {
		c.req.Device = d.auth
		if _, err := e.svc.Approve(ctx, c.req); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.req, err, c.want)
		}
	}
	// Another user's device: the request is not its.
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: o.auth, RequestID: l.ID, Deny: protocol.DenyFraud}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("another device: %v", err)
	}
	// A login without a push (the 4th) is not a request.
	e.login("kai")
	e.login("kai")
	l4 := e.login("kai")
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l4.ID, Deny: protocol.DenyFraud}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("a login without a request: %v", err)
	}
	// A PIN challenge is not a request either.
	ch, _ := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: ch.ID, Deny: protocol.DenyFraud}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("a PIN challenge: %v", err)
	}
	// The edges are taken as input: numbers 0 and 1000 are wrong numbers,
	// a response of 64 characters a wrong response, not bad requests.
	e = newEnv(t)
	d = e.enroll("kai")
	for _, n := range []int{0, 1000} {
		l := e.login("kai")
		if n == l.Number {
			t.Fatalf("the login's number is %d", n)
		}
		_, r := e.push(d, l.ID, n)
		if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l.ID, Number: n, Response: r}); !errors.Is(err, core.ErrWrongNumber) {
			t.Fatalf("number %d: %v", n, err)
		}
	}
	l6 := e.login("kai")
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l6.ID, Number: l6.Number, Response: strings.Repeat("1", 64)}); !errors.Is(err, core.ErrBadResponse) {
		t.Fatalf("a response of 64: %v", err)
	}
	l7 := e.login("kai")
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l7.ID, Response: strings.Repeat("1", 64)}); !errors.Is(err, core.ErrBadResponse) {
		t.Fatalf("a response of 64 to a challenge: %v", err)
	}
	pin, _ := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
	if err := e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: pin.ID, Response: strings.Repeat("1", 64)}); !errors.Is(err, core.ErrBadResponse) {
		t.Fatalf("a proof of 64: %v", err)
	}
	// Locked: refused as locked, the request untouched.
	l5 := e.login("kai")
	lock(t, e, "kai")
	var le *core.LockedError
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l5.ID, Deny: protocol.DenyFraud}); !errors.As(err, &le) {
		t.Fatalf("locked: %v", err)
	}
	if _, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN}); !errors.As(err, &le) {
		t.Fatalf("a proof while locked: %v", err)
	}
}

// TestProofs: a PIN proof releases nothing, an inbox proof releases each
// delivery once; a challenge of one kind is not of the other, nor of
// another device.
func TestProofs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.enroll("mia")
	o := e.enroll("ned")
	id, err := e.svc.IssueTempPassword(ctx, "mia")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.IssueTempPassword(ctx, "nobody"); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("nobody's temporary password: %v", err)
	}
	pin, _ := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
	inbox, _ := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofInbox})
	if _, err := e.svc.OpenInbox(ctx, core.ProofRequest{Device: d.auth, ChallengeID: pin.ID, Response: d.respond(t, pin.Challenge)}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("the inbox by a PIN challenge: %v", err)
	}
	if err := e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: inbox.ID, Response: d.respond(t, inbox.Challenge)}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("a PIN proof by an inbox challenge: %v", err)
	}
	if err := e.svc.ProvePIN(ctx, core.ProofRequest{Device: o.auth, ChallengeID: pin.ID, Response: d.respond(t, pin.Challenge)}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("another device's challenge: %v", err)
	}
	if err := e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: pin.ID, Response: strings.Repeat("1", 65)}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("a long response: %v", err)
	}
	if err := e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: pin.ID, Response: d.respond(t, pin.Challenge)}); err != nil {
		t.Fatal(err)
	}
	ds, err := e.svc.OpenInbox(ctx, core.ProofRequest{Device: d.auth, ChallengeID: inbox.ID, Response: d.respond(t, inbox.Challenge)})
	if err != nil || len(ds) != 1 || ds[0].ID != id || ds[0].Kind != "temp_password" || !ds[0].CreatedAt.Equal(t0) {
		t.Fatalf("the inbox after a PIN proof: %+v %v", ds, err)
	}
	inbox, _ = e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofInbox})
	ds, err = e.svc.OpenInbox(ctx, core.ProofRequest{Device: d.auth, ChallengeID: inbox.ID, Response: d.respond(t, inbox.Challenge)})
	if err != nil || ds == nil || len(ds) != 0 {
		t.Fatalf("the inbox again: %+v %v", ds, err)
	}
	// Two waiting: both released, once.
	for range 2 {
		if _, err := e.svc.IssueTempPassword(ctx, "mia"); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{2, 0} {
		inbox, _ = e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofInbox})
		if ds, err := e.svc.OpenInbox(ctx, core.ProofRequest{Device: d.auth, ChallengeID: inbox.ID, Response: d.respond(t, inbox.Challenge)}); err != nil || len(ds) != want {
			t.Fatalf("the inbox: %d deliveries %v, want %d", len(ds), err, want)
		}
	}
	// A wrong inbox proof releases nothing and counts.
	if _, err := e.svc.IssueTempPassword(ctx, "mia"); err != nil {
		t.Fatal(err)
	}
	inbox, _ = e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofInbox})
	var br *core.BadResponseError
	if _, err := e.svc.OpenInbox(ctx, core.ProofRequest{Device: d.auth, ChallengeID: inbox.ID, Response: wrongDigit(d.respond(t, inbox.Challenge))}); !errors.As(err, &br) || br.AttemptsLeft != 4 {
		t.Fatalf("a wrong inbox proof: %v", err)
	}
	// The delivery's event lives 7 days on the channel.
	evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth})
	if err != nil || len(evs.Events) != 1 {
		t.Fatalf("events %+v %v", evs, err)
	}
	ev, err := protocol.OpenEvent(e.svc.PublicKey(), d.auth.DeviceID, evs.Events[0])
	if err != nil || ev.Type != protocol.EventDelivery || !ev.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("delivery event %+v %v", ev, err)
	}
	e.advance(7*24*time.Hour - time.Nanosecond)
	if evs, _ := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth}); len(evs.Events) != 1 {
		t.Fatalf("1ns before 7 days: %d events", len(evs.Events))
	}
	e.advance(time.Nanosecond)
	if evs, _ := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth}); len(evs.Events) != 0 {
		t.Fatalf("at 7 days: %d events", len(evs.Events))
	}
}

// TestLinks: an enrollment by link (docs/PROTOCOL.md: 5 started per user
// per 10 minutes, the newest the only live one, 10 wrong tries); a wrong
// Session ID with a live locator counts toward the account's lock, and
// only the right one learns that the user is locked.
func TestLinks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user("ora")
	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "nobody"}); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("nobody: %v", err)
	}
	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bad name!"}); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("a bad name: %v", err)
	}
	var links []core.LinkEnrollment
	for i := range 5 {
		l, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "ORA"})
		if err != nil {
			t.Fatalf("link %d: %v", i+1, err)
		}
		if l.Username != "ora" || len(l.SessionID) != 16 || l.Link("https://ib.example") != protocol.EnrollLink("https://ib.example", l.SessionID) {
			t.Fatalf("link %+v", l)
		}
		links = append(links, l)
		e.advance(time.Minute)
	}
	var rl *core.RateLimitError
	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "ora"}); !errors.As(err, &rl) || rl.Limit != "links" {
		t.Fatalf("a 6th link within 10 minutes: %v", err)
	}
	// The window holds the links started at or after 10 minutes ago (as
	// the caps on codes sent count): the first leaves it a nanosecond
	// after it is 10 minutes old.
	e.at(t0.Add(codeTTL))
	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "ora"}); !errors.As(err, &rl) {
		t.Fatalf("when the first is 10 minutes old: %v", err)
	}
	e.at(t0.Add(codeTTL + time.Nanosecond))
	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "ora"}); err != nil {
		t.Fatalf("1ns later: %v", err)
	}
	// Only the newest is live.
	for _, l := range links {
		if _, err := e.svc.ExchangeSession(ctx, core.SessionRequest{Session: l.SessionID}); !errors.Is(err, core.ErrBadSession) {
			t.Fatalf("a replaced link: %v", err)
		}
	}
	e2 := newEnv(t)
	e2.user("pia")
	l, err := e2.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "pia"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.svc.ExchangeSession(ctx, core.SessionRequest{Session: "too short"}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("a malformed Session ID: %v", err)
	}
	// Typed as people type it: lower case, dashes.
	typed := strings.ToLower(protocol.FormatSessionID(l.SessionID))
	enr, err := e2.svc.ExchangeSession(ctx, core.SessionRequest{Session: typed})
	if err != nil || enr.ID != l.ID || enr.Session != l.SessionID || enr.Channel != protocol.ChannelLink || !enr.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("exchange %+v %v", enr, err)
	}
	k, _ := protocol.NewActivationKey(rand.Reader)
	if _, err := e2.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: l.ID, Code: "12345678", PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("a code for a link: %v", err)
	}
	// A wrong Session ID with the live locator counts: the 5th locks.
	wrongS := l.SessionID[:4] + strings.Repeat("0", 12)
	if wrongS == l.SessionID {
		wrongS = l.SessionID[:4] + strings.Repeat("1", 12)
	}
	for i := range 5 {
		if _, err := e2.svc.ExchangeSession(ctx, core.SessionRequest{Session: wrongS}); !errors.Is(err, core.ErrBadSession) {
			t.Fatalf("wrong %d: %v", i+1, err)
		}
	}
	if s := e2.snapshot([]string{"pia"}, nil); !strings.Contains(s, "Failures:5 ") {
		t.Fatalf("the wrong Session IDs did not count:\n%s", s)
	}
	var le *core.LockedError
	if _, err := e2.svc.ExchangeSession(ctx, core.SessionRequest{Session: l.SessionID}); !errors.As(err, &le) {
		t.Fatalf("the right Session ID of a locked user: %v", err)
	}
	if _, err := e2.svc.ExchangeSession(ctx, core.SessionRequest{Session: wrongS}); !errors.Is(err, core.ErrBadSession) {
		t.Fatalf("a wrong one of a locked user: %v", err)
	}
	if _, err := core.StartLinkEnrollment(ctx, e2.st, rand.Reader, t0, e2.svc.Limits(), "pia"); !errors.As(err, &le) {
		t.Fatalf("a link for a locked user: %v", err)
	}
}
