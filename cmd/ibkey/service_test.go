package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ibkey/authcore/protocol"

	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
)

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// svcEnv is one service and one device vault, driven through the binary.
type svcEnv struct {
	t      *testing.T
	bin    string
	dir    string
	db     string
	outbox string
	addr   string
	url    string
	vault  string
	env    []string
	serve  *exec.Cmd
	logs   *lockedBuffer // every stderr of every process
}

func newSvcEnv(t *testing.T) *svcEnv {
	t.Helper()
	dir := t.TempDir()
	s := &svcEnv{
		t: t, bin: ibkeyBinary(t), dir: dir,
		db: filepath.Join(dir, "svc.db"), outbox: filepath.Join(dir, "outbox.jsonl"),
		vault: filepath.Join(dir, "vault"), logs: &lockedBuffer{},
	}
	s.env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), secretsEnv + "=file"}
	// The first start lets the kernel pick a port; restarts reuse it.
	s.addr = "127.0.0.1:0"
	t.Cleanup(func() {
		if s.serve != nil {
			s.serve.Process.Kill()
			s.serve.Wait()
		}
	})
	return s
}

// start runs ibkey serve and waits until it listens.
func (s *svcEnv) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "serve", "--addr", s.addr, "--db", s.db, "--outbox", s.outbox, "--account-rate", "6000")
	cmd.Env = s.env
	cmd.Stderr = s.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		s.t.Fatalf("serve: %v; log:\n%s", err, s.logs.String())
	}
	s.url = strings.TrimSpace(line)
	u, err := url.Parse(s.url)
	if err != nil || u.Host == "" {
		s.t.Fatalf("serve printed %q, want its URL", line)
	}
	s.addr = u.Host
	s.serve = cmd
}

// kill ends the service at once, without a graceful shutdown.
func (s *svcEnv) kill() {
	s.serve.Process.Kill()
	s.serve.Wait()
	s.serve = nil
}

// run runs one command of the binary with stdin and returns stdout; stderr
// goes to the logs.
func (s *svcEnv) run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(&errb, s.logs)
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("ibkey %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (s *svcEnv) must(stdin string, args ...string) string {
	s.t.Helper()
	out, err := s.run(stdin, args...)
	if err != nil {
		s.t.Fatalf("%v\nlogs:\n%s", err, s.logs.String())
	}
	return out
}

// lastCode waits for the n-th message of the outbox and returns its code.
func (s *svcEnv) code(n int) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(s.outbox)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(b) > 0 && len(lines) >= n {
			var m core.Message
			if err := json.Unmarshal([]byte(lines[n-1]), &m); err != nil {
				s.t.Fatal(err)
			}
			if m.Channel == "" || m.To == "" || m.Username == "" || m.Text == "" || m.Time.IsZero() {
				s.t.Fatalf("outbox line %q lacks a field", lines[n-1])
			}
			return m.Code
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("no message %d in the outbox", n)
	return ""
}

// interactive starts a command whose input is written as it goes.
type interactive struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *lockedBuffer
	errb *lockedBuffer
	done chan error
}

