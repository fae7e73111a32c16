package core_test

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// TestResend: a code is sent again by the other channel at once, by the
// same one after 30 seconds (docs/PROTOCOL.md), at most 5 times an
// enrollment; each send is a message to the user's phone, and the code
// sent last is the one that activates.
func TestResend(t *testing.T) {
	e := newEnv(t)
	e.user("kim")
	ctx := context.Background()
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "kim", Password: "password1", Channel: "sms"})
	if err != nil {
		t.Fatal(err)
	}
	if enr.Channel != "sms" || enr.To != "+*******1234" || !enr.ResendAfter.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("enrollment %+v", enr)
	}
	var rl *core.RateLimitError
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID, Channel: "sms"}); !errors.As(err, &rl) || rl.Limit != "resend_interval" {
		t.Fatalf("sms again at once: %v", err)
	}
	// "" is the other channel: voice, at once.
	r, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID})
	if err != nil || r.Channel != "voice" {
		t.Fatalf("resend: %+v %v", r, err)
	}
	if e.gw.last.Channel != "voice" || !strings.Contains(e.gw.last.Text, strings.Join(strings.Split(e.gw.code(), ""), " ")) {
		t.Fatalf("voice message %+v", e.gw.last)
	}
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID, Channel: "fax"}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("fax: %v", err)
	}
	e.advance(30*time.Second - time.Nanosecond)
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID, Channel: "sms"}); !errors.As(err, &rl) {
		t.Fatalf("sms 1ns before 30 s: %v", err)
	}
	e.advance(time.Nanosecond)
	for i := 3; i <= 5; i++ {
		if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		e.advance(30 * time.Second)
	}
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID}); !errors.As(err, &rl) || rl.Limit != "enrollment_sends" {
		t.Fatalf("6th send: %v", err)
	}
	if e.gw.sent != 5 {
		t.Fatalf("%d messages, want 5", e.gw.sent)
	}
	// The resends count toward the user's 5 codes an hour.
	if _, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "kim", Password: "password1"}); !errors.As(err, &rl) || rl.Limit != "sends_user_hour" {
		t.Fatalf("a new enrollment after 5 sends: %v", err)
	}
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: "nope"}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("no such enrollment: %v", err)
	}
	// The last code activates; a resend after it is spent.
	k, _ := protocol.NewActivationKey(rand.Reader)
	if _, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: e.gw.code(), PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID}); !errors.Is(err, core.ErrSpent) {
		t.Fatalf("resend after activation: %v", err)
	}
	// A link has no code to send.
	link, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "kim"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: link.ID}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("resend of a link: %v", err)
	}
	// Locked: refused as locked.
	lock(t, e, "kim")
	var le *core.LockedError
	if _, err := e.svc.Resend(ctx, core.ResendRequest{EnrollmentID: enr.ID}); !errors.As(err, &le) {
		t.Fatalf("locked: %v", err)
	}
}

// lock locks username for an hour.
func lock(t *testing.T, e *env, username string) {
	t.Helper()
	if err := e.st.Update(context.Background(), func(tx store.Tx) error {
		a, err := tx.Account(username)
		if err != nil {
			return err
		}
		a.Lockout.Failures, a.Lockout.LockedUntil = 5, e.clock().Add(time.Hour)
		return tx.UpdateAccount(a)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestResendCode: the portal's resend checks the password and sends the
// newest pending SMS or voice enrollment's code again; none pending is
// ErrNoEnrollment.
func TestResendCode(t *testing.T) {
	e := newEnv(t)
	e.user("lee")
	ctx := context.Background()
	if err := e.svc.ResendCode(ctx, core.ResendCodeRequest{Username: "lee", Password: "password1"}); !errors.Is(err, core.ErrNoEnrollment) {
		t.Fatalf("nothing pending: %v", err)
	}
	if err := e.svc.ResendCode(ctx, core.ResendCodeRequest{Username: "lee", Password: "wrong one"}); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	old, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "lee", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(time.Minute)
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "lee", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "lee"}); err != nil {
		t.Fatal(err)
	}
	sent := e.gw.sent
	if err := e.svc.ResendCode(ctx, core.ResendCodeRequest{Username: "lee", Password: "password1", Channel: "voice"}); err != nil {
		t.Fatal(err)
	}
	if e.gw.sent != sent+1 || e.gw.last.Channel != "voice" {
		t.Fatalf("sent %d, last %+v", e.gw.sent-sent, e.gw.last)
	}
	// The code went to the newest enrollment.
	k, _ := protocol.NewActivationKey(rand.Reader)
	code := e.gw.code()
	if _, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: old.ID, Code: code, PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}); !errors.Is(err, core.ErrBadCode) {
		t.Fatalf("the older enrollment with the new code: %v", err)
	}
	if _, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: code, PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}); err != nil {
		t.Fatalf("the newest: %v", err)
	}
	// Spent now: the older one is next, and after it none.
	e.advance(time.Minute)
	if err := e.svc.ResendCode(ctx, core.ResendCodeRequest{Username: "lee", Password: "password1"}); err != nil {
		t.Fatalf("the older one: %v", err)
	}
}

