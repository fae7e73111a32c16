package core_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// trail is the audit log from record after on, one line a record: event,
// username, outcome and the details that say what happened.
func (e *env) trail(after *int64) []string {
	e.t.Helper()
	var out []string
	if err := core.ReadAudit(context.Background(), e.st, store.AuditFilter{After: *after}, func(a store.AuditEvent) error {
		*after = a.ID
		var ds []string
		for _, k := range []string{"where", "how", "method", "purpose", "kind", "channel", "limit", "failures", "push", "app", "by", "was"} {
			if v, ok := a.Detail[k]; ok {
				ds = append(ds, k+"="+v)
			}
		}
		sort.Strings(ds)
		out = append(out, strings.Join(strings.Fields(fmt.Sprintf("%s %s %s %s", a.Event, a.Username, a.Outcome, strings.Join(ds, " "))), " "))
		if !a.Time.Equal(e.clock()) {
			e.t.Errorf("%s at %v, the clock at %v", a.Event, a.Time, e.clock())
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestAuditTrail: each operation writes the audit records of
// portal/core/audit.go, with its outcome and details, in the transaction
// of its change: a run of a user's life, step by step.
func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var at int64
	step := func(name string, want ...string) {
		t.Helper()
		got := e.trail(&at)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: audit\n\t%s\nwant\n\t%s", name, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
	e.user("zed")
	step("account", "account.created zed created by=admin")
	d := e.addDevice("zed")
	step("enrollment",
		"enrollment.started zed started channel=sms",
		"code.sent zed sent channel=sms",
		"device.enrolled zed pending channel=sms",
		"device.confirmed zed active")

	l := e.login("zed")
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); err != nil {
		t.Fatal(err)
	}
	step("login by response",
		"login.started zed challenge issued app=Client Portal push=true",
		"login.approved zed approved method=response")

	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "zed", Password: "wrong password"}); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatal(err)
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "nobody", Password: "wrong password"}); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatal(err)
	}
	step("wrong passwords",
		"password.failed zed failed failures=1 where=login",
		"password.failed unknown user where=login")

	l = e.login("zed")
	_, r := e.push(d, l.ID, l.Number)
	if st, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l.ID, Number: l.Number, Response: r}); err != nil || st != core.StatusApproved {
		t.Fatal(st, err)
	}
	step("approval",
		"login.started zed challenge issued app=Client Portal push=true",
		"login.approved zed approved method=push")

	l = e.login("zed")
	other := (l.Number + 1) % 100
	_, r = e.push(d, l.ID, other)
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l.ID, Number: other, Response: r}); !errors.Is(err, core.ErrWrongNumber) {
		t.Fatal(err)
	}
	l2 := e.login("zed")
	_, r = e.push(d, l2.ID, l2.Number)
	var br *core.BadResponseError
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l2.ID, Number: l2.Number, Response: wrongDigit(r)}); !errors.As(err, &br) || !br.Approval || br.AttemptsLeft != 4 {
		t.Fatalf("a wrong approval: %v (the approval before reset the count: 4 left of 5)", err)
	}
	l3 := e.login("zed")
	if st, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l3.ID, Deny: protocol.DenyMistake}); err != nil || st != core.StatusDenied {
		t.Fatal(st, err)
	}
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l3.ID, Deny: protocol.DenyFraud}); !errors.Is(err, core.ErrSpent) {
		t.Fatalf("denied twice: %v", err)
	}
	step("refusals",
		"login.started zed challenge issued app=Client Portal push=true",
		"login.failed zed wrong number method=push",
		"login.started zed challenge issued app=Client Portal push=true",
		"login.failed zed wrong response failures=1 method=push",
		"login.started zed challenge issued app=Client Portal push=true",
		"login.denied zed mistake method=push")
	if rs, _ := core.FraudReports(ctx, e.st, ""); len(rs) != 0 {
		t.Fatalf("a mistake filed as fraud: %+v", rs)
	}

	for _, p := range []core.Purpose{core.PurposePassword, core.PurposeDevice} {
		l, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "zed", Password: "password1", Purpose: p})
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := e.push(d, l.ID, l.Number)
		if want := map[core.Purpose]string{core.PurposePassword: "Client Portal: change password", core.PurposeDevice: "Client Portal: add a device"}[p]; ev.Context.App != want {
			t.Errorf("the phone shows %q, want %q", ev.Context.App, want)
		}
		if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); err != nil {
			t.Fatal(err)
		}
	}
	step("step-ups",
		"stepup.started zed challenge issued app=Client Portal: change password purpose=change_password push=true",
		"stepup.approved zed approved method=response purpose=change_password",
		"stepup.started zed challenge issued app=Client Portal: add a device purpose=add_device push=true",
		"stepup.approved zed approved method=response purpose=add_device")

	if _, err := e.svc.IssueTempPassword(ctx, "zed"); err != nil {
		t.Fatal(err)
	}
	pw := e.tempPassword(d)
	step("temporary password",
		"temp_password.issued zed sealed to the device by=admin",
		"pin.proved zed proved kind=inbox method=response",
		"temp_password.delivered zed released")
	l = e.login2("zed", pw)
	if st, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); err != nil || !st.PasswordChangeRequired {
		t.Fatal(st, err)
	}
	if st, err := e.svc.LoginStatus(ctx, l.ID); err != nil || st.Status != core.StatusApproved || !st.PasswordChangeRequired {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: l.ID, Password: "a new password"}); err != nil {
		t.Fatal(err)
	}
	if st, err := e.svc.LoginStatus(ctx, l.ID); err != nil || st.PasswordChangeRequired {
		t.Fatalf("status after the change %+v %v", st, err)
	}
	if err := e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: l.ID, Password: "another password"}); !errors.Is(err, core.ErrNoChangePending) {
		t.Fatalf("twice: %v", err)
	}
	if err := e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "zed", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	step("new passwords",
		"login.started zed challenge issued app=Client Portal push=true",
		"login.approved zed approved method=response",
		"password.changed zed changed how=temporary",
		"password.changed zed changed how=stepup")

	if _, err := e.svc.StartLinkEnrollment(ctx, core.LinkRequest{Username: "zed"}); err != nil {
		t.Fatal(err)
	}
	step("link", "enrollment.started zed link shown channel=link")

	ch, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: ch.ID, Response: wrongDigit(d.respond(t, ch.Challenge))}); !errors.As(err, &br) || br.Approval || br.AttemptsLeft != 4 {
		t.Fatalf("a wrong PIN proof: %v (a success reset the count: 4 left)", err)
	}
	step("PIN proof", "pin.failed zed wrong response failures=1 kind=pin method=response")

	// Four more failures lock for 15 minutes.
	for i := range 4 {
		ch, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
		if err != nil {
			t.Fatal(i, err)
		}
		e.svc.ProvePIN(ctx, core.ProofRequest{Device: d.auth, ChallengeID: ch.ID, Response: "x"})
	}
	got := e.trail(&at)
	if want := "account.locked zed until " + e.clock().Add(lockTime).Format(time.RFC3339) + " failures=5"; len(got) != 5 || got[4] != want {
		t.Fatalf("the lock: %q, want last %q", got, want)
	}
}

