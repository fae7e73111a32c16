package portal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/internal/clientip"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

func TestEnrollAndChallengeResponse(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "correct horse")
	d := h.enroll("alice", "correct horse")
	if d.suite.String() != protocol.SuiteIBKey {
		t.Fatalf("suite %s", d.suite)
	}
	if string(d.serviceKey) != string(h.svc.PublicKey()) {
		t.Fatal("activation did not return the service key")
	}
	l := h.login("alice", "correct horse")
	if len(l.Challenge) != 6 || !l.Push || l.Number < 10 || l.Number > 99 {
		t.Fatalf("login %+v", l)
	}
	if h.status(l.ID) != "pending" {
		t.Fatal("not pending")
	}
	if code, eb := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("answer: %d %+v", code, eb)
	}
	if h.status(l.ID) != "approved" {
		t.Fatal("not approved")
	}
	// Single use.
	if code, eb := h.answer(l.ID, d.respond(t, l.Challenge)); code != http.StatusGone || eb.Error != "gone" {
		t.Fatalf("second answer: %d %+v", code, eb)
	}
	// The spaced form a person types works too.
	l = h.login("alice", "correct horse")
	r := d.respond(t, l.Challenge)
	if code, _ := h.answer(l.ID, r[:4]+" "+r[4:]); code != 200 {
		t.Fatalf("spaced answer: %d", code)
	}
}

func TestBadCredentialsLookTheSame(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "correct horse")
	c1, e1 := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "alice", Password: "wrong"}, nil)
	c2, e2 := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "mallory", Password: "wrong"}, nil)
	if c1 != 401 || c2 != 401 || e1.Error != e2.Error || e1.Message != e2.Message || e1.Error != protocol.CodeBadCredentials {
		t.Fatalf("%d %+v vs %d %+v", c1, e1, c2, e2)
	}
	_, err := h.client.Enroll(context.Background(), protocol.EnrollRequest{Username: "mallory", Password: "x"})
	_, err2 := h.client.Enroll(context.Background(), protocol.EnrollRequest{Username: "alice", Password: "x"})
	if apiCode(err) != protocol.CodeBadCredentials || apiCode(err2) != protocol.CodeBadCredentials {
		t.Fatalf("%v / %v", err, err2)
	}
	// A user without a device gets no challenge.
	if code, eb := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "alice", Password: "correct horse"}, nil); code != 403 || eb.Error != protocol.CodeNoDevice {
		t.Fatalf("%d %+v", code, eb)
	}
}

