package verifier

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"ibkey/authcore/protocol"
)

// TestDefaultsFromDocs: the limits a zero Config gets are the numbers of
// docs/PROTOCOL.md ("Limits": activation code 8 digits, 10 minutes, 10
// wrong tries; 30 s between codes by one channel, 5 per enrollment; login
// challenge 3 minutes; seamless request 2 minutes, 3 outstanding; lockout 5
// for 15 minutes, 100 until an administrator unlocks) and docs/SECURITY.md
// (codes sent: 5 an hour and 10 a day per user and per phone).
func TestDefaultsFromDocs(t *testing.T) {
	t.Parallel()
	want := Config{
		CodeDigits: 8, CodeTTL: 10 * time.Minute, CodeMaxTries: 10,
		ResendInterval: 30 * time.Second, MaxSends: 5,
		ChallengeTTL: 3 * time.Minute, RequestTTL: 2 * time.Minute, MaxOutstanding: 3,
		LockoutThreshold: 5, LockoutDuration: 15 * time.Minute, MaxFailures: 100,
		SendsPerUserHour: 5, SendsPerUserDay: 10, SendsPerPhoneHour: 5, SendsPerPhoneDay: 10,
	}
	if got := (Config{}).WithDefaults(); got != want {
		t.Errorf("Config{}.WithDefaults() =\n%+v, want\n%+v", got, want)
	}
	// Negative values are no limit either: they take the defaults.
	neg := Config{
		CodeDigits: -1, CodeTTL: -1, CodeMaxTries: -1, ResendInterval: -1, MaxSends: -1,
		ChallengeTTL: -1, RequestTTL: -1, MaxOutstanding: -1, LockoutThreshold: -1,
		LockoutDuration: -1, MaxFailures: -1,
		SendsPerUserHour: -1, SendsPerUserDay: -1, SendsPerPhoneHour: -1, SendsPerPhoneDay: -1,
	}
	if got := neg.WithDefaults(); got != want {
		t.Errorf("negative Config.WithDefaults() =\n%+v, want\n%+v", got, want)
	}
	// A configuration sets what it may, within the caps.
	set := Config{
		CodeDigits: 6, CodeTTL: time.Minute, CodeMaxTries: 1, ResendInterval: time.Second, MaxSends: 1,
		ChallengeTTL: time.Second, RequestTTL: time.Second, MaxOutstanding: 1,
		LockoutThreshold: 1, LockoutDuration: time.Second, MaxFailures: 1,
		SendsPerUserHour: 1, SendsPerUserDay: 1, SendsPerPhoneHour: 1, SendsPerPhoneDay: 1,
	}
	if got := set.WithDefaults(); got != set {
		t.Errorf("Config.WithDefaults() changed a valid config:\n%+v, want\n%+v", got, set)
	}
	ten := Config{CodeDigits: 10, CodeMaxTries: 10, MaxFailures: 100, LockoutThreshold: 100}.WithDefaults()
	if ten.CodeDigits != 10 || ten.CodeMaxTries != 10 || ten.MaxFailures != 100 || ten.LockoutThreshold != 100 {
		t.Errorf("the largest allowed values were changed: %+v", ten)
	}
}

