package main

import (
	"context"
	"strings"
	"testing"

	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
)

// TestServiceHardLock: a hard lock (100 consecutive failures) holds across
// restarts of ibkey serve until ibkey admin unlock lifts it.
func TestServiceHardLock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	s.must("password1\n", "admin", "useradd", "--db", s.db, "--username", "lee", "--phone", "+15550001234")
	st, _, err := sqlite.OpenKeyFile(s.db, "")
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), func(tx store.Tx) error {
		a, err := tx.Account("lee")
		if err != nil {
			return err
		}
		a.Lockout.Failures, a.Lockout.Hard = 100, true
		return tx.UpdateAccount(a)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	login := func() int {
		return s.post("/api/v1/logins", map[string]string{"username": "lee", "password": "password1"}, nil)
	}
	s.start()
	if c := login(); c != 423 {
		t.Fatalf("hard-locked login: %d", c)
	}
	s.kill()
	s.start()
	if c := login(); c != 423 {
		t.Fatalf("hard-locked login after a restart: %d", c)
	}
	s.must("", "admin", "unlock", "--db", s.db, "--username", "lee")
	if c := login(); c != 403 { // no_device: the password and the lock passed
		t.Fatalf("login after the unlock: %d", c)
	}
}

// TestAdminUseraddCaseVariant: a username is one account in any case.
func TestAdminUseraddCaseVariant(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	if out := s.must("password1\n", "admin", "useradd", "--db", s.db, "--username", "Alice", "--phone", "+15550001234"); !strings.HasPrefix(out, "alice\tU") {
		t.Fatalf("useradd Alice printed %q", out)
	}
	_, err := s.run("password2\n", "admin", "useradd", "--db", s.db, "--username", "ALICE", "--phone", "+15550009999")
	if err == nil || !strings.Contains(err.Error(), `exists already: "alice"`) || !strings.Contains(err.Error(), "case") {
		t.Fatalf("useradd of a case variant: %v", err)
	}
	if out := s.must("", "admin", "unlock", "--db", s.db, "--username", "aLiCe"); !strings.HasPrefix(out, "alice\tunlocked") {
		t.Fatalf("unlock printed %q", out)
	}
}