func TestActivationCodeRules(t *testing.T) {
	// The enrollment's own rules, with the account's lock and the caps on
	// sends out of the way (caps_test.go tests those).
	h := newHarness(t, func(c *core.Config) {
		c.Limits.LockoutThreshold = 50
		c.Limits.SendsPerUserHour, c.Limits.SendsPerUserDay, c.Limits.SendsPerPhoneHour, c.Limits.SendsPerPhoneDay = 100, 100, 100, 100
	})
	h.addUser("bob", "password1")
	ctx := context.Background()
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "bob", Password: "password1", Channel: "sms"})
	if err != nil {
		t.Fatal(err)
	}
	m := h.gw.last(t)
	if m.Channel != "sms" || m.To != "+15550001234" || len(m.Code) < 6 || !strings.Contains(m.Text, m.Code) {
		t.Fatalf("message %+v", m)
	}
	if enr.To == m.To || !strings.HasSuffix(enr.To, "1234") {
		t.Fatalf("phone not masked: %s", enr.To)
	}
	// A second SMS too soon; the other channel at once (its first code).
	if _, err := h.client.Resend(ctx, enr.ID, "sms"); apiCode(err) != protocol.CodeRateLimited {
		t.Fatalf("resend too soon: %v", err)
	}
	enr, err = h.client.Resend(ctx, enr.ID, "")
	if err != nil || enr.Channel != "voice" || h.gw.last(t).Channel != "voice" {
		t.Fatalf("resend: %+v %v", enr, err)
	}
	code := h.gw.last(t).Code
	if code == m.Code {
		t.Log("same code drawn twice (possible, rare)")
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	tok := make([]byte, 32)
	req := protocol.ActivateRequest{PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: tok}
	// The old code is dead; 9 more wrong ones are allowed, the 10th ends it.
	for i := 1; i <= 10; i++ {
		req.Code = "00000000"
		if i == 1 {
			req.Code = m.Code
			if m.Code == code {
				req.Code = "00000000"
			}
		}
		_, err := h.client.Activate(ctx, enr.ID, req)
		var e *protocol.Error
		if !errors.As(err, &e) {
			t.Fatalf("try %d: %v", i, err)
		}
		if i < 10 && (e.Code != protocol.CodeInvalidCode || e.AttemptsLeft != 10-i) {
			t.Fatalf("try %d: %+v", i, e)
		}
		if i == 10 && e.Code != protocol.CodeGone {
			t.Fatalf("try 10: %+v", e)
		}
	}
	req.Code = code
	if _, err := h.client.Activate(ctx, enr.ID, req); apiCode(err) != protocol.CodeGone {
		t.Fatalf("right code after 10 wrong: %v", err)
	}
	// Expiry after 10 minutes.
	enr, _ = h.client.Enroll(ctx, protocol.EnrollRequest{Username: "bob", Password: "password1"})
	req.Code = h.gw.last(t).Code
	h.clock.Add(10 * time.Minute)
	if _, err := h.client.Activate(ctx, enr.ID, req); apiCode(err) != protocol.CodeGone {
		t.Fatalf("expired code: %v", err)
	}
	// At most 5 sends.
	enr, _ = h.client.Enroll(ctx, protocol.EnrollRequest{Username: "bob", Password: "password1"})
	for i := 2; i <= 6; i++ {
		h.clock.Add(31 * time.Second)
		_, err := h.client.Resend(ctx, enr.ID, "sms")
		if (i <= 5) != (err == nil) {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func TestOneActiveDevice(t *testing.T) {
	h := newHarness(t)
	h.addUser("carol", "password1")
	d1 := h.enroll("carol", "password1")
	l := h.login("carol", "password1")
	d2 := h.enroll("carol", "password1")
	// The old device's answer to a challenge issued to it is refused.
	if code, _ := h.answer(l.ID, d1.respond(t, l.Challenge)); code != http.StatusGone {
		t.Fatalf("old device's response: %d", code)
	}
	// Its channel is closed.
	_, err := h.client.Events(context.Background(), d1.id, d1.token, 0, 0)
	if apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("old device events: %v", err)
	}
	l = h.login("carol", "password1")
	if code, _ := h.answer(l.ID, d1.respond(t, l.Challenge)); code != 403 {
		t.Fatalf("old device's secret verified: %d", code)
	}
	l = h.login("carol", "password1")
	if code, _ := h.answer(l.ID, d2.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("new device: %d", code)
	}
	ds, _ := core.ListDevices(context.Background(), h.store, "carol")
	if len(ds) != 2 || ds[0].State != store.DeviceRetired || ds[1].State != store.DeviceActive {
		t.Fatalf("devices %+v", ds)
	}
}

func TestUnconfirmedActivationIsNotUsable(t *testing.T) {
	h := newHarness(t)
	h.addUser("dan", "password1")
	d1 := h.enroll("dan", "password1")
	ctx := context.Background()
	// A second activation that never confirms (the device died) leaves the
	// first device active and the new one unusable.
	enr, _ := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "dan", Password: "password1"})
	act, _ := protocol.NewActivationKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	a, err := h.client.Activate(ctx, enr.ID, protocol.ActivateRequest{Code: h.gw.last(t).Code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Events(ctx, a.DeviceID, tok, 0, 0); apiCode(err) != protocol.CodeUnauthorized {
		t.Fatalf("pending device listens: %v", err)
	}
	l := h.login("dan", "password1")
	if code, _ := h.answer(l.ID, d1.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("first device: %d", code)
	}
	// A wrong confirmation burns the activation.
	if err := h.client.Confirm(ctx, a.DeviceID, tok, "00000000"); apiCode(err) != protocol.CodeInvalidResponse {
		t.Fatalf("bad confirm: %v", err)
	}
	if err := h.client.Confirm(ctx, a.DeviceID, tok, "00000000"); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("confirm again: %v", err)
	}
}

func TestLockout(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.Limits.LockoutThreshold = 3; c.Limits.LockoutDuration = time.Minute })
	h.addUser("erin", "password1")
	d := h.enroll("erin", "password1")
	for i := 1; i <= 3; i++ {
		l := h.login("erin", "password1")
		code, eb := h.answer(l.ID, wrong(d.respond(t, l.Challenge)))
		if code != 403 || eb.Error != protocol.CodeInvalidResponse || eb.AttemptsLeft == nil || *eb.AttemptsLeft != 3-i {
			t.Fatalf("failure %d: %d %+v", i, code, eb)
		}
		if h.status(l.ID) != "failed" {
			t.Fatal("a wrong response must spend the challenge")
		}
	}
	if code, eb := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "erin", Password: "password1"}, nil); code != http.StatusLocked {
		t.Fatalf("locked login: %d %+v", code, eb)
	}
	// Lifted by time; one more failure locks again.
	h.clock.Add(time.Minute)
	l := h.login("erin", "password1")
	h.answer(l.ID, wrong(d.respond(t, l.Challenge)))
	if code, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "erin", Password: "password1"}, nil); code != http.StatusLocked {
		t.Fatalf("relock: %d", code)
	}
	// A challenge issued before the lock cannot be answered during it.
	h.clock.Add(time.Minute)
	l = h.login("erin", "password1")
	l2 := h.login("erin", "password1")
	h.answer(l.ID, wrong(d.respond(t, l.Challenge)))
	if code, _ := h.answer(l2.ID, d.respond(t, l2.Challenge)); code != http.StatusLocked {
		t.Fatalf("answer while locked: %d", code)
	}
	// Lifted by the admin.
	if err := core.UnlockAccount(context.Background(), h.store, h.clock.Now(), "erin"); err != nil {
		t.Fatal(err)
	}
	if code, _ := h.answer(l2.ID, d.respond(t, l2.Challenge)); code != 200 {
		t.Fatalf("after unlock: %d", code)
	}
}

