package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// enrollLink plays a device that enrolls with a Session ID.
func (h *harness) enrollLink(session string) (*device, error) {
	ctx := context.Background()
	enr, err := h.client.EnrollSession(ctx, session)
	if err != nil {
		return nil, err
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	del, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	req := protocol.ActivateRequest{Session: enr.Session, PublicKey: act.PublicKey().Bytes(), DeliveryKey: del.PublicKey().Bytes(), ChannelToken: token}
	a, err := h.client.Activate(ctx, enr.ID, req)
	if err != nil {
		return nil, err
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		return nil, err
	}
	d := &device{id: a.DeviceID, token: token, secret: secret, suite: ocra.MustParseSuite(a.Suite), delivery: del, serviceKey: a.ServiceKey}
	if err := h.client.Confirm(ctx, d.id, token, d.respond(h.t, a.ConfirmChallenge)); err != nil {
		return nil, err
	}
	return d, nil
}

func TestEnrollByLink(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "correct horse")
	old := h.enroll("alice", "correct horse")
	sent := len(h.gw.msgs)
	ctx := context.Background()
	le, err := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(le.SessionID) != protocol.SessionIDLen || !le.ExpiresAt.Equal(h.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("%+v", le)
	}
	svc, sid, err := protocol.ParseEnrollLink(le.Link(h.ts.URL))
	if err != nil || svc != h.ts.URL || sid != le.SessionID {
		t.Fatalf("link %q: %q %q %v", le.Link(h.ts.URL), svc, sid, err)
	}
	// The exchange does not use the session up, and answers in the typed form too.
	enr, err := h.client.EnrollSession(ctx, strings.ToLower(protocol.FormatSessionID(sid)))
	if err != nil || enr.ID != le.ID || enr.Username != "alice" || enr.Channel != protocol.ChannelLink || enr.Session != sid || enr.To != "" {
		t.Fatalf("exchange: %+v %v", enr, err)
	}
	// An activation by link wants the session, not a code.
	act, _ := protocol.NewActivationKey(rand.Reader)
	bad := protocol.ActivateRequest{Code: "12345678", PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}
	if _, err := h.client.Activate(ctx, enr.ID, bad); apiCode(err) != protocol.CodeBadRequest {
		t.Fatalf("activate with a code: %v", err)
	}
	d, err := h.enrollLink(sid)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.gw.msgs) != sent {
		t.Fatal("an enrollment by link sent a message")
	}
	// The new device is the one active; the old one is retired.
	l := h.login("alice", "correct horse")
	if code, eb := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("login with the new device: %d %+v", code, eb)
	}
	if _, err := h.client.Events(ctx, old.id, old.token, 0, 0); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("old device: %v", err)
	}
	// Single use.
	if _, err := h.client.EnrollSession(ctx, sid); apiCode(err) != protocol.CodeInvalidCode {
		t.Fatalf("exchange after use: %v", err)
	}
	if _, err := h.enrollLink(sid); apiCode(err) != protocol.CodeInvalidCode {
		t.Fatalf("second enrollment: %v", err)
	}
}

func TestEnrollByLinkRules(t *testing.T) {
	h := newHarness(t)
	h.addUser("bob", "password1")
	ctx := context.Background()
	if _, err := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "nobody"}); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("unknown user: %v", err)
	}
	// Expiry: 10 minutes.
	le, _ := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"})
	h.clock.Add(10 * time.Minute)
	if _, err := h.client.EnrollSession(ctx, le.SessionID); apiCode(err) != protocol.CodeInvalidCode {
		t.Fatalf("expired: %v", err)
	}
	// A new link replaces the one before.
	le1, _ := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"})
	le2, _ := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"})
	if _, err := h.client.EnrollSession(ctx, le1.SessionID); apiCode(err) != protocol.CodeInvalidCode {
		t.Fatalf("replaced link: %v", err)
	}
	// Wrong tries are capped at 10: then the right one is refused too.
	wrongID := le2.SessionID[:4] + strings.Repeat("0", 12)
	if wrongID == le2.SessionID {
		wrongID = le2.SessionID[:4] + strings.Repeat("1", 12)
	}
	for i := 0; i < 10; i++ {
		if _, err := h.client.EnrollSession(ctx, wrongID); apiCode(err) != protocol.CodeInvalidCode {
			t.Fatalf("wrong try %d: %v", i, err)
		}
	}
	if _, err := h.client.EnrollSession(ctx, le2.SessionID); apiCode(err) != protocol.CodeInvalidCode {
		t.Fatalf("after 10 wrong tries: %v", err)
	}
	// They counted toward bob's lock too (5 lock him for a while).
	if a := h.lockout("bob"); a.Lockout.Failures != 10 || !a.Lockout.Locked(h.clock.Now()) {
		t.Fatalf("wrong Session IDs did not count toward the lock: %+v", a.Lockout)
	}
	core.UnlockAccount(ctx, h.store, h.clock.Now(), "bob")
	// Malformed.
	if code, eb := h.do("POST", "/api/v1/enrollments/session", protocol.SessionRequest{Session: "nope"}, nil); code != http.StatusBadRequest {
		t.Fatalf("malformed: %d %+v", code, eb)
	}
	// At most 5 links per 10 minutes (three were started in this window).
	h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"})
	h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"})
	if _, err := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"}); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("6th link: %v", err)
	}
	h.clock.Add(10*time.Minute + time.Second)
	le3, err := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	// No resend for a link; an SMS enrollment refuses a session.
	if _, err := h.client.Resend(ctx, le3.ID, ""); apiCode(err) != protocol.CodeBadRequest {
		t.Fatalf("resend of a link: %v", err)
	}
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "bob", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	req := protocol.ActivateRequest{Session: le3.SessionID, PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: make([]byte, 32)}
	if _, err := h.client.Activate(ctx, enr.ID, req); apiCode(err) != protocol.CodeBadRequest {
		t.Fatalf("session on an SMS enrollment: %v", err)
	}
	// A wrong session at activation counts like a wrong code.
	ex, err := h.client.EnrollSession(ctx, le3.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	req.Session = wrongID
	if _, err := h.client.Activate(ctx, ex.ID, req); apiCode(err) != protocol.CodeInvalidCode {
		t.Fatalf("wrong session at activation: %v", err)
	}
	// A locked user starts no link.
	st := h.store
	st.Update(ctx, func(tx store.Tx) error {
		a, _ := tx.Account("bob")
		a.Lockout.LockedUntil = h.clock.Now().Add(time.Hour)
		return tx.UpdateAccount(a)
	})
	if _, err := h.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "bob"}); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if _, err := h.client.EnrollSession(ctx, le3.SessionID); apiCode(err) != protocol.CodeLocked {
		t.Fatalf("exchange when locked: %v", err)
	}
}