// TestCapsFromDocs: a configuration cannot raise the caps that
// docs/PROTOCOL.md and docs/SECURITY.md promise: at most 10 wrong codes per
// enrollment, at most 100 consecutive failures (NIST SP 800-63B revision 3
// section 5.2.2: "no more than 100 consecutive failed authentication
// attempts on a single subscriber account"), codes of 6 to 10 digits.
func TestCapsFromDocs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   Config
		what string
		got  func(Config) int
		want int
	}{
		{Config{CodeMaxTries: 11}, "CodeMaxTries 11", func(c Config) int { return c.CodeMaxTries }, 10},
		{Config{CodeMaxTries: 1 << 30}, "CodeMaxTries 2^30", func(c Config) int { return c.CodeMaxTries }, 10},
		{Config{MaxFailures: 101}, "MaxFailures 101", func(c Config) int { return c.MaxFailures }, 100},
		{Config{MaxFailures: 1 << 30}, "MaxFailures 2^30", func(c Config) int { return c.MaxFailures }, 100},
		{Config{LockoutThreshold: 101}, "LockoutThreshold 101", func(c Config) int { return c.LockoutThreshold }, 100},
		{Config{LockoutThreshold: 30, MaxFailures: 20}, "LockoutThreshold over MaxFailures", func(c Config) int { return c.LockoutThreshold }, 20},
		{Config{CodeDigits: 5}, "CodeDigits 5", func(c Config) int { return c.CodeDigits }, 8},
		{Config{CodeDigits: 11}, "CodeDigits 11", func(c Config) int { return c.CodeDigits }, 8},
	} {
		if got := c.got(c.in.WithDefaults()); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	if HardLockout != 100 {
		t.Errorf("HardLockout = %d, want NIST SP 800-63B's 100", HardLockout)
	}

	// The cap holds where it matters: an enrollment configured for
	// unlimited tries fails at the 10th wrong code.
	cfg := Config{CodeMaxTries: 1 << 30}
	e, code, err := NewEnrollment(cfg, rand.Reader, t0, "u", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 9; i++ {
		if err := e.Check(cfg, "x", t0); !errors.Is(err, ErrBadCode) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if left := e.TriesLeft(cfg); left != 1 {
		t.Errorf("after 9 wrong codes: %d tries left, want 1", left)
	}
	if err := e.Check(cfg, "x", t0); !errors.Is(err, ErrTooManyTries) || e.State != EnrollFailed {
		t.Errorf("10th wrong code: %v, %s", err, e.State)
	}
	if err := e.Check(cfg, code, t0); !errors.Is(err, ErrTooManyTries) {
		t.Errorf("the right code after 10 wrong: %v", err)
	}
	if left := e.TriesLeft(cfg); left != 0 {
		t.Errorf("after 10 wrong codes: %d tries left", left)
	}
	e.Tries = 12
	if left := e.TriesLeft(cfg); left != 0 {
		t.Errorf("12 tries: %d left", left)
	}
	l, sid, err := NewLinkEnrollment(cfg, rand.Reader, t0, "u")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 9; i++ {
		if err := l.CheckSession(cfg, "0000000000000000", t0); !errors.Is(err, ErrBadCode) {
			t.Fatalf("wrong Session ID %d: %v", i, err)
		}
	}
	if err := l.CheckSession(cfg, "0000000000000000", t0); !errors.Is(err, ErrTooManyTries) || l.State != EnrollFailed {
		t.Errorf("10th wrong Session ID: %v, %s", err, l.State)
	}
	if err := l.CheckSession(cfg, sid, t0); !errors.Is(err, ErrTooManyTries) {
		t.Errorf("the right Session ID after 10 wrong: %v", err)
	}
}

// TestHardLockAtHundred: with every configuration, the 100th consecutive
// failure locks for good and the 99th does not (NIST SP 800-63B).
func TestHardLockAtHundred(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {MaxFailures: 1000}, {MaxFailures: 100, LockoutThreshold: 1000}} {
		var l Lockout
		now := t0
		for i := 1; i <= 99; i++ {
			now = now.Add(time.Hour)
			l.Fail(cfg, now)
		}
		if l.Hard || l.Failures != 99 {
			t.Fatalf("%+v: after 99 failures %+v", cfg, l)
		}
		if l.Locked(now.Add(cfg.WithDefaults().LockoutDuration)) {
			t.Errorf("%+v: the 99th failure's lock outlasts its duration", cfg)
		}
		if n := l.Fail(cfg, now.Add(time.Hour)); n != 0 || !l.Hard || l.Failures != 100 {
			t.Errorf("%+v: the 100th failure: %d left, %+v", cfg, n, l)
		}
	}
}

// TestLockoutInstants: a timed lock lasts exactly LockoutDuration from the
// failure that set it: locked one nanosecond before its end, free at it.
func TestLockoutInstants(t *testing.T) {
	t.Parallel()
	cfg := Config{}
	var l Lockout
	for i := 1; i <= 4; i++ {
		if n := l.Fail(cfg, t0); n != 5-i || l.Locked(t0) {
			t.Fatalf("failure %d: %d left, locked %v", i, n, l.Locked(t0))
		}
		if n := l.AttemptsLeft(cfg); n != 5-i {
			t.Fatalf("failure %d: AttemptsLeft %d", i, n)
		}
	}
	if n := l.Fail(cfg, t0); n != 0 {
		t.Fatalf("5th failure: %d left", n)
	}
	end := t0.Add(15 * time.Minute)
	if !l.LockedUntil.Equal(end) {
		t.Fatalf("locked until %v, want %v", l.LockedUntil, end)
	}
	for _, c := range []struct {
		at     time.Time
		locked bool
	}{
		{t0, true},
		{end.Add(-time.Nanosecond), true},
		{end, false},
		{end.Add(time.Nanosecond), false},
	} {
		if got := l.Locked(c.at); got != c.locked {
			t.Errorf("Locked(lock end %+v) = %v, want %v", c.at.Sub(end), got, c.locked)
		}
	}
	// After a timed lock, one try at a time: the next failure locks again.
	if n := l.AttemptsLeft(cfg); n != 1 {
		t.Errorf("after the lock: AttemptsLeft %d, want 1", n)
	}
	if l.Fail(cfg, end); !l.Locked(end) || !l.LockedUntil.Equal(end.Add(15*time.Minute)) {
		t.Errorf("the 6th failure: %+v", l)
	}
	// A zero LockedUntil is no lock at any time.
	if (Lockout{Failures: 3}).Locked(time.Time{}) {
		t.Error("no lock, zero time: locked")
	}
}

// TestEnrollmentInstants: a code and a Session ID are valid until one
// nanosecond before ExpiresAt (10 minutes after the send), and a resend by
// a channel already used is allowed exactly 30 s after the last send.
func TestEnrollmentInstants(t *testing.T) {
	t.Parallel()
	cfg := Config{}
	end := t0.Add(10 * time.Minute)
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{end.Add(-time.Nanosecond), true},
		{end, false},
		{end.Add(time.Nanosecond), false},
	} {
		e, code, _ := NewEnrollment(cfg, rand.Reader, t0, "u", "")
		err := e.Check(cfg, code, c.at)
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, ErrExpired)) {
			t.Errorf("code at expiry%+v: %v", c.at.Sub(end), err)
		}
		l, sid, _ := NewLinkEnrollment(cfg, rand.Reader, t0, "u")
		err = l.CheckSession(cfg, sid, c.at)
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, ErrExpired)) {
			t.Errorf("Session ID at expiry%+v: %v", c.at.Sub(end), err)
		}
		err = l.Check(cfg, sid, c.at)
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, ErrExpired)) {
			t.Errorf("activation by link at expiry%+v: %v", c.at.Sub(end), err)
		}
	}
	e, _, _ := NewEnrollment(cfg, rand.Reader, t0, "u", protocol.ChannelSMS)
	if got := e.ResendAfter(cfg); !got.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("ResendAfter = %v, want 30 s after the send", got.Sub(t0))
	}
	if _, err := e.Resend(cfg, rand.Reader, t0.Add(30*time.Second-time.Nanosecond), protocol.ChannelSMS); !errors.Is(err, ErrResendTooSoon) {
		t.Errorf("resend 1 ns before 30 s: %v", err)
	}
	at := t0.Add(30 * time.Second)
	if _, err := e.Resend(cfg, rand.Reader, at, protocol.ChannelSMS); err != nil {
		t.Errorf("resend at 30 s: %v", err)
	}
	if !e.ExpiresAt.Equal(at.Add(10 * time.Minute)) {
		t.Errorf("the new code expires %v after the resend, want 10 minutes", e.ExpiresAt.Sub(at))
	}
	// 5 sends per enrollment (docs/PROTOCOL.md): the 6th is refused.
	for i := 3; i <= 5; i++ {
		at = at.Add(30 * time.Second)
		if _, err := e.Resend(cfg, rand.Reader, at, protocol.ChannelSMS); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if _, err := e.Resend(cfg, rand.Reader, at.Add(time.Hour), ""); !errors.Is(err, ErrTooManySends) || e.Sends != 5 {
		t.Errorf("6th send: %v (%d sends)", err, e.Sends)
	}
}