func (s *svcEnv) startCmd(args ...string) *interactive {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	in, err := cmd.StdinPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	it := &interactive{cmd: cmd, in: in, out: &lockedBuffer{}, errb: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = it.out, io.MultiWriter(it.errb, s.logs)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { it.done <- cmd.Wait() }()
	s.t.Cleanup(func() { cmd.Process.Kill() })
	return it
}

func (it *interactive) write(s string) { io.WriteString(it.in, s) }

// waitStderr waits until the command has written text on stderr.
func (it *interactive) waitStderr(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(it.errb.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%v: no %q on stderr: %s", it.cmd.Args, text, it.errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (it *interactive) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-it.done:
		if err != nil {
			t.Fatalf("%v: %v: %s", it.cmd.Args, err, it.errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%v: timed out: %s", it.cmd.Args, it.errb.String())
	}
	return it.out.String()
}

func (s *svcEnv) post(path string, in any, out any) int {
	s.t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(s.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (s *svcEnv) loginStatus(id string) string {
	s.t.Helper()
	resp, err := http.Get(s.url + "/api/v1/logins/" + id)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st protocol.LoginStatus
	json.NewDecoder(resp.Body).Decode(&st)
	return st.Status
}

// enroll runs users add, feeding the code from the outbox; before is
// called once the code was sent (to kill and restart the service).
func (s *svcEnv) enroll(username, password, pin string, msgs int, before func()) string {
	s.t.Helper()
	it := s.startCmd("--vault", s.vault, "users", "add", "--service", s.url, "--username", username)
	it.write(password + "\n")
	code := s.code(msgs)
	if before != nil {
		// The outbox gets the code before the service answers: wait for
		// the answer to reach the command, so that the restart comes
		// after it and does not cut it off.
		it.waitStderr(s.t, "activation code sent")
		before()
	}
	it.write(code + "\n" + pin + "\n" + pin + "\n")
	out := it.wait(s.t)
	return code + "|" + out
}

func TestServiceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	const password, pin = "tr0ub4dor&3", "2468"
	s.must(password+"\n", "admin", "useradd", "--db", s.db, "--username", "alice", "--phone", "+15550001234")
	s.start()

	// Enrollment, with the service killed and restarted after the code was
	// sent: the enrollment survives.
	res := s.enroll("alice", password, pin, 1, func() {
		s.kill()
		s.start()
	})
	code, out, _ := strings.Cut(res, "|")
	if !strings.HasPrefix(out, "alice\tU") {
		t.Fatalf("users add printed %q", out)
	}
	if list := s.must("", "--vault", s.vault, "users", "list"); !strings.HasPrefix(list, "alice\tU") || !strings.Contains(list, s.url) {
		t.Fatalf("users list: %q", list)
	}
	devs := s.must("", "admin", "devices", "--db", s.db, "--username", "alice")
	if strings.Count(devs, "\tactive\t") != 1 {
		t.Fatalf("devices: %q", devs)
	}

	// Challenge/response through `ibkey respond`.
	var l protocol.Login
	if c := s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, &l); c != 201 {
		t.Fatalf("login: %d", c)
	}
	resp := strings.TrimSpace(s.must(pin+"\n", "--vault", s.vault, "respond", "--user", "alice", "--challenge", l.Challenge))
	if len(resp) != 8 {
		t.Fatalf("respond printed %q", resp)
	}
	// The service is killed during the login and restarts: the challenge is
	// still good, and good once.
	s.kill()
	s.start()
	if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": resp}, nil); c != 200 {
		t.Fatalf("response: %d", c)
	}
	if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": resp}, nil); c != 410 {
		t.Fatalf("response again: %d", c)
	}
	s.kill()
	s.start()
	if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": resp}, nil); c != 410 {
		t.Fatalf("response after restart: %d", c)
	}

	// Seamless approval through `ibkey approve`.
	it := s.startCmd("--vault", s.vault, "approve", "--user", "alice", "--timeout", "30s")
	time.Sleep(300 * time.Millisecond)
	if c := s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password, "app": "Client Portal", "browser": "e2e"}, &l); c != 201 || !l.Push {
		t.Fatalf("login: %d %+v", c, l)
	}
	it.write(fmt.Sprintf("%d\n%s\n", l.Number, pin))
	if out := it.wait(t); !strings.HasPrefix(out, "approved\t"+l.ID) {
		t.Fatalf("approve printed %q", out)
	}
	if st := s.loginStatus(l.ID); st != "approved" {
		t.Fatalf("status %s", st)
	}
	// A request already waiting is answered at once; the number as a flag.
	s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, &l)
	if out := s.must(pin+"\n", "--vault", s.vault, "approve", "--user", "alice", "--number", fmt.Sprint(l.Number), "--timeout", "10s"); !strings.HasPrefix(out, "approved\t"+l.ID) {
		t.Fatalf("approve --number printed %q", out)
	}
	// A wrong PIN gives a wrong approval, refused by the service.
	s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, &l)
	if _, err := s.run("9753\n", "--vault", s.vault, "approve", "--user", "alice", "--number", fmt.Sprint(l.Number), "--timeout", "10s"); err == nil || !strings.Contains(err.Error(), "invalid_response") {
		t.Fatalf("approve with a wrong PIN: %v", err)
	}
	if st := s.loginStatus(l.ID); st != "failed" {
		t.Fatalf("status after a wrong PIN: %s", st)
	}
	// Deny as fraud.
	it = s.startCmd("--vault", s.vault, "approve", "--user", "alice", "--deny", "--reason", "fraud", "--timeout", "30s")
	time.Sleep(300 * time.Millisecond)
	s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, &l)
	if out := it.wait(t); !strings.HasPrefix(out, "denied\t"+l.ID) {
		t.Fatalf("deny printed %q", out)
	}
	if fr := s.must("", "admin", "fraud-reports", "--db", s.db); !strings.Contains(fr, l.ID) {
		t.Fatalf("fraud reports: %q", fr)
	}

	// Lockout and admin unlock: 5 wrong responses.
	for i := 0; i < 5; i++ {
		s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, &l)
		s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": "00000000"}, nil)
	}
	if c := s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, nil); c != 423 {
		t.Fatalf("locked: %d", c)
	}
	s.must("", "admin", "unlock", "--db", s.db, "--username", "alice")

	// Temporary password, read with `ibkey inbox`.
	s.must("", "admin", "temp-password", "--db", s.db, "--username", "alice")
	box := s.must(pin+"\n", "--vault", s.vault, "inbox", "--user", "alice")
	kind, temp, ok := strings.Cut(strings.TrimSpace(box), "\t")
	if !ok || kind != "temp_password" || len(temp) < 10 {
		t.Fatalf("inbox printed %q", box)
	}
	if c := s.post("/api/v1/logins", map[string]string{"username": "alice", "password": temp}, &l); c != 201 {
		t.Fatalf("login with the temporary password: %d", c)
	}
	resp2 := strings.TrimSpace(s.must(pin+"\n", "--vault", s.vault, "respond", "--user", "alice", "--challenge", l.Challenge))
	s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": resp2}, nil)
	if c := s.post("/api/v1/logins/"+l.ID+"/password", map[string]string{"password": "a new password"}, nil); c != 200 {
		t.Fatalf("password change: %d", c)
	}

	// A second device retires the first.
	vault2 := s.vault
	s.vault = filepath.Join(s.dir, "vault2")
	s.enroll("alice", "a new password", "1357", 2, nil)
	it = s.startCmd("--vault", vault2, "approve", "--user", "alice", "--timeout", "5s")
	it.write("\n")
	select {
	case err := <-it.done:
		if err == nil || !strings.Contains(it.errb.String(), "device_retired") {
			t.Fatalf("old device: %v %s", err, it.errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("old device still listening")
	}

	// Graceful shutdown on SIGTERM.
	s.serve.Process.Signal(syscall.SIGTERM)
	werr := make(chan error, 1)
	go func() { werr <- s.serve.Wait() }()
	select {
	case err := <-werr:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	s.serve = nil

	// Nothing secret in any log: passwords, PINs, the activation code, the
	// responses, the temporary password, the keys of the service.
	logs := s.logs.String()
	if !strings.Contains(logs, "route=") {
		t.Fatalf("no request log: %s", logs)
	}
	secrets := map[string]string{"password": password, "new password": "a new password", "code": code, "response": resp, "response 2": resp2, "temporary password": temp}
	st, _, err := sqlite.OpenKeyFile(s.db, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, _ := core.ListDevices(context.Background(), st, "")
	for i, d := range ds {
		secrets[fmt.Sprint("secret ", i)] = hex.EncodeToString(d.Secret)
		secrets[fmt.Sprint("secret b64 ", i)] = base64.StdEncoding.EncodeToString(d.Secret)
	}
	st.View(context.Background(), func(tx store.Tx) error {
		seed, _ := tx.Meta("service_key")
		secrets["service key"] = hex.EncodeToString(seed)
		secrets["service key b64"] = base64.StdEncoding.EncodeToString(seed)
		return nil
	})
	for what, v := range secrets {
		if v != "" && strings.Contains(logs, v) {
			t.Errorf("the log holds the %s", what)
		}
	}
	// The audit log: one JSON object a line, alice's events, no secret.
	audit := s.must("", "admin", "audit", "--db", s.db, "--user", "ALICE", "--since", "1h")
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(audit), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["username"] != "alice" || m["time"] == "" {
			t.Fatalf("audit line %q: %v", line, err)
		}
		events[m["event"]]++
	}
	for _, ev := range []string{"account.created", "code.sent", "device.confirmed", "login.approved", "login.denied", "login.failed", "account.locked", "account.unlocked", "temp_password.issued", "temp_password.delivered", "password.changed", "device.retired"} {
		if events[ev] == 0 {
			t.Errorf("no %s in the audit log: %v", ev, events)
		}
	}
	for what, v := range secrets {
		if v != "" && strings.Contains(audit, v) {
			t.Errorf("the audit log holds the %s", what)
		}
	}
	if strings.Contains(audit, `"`+pin+`"`) { // as a value (ids may hold its digits)
		t.Errorf("the audit log holds the PIN %s", pin)
	}
	if out := s.must("", "admin", "audit", "--db", s.db, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); out != "" {
		t.Errorf("audit --since in an hour: %q", out)
	}
	// Nor the database's files: the secrets are sealed under the key file.
	raw := map[string][]byte{}
	for _, d := range ds {
		raw["secret of "+d.ID] = d.Secret
	}
	st.View(context.Background(), func(tx store.Tx) error {
		raw["service key"], _ = tx.Meta("service_key")
		return nil
	})
	for _, f := range []string{s.db, s.db + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for what, v := range raw {
			if len(v) == 0 {
				t.Fatalf("no %s", what)
			}
			for _, form := range [][]byte{v, []byte(hex.EncodeToString(v)), []byte(base64.StdEncoding.EncodeToString(v))} {
				if bytes.Contains(data, form) {
					t.Errorf("%s holds the %s", filepath.Base(f), what)
				}
			}
		}
	}
	for _, p := range []string{"pin=" + pin, pin + "\n"} {
		if strings.Contains(logs, p) {
			t.Error("the log holds the PIN")
		}
	}
}

func TestServiceCommandErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	db := filepath.Join(t.TempDir(), "x.db")
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"serve"}},
		{"", []string{"serve", "--db", db, "--lockout", "101"}},
		{"password1\n", []string{"admin", "useradd", "--db", db, "--username", "bob", "--phone", "5550001"}},
		{"password1\n", []string{"admin", "useradd", "--db", db, "--username", "b b", "--phone", "+15550001234"}},
		{"short\n", []string{"admin", "useradd", "--db", db, "--username", "bob", "--phone", "+15550001234"}},
		{"", []string{"admin", "unlock", "--db", db, "--username", "nobody"}},
		{"", []string{"admin", "temp-password", "--db", db, "--username", "nobody"}},
		{"", []string{"admin", "frobnicate", "--db", db}},
		{"", []string{"--vault", t.TempDir(), "users", "add", "--service", "ftp://x", "--username", "u"}},
		{"", []string{"--vault", t.TempDir(), "approve", "--user", "nobody"}},
		{"", []string{"--vault", t.TempDir(), "inbox", "--user", "nobody"}},
	} {
		r := runIbkey(t, c.stdin, []string{secretsEnv + "=file"}, c.args...)
		wantFailure(t, r, c.args)
	}
	r := runIbkey(t, "password1\n", nil, "admin", "useradd", "--db", db, "--username", "bob", "--phone", "+15550001234")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "bob\tU") {
		t.Fatalf("useradd: %+v", r)
	}
	r = runIbkey(t, "password1\n", nil, "admin", "useradd", "--db", db, "--username", "bob", "--phone", "+15550001234")
	wantFailure(t, r, []string{"useradd twice"})
	r = runIbkey(t, "", nil, "admin", "devices", "--db", db)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("devices: %+v", r)
	}
}

