package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/web"
)

// TestAuditWholeFlow runs the whole life of an account (an administrator
// makes it, a device enrolls, both kinds of login, a denial as fraud, a
// lock and an administrator's unlock, a step-up and a password change in
// the Client Portal, a temporary password issued, delivered and changed,
// a rate limit) and finds each event in the audit log exactly once, in
// order, and no secret in the log's table or its JSON lines.
func TestAuditWholeFlow(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.Limits.LockoutThreshold = 2 })
	h.srv.MountWeb(web.Options{}, "")
	ctx := context.Background()
	secrets := map[string]string{}
	keep := func(what, v string) string { secrets[what] = v; return v }
	const password = "correct horse battery"
	keep("password", password)
	var want []string
	expect := func(events ...string) { want = append(want, events...) }

	if _, err := core.CreateAccount(ctx, h.store, rand.Reader, h.clock.Now(), "alice", "+15550001234", password, fastArgon); err != nil {
		t.Fatal(err)
	}
	expect("account.created alice created")
	if code, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "alice", Password: keep("wrong password", "correct horse battery!")}, nil); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: keep("password in the username field", "hunter2hunter2"), Password: "x"}, nil)
	expect("password.failed alice failed", "password.failed  unknown user")

	// Enrollment, with a second SMS asked too soon.
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "alice", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	code := keep("activation code", h.gw.last(t).Code)
	expect("enrollment.started alice started", "code.sent alice sent")
	if _, err := h.client.Resend(ctx, enr.ID, "sms"); apiCode(err) != protocol.CodeRateLimited {
		t.Fatalf("resend too soon: %v", err)
	}
	expect("rate_limited alice refused")
	act, _ := protocol.NewActivationKey(rand.Reader)
	del, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	req := protocol.ActivateRequest{Code: code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: del.PublicKey().Bytes(), ChannelToken: token}
	a, err := h.client.Activate(ctx, enr.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	d := &device{id: a.DeviceID, token: token, secret: secret, suite: ocra.MustParseSuite(a.Suite), delivery: del, serviceKey: a.ServiceKey}
	if err := h.client.Confirm(ctx, d.id, token, keep("confirm response", d.respond(t, a.ConfirmChallenge))); err != nil {
		t.Fatal(err)
	}
	expect("device.enrolled alice pending", "device.confirmed alice active")

	// A login by challenge/response, one by approval, one denied as fraud.
	l := h.login("alice", password)
	if c, _ := h.answer(l.ID, keep("response 1", d.respond(t, l.Challenge))); c != 200 {
		t.Fatalf("response: %d", c)
	}
	expect("login.started alice challenge issued", "login.approved alice approved")
	l = h.login("alice", password)
	evs, err := h.client.Events(ctx, d.id, d.token, 0, 0)
	if err != nil || len(evs.Events) == 0 {
		t.Fatalf("events %+v %v", evs, err)
	}
	se := evs.Events[len(evs.Events)-1]
	ev, err := protocol.OpenEvent(d.serviceKey, d.id, se)
	if err != nil || ev.ID != l.ID {
		t.Fatalf("event %+v %v", ev, err)
	}
	r, _ := ocra.Generate(ocra.MustParseSuite(protocol.SuiteApprove), d.secret, protocol.ApprovalInput(ev, se.Payload, l.Number))
	if _, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l.ID, Number: l.Number, Response: keep("approval", r)}); err != nil {
		t.Fatal(err)
	}
	expect("login.started alice challenge issued", "login.approved alice approved")
	l = h.login("alice", password)
	if _, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l.ID, Deny: protocol.DenyFraud}); err != nil {
		t.Fatal(err)
	}
	expect("login.started alice challenge issued", "login.denied alice fraud")

	// Two wrong responses lock; an administrator unlocks.
	for i := range 2 {
		l = h.login("alice", password)
		h.answer(l.ID, keep(fmt.Sprint("wrong response ", i), wrong(d.respond(t, l.Challenge))))
		expect("login.started alice challenge issued", "login.failed alice wrong response")
	}
	expect(fmt.Sprintf("account.locked alice until %s", h.clock.Now().Add(15*time.Minute).UTC().Format(time.RFC3339)))
	if err := core.UnlockAccount(ctx, h.store, h.clock.Now(), "alice"); err != nil {
		t.Fatal(err)
	}
	expect("account.unlocked alice unlocked")

	// The Client Portal: a login, a step-up, a new password.
	p := newPages(t, h)
	p.login("alice", password, d)
	expect("login.started alice challenge issued", "login.approved alice approved")
	p.get("/stepup?for=password")
	if r := p.post("/stepup", url.Values{"for": {"password"}, "username": {"alice"}, "password": {password}}); r.location != "/login/verify" {
		t.Fatalf("step-up: %d %s", r.status, r.location)
	}
	v := p.get("/login/verify")
	if r := p.post("/login/verify", url.Values{"response": {keep("step-up response", d.respond(t, p.challenge(v)))}}); r.location != "/password" {
		t.Fatalf("step-up response: %d %s", r.status, r.location)
	}
	const newPassword = "a brand new password"
	keep("new password", newPassword)
	p.get("/password")
	if r := p.post("/password", url.Values{"new": {newPassword}, "confirm": {newPassword}}); r.location != "/account" {
		t.Fatalf("new password: %d %s\n%s", r.status, r.location, r.body)
	}
	expect("stepup.started alice challenge issued", "stepup.approved alice approved", "password.changed alice changed")

	// A temporary password: issued, read from the inbox, changed at login.
	if _, err := core.IssueTempPassword(ctx, h.store, rand.Reader, h.clock.Now(), "alice", fastArgon); err != nil {
		t.Fatal(err)
	}
	expect("temp_password.issued alice sealed to the device")
	ch, err := h.client.InboxChallenge(ctx, d.id, d.token)
	if err != nil {
		t.Fatal(err)
	}
	box, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: keep("inbox response", d.respond(t, ch.Challenge))})
	if err != nil || len(box.Deliveries) != 1 {
		t.Fatalf("inbox %+v %v", box, err)
	}
	expect("pin.proved alice proved", "temp_password.delivered alice released")
	dl := box.Deliveries[0]
	pw, err := protocol.Open(d.delivery.Bytes(), verifier.DeliveryLabel(dl.Kind, dl.ID, d.id), dl.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	temp := keep("temporary password", string(pw))
	l = h.login("alice", temp)
	h.answer(l.ID, keep("response 2", d.respond(t, l.Challenge)))
	const lastPassword = "the last password"
	keep("last password", lastPassword)
	if c, eb := h.do("POST", "/api/v1/logins/"+l.ID+"/password", protocol.PasswordChange{Password: lastPassword}, nil); c != 200 {
		t.Fatalf("change: %d %+v", c, eb)
	}
	expect("login.started alice challenge issued", "login.approved alice approved", "password.changed alice changed")

	// The log: each event once, in order.
	var got []string
	var out bytes.Buffer
	jh := core.AuditHandler(&out)
	err = core.ReadAudit(ctx, h.store, store.AuditFilter{}, func(e store.AuditEvent) error {
		got = append(got, strings.Join(strings.Fields(e.Event+" "+e.Username+" "+e.Outcome), " "))
		if e.Time.IsZero() {
			t.Errorf("%s without a time", e.Event)
		}
		return core.LogAudit(ctx, jh, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	want2 := make([]string, len(want))
	for i, w := range want {
		want2[i] = strings.Join(strings.Fields(w), " ")
	}
	for i := range max(len(got), len(want2)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want2) {
			w = want2[i]
		}
		if g != w {
			t.Errorf("audit record %d: %q, want %q", i+1, g, w)
		}
	}
	// One JSON object a line, with the fields of its record.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(got) {
		t.Fatalf("%d JSON lines for %d records", len(lines), len(got))
	}
	for i, line := range lines {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		if m["event"] == "" || m["time"] == "" || m["level"] != "" || m["msg"] != "" {
			t.Errorf("line %d: %s", i+1, line)
		}
		if strings.HasPrefix(m["event"], "login.") && (m["device"] != d.id || m["ip"] != "127.0.0.1" || m["login"] == "") {
			t.Errorf("line %d lacks the device, address or login: %s", i+1, line)
		}
	}
	// No secret in the table, in any form, nor in the JSON lines.
	forms := map[string][]byte{}
	for what, v := range secrets {
		forms[what] = []byte(v)
	}
	forms["device secret"] = d.secret
	forms["channel token"] = d.token
	forms["service key"] = h.svc.PrivateKeySeed()
	var table bytes.Buffer
	table.Write(rawDump(t, h.store, "SELECT id, time, event, username, device, ip, outcome, detail FROM audit"))
	for what, v := range forms {
		for form, b := range secretForms(v) {
			if bytes.Contains(table.Bytes(), b) {
				t.Errorf("the audit table holds the %s (%s)", what, form)
			}
			if bytes.Contains(out.Bytes(), b) {
				t.Errorf("the audit output holds the %s (%s)", what, form)
			}
		}
	}
	// --user and --since select.
	var n int
	core.ReadAudit(ctx, h.store, store.AuditFilter{Username: "alice", Since: h.clock.Now()}, func(store.AuditEvent) error { n++; return nil })
	if n != len(got)-1 { // all but the unknown user's
		t.Errorf("alice's records: %d of %d", n, len(got))
	}
	n = 0
	core.ReadAudit(ctx, h.store, store.AuditFilter{Since: h.clock.Now().Add(time.Second)}, func(store.AuditEvent) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d records after now", n)
	}
}