func TestConcurrentResponses(t *testing.T) {
	h := newHarness(t)
	h.addUser("fay", "password1")
	d := h.enroll("fay", "password1")
	for round := 0; round < 5; round++ {
		l := h.login("fay", "password1")
		r := d.respond(t, l.Challenge)
		var ok, gone atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := h.answer(l.ID, r)
				switch code {
				case 200:
					ok.Add(1)
				case http.StatusGone:
					gone.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || gone.Load() != 15 {
			t.Fatalf("round %d: %d ok, %d gone", round, ok.Load(), gone.Load())
		}
	}
}

func TestSeamlessApproval(t *testing.T) {
	h := newHarness(t)
	h.addUser("gus", "password1")
	d := h.enroll("gus", "password1")
	ctx := context.Background()
	got := make(chan protocol.Events, 1)
	go func() {
		evs, err := h.client.Events(ctx, d.id, d.token, 0, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	time.Sleep(50 * time.Millisecond)
	var l protocol.Login
	h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "gus", Password: "password1", App: "Client Portal", Browser: "Firefox"}, &l)
	evs := <-got
	if len(evs.Events) != 1 {
		t.Fatalf("events %+v", evs)
	}
	se := evs.Events[0]
	ev, err := protocol.OpenEvent(d.serviceKey, d.id, se)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != l.ID || ev.Context.App != "Client Portal" || ev.Context.Browser != "Firefox" || ev.Context.IP != "127.0.0.1" || len(ev.Numbers) != 3 {
		t.Fatalf("event %+v", ev)
	}
	found := false
	for _, n := range ev.Numbers {
		found = found || n == l.Number
	}
	if !found {
		t.Fatalf("numbers %v lack %d", ev.Numbers, l.Number)
	}
	// A tampered payload fails the signature.
	bad := se
	bad.Payload = append([]byte(nil), se.Payload...)
	bad.Payload[10] ^= 1
	if _, err := protocol.OpenEvent(d.serviceKey, d.id, bad); !errors.Is(err, protocol.ErrSignature) {
		t.Fatalf("tampered: %v", err)
	}
	approve := func(n int) (protocol.Status, error) {
		r, err := ocra.Generate(ocra.MustParseSuite(protocol.SuiteApprove), d.secret, protocol.ApprovalInput(ev, se.Payload, n))
		if err != nil {
			t.Fatal(err)
		}
		return h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: ev.ID, Number: n, Response: r})
	}
	// The channel token alone cannot approve.
	if _, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: ev.ID, Number: l.Number, Response: "12345678"}); apiCode(err) != protocol.CodeInvalidResponse {
		t.Fatalf("forged approval: %v", err)
	}
	l = h.login("gus", "password1")
	evs, _ = h.client.Events(ctx, d.id, d.token, evs.Next, 0)
	se = evs.Events[0]
	ev, _ = protocol.OpenEvent(d.serviceKey, d.id, se)
	var other int
	for _, n := range ev.Numbers {
		if n != l.Number {
			other = n
		}
	}
	if _, err := approve(other); apiCode(err) != protocol.CodeWrongNumber {
		t.Fatalf("wrong number: %v", err)
	}
	if h.status(l.ID) != "failed" {
		t.Fatal("wrong number must refuse the login")
	}
	l = h.login("gus", "password1")
	evs, _ = h.client.Events(ctx, d.id, d.token, evs.Next, 0)
	se = evs.Events[0]
	ev, _ = protocol.OpenEvent(d.serviceKey, d.id, se)
	if st, err := approve(l.Number); err != nil || st.Status != "approved" {
		t.Fatalf("approve: %v %v", st, err)
	}
	if h.status(l.ID) != "approved" {
		t.Fatal("not approved")
	}
	if _, err := approve(l.Number); apiCode(err) != protocol.CodeGone {
		t.Fatalf("approve twice: %v", err)
	}
	// Deny as fraud: recorded.
	l = h.login("gus", "password1")
	if _, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l.ID, Deny: protocol.DenyFraud}); err != nil {
		t.Fatal(err)
	}
	if h.status(l.ID) != "denied" {
		t.Fatal("not denied")
	}
	var reports []store.FraudReport
	h.store.View(ctx, func(tx store.Tx) error { reports, _ = tx.FraudReports(); return nil })
	if len(reports) != 1 || reports[0].LoginID != l.ID {
		t.Fatalf("fraud reports %+v", reports)
	}
	// Requests expire after 2 minutes.
	l = h.login("gus", "password1")
	h.clock.Add(2 * time.Minute)
	if _, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l.ID, Deny: protocol.DenyMistake}); apiCode(err) != protocol.CodeGone {
		t.Fatalf("expired request: %v", err)
	}
	evs, _ = h.client.Events(ctx, d.id, d.token, 0, 0)
	if len(evs.Events) != 0 {
		t.Fatalf("expired or answered events still delivered: %d", len(evs.Events))
	}
}