// TestEnrollInput: the enrollment refuses what it cannot take before it
// checks anything, and a service without a gateway sends nothing.
func TestEnrollInput(t *testing.T) {
	e := newEnv(t)
	e.user("max")
	ctx := context.Background()
	if _, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "max", Password: "password1", Channel: "fax"}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("fax: %v", err)
	}
	for _, ch := range []string{"", "sms", "voice"} {
		enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "max", Password: "password1", Channel: ch})
		want := ch
		if ch == "" {
			want = "sms"
		}
		if err != nil || enr.Channel != want || e.gw.last.Channel != want {
			t.Fatalf("channel %q: %+v %v", ch, enr, err)
		}
	}
	if !strings.Contains(e.gw.last.Text, "activation code is") || e.gw.last.To != "+15550001234" || e.gw.last.Username != "max" || !e.gw.last.Time.Equal(t0) {
		t.Fatalf("message %+v", e.gw.last)
	}
	none := newEnv(t, func(c *core.Config) { c.Gateway = nil })
	none.user("ned")
	if _, err := none.svc.Enroll(ctx, core.EnrollRequest{Username: "ned", Password: "password1"}); !errors.Is(err, core.ErrNoGateway) {
		t.Fatalf("no gateway: %v", err)
	}
	if _, err := none.svc.Resend(ctx, core.ResendRequest{EnrollmentID: "x"}); !errors.Is(err, core.ErrNoGateway) {
		t.Fatalf("no gateway: %v", err)
	}
	failing := newEnv(t, func(c *core.Config) { c.Gateway = failGateway{} })
	failing.user("ola")
	if _, err := failing.svc.Enroll(ctx, core.EnrollRequest{Username: "ola", Password: "password1"}); !errors.Is(err, core.ErrGateway) {
		t.Fatalf("a failing gateway: %v", err)
	}
}

type failGateway struct{}

func (failGateway) Send(context.Context, core.Message) error { return errors.New("no signal") }

// TestActivateInput: keys, tokens and a card's PIN hash are checked
// before the enrollment is read; a card gets the DSC+ suite.
func TestActivateInput(t *testing.T) {
	e := newEnv(t)
	e.user("pam")
	ctx := context.Background()
	k, _ := protocol.NewActivationKey(rand.Reader)
	pub := k.PublicKey().Bytes()
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "pam", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	pinHash := sha1.Sum([]byte("1234"))
	for _, c := range []struct {
		name string
		req  core.ActivateRequest
	}{
		{"a short key", core.ActivateRequest{PublicKey: pub[:31], DeliveryKey: pub, ChannelToken: make([]byte, 32)}},
		{"a short delivery key", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub[:31], ChannelToken: make([]byte, 32)}},
		{"a short token", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 31)}},
		{"a long token", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 33)}},
		{"a card without its PIN hash", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 32), Card: true}},
		{"a short PIN hash", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 32), Card: true, PINHash: pinHash[:19]}},
		{"a PIN hash without a card", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 32), PINHash: pinHash[:]}},
		{"a session for a code", core.ActivateRequest{PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 32), Session: "0123456789ABCDEF"}},
	} {
		c.req.EnrollmentID, c.req.Code = enr.ID, e.gw.code()
		if _, err := e.svc.Activate(ctx, c.req); !errors.Is(err, core.ErrBadRequest) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: "nope", Code: "1", PublicKey: pub, DeliveryKey: pub, ChannelToken: make([]byte, 32)}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("no such enrollment: %v", err)
	}
	// A card: the DSC+ suite, whose responses take the PIN.
	token := make([]byte, 32)
	rand.Read(token)
	a, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: e.gw.code(), PublicKey: pub, DeliveryKey: pub, ChannelToken: token, Card: true, PINHash: pinHash[:]})
	if err != nil {
		t.Fatal(err)
	}
	if a.Suite != protocol.SuiteDSC || a.Username != "pam" || a.ApproveSuite != protocol.SuiteApprove || string(a.ServiceKey) != string(e.svc.PublicKey()) || !a.ExpiresAt.Equal(t0.Add(codeTTL)) {
		t.Fatalf("activation %+v", a)
	}
	secret, err := protocol.DeriveSecret(k, a.ServerKey, pub, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocra.Generate(ocra.MustParseSuite(a.Suite), secret, ocra.Input{Challenge: a.ConfirmChallenge, PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: core.DeviceAuth{DeviceID: a.DeviceID, Token: token}, Response: r}); err != nil {
		t.Fatalf("the card's confirmation: %v", err)
	}
	// A card gets no seamless request: it has no screen.
	if l := e.login("pam"); l.Push {
		t.Fatal("a push to a card")
	}
}

