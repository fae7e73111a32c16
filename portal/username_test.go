package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
	"ibkey/portal/web"
)

// TestStepUpCaseVariant is the attack of the review: someone who holds
// alice's portal session and has an account "Alice" of their own, with a
// device, passes the step-up as "Alice" and changes alice's password.
// Usernames are one canonical form now: "Alice" cannot be made, and a
// step-up as "Alice" is a step-up as alice.
func TestStepUpCaseVariant(t *testing.T) {
	h := newHarness(t)
	h.srv.MountWeb(web.Options{}, "")
	ctx := context.Background()
	h.addUser("alice", "alice's password")
	alice := h.enroll("alice", "alice's password")
	var mallory *device
	_, err := core.CreateAccount(ctx, h.store, rand.Reader, h.clock.Now(), "Alice", "+15550009999", "mallory's password", fastArgon)
	if err == nil {
		mallory = h.enroll("Alice", "mallory's password")
	} else if !errors.Is(err, core.ErrUserExists) {
		t.Fatalf("a case variant of alice: %v, want core.ErrUserExists", err)
	}

	p := newPages(t, h)
	p.login("alice", "alice's password", alice)
	p.get("/stepup?for=password")
	r := p.post("/stepup", url.Values{"for": {"password"}, "username": {"Alice"}, "password": {"mallory's password"}})
	if r.location == "/login/verify" && mallory != nil {
		v := p.get("/login/verify")
		p.post("/login/verify", url.Values{"response": {mallory.respond(t, p.challenge(v))}})
		p.get("/password")
		p.post("/password", url.Values{"new": {"mallory's choice"}, "confirm": {"mallory's choice"}})
	} else if r.status != http.StatusUnauthorized {
		t.Fatalf("step-up as Alice with another password: %d %s\n%s", r.status, r.location, r.body)
	}
	if code, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "alice", Password: "mallory's choice"}, nil); code != http.StatusUnauthorized {
		t.Fatalf("the attacker changed alice's password (login with it: %d)", code)
	}
	h.login("alice", "alice's password")

	// "Alice" is alice: her own step-up as "ALICE" works.
	p.get("/stepup?for=password")
	if r := p.post("/stepup", url.Values{"for": {"password"}, "username": {"ALICE"}, "password": {"alice's password"}}); r.location != "/login/verify" {
		t.Fatalf("step-up as ALICE: %d %s\n%s", r.status, r.location, r.body)
	}
	v := p.get("/login/verify")
	if r := p.post("/login/verify", url.Values{"response": {alice.respond(t, p.challenge(v))}}); r.location != "/password" {
		t.Fatalf("step-up response: %d %s", r.status, r.location)
	}
}

// TestUsernamesOneCase: every way in takes any case of a username and
// means the one account; a case variant cannot be created.
func TestUsernamesOneCase(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	a, err := core.CreateAccount(ctx, h.store, rand.Reader, h.clock.Now(), "Bob.Smith@Example.com", "+15550001234", "password1", fastArgon)
	if err != nil || a.Username != "bob.smith@example.com" {
		t.Fatalf("CreateAccount: %+v %v", a, err)
	}
	for _, u := range []string{"bob.smith@example.com", "BOB.SMITH@EXAMPLE.COM"} {
		if _, err := core.CreateAccount(ctx, h.store, rand.Reader, h.clock.Now(), u, "+15550001234", "password2", fastArgon); !errors.Is(err, core.ErrUserExists) {
			t.Errorf("core.CreateAccount(%q): %v, want core.ErrUserExists", u, err)
		}
	}
	if _, err := core.CreateAccount(ctx, h.store, rand.Reader, h.clock.Now(), "bob smith", "+15550001234", "password2", fastArgon); !errors.Is(err, core.ErrBadUsername) {
		t.Errorf("a username with a space: %v", err)
	}
	// The store refuses a username that is not canonical, whoever asks.
	err = h.store.Update(ctx, func(tx store.Tx) error {
		return tx.InsertAccount(store.Account{Username: "Carol", Account: "U7777777", Phone: "+15550001234", Password: "x", Created: h.clock.Now()})
	})
	if !errors.Is(err, store.ErrBadUsername) {
		t.Errorf("store insert of Carol: %v", err)
	}
	d := h.enroll("Bob.Smith@example.COM", "password1")
	l := h.login("BOB.smith@example.com", "password1")
	if code, _ := h.answer(l.ID, d.respond(t, l.Challenge)); code != http.StatusOK {
		t.Fatalf("login as another case: %d", code)
	}
	for _, u := range []string{"BOB.SMITH@example.com", "bob.smith@example.com"} {
		if ds, err := core.ListDevices(ctx, h.store, u); err != nil || len(ds) != 1 {
			t.Errorf("core.ListDevices(%q): %v %v", u, ds, err)
		}
	}
	if err := core.UnlockAccount(ctx, h.store, h.clock.Now(), "Bob.Smith@Example.com"); err != nil {
		t.Errorf("UnlockAccount in another case: %v", err)
	}
	if _, err := core.IssueTempPassword(ctx, h.store, rand.Reader, h.clock.Now(), "BOB.SMITH@EXAMPLE.COM", fastArgon); err != nil {
		t.Errorf("IssueTempPassword in another case: %v", err)
	}
}