func TestOutstandingRequestsCapped(t *testing.T) {
	h := newHarness(t)
	h.addUser("hal", "password1")
	h.enroll("hal", "password1")
	for i := 0; i < 5; i++ {
		l := h.login("hal", "password1")
		if l.Push != (i < 3) {
			t.Fatalf("login %d push=%v", i, l.Push)
		}
	}
}

func TestTempPassword(t *testing.T) {
	h := newHarness(t)
	h.addUser("ivy", "password1")
	d := h.enroll("ivy", "password1")
	ctx := context.Background()
	id, err := core.IssueTempPassword(ctx, h.store, rand.Reader, h.clock.Now(), "ivy", fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := h.client.Events(ctx, d.id, d.token, 0, 2*time.Second)
	if err != nil || len(evs.Events) != 1 {
		t.Fatalf("delivery event: %+v %v", evs, err)
	}
	if ev, err := protocol.OpenEvent(d.serviceKey, d.id, evs.Events[0]); err != nil || ev.Type != protocol.EventDelivery || ev.ID != id {
		t.Fatalf("event %+v %v", ev, err)
	}
	// A wrong PIN proof releases nothing and counts.
	ch, err := h.client.InboxChallenge(ctx, d.id, d.token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: wrong(d.respond(t, ch.Challenge))}); apiCode(err) != protocol.CodeInvalidResponse {
		t.Fatalf("wrong proof: %v", err)
	}
	ch, _ = h.client.InboxChallenge(ctx, d.id, d.token)
	box, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: d.respond(t, ch.Challenge)})
	if err != nil || len(box.Deliveries) != 1 {
		t.Fatalf("inbox %+v %v", box, err)
	}
	dl := box.Deliveries[0]
	pw, err := protocol.Open(d.delivery.Bytes(), verifier.DeliveryLabel(dl.Kind, dl.ID, d.id), dl.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	// Shown once.
	ch, _ = h.client.InboxChallenge(ctx, d.id, d.token)
	box, _ = h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: d.respond(t, ch.Challenge)})
	if len(box.Deliveries) != 0 {
		t.Fatal("delivered twice")
	}
	// The old password is gone; the temporary one works once, then must change.
	if code, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "ivy", Password: "password1"}, nil); code != 401 {
		t.Fatalf("old password: %d", code)
	}
	l := h.login("ivy", string(pw))
	if code, _ := h.do("POST", "/api/v1/logins/"+l.ID+"/password", protocol.PasswordChange{Password: "new password"}, nil); code != http.StatusConflict {
		t.Fatalf("change before approval: %d", code)
	}
	h.answer(l.ID, d.respond(t, l.Challenge))
	var st protocol.LoginStatus
	h.do("GET", "/api/v1/logins/"+l.ID, nil, &st)
	if !st.PasswordChangeRequired {
		t.Fatal("password change not required")
	}
	if code, eb := h.do("POST", "/api/v1/logins/"+l.ID+"/password", protocol.PasswordChange{Password: "new password"}, nil); code != 200 {
		t.Fatalf("change: %d %+v", code, eb)
	}
	h.login("ivy", "new password")
}