// TestLogins: what StartLogin takes and refuses, what it pushes, and what
// a login's status says.
func TestLogins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.enroll("amy")
	e.user("bo") // no device
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "amy", Password: "password1", App: strings.Repeat("a", 129)}); !errors.Is(err, core.ErrBadRequest) {
		t.Fatalf("an app of 129 bytes: %v", err)
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "bo", Password: "password1"}); !errors.Is(err, core.ErrNoDevice) {
		t.Fatalf("no device: %v", err)
	}
	for _, pw := range []string{strings.Repeat("p", 1025)} {
		if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "amy", Password: pw}); !errors.Is(err, core.ErrBadCredentials) {
			t.Fatalf("a password of %d: %v", len(pw), err)
		}
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "bad name!", Password: "password1"}); !errors.Is(err, core.ErrBadCredentials) {
		t.Fatalf("a bad name: %v", err)
	}
	// What the phone shows: the app (128 bytes at most), the browser cut
	// to 256 bytes on a character, the address, without control
	// characters or invalid UTF-8.
	l, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "AMY", Password: "password1", App: strings.Repeat("a", 127) + "\n", Browser: "Fire\x00fox\xff " + strings.Repeat("é", 200), IP: "192.0.2.1\t"})
	if err != nil || l.Username != "amy" || !l.Push || l.Number < 0 || l.Number > 99 || len(l.Challenge) != 6 || len(l.ID) < 16 {
		t.Fatalf("login %+v %v", l, err)
	}
	ev, _ := e.push(d, l.ID, l.Number)
	browser := "Firefox " + strings.Repeat("é", 124) // 8 + 248 bytes: a 125th é would pass 256
	if ev.Context.App != strings.Repeat("a", 127) || ev.Context.Browser != browser || ev.Context.IP != "192.0.2.1" || !ev.Context.Time.Equal(t0) {
		t.Fatalf("context %+v", ev.Context)
	}
	if ev.Type != protocol.EventLogin || ev.Username != "amy" || ev.DeviceID != d.auth.DeviceID || len(ev.Numbers) != 3 || !ev.IssuedAt.Equal(t0) {
		t.Fatalf("event %+v", ev)
	}
	// At most 3 outstanding seamless requests (docs/PROTOCOL.md): the
	// 4th login gets none.
	e.login("amy")
	e.login("amy")
	if l := e.login("amy"); l.Push || l.Number != 0 {
		t.Fatalf("a 4th request: %+v", l)
	}
	evs, err := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth})
	if err != nil || len(evs.Events) != 3 || len(evs.Pending) != 3 || evs.Next != evs.Events[2].Seq {
		t.Fatalf("events %+v %v", evs, err)
	}
	// A request answered in the browser leaves the device's list.
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := e.svc.WaitEvents(ctx, core.EventsRequest{Device: d.auth}); len(evs.Pending) != 2 || len(evs.Events) != 2 {
		t.Fatalf("after a response: %+v", evs)
	}
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); !errors.Is(err, core.ErrSpent) {
		t.Fatalf("again: %v", err)
	}
	for _, c := range []struct {
		id   string
		resp string
		want error
	}{
		{"nope", "123456", core.ErrNotFound},
		{l.ID, strings.Repeat("1", 65), core.ErrBadRequest},
	} {
		if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: c.id, Response: c.resp}); !errors.Is(err, c.want) {
			t.Errorf("respond %q: %v, want %v", c.id, err, c.want)
		}
	}
	// A proof's challenge is no login.
	ch, err := e.svc.IssueProof(ctx, core.ProofChallengeRequest{Device: d.auth, Kind: core.ProofPIN})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: ch.ID, Response: d.respond(t, ch.Challenge)}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("a PIN challenge as a login: %v", err)
	}
	if _, err := e.svc.LoginStatus(ctx, ch.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("its status: %v", err)
	}
	for _, pw := range []string{"a new password", "short"} {
		if err := e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: ch.ID, Password: pw}); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("a new password %q by it: %v", pw, err)
		}
	}
	if _, err := e.svc.LoginStatus(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("no such login: %v", err)
	}
	// A new password needs a login approved with a temporary password.
	l = e.login("amy")
	if err := e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: l.ID, Password: "a new password"}); !errors.Is(err, core.ErrNoChangePending) {
		t.Fatalf("pending, no temporary password: %v", err)
	}
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: l.ID, Password: "a new password"}); !errors.Is(err, core.ErrNoChangePending) {
		t.Fatalf("approved, no temporary password: %v", err)
	}
	if err := e.svc.SetTempPassword(ctx, core.NewPasswordRequest{LoginID: l.ID, Password: "short"}); !errors.Is(err, core.ErrWeakPassword) {
		t.Fatalf("a short one: %v", err)
	}
	if err := e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "nobody", Password: "a new password"}); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("nobody's: %v", err)
	}
	if err := e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "bad name!", Password: "a new password"}); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("a bad name's: %v", err)
	}
	if err := e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "amy", Password: "amy"}); !errors.Is(err, core.ErrWeakPassword) {
		t.Fatalf("a weak one: %v", err)
	}
	// A device retired after the login was started: the response spends
	// it without approving.
	l = e.login("amy")
	e.addDevice("amy")
	if _, err := e.svc.Respond(ctx, core.ResponseRequest{LoginID: l.ID, Response: d.respond(t, l.Challenge)}); !errors.Is(err, core.ErrSpent) {
		t.Fatalf("the retired device's response: %v", err)
	}
	if st, _ := e.svc.LoginStatus(ctx, l.ID); st.Status != core.StatusFailed {
		t.Fatalf("status %s, want failed", st.Status)
	}
}
