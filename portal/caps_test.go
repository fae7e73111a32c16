package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// activateReq is an activation request with fresh keys and code.
func activateReq(code string) protocol.ActivateRequest {
	act, _ := protocol.NewActivationKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	return protocol.ActivateRequest{Code: code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: tok}
}

func (h *harness) lockout(username string) (a store.Account) {
	h.t.Helper()
	if err := h.store.View(context.Background(), func(tx store.Tx) error {
		var err error
		a, err = tx.Account(username)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// TestVoiceAfterSMSAtOnce: the first code by the other channel (a voice
// call after the SMS) goes at once; a second code by a channel already
// used waits for the resend interval.
func TestVoiceAfterSMSAtOnce(t *testing.T) {
	h := newHarness(t)
	h.addUser("vic", "password1")
	ctx := context.Background()
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "vic", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Add(9 * time.Second)
	if enr, err = h.client.Resend(ctx, enr.ID, protocol.ChannelVoice); err != nil || enr.Channel != protocol.ChannelVoice || h.gw.last(t).Channel != protocol.ChannelVoice {
		t.Fatalf("a voice call 9 s after the SMS: %+v %v", enr, err)
	}
	for _, ch := range []string{protocol.ChannelVoice, protocol.ChannelSMS, ""} {
		if _, err := h.client.Resend(ctx, enr.ID, ch); apiCode(err) != protocol.CodeRateLimited {
			t.Fatalf("resend %q at once: %v", ch, err)
		}
	}
	h.clock.Add(30 * time.Second)
	if enr, err = h.client.Resend(ctx, enr.ID, ""); err != nil || enr.Channel != protocol.ChannelSMS {
		t.Fatalf("resend after the interval: %+v %v", enr, err)
	}
	// The same through the Client Portal's resend page, and voice first.
	h.clock.Add(time.Hour)
	if _, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "vic", Password: "password1", Channel: protocol.ChannelVoice}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Second)
	resend := func(channel string) error {
		return h.svc.ResendCode(ctx, core.ResendCodeRequest{Username: "vic", Password: "password1", Channel: channel, IP: "192.0.2.8"})
	}
	if err := resend(protocol.ChannelSMS); err != nil || h.gw.last(t).Channel != protocol.ChannelSMS {
		t.Fatalf("an SMS 5 s after the voice call: %v", err)
	}
	if err := resend(protocol.ChannelVoice); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("a second voice call at once: %v", err)
	}
}

// TestCodeGuessingBounded plays a stranger who has the password and
// guesses activation codes for days, enrolling again whenever an
// enrollment dies: wrong codes count toward the account's lock, across
// enrollments, so the account is hard-locked after 100 guesses; the SMS
// caps hold the sends to a few a day meanwhile.
func TestCodeGuessingBounded(t *testing.T) {
	h := newHarness(t)
	h.addUser("gus", "password1")
	ctx := context.Background()
	start := h.clock.Now()
	guesses, sends := 0, 0
	for i := 0; i < 5000 && !h.lockout("gus").Lockout.Hard; i++ {
		enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "gus", Password: "password1"})
		switch apiCode(err) {
		case "":
			sends++
		case protocol.CodeLocked:
			h.clock.Add(15 * time.Minute)
			continue
		case protocol.CodeRateLimited:
			h.clock.Add(time.Hour)
			continue
		default:
			t.Fatalf("enroll: %v", err)
		}
		for {
			_, err := h.client.Activate(ctx, enr.ID, activateReq("00000000"))
			if apiCode(err) != protocol.CodeInvalidCode && apiCode(err) != protocol.CodeGone && apiCode(err) != protocol.CodeLocked {
				t.Fatalf("guess: %v", err)
			}
			if apiCode(err) != protocol.CodeLocked {
				guesses++
			}
			if apiCode(err) != protocol.CodeInvalidCode {
				break
			}
		}
	}
	a := h.lockout("gus")
	if !a.Lockout.Hard || guesses != 100 {
		t.Fatalf("after %d guesses and %d codes sent in %v: %+v", guesses, sends, h.clock.Now().Sub(start), a.Lockout)
	}
	days := h.clock.Now().Sub(start).Hours() / 24
	if sends > 10*int(math.Ceil(days)) {
		t.Errorf("%d codes sent in %.1f days", sends, days)
	}
	t.Logf("hard-locked after %d guesses, %d codes sent, in %.1f days", guesses, sends, days)
	if _, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "gus", Password: "password1"}); apiCode(err) != protocol.CodeLocked {
		t.Fatalf("enroll when hard-locked: %v", err)
	}
}