func TestDSCCard(t *testing.T) {
	h := newHarness(t)
	h.addUser("jo", "password1")
	d, err := h.tryEnroll("jo", "password1", "4826")
	if err != nil {
		t.Fatal(err)
	}
	if d.suite.String() != protocol.SuiteDSC {
		t.Fatalf("suite %s", d.suite)
	}
	l := h.login("jo", "password1")
	if l.Push {
		t.Fatal("a card gets no push")
	}
	d.pin = "1111"
	if code, _ := h.answer(l.ID, d.respond(t, l.Challenge)); code != 403 {
		t.Fatalf("wrong card PIN: %d", code)
	}
	d.pin = "4826"
	l = h.login("jo", "password1")
	if code, _ := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("card: %d", code)
	}
}

func TestHardening(t *testing.T) {
	h := newHarness(t)
	big := strings.Repeat("a", MaxBody+10)
	code, eb := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "x", Password: big}, nil)
	if code != http.StatusRequestEntityTooLarge || eb.Error != protocol.CodeTooLarge {
		t.Fatalf("big body: %d %+v", code, eb)
	}
	if code, eb := h.do("GET", "/api/v1/nope", nil, nil); code != 404 || eb.Error != protocol.CodeNotFound {
		t.Fatalf("unknown route: %d %+v", code, eb)
	}
	if code, eb := h.do("DELETE", "/api/v1/logins", nil, nil); code != 405 || eb.Error != "method_not_allowed" {
		t.Fatalf("wrong method: %d %+v", code, eb)
	}
	req, _ := http.NewRequest("POST", h.ts.URL+"/api/v1/logins", strings.NewReader("{"))
	resp, _ := h.ts.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad JSON: %d", resp.StatusCode)
	}
	// Unknown fields are refused, on every endpoint that takes a body,
	// before anything else is looked at.
	h.addUser("una", "password1")
	for _, c := range []struct{ path, body string }{
		{"/api/v1/logins", `{"username":"una","password":"password1","admin":true}`},
		{"/api/v1/enrollments", `{"username":"una","password":"password1","phone":"+15550009999"}`},
		{"/api/v1/enrollments/session", `{"session":"K7QF2MZPXW3D9HJT","user":"una"}`},
		{"/api/v1/enrollments/x/resend", `{"channel":"sms","to":"+15550009999"}`},
		{"/api/v1/enrollments/x/activate", `{"code":"12345678","pin":"1"}`},
		{"/api/v1/logins/x/response", `{"response":"12345678","extra":1}`},
		{"/api/v1/logins/x/password", `{"password":"a new password","old":"x"}`},
		{"/api/v1/devices/x/confirm", `{"response":"12345678","state":"active"}`},
		{"/api/v1/devices/x/approvals", `{"request_id":"x","deny":"fraud","note":"hi"}`},
		{"/api/v1/devices/x/pin-proof", `{"challenge_id":"x","response":"1","x":0}`},
		{"/api/v1/devices/x/inbox", `{"challenge_id":"x","response":"1","x":0}`},
	} {
		req, _ := http.NewRequest("POST", h.ts.URL+c.path, strings.NewReader(c.body))
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb protocol.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || eb.Error != protocol.CodeBadRequest || !strings.Contains(eb.Message, "unknown field") {
			t.Errorf("%s %s: %d %+v, want 400 bad_request", c.path, c.body, resp.StatusCode, eb)
		}
	}
	hs := h.srv.HTTPServer(":0")
	if hs.ReadHeaderTimeout == 0 || hs.ReadTimeout == 0 || hs.WriteTimeout == 0 || hs.IdleTimeout == 0 {
		t.Fatal("server without timeouts")
	}
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(c *core.Config) {
		c.Rate = core.RateLimit{PerIP: 0.001, IPBurst: 1000, PerAccount: 0.001, AccountBurst: 3}
	})
	h.addUser("kim", "password1")
	codes := []int{}
	for i := 0; i < 5; i++ {
		c, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "kim", Password: "bad"}, nil)
		codes = append(codes, c)
	}
	if codes[2] != 401 || codes[3] != 429 || codes[4] != 429 {
		t.Fatalf("per-account: %v", codes)
	}
	h2 := newHarness(t, func(c *core.Config) { c.Rate = core.RateLimit{PerIP: 0.001, IPBurst: 2} })
	for i := 0; i < 3; i++ {
		c, _ := h2.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "u" + string(rune('a'+i)), Password: "bad"}, nil)
		if (i < 2 && c != 401) || (i == 2 && c != 429) {
			t.Fatalf("per-IP %d: %d", i, c)
		}
	}
}