// TestServiceKeyFile: the master key file is made beside the database on
// the first start; a copy of the database alone, or a wrong key file, is a
// one-line error that changes nothing; --key-file and IBKEY_SERVICE_KEY_FILE
// name the key file.
func TestServiceKeyFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "svc.db")
	keyFile := db + ".key"
	r := runIbkey(t, "password1\n", nil, "admin", "useradd", "--db", db, "--username", "bob", "--phone", "+15550001234")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "bob\tU") || !strings.Contains(r.stderr, "made the service's master key "+keyFile) {
		t.Fatalf("useradd: %+v", r)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Size() != 32 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	key, _ := os.ReadFile(keyFile)
	if strings.Contains(r.stderr, hex.EncodeToString(key)) || strings.Contains(r.stderr, base64.StdEncoding.EncodeToString(key)) {
		t.Fatal("the key is on stderr")
	}
	if r := runIbkey(t, "", nil, "admin", "devices", "--db", db); r.code != 0 || r.stderr != "" {
		t.Fatalf("devices: %+v", r)
	}

	// A copy of the database alone.
	cp := filepath.Join(t.TempDir(), "copy.db")
	data, _ := os.ReadFile(db)
	os.WriteFile(cp, data, 0o600)
	sum := func(p string) string { b, _ := os.ReadFile(p); return hex.EncodeToString(b) }
	before, beforeCopy := sum(db), sum(cp)
	wrong := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrong, bytes.Repeat([]byte{1}, 32), 0o600)
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"admin", "devices", "--db", cp}, "ibkey: store: the key file does not open this database (" + cp + ".key is missing)\n"},
		{nil, []string{"admin", "unlock", "--db", db, "--username", "bob", "--key-file", wrong}, "ibkey: store: the key file does not open this database (" + wrong + ")\n"},
		{[]string{"IBKEY_SERVICE_KEY_FILE=" + wrong}, []string{"admin", "devices", "--db", db}, "ibkey: store: the key file does not open this database (" + wrong + ")\n"},
		{nil, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--outbox", filepath.Join(dir, "o.jsonl"), "--key-file", wrong}, "ibkey: store: the key file does not open this database (" + wrong + ")\n"},
	} {
		r := runIbkey(t, "", c.env, c.args...)
		wantFailure(t, r, c.args)
		if r.stderr != c.want {
			t.Errorf("ibkey %s: stderr %q, want %q", strings.Join(c.args, " "), r.stderr, c.want)
		}
	}
	if _, err := os.Stat(cp + ".key"); err == nil {
		t.Error("a key file was made for the copy")
	}
	if sum(db) != before || sum(cp) != beforeCopy {
		t.Error("a refused open changed the database")
	}
	// With its key file named, by flag or by the environment, the copy opens.
	if r := runIbkey(t, "", nil, "admin", "unlock", "--db", cp, "--username", "bob", "--key-file", keyFile); r.code != 0 {
		t.Fatalf("--key-file: %+v", r)
	}
	if r := runIbkey(t, "", []string{"IBKEY_SERVICE_KEY_FILE=" + keyFile}, "admin", "unlock", "--db", cp, "--username", "bob"); r.code != 0 {
		t.Fatalf("IBKEY_SERVICE_KEY_FILE: %+v", r)
	}
}