// TestMigrateUsernames opens a database of version 5, whose usernames told
// case apart: each becomes its lower-case form, in every table; of two
// accounts that differ only in case, the older keeps the name and the
// newer is refused at login (renamed, never merged), and the audit log
// says so.
func TestMigrateUsernames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := sqlite.OpenVersion(path, testKey(t), 5)
	if err != nil {
		t.Fatal(err)
	}
	db := st.DB()
	pw := func(p string) string {
		h, err := core.HashPassword(rand.Reader, p, fastArgon)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range []struct {
		name, number, password string
		created                time.Time
	}{
		{"alice", "U2000002", "newer alice", t0.Add(time.Hour)},
		{"Alice", "U1000001", "older Alice", t0},
		{"BOB", "U3000003", "bob's password", t0},
		{"carol", "U4000004", "carol's password", t0},
	} {
		if _, err := db.Exec("INSERT INTO accounts(username, account, phone, password, created) VALUES(?,?,?,?,?)", a.name, a.number, "+15550001234", pw(a.password), a.created.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		"INSERT INTO enrollments(id, username, state, channel, code_hash, tries, sends, expires, last_sent, created) VALUES('e1', 'BOB', 'activated', 'sms', x'00', 0, 1, 1, 1, 1)",
		"INSERT INTO enrollments(id, username, state, channel, code_hash, tries, sends, expires, last_sent, created) VALUES('e2', 'alice', 'pending', 'sms', x'00', 0, 1, 1, 1, 1)",
		"INSERT INTO fraud_reports(login_id, username, device_id, ip, app, browser, time) VALUES('l1', 'BOB', 'd1', '192.0.2.1', 'a', 'b', 1)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	if st, err = sqlite.Open(path, testKey(t)); err != nil {
		t.Fatal(err)
	}
	h := newHarnessStore(t, st)
	ctx := context.Background()
	st.View(ctx, func(tx store.Tx) error {
		for name, number := range map[string]string{"alice": "U1000001", "alice#case-variant": "U2000002", "bob": "U3000003", "carol": "U4000004"} {
			if a, err := tx.Account(name); err != nil || a.Account != number {
				t.Errorf("account %q: %+v %v, want %s", name, a, err, number)
			}
		}
		for id, user := range map[string]string{"e1": "bob", "e2": "alice#case-variant"} {
			if e, err := tx.Enrollment(id); err != nil || e.Username != user {
				t.Errorf("enrollment %s: %q %v, want %q", id, e.Username, err, user)
			}
		}
		if rs, _ := tx.FraudReports(); len(rs) != 1 || rs[0].Username != "bob" {
			t.Errorf("fraud reports %+v", rs)
		}
		return nil
	})
	// alice is the older account: its password logs in (no device: 403),
	// the newer one's is wrong for it, and the renamed one is nobody's.
	for _, c := range []struct {
		user, password string
		want           int
	}{
		{"alice", "older Alice", http.StatusForbidden},
		{"ALICE", "older Alice", http.StatusForbidden},
		{"alice", "newer alice", http.StatusUnauthorized},
		{"alice#case-variant", "newer alice", http.StatusUnauthorized},
		{"Bob", "bob's password", http.StatusForbidden},
	} {
		if code, eb := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: c.user, Password: c.password}, nil); code != c.want {
			t.Errorf("login %s: %d %+v, want %d", c.user, code, eb, c.want)
		}
	}
	var renamed []store.AuditEvent
	core.ReadAudit(ctx, st, store.AuditFilter{}, func(e store.AuditEvent) error {
		if e.Event == core.AuditAccountRenamed {
			renamed = append(renamed, e)
		}
		return nil
	})
	want := map[string]string{"alice#case-variant": "refused alice", "alice": "canonical Alice", "bob": "canonical BOB"}
	if len(renamed) != len(want) {
		t.Fatalf("audit %+v", renamed)
	}
	for _, e := range renamed {
		if w := want[e.Username]; w != e.Outcome+" "+e.Detail["from"] {
			t.Errorf("audit %+v, want %s", e, w)
		}
	}
	// The store keeps one account per name in any case.
	if _, err := st.DB().Exec("INSERT INTO accounts(username, account, phone, password, created) VALUES('Carol', 'U5', '+1555', 'x', 1)"); err == nil {
		t.Fatal("a case variant got into the accounts table")
	}
}