func TestLogHoldsNoSecret(t *testing.T) {
	h := newHarness(t)
	h.addUser("lee", "s3cret-passw0rd")
	d := h.enroll("lee", "s3cret-passw0rd")
	code := h.gw.last(t).Code
	l := h.login("lee", "s3cret-passw0rd")
	r := d.respond(t, l.Challenge)
	h.answer(l.ID, wrong(r))
	l = h.login("lee", "s3cret-passw0rd")
	r2 := d.respond(t, l.Challenge)
	h.answer(l.ID, r2)
	h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "lee", Password: "wrong-passw0rd"}, nil)
	log := h.log.String()
	if !strings.Contains(log, "route=") || !strings.Contains(log, "status=403") {
		t.Fatalf("log lacks requests: %s", log)
	}
	for what, s := range map[string]string{
		"password": "s3cret-passw0rd", "wrong password": "wrong-passw0rd", "code": code,
		"response": r, "wrong response": wrong(r), "response 2": r2,
		"secret": fmt.Sprintf("%x", d.secret), "token": base64.RawURLEncoding.EncodeToString(d.token),
		"challenge": l.Challenge, "login id": l.ID, "device id": d.id,
	} {
		if strings.Contains(log, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
}

func TestConcurrentApprovals(t *testing.T) {
	h := newHarness(t)
	h.addUser("ned", "password1")
	d := h.enroll("ned", "password1")
	ctx := context.Background()
	l := h.login("ned", "password1")
	evs, err := h.client.Events(ctx, d.id, d.token, 0, 0)
	if err != nil || len(evs.Events) != 1 {
		t.Fatal(evs, err)
	}
	ev, _ := protocol.OpenEvent(d.serviceKey, d.id, evs.Events[0])
	r, _ := ocra.Generate(ocra.MustParseSuite(protocol.SuiteApprove), d.secret, protocol.ApprovalInput(ev, evs.Events[0].Payload, l.Number))
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l.ID, Number: l.Number, Response: r})
			switch {
			case err == nil:
				ok.Add(1)
			case apiCode(err) == protocol.CodeGone:
				gone.Add(1)
			}
		}()
	}
	// The relying party's challenge/response races the approvals too.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code, _ := h.answer(l.ID, d.respond(t, l.Challenge)); code == 200 {
			ok.Add(1)
		} else if code == http.StatusGone {
			gone.Add(1)
		}
	}()
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 12 {
		t.Fatalf("%d ok, %d gone", ok.Load(), gone.Load())
	}
}