// TestActivateCodes: a wrong code says the tries left (the fewer of the
// enrollment's 10 and the account's 5 before the lock), counts toward the
// lock, and the 10th wrong code fails the enrollment.
func TestActivateCodes(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.Limits.LockoutThreshold = 100 })
	e.user("quin")
	ctx := context.Background()
	enr, err := e.svc.Enroll(ctx, core.EnrollRequest{Username: "quin", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := protocol.NewActivationKey(rand.Reader)
	act := func(code string) error {
		_, err := e.svc.Activate(ctx, core.ActivateRequest{EnrollmentID: enr.ID, Code: code, PublicKey: k.PublicKey().Bytes(), DeliveryKey: k.PublicKey().Bytes(), ChannelToken: make([]byte, 32)})
		return err
	}
	wrongCode := "00000000"
	if wrongCode == e.gw.code() {
		wrongCode = "00000001"
	}
	for i := 1; i <= 9; i++ {
		var bc *core.BadCodeError
		if err := act(wrongCode); !errors.As(err, &bc) || bc.AttemptsLeft != 10-i {
			t.Fatalf("wrong code %d: %v, want %d left", i, err, 10-i)
		}
	}
	if err := act(wrongCode); !errors.Is(err, core.ErrTooManyTries) {
		t.Fatalf("10th wrong code: %v", err)
	}
	if err := act(e.gw.code()); !errors.Is(err, core.ErrTooManyTries) {
		t.Fatalf("the right code after: %v", err)
	}
	if s := e.snapshot([]string{"quin"}, nil); !strings.Contains(s, "Failures:10 ") {
		t.Fatalf("the wrong codes did not count toward the lock (10, not 11: the refusal after is not one):\n%s", s)
	}
}

// TestConfirmAgain: a repeated confirmation of the device that became
// active gets the same answer, even after the pending device would have
// expired; a wrong one is a mismatch that leaves it active; a wrong first
// confirmation retires the pending device (docs/PROTOCOL.md).
func TestConfirmAgain(t *testing.T) {
	e := newEnv(t)
	e.user("rex")
	ctx := context.Background()
	p := e.activate("rex")
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: p.auth, Response: p.confirm}); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: p.auth, Response: p.confirm}); err != nil {
		t.Fatalf("again: %v", err)
	}
	var km *core.KeyMismatchError
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: p.auth, Response: wrongDigit(p.confirm)}); !errors.As(err, &km) || km.Retired {
		t.Fatalf("again, wrong: %v", err)
	}
	if _, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: p.auth, Kind: core.ProofPIN}); err != nil {
		t.Fatalf("the active device after a wrong repeat: %v", err)
	}
	q := e.activate("rex")
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: q.auth, Response: wrongDigit(q.confirm)}); !errors.As(err, &km) || !km.Retired {
		t.Fatalf("a wrong first confirmation: %v", err)
	}
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: q.auth, Response: q.confirm}); !errors.Is(err, core.ErrDeviceRetired) {
		t.Fatalf("after it: %v", err)
	}
	if _, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: p.auth, Kind: core.ProofPIN}); err != nil {
		t.Fatalf("the active device: %v", err)
	}
	// A new device retires the old one: its channel says so.
	r := e.addDevice("rex")
	if err := e.svc.Confirm(ctx, core.ConfirmRequest{Device: p.auth, Response: p.confirm}); !errors.Is(err, core.ErrDeviceRetired) {
		t.Fatalf("the replaced device confirms again: %v", err)
	}
	if _, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: p.auth}); !errors.Is(err, core.ErrDeviceRetired) {
		t.Fatalf("the replaced device's channel: %v", err)
	}
	if _, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: r.auth}); err != nil {
		t.Fatal(err)
	}
	var retired int
	if err := core.ReadAudit(ctx, e.st, store.AuditFilter{}, func(a store.AuditEvent) error {
		if a.Event == core.AuditDeviceRetired {
			retired++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if retired != 2 { // q (wrong confirmation), p (replaced)
		t.Fatalf("%d device.retired records, want 2", retired)
	}
}

// wrongDigit changes the first digit of a response.
func wrongDigit(r string) string {
	b := []byte(r)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}
