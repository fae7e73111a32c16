package main

import (
	"os/exec"
	"strings"
	"testing"

	"ibkey/authcore/protocol"
)

// runResult runs one command of the binary against s with stdin and
// returns what it did; stderr goes to the logs too.
func (s *svcEnv) runResult(stdin string, args ...string) result {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	s.logs.Write([]byte(errb.String()))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// TestUsersPasswdEndToEnd: `ibkey users passwd` proves the old PIN to the
// service before it changes it; a wrong one, or a service that cannot be
// reached, changes nothing; the change leaves the inbox alone.
func TestUsersPasswdEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	const password = "tr0ub4dor&3"
	s.must(password+"\n", "admin", "useradd", "--db", s.db, "--username", "alice", "--phone", "+15550001234")
	s.start()
	s.enroll("alice", password, "2468", 1, nil)
	// A temporary password waits in the inbox before the PIN changes.
	s.must("", "admin", "temp-password", "--db", s.db, "--username", "alice")

	passwd := func(stdin string) result {
		t.Helper()
		return s.runResult(stdin, "--vault", s.vault, "users", "passwd", "--user", "alice")
	}
	fails := func(r result, want string) {
		t.Helper()
		wantFailure(t, r, []string{"users passwd", want})
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("stderr %q does not say %q", r.stderr, want)
		}
	}
	fails(passwd("1357\n9173\n9173\n"), "the service says the old PIN is wrong (4 attempts left before the lock); the PIN is not changed")
	fails(passwd("2468\n9173\n9137\n"), "users passwd: the PINs differ")
	fails(passwd("2468\n1111\n1111\n"), "users passwd: ")
	if r := passwd("2468\n9173\n9173\n"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("users passwd: %+v, want a quiet success", r)
	}

	// The temporary password is still delivered, opened with the new PIN.
	box := s.must("9173\n", "--vault", s.vault, "inbox", "--user", "alice")
	kind, temp, ok := strings.Cut(strings.TrimSpace(box), "\t")
	if !ok || kind != "temp_password" || len(temp) < 10 {
		t.Fatalf("inbox after the PIN change printed %q", box)
	}
	// The new PIN answers logins; the password is set anew after the
	// temporary one.
	login := func(pw, pin string) {
		t.Helper()
		var l protocol.Login
		if c := s.post("/api/v1/logins", map[string]string{"username": "alice", "password": pw}, &l); c != 201 {
			t.Fatalf("login: %d", c)
		}
		resp := strings.TrimSpace(s.must(pin+"\n", "--vault", s.vault, "respond", "--user", "alice", "--challenge", l.Challenge))
		if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": resp}, nil); c != 200 {
			t.Fatalf("response with PIN %s: %d", pin, c)
		}
		if pw == temp {
			if c := s.post("/api/v1/logins/"+l.ID+"/password", map[string]string{"password": password}, nil); c != 200 {
				t.Fatalf("password change: %d", c)
			}
		}
	}
	login(temp, "9173")

	// Offline: an error, never a silent change.
	s.kill()
	fails(passwd("9173\n5820\n5820\n"), "the service must check the old PIN and cannot be reached; the PIN is not changed")
	s.start()
	login(password, "9173")

	// A user imported without a service: changed on this device only, and
	// said so.
	s.must("2468\n2468\n", "--vault", s.vault, "users", "import", "--name", "tok", "--suite", cliSuite, "--key", cliKey, "--accept-weak-key")
	r := s.runResult("2468\n9173\n9173\n", "--vault", s.vault, "users", "passwd", "--user", "tok")
	if r.code != 0 || r.stdout != "" || r.stderr != "ibkey: tok has no service to check the old PIN: changed on this device only\n" {
		t.Fatalf("users passwd of an imported user: %+v", r)
	}

	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"users", "passwd"}, 2},
		{[]string{"users", "passwd", "--user", "nobody"}, 1},
		{[]string{"users", "passwd", "--user", "alice", "extra"}, 2},
	} {
		r := s.runResult("2468\n9173\n9173\n", append([]string{"--vault", s.vault}, c.args...)...)
		wantFailure(t, r, c.args)
		if r.code != c.code {
			t.Errorf("ibkey %v: exit %d, want %d", c.args, r.code, c.code)
		}
	}
}