func TestTempPasswordWakesDevice(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.CrossProcessPoll = time.Hour })
	h.addUser("oz", "password1")
	d := h.enroll("oz", "password1")
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		evs, err := h.client.Events(context.Background(), d.id, d.token, 0, 5*time.Second)
		if err != nil || len(evs.Events) != 1 {
			t.Error(evs, err)
		}
		done <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := h.svc.IssueTempPassword(context.Background(), "oz"); err != nil {
		t.Fatal(err)
	}
	if el := <-done; el > 2*time.Second {
		t.Fatalf("woken after %v", el)
	}
}

// TestTrustedProxies: behind a load balancer named as trusted, the limits
// count the address it forwards (X-Forwarded-For), one bucket per client;
// without it, the header is the client's word and is ignored.
func TestTrustedProxies(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.Rate = core.RateLimit{PerIP: 0.001, IPBurst: 2} })
	lb, err := clientip.Parse("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	behind := httptest.NewServer(New(h.svc, Options{TrustedProxies: lb}).Handler())
	defer behind.Close()
	get := func(url, client string) int {
		req, _ := http.NewRequest("GET", url+"/api/v1/logins/none", nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, client := range []string{"198.51.100.1", "198.51.100.2"} {
		for i := range 3 {
			want := map[bool]int{true: 404, false: 429}[i < 2]
			if c := get(behind.URL, client); c != want {
				t.Fatalf("%s, request %d behind the balancer: %d, want %d", client, i+1, c, want)
			}
		}
	}
	// Not trusted: whatever the header says, every request is the
	// peer's, 127.0.0.1, and takes its bucket.
	for i, client := range []string{"203.0.113.7", "203.0.113.8", "203.0.113.9"} {
		if c, want := get(h.ts.URL, client), map[bool]int{true: 404, false: 429}[i < 2]; c != want {
			t.Fatalf("forwarded %s from an untrusted peer: %d, want %d", client, c, want)
		}
	}
}