// TestWrongPasswordsCount: wrong passwords count toward the account's
// lock like every other secret, wherever they are typed (login,
// enrollment, the portal's resend page), across restarts.
func TestWrongPasswordsCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	st := openFile(t, path)
	h := newHarnessStore(t, st)
	h.addUser("pam", "password1")
	d := h.enroll("pam", "password1")
	ctx := context.Background()
	login := func(h *harness, pw string) int {
		code, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "pam", Password: pw}, nil)
		return code
	}
	for i, try := range []func() error{
		func() error {
			if c := login(h, "wrong"); c != http.StatusUnauthorized {
				return errors.New(http.StatusText(c))
			}
			return nil
		},
		func() error {
			_, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "PAM", Password: "wrong"})
			if apiCode(err) != protocol.CodeBadCredentials {
				return err
			}
			return nil
		},
		func() error {
			if err := h.svc.ResendCode(ctx, core.ResendCodeRequest{Username: "pam", Password: "wrong", Channel: protocol.ChannelSMS, IP: "192.0.2.8"}); !errors.Is(err, core.ErrBadCredentials) {
				return err
			}
			return nil
		},
		func() error {
			if c := login(h, "wrong"); c != http.StatusUnauthorized {
				return errors.New(http.StatusText(c))
			}
			return nil
		},
	} {
		if err := try(); err != nil {
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
	if f := h.lockout("pam").Lockout.Failures; f != 4 {
		t.Fatalf("%d failures counted, want 4", f)
	}
	// A restart keeps the count; the 5th locks, the right password too.
	h.ts.Close()
	st.Close()
	st = openFile(t, path)
	h2 := newHarnessStore(t, st)
	h2.clock.t = h.clock.Now()
	if c := login(h2, "wrong"); c != http.StatusUnauthorized {
		t.Fatalf("5th wrong password: %d", c)
	}
	if c := login(h2, "password1"); c != http.StatusLocked {
		t.Fatalf("the right password while locked: %d", c)
	}
	// Guesses during the lock are not checked, nor counted.
	for range 3 {
		login(h2, "wrong")
	}
	if f := h2.lockout("pam").Lockout.Failures; f != 5 {
		t.Fatalf("%d failures counted during the lock", f)
	}
	h2.clock.Add(15 * time.Minute)
	l := h2.login("pam", "password1")
	if code, _ := h2.answer(l.ID, d.respond(t, l.Challenge)); code != http.StatusOK {
		t.Fatalf("after the lock: %d", code)
	}
	if f := h2.lockout("pam").Lockout.Failures; f != 0 {
		t.Fatalf("a login did not reset the count: %d", f)
	}
}

// TestSendCaps: codes sent by SMS or voice are capped per user and per
// phone number, per hour and per day, over every enrollment and across a
// restart; a refused send makes no enrollment.
func TestSendCaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	st := openFile(t, path)
	h := newHarnessStore(t, st)
	ctx := context.Background()
	for _, u := range []string{"sam", "sal"} {
		// Two users of one phone.
		if _, err := core.CreateAccount(ctx, st, rand.Reader, h.clock.Now(), u, "+15550007777", "password1", fastArgon); err != nil {
			t.Fatal(err)
		}
	}
	h.addUser("tom", "password1")
	enroll := func(h *harness, u string) error {
		_, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: u, Password: "password1"})
		return err
	}
	sent := func() int { h.gw.mu.Lock(); defer h.gw.mu.Unlock(); return len(h.gw.msgs) }
	// Per user and hour: 5, whether new enrollments or resends.
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "tom", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Resend(ctx, enr.ID, ""); err != nil {
		t.Fatalf("voice: %v", err)
	}
	for i := 3; i <= 5; i++ {
		if err := enroll(h, "tom"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	before := sent()
	var recent []verifier.Enrollment
	h.store.View(ctx, func(tx store.Tx) error { recent, _ = tx.RecentEnrollments("tom", time.Time{}, 100); return nil })
	if err := enroll(h, "tom"); apiCode(err) != protocol.CodeRateLimited {
		t.Fatalf("6th code in an hour: %v", err)
	}
	h.clock.Add(31 * time.Second)
	if _, err := h.client.Resend(ctx, enr.ID, ""); apiCode(err) != protocol.CodeRateLimited {
		t.Fatalf("6th code in an hour, a resend: %v", err)
	}
	var after []verifier.Enrollment
	h.store.View(ctx, func(tx store.Tx) error { after, _ = tx.RecentEnrollments("tom", time.Time{}, 100); return nil })
	if sent() != before || len(after) != len(recent) {
		t.Fatalf("a refused send sent %d codes and made %d enrollments", sent()-before, len(after)-len(recent))
	}
	// Per user and day: 10, across a restart.
	for i := 6; i <= 10; i++ {
		h.clock.Add(time.Hour)
		if err := enroll(h, "tom"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	h.ts.Close()
	st.Close()
	st = openFile(t, path)
	h2 := newHarnessStore(t, st)
	h2.clock.t = h.clock.Now().Add(time.Hour)
	if err := enroll(h2, "tom"); apiCode(err) != protocol.CodeRateLimited {
		t.Fatalf("11th code in a day, after a restart: %v", err)
	}
	h2.clock.Add(20 * time.Hour) // the first sends are a day old
	if err := enroll(h2, "tom"); err != nil {
		t.Fatalf("a day later: %v", err)
	}
	// Per phone and hour: 5 over its users.
	for i, u := range []string{"sam", "sal", "sam", "sal", "sam"} {
		if err := enroll(h2, u); err != nil {
			t.Fatalf("phone send %d: %v", i+1, err)
		}
	}
	if err := enroll(h2, "sal"); apiCode(err) != protocol.CodeRateLimited {
		t.Fatalf("6th code to one phone in an hour: %v", err)
	}
	var limits []string
	core.ReadAudit(ctx, st, store.AuditFilter{}, func(e store.AuditEvent) error {
		if e.Event == core.AuditRateLimited {
			limits = append(limits, e.Username+" "+e.Detail["limit"])
		}
		return nil
	})
	want := []string{"tom sends_user_hour", "tom sends_user_hour", "tom sends_user_day", "sal sends_phone_hour"}
	if !slices.Equal(limits, want) {
		t.Fatalf("audited limits %q, want %q", limits, want)
	}
}
