package verifier

import (
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestEnrollmentStateMachine(t *testing.T) {
	cfg := Config{}
	e, code, err := NewEnrollment(cfg, rand.Reader, t0, "u", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 8 || e.Channel != protocol.ChannelSMS || e.State != EnrollPending || !e.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("%+v %q", e, code)
	}
	if _, err := e.Resend(cfg, rand.Reader, t0.Add(29*time.Second), protocol.ChannelSMS); !errors.Is(err, ErrResendTooSoon) {
		t.Fatalf("a second SMS too soon: %v", err)
	}
	// The first voice call goes at once; then both channels wait.
	if _, err := e.Resend(cfg, rand.Reader, t0.Add(9*time.Second), ""); err != nil || e.Channel != protocol.ChannelVoice || !slices.Equal(e.Channels, []string{"sms", "voice"}) {
		t.Fatalf("the first voice call: %v %+v", err, e)
	}
	for _, ch := range []string{"", protocol.ChannelSMS, protocol.ChannelVoice} {
		if _, err := e.Resend(cfg, rand.Reader, t0.Add(38*time.Second), ch); !errors.Is(err, ErrResendTooSoon) {
			t.Fatalf("resend %q 29 s after the call: %v", ch, err)
		}
	}
	code2, err := e.Resend(cfg, rand.Reader, t0.Add(39*time.Second), protocol.ChannelVoice)
	if err != nil || e.Channel != protocol.ChannelVoice || e.Sends != 3 {
		t.Fatalf("resend: %v %+v", err, e)
	}
	if code2 != code {
		if err := e.Check(cfg, code, t0.Add(time.Minute)); !errors.Is(err, ErrBadCode) {
			t.Fatalf("old code: %v", err)
		}
	}
	if err := e.Check(cfg, code2[:4]+" "+code2[4:], t0.Add(time.Minute)); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if err := e.Check(cfg, code2, t0.Add(time.Minute)); !errors.Is(err, ErrSpent) {
		t.Fatalf("used twice: %v", err)
	}
}

func TestEnrollmentTriesAndExpiry(t *testing.T) {
	cfg := Config{}
	e, code, _ := NewEnrollment(cfg, rand.Reader, t0, "u", protocol.ChannelVoice)
	if err := e.Check(cfg, code, t0.Add(10*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	for i := 1; i < 10; i++ {
		if err := e.Check(cfg, "x", t0); !errors.Is(err, ErrBadCode) || e.TriesLeft(cfg) != 10-i {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if err := e.Check(cfg, "x", t0); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("10th: %v", err)
	}
	if err := e.Check(cfg, code, t0); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("after 10: %v", err)
	}
	if _, _, err := NewEnrollment(cfg, rand.Reader, t0, "u", "fax"); !errors.Is(err, ErrBadChannel) {
		t.Fatal(err)
	}
}

func TestLockout(t *testing.T) {
	cfg := Config{LockoutThreshold: 5, LockoutDuration: time.Minute}
	var l Lockout
	for i := 1; i <= 4; i++ {
		if left := l.Fail(cfg, t0); left != 5-i || l.Locked(t0) {
			t.Fatalf("fail %d: left %d locked %v", i, left, l.Locked(t0))
		}
	}
	l.Fail(cfg, t0)
	if !l.Locked(t0) || l.Locked(t0.Add(time.Minute)) {
		t.Fatal("timed lock")
	}
	l.Succeed()
	if l.Failures != 0 || l.Locked(t0) {
		t.Fatal("success resets")
	}
	if c := (Config{LockoutThreshold: 1000}).WithDefaults(); c.LockoutThreshold != HardLockout || c.MaxFailures != HardLockout {
		t.Fatalf("threshold not capped: %d %d", c.LockoutThreshold, c.MaxFailures)
	}
	if c := (Config{MaxFailures: 1000}).WithDefaults(); c.MaxFailures != HardLockout {
		t.Fatalf("MaxFailures not capped: %d", c.MaxFailures)
	}
	if c := (Config{MaxFailures: 20, LockoutThreshold: 30}).WithDefaults(); c.LockoutThreshold != 20 {
		t.Fatalf("threshold above MaxFailures: %d", c.LockoutThreshold)
	}
}

// TestHardLock: at MaxFailures consecutive failures the lock is explicit
// state that no time lifts, only Succeed (an administrator's unlock).
func TestHardLock(t *testing.T) {
	for _, max := range []int{0, 20} {
		cfg := Config{LockoutThreshold: 5, LockoutDuration: time.Minute, MaxFailures: max}
		want := cfg.WithDefaults().MaxFailures
		var l Lockout
		now := t0
		for i := 1; i < want; i++ {
			now = now.Add(time.Minute)
			l.Fail(cfg, now)
			if l.Hard {
				t.Fatalf("max %d: hard after %d", max, i)
			}
		}
		if l.Locked(now.Add(time.Minute)) {
			t.Fatalf("max %d: still locked after the timed lock", max)
		}
		if left := l.Fail(cfg, now.Add(time.Minute)); left != 0 || !l.Hard || !l.LockedUntil.IsZero() {
			t.Fatalf("max %d: after %d failures %+v", max, want, l)
		}
		if !l.Locked(now.AddDate(1000, 0, 0)) || l.AttemptsLeft(cfg) != 0 {
			t.Fatalf("max %d: a hard lock ended by itself", max)
		}
		l.Succeed()
		if l.Locked(now) || l.Failures != 0 {
			t.Fatalf("max %d: unlock %+v", max, l)
		}
	}
}

func TestActivateAndVerify(t *testing.T) {
	dev, _ := protocol.NewActivationKey(rand.Reader)
	dp := dev.PublicKey().Bytes()
	sp, secret, err := Activate(rand.Reader, dp, "e1", protocol.SuiteIBKey, "d1")
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := protocol.DeriveSecret(dev, sp, dp, sp, "e1", protocol.SuiteIBKey, "d1")
	suite := ocra.MustParseSuite(protocol.SuiteIBKey)
	ch, _ := NewChallenge(rand.Reader)
	r, _ := ocra.Generate(suite, mine, ocra.Input{Challenge: ch})
	if err := VerifyResponse(suite, secret, nil, ch, r); err != nil {
		t.Fatal(err)
	}
	if err := VerifyResponse(suite, secret, nil, ch, "00000000"); !errors.Is(err, ErrBadResponse) && r != "00000000" {
		t.Fatal(err)
	}
	if err := VerifyResponse(suite, secret, nil, ch, "abc"); err == nil {
		t.Fatal("a malformed response verified")
	}
	// Approval with number matching.
	p, err := NewPushRequest(rand.Reader)
	if err != nil || len(p.Challenge) != 40 || len(p.Choices) != 3 || !slices.Contains(p.Choices, p.Number) {
		t.Fatalf("%+v %v", p, err)
	}
	payload := []byte(`{"id":"l"}`)
	as := ocra.MustParseSuite(protocol.SuiteApprove)
	for _, n := range p.Choices {
		r, _ := ocra.Generate(as, mine, ocra.Input{Challenge: p.Challenge, Session: protocol.ApprovalSession(payload, n)})
		err := VerifyApproval(secret, payload, p.Challenge, p.Number, n, r)
		if (n == p.Number) != (err == nil) || (n != p.Number && !errors.Is(err, ErrWrongNumber)) {
			t.Fatalf("number %d: %v", n, err)
		}
		// The response for one number does not approve another.
		other := p.Choices[(slices.Index(p.Choices, n)+1)%3]
		if err := VerifyApproval(secret, payload, p.Challenge, p.Number, other, r); !errors.Is(err, ErrBadResponse) {
			t.Fatalf("replayed for %d: %v", other, err)
		}
	}
}

func TestTempPasswordSealed(t *testing.T) {
	k, _ := protocol.NewActivationKey(rand.Reader)
	pw, err := NewTempPassword(rand.Reader)
	if err != nil || len(pw) != 12 {
		t.Fatal(pw, err)
	}
	label, sealed, err := SealTempPassword(rand.Reader, k.PublicKey().Bytes(), "del", "dev", pw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocol.Open(k.Bytes(), label, sealed)
	if err != nil || string(got) != pw {
		t.Fatal(err)
	}
}

func TestDigitsUniformLength(t *testing.T) {
	seen := map[byte]bool{}
	for i := 0; i < 200; i++ {
		d, err := Digits(rand.Reader, 6)
		if err != nil || len(d) != 6 {
			t.Fatal(d, err)
		}
		seen[d[0]] = true
	}
	if len(seen) < 8 {
		t.Fatalf("leading digits seen: %d", len(seen))
	}
}

func TestLinkEnrollment(t *testing.T) {
	cfg := Config{}
	e, sid, err := NewLinkEnrollment(cfg, rand.Reader, t0, "u")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := protocol.NormalizeSessionID(sid); err != nil || n != sid {
		t.Fatalf("session %q is not canonical: %v", sid, err)
	}
	if e.Channel != protocol.ChannelLink || e.Locator != sid[:LocatorLen] || e.State != EnrollPending || !e.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("%+v", e)
	}
	if _, err := e.Resend(cfg, rand.Reader, t0.Add(time.Minute), ""); !errors.Is(err, ErrNoCode) {
		t.Fatalf("resend of a link: %v", err)
	}
	// The exchange checks the session and leaves it pending.
	if err := e.CheckSession(cfg, sid, t0.Add(time.Minute)); err != nil || e.State != EnrollPending {
		t.Fatalf("exchange: %v %s", err, e.State)
	}
	bad := []byte(sid)
	bad[15] = protocol.SessionAlphabet[(strings.IndexByte(protocol.SessionAlphabet, bad[15])+1)%32]
	if err := e.CheckSession(cfg, string(bad), t0.Add(time.Minute)); !errors.Is(err, ErrBadCode) || e.Tries != 1 {
		t.Fatalf("wrong session: %v %d", err, e.Tries)
	}
	// Activation uses it up.
	if err := e.Check(cfg, sid, t0.Add(2*time.Minute)); err != nil || e.State != EnrollActivated {
		t.Fatalf("activate: %v %s", err, e.State)
	}
	if err := e.CheckSession(cfg, sid, t0.Add(2*time.Minute)); !errors.Is(err, ErrSpent) {
		t.Fatalf("after activation: %v", err)
	}
	// Wrong tries are capped; expiry.
	e, sid, _ = NewLinkEnrollment(cfg, rand.Reader, t0, "u")
	for i := 0; i < 9; i++ {
		if err := e.CheckSession(cfg, "0000000000000000", t0); !errors.Is(err, ErrBadCode) {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if err := e.CheckSession(cfg, "0000000000000000", t0); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("10th: %v", err)
	}
	if err := e.CheckSession(cfg, sid, t0); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("after the cap: %v", err)
	}
	e, sid, _ = NewLinkEnrollment(cfg, rand.Reader, t0, "u")
	if err := e.CheckSession(cfg, sid, t0.Add(10*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	// An SMS enrollment has no session.
	s, _, _ := NewEnrollment(cfg, rand.Reader, t0, "u", "")
	if err := s.CheckSession(cfg, sid, t0); !errors.Is(err, ErrBadChannel) {
		t.Fatalf("sms: %v", err)
	}
}

func TestSendCap(t *testing.T) {
	cfg := Config{SendsPerPhoneDay: 7}
	for _, c := range []struct {
		n    Sent
		want string
	}{
		{Sent{4, 9, 4, 6}, ""},
		{Sent{5, 5, 0, 0}, "sends_user_hour"},
		{Sent{0, 10, 0, 0}, "sends_user_day"},
		{Sent{0, 0, 5, 5}, "sends_phone_hour"},
		{Sent{0, 0, 0, 7}, "sends_phone_day"},
	} {
		err := SendCap(cfg, c.n)
		if CapName(err) != c.want || (c.want != "") != errors.Is(err, ErrSendCap) {
			t.Errorf("SendCap(%+v) = %v, want %q", c.n, err, c.want)
		}
	}
}