// users add: the service checks the code before the PIN is asked (as the
// app does), so a wrong code ends the command with the service's word and
// reads no PIN.
func TestUsersAddWrongCodeFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	s.must("password1\n", "admin", "useradd", "--db", s.db, "--username", "dora", "--phone", "+15550001234")
	s.start()
	_, err := s.run("password1\n00000000\n", "--vault", s.vault, "users", "add", "--service", s.url, "--username", "dora")
	if err == nil || !strings.Contains(err.Error(), "invalid_code") {
		t.Fatalf("a wrong code and no PIN: %v, want the service's invalid_code", err)
	}
	if list := s.must("", "--vault", s.vault, "users", "list"); list != "" {
		t.Fatalf("users list after a wrong code: %q", list)
	}
}

func TestServiceCardEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	s.must("password1\n", "admin", "useradd", "--db", s.db, "--username", "carl", "--phone", "+445550001234")
	s.start()
	it := s.startCmd("--vault", s.vault, "users", "add", "--service", s.url, "--username", "carl", "--card", "--channel", "voice")
	it.write("password1\n")
	code := s.code(1)
	it.write(code + "\n4826\n4826\n")
	it.wait(t)
	if list := s.must("", "--vault", s.vault, "users", "list"); !strings.Contains(list, "carl\t") {
		t.Fatalf("users list: %q", list)
	}
	var l protocol.Login
	if c := s.post("/api/v1/logins", map[string]string{"username": "carl", "password": "password1"}, &l); c != 201 || l.Push {
		t.Fatalf("login: %d %+v", c, l)
	}
	bad := strings.TrimSpace(s.must("1397\n", "--vault", s.vault, "respond", "--user", "carl", "--challenge", l.Challenge))
	if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": bad}, nil); c != 403 {
		t.Fatalf("wrong card PIN: %d", c)
	}
	s.post("/api/v1/logins", map[string]string{"username": "carl", "password": "password1"}, &l)
	good := strings.TrimSpace(s.must("4826\n", "--vault", s.vault, "respond", "--user", "carl", "--challenge", l.Challenge))
	if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": good}, nil); c != 200 {
		t.Fatalf("card response: %d", c)
	}
}
