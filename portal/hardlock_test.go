package portal

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
)

// TestHardLockHoldsAcrossRestarts makes 100 consecutive wrong PIN proofs
// (the online PIN search of a stolen device) and restarts the service on
// the same database: the account stays locked, years later too, until an
// administrator unlocks it.
func TestHardLockHoldsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	st := openFile(t, path)
	short := func(c *core.Config) { c.Limits.LockoutThreshold = 5; c.Limits.LockoutDuration = time.Second }
	h := newHarnessStore(t, st, short)
	h.addUser("pat", "password1")
	d := h.enroll("pat", "password1")
	ctx := context.Background()
	for i := range verifier.HardLockout {
		h.clock.Add(time.Second) // past each timed lock
		c, err := h.client.PINChallenge(ctx, d.id, d.token)
		if err != nil {
			t.Fatalf("challenge %d: %v", i+1, err)
		}
		err = h.client.ProvePIN(ctx, d.id, d.token, protocol.ProofResponse{ChallengeID: c.ID, Response: wrong(d.respond(t, c.Challenge))})
		if apiCode(err) != protocol.CodeInvalidResponse {
			t.Fatalf("proof %d: %v", i+1, err)
		}
	}
	locked := func(h *harness, when string) {
		t.Helper()
		if code, eb := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "pat", Password: "password1"}, nil); code != http.StatusLocked {
			t.Fatalf("%s: login %d %+v, want 423", when, code, eb)
		}
		if _, err := h.client.PINChallenge(ctx, d.id, d.token); apiCode(err) != protocol.CodeLocked {
			t.Fatalf("%s: PIN challenge %v, want locked", when, err)
		}
	}
	h.clock.Add(time.Hour)
	locked(h, "an hour later")
	h.ts.Close()
	st.Close()

	st2 := openFile(t, path)
	h2 := newHarnessStore(t, st2, short)
	h2.clock.t = h.clock.Now().AddDate(10, 0, 0)
	locked(h2, "after a restart, ten years later")
	if err := core.UnlockAccount(ctx, st2, h2.clock.Now(), "pat"); err != nil {
		t.Fatal(err)
	}
	l := h2.login("pat", "password1")
	if code, eb := h2.answer(l.ID, d.respond(t, l.Challenge)); code != http.StatusOK {
		t.Fatalf("after the unlock: %d %+v", code, eb)
	}
}

// TestMigrateHardLock opens a database of version 3, where a hard lock was
// locked_until = the year 9999 as int64 nanoseconds (which wrapped around
// and read back as 1815): the accounts with 100 failures or more come out
// hard-locked, the others as they were.
func TestMigrateHardLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := sqlite.OpenVersion(path, testKey(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	db := st.DB()
	for i, u := range []string{"hard", "timed", "free"} {
		if _, err := db.Exec("INSERT INTO accounts(username, account, phone, password, created) VALUES(?,?,?,?,?)", u, fmt.Sprint("U100000", i), "+15550001234", "x", now.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	year9999 := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() // what version 3 wrote
	until := now.Add(time.Hour)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE accounts SET failures = 100, locked_until = ? WHERE username = 'hard'", []any{year9999}},
		{"UPDATE accounts SET failures = 7, locked_until = ? WHERE username = 'timed'", []any{until.UnixNano()}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	if st, err = sqlite.Open(path, testKey(t)); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := map[string]verifier.Lockout{
		"hard":  {Failures: 100, Hard: true},
		"timed": {Failures: 7, LockedUntil: until},
		"free":  {},
	}
	st.View(ctx, func(tx store.Tx) error {
		for u, w := range want {
			a, err := tx.Account(u)
			if err != nil {
				t.Fatal(err)
			}
			if a.Lockout.Failures != w.Failures || a.Lockout.Hard != w.Hard || !a.Lockout.LockedUntil.Equal(w.LockedUntil) {
				t.Errorf("%s: %+v, want %+v", u, a.Lockout, w)
			}
		}
		return nil
	})
}
