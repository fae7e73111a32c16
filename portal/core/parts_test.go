package core_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ibkey/portal/core"
	"ibkey/portal/store"
)

// TestOutbox: the built-in gateway appends one JSON line a message to a
// file only its owner reads, and lists the messages of the file's last
// MiB, oldest first.
func TestOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	o := core.NewOutbox(path)
	if ms, err := o.Messages(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("no file: %v %v", ms, err)
	}
	for i := range 3 {
		if err := o.Send(ctx, core.Message{Time: t0, Channel: "sms", To: "+15550001234", Code: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); len(lines) != 3 || !json.Valid([]byte(lines[2])) {
		t.Fatalf("file %q", b)
	}
	ms, err := o.Messages(ctx)
	if err != nil || len(ms) != 3 || ms[0].Code != "0" || ms[2].Code != "2" || !ms[0].Time.Equal(t0) {
		t.Fatalf("messages %+v %v", ms, err)
	}
	// Past 1 MiB only the end is read, from its first whole line.
	big := strings.Repeat("x", 1000)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for i := range 1099 {
		enc.Encode(core.Message{Channel: "sms", Code: fmt.Sprint(3 + i), Text: big})
	}
	f.Close()
	if err := o.Send(ctx, core.Message{Channel: "sms", Code: "1102", Text: big}); err != nil {
		t.Fatal(err)
	}
	ms, err = o.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(path)
	line := int(fi.Size()) / (1100 + 3) // about
	if len(ms) < (1<<20)/line-2 || len(ms) > (1<<20)/line+1 || ms[len(ms)-1].Code != "1102" {
		t.Fatalf("%d messages read of the last MiB (lines of about %d bytes), the last %q", len(ms), line, ms[len(ms)-1].Code)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Code != fmt.Sprint(mustAtoi(t, ms[i-1].Code)+1) {
			t.Fatalf("message %d: %q after %q", i, ms[i].Code, ms[i-1].Code)
		}
	}
	// A MiB that begins with a line: that line is read too. Lines of
	// 1024 bytes, 1030 of them: the last MiB is the last 1024 lines.
	aligned := filepath.Join(t.TempDir(), "aligned.jsonl")
	var buf bytes.Buffer
	for i := range 1030 {
		m, _ := json.Marshal(core.Message{Code: fmt.Sprintf("%04d", i)})
		buf.Write(m)
		buf.WriteString(strings.Repeat(" ", 1023-len(m))) // JSON takes spaces after a value
		buf.WriteByte('\n')
	}
	if buf.Len() != 1030*1024 {
		t.Fatalf("%d bytes", buf.Len())
	}
	if err := os.WriteFile(aligned, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ms, err = core.NewOutbox(aligned).Messages(ctx)
	if err != nil || len(ms) != 1024 || ms[0].Code != "0006" || ms[1023].Code != "1029" {
		t.Fatalf("the last MiB of whole lines: %d messages %v, from %q", len(ms), err, ms[0].Code)
	}
	// A file that cannot be written or read: an error, not a panic.
	bad := core.NewOutbox(filepath.Join(t.TempDir(), "no", "such", "dir"))
	if err := bad.Send(ctx, core.Message{}); err == nil {
		t.Fatal("sent to a missing directory")
	}
	dir := core.NewOutbox(t.TempDir())
	if _, err := dir.Messages(ctx); err == nil {
		t.Fatal("read a directory")
	}
	// The service lists what its gateway sent, when the gateway lists.
	e := newEnv(t, func(c *core.Config) { c.Gateway = o })
	if ms, err := e.svc.Outbox(ctx); err != nil || len(ms) == 0 {
		t.Fatalf("the service's outbox: %d %v", len(ms), err)
	}
	if ms, err := newEnv(t).svc.Outbox(ctx); err != nil || ms != nil {
		t.Fatalf("a gateway that does not list: %v %v", ms, err)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+15550001234": "+*******1234",
		"15550001234":  "*******1234",
		"+1234":        "+1234",
		"12345":        "*2345",
		"1234":         "****",
		"":             "",
	} {
		if got := core.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPortalSessions: the portal's sessions in the store: rotated in
// place of the old, touched, saved only while they exist, pruned when idle
// or old, capped per kind.
func TestPortalSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ps := e.svc.PortalSessions()
	key := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	sess := func(i int, loggedIn bool, at time.Time) core.PortalSession {
		return core.PortalSession{Key: key(i), Data: []byte(fmt.Sprint(i)), LoggedIn: loggedIn, Created: at, Seen: at}
	}
	if _, ok, err := ps.Load(ctx, key(1)); ok || err != nil {
		t.Fatalf("none: %v %v", ok, err)
	}
	if err := ps.Rotate(ctx, nil, sess(1, false, t0), 2, t0.Add(-time.Hour), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	v, ok, err := ps.Load(ctx, key(1))
	if !ok || err != nil || string(v.Data) != "1" {
		t.Fatalf("load: %+v %v %v", v, ok, err)
	}
	if err := ps.Touch(ctx, key(1), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := ps.Load(ctx, key(1)); !v.Seen.Equal(t0.Add(time.Minute)) {
		t.Fatalf("seen %v", v.Seen)
	}
	// Rotated: the old key is gone, the new one holds it.
	if err := ps.Rotate(ctx, key(1), sess(2, false, t0), 2, t0.Add(-time.Hour), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ps.Load(ctx, key(1)); ok {
		t.Fatal("the old key after its rotation")
	}
	// Saved while it exists; a gone one stays gone.
	v = sess(2, true, t0)
	v.Data = []byte("two")
	if err := ps.Save(ctx, v); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := ps.Load(ctx, key(2)); string(v.Data) != "two" {
		t.Fatalf("saved %q", v.Data)
	}
	if err := ps.Save(ctx, sess(1, false, t0)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ps.Load(ctx, key(1)); ok {
		t.Fatal("a save brought back a rotated session")
	}
	// A cap of 2 logged-in sessions: the third drops the least recently
	// seen of its kind, none of the other kind.
	if err := ps.Rotate(ctx, nil, sess(3, false, t0), 2, t0.Add(-time.Hour), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ps.Rotate(ctx, nil, sess(4, true, t0.Add(time.Second)), 2, t0.Add(-time.Hour), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ps.Rotate(ctx, nil, sess(5, true, t0.Add(2*time.Second)), 2, t0.Add(-time.Hour), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]bool{2: false, 3: true, 4: true, 5: true} {
		if _, ok, _ := ps.Load(ctx, key(i)); ok != want {
			t.Errorf("session %d kept %v, want %v", i, ok, want)
		}
	}
	// Idle before the cut, or created before the other: pruned.
	if err := ps.Rotate(ctx, nil, sess(6, false, t0.Add(time.Hour)), 10, t0.Add(time.Second), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]bool{3: false, 4: true, 5: true, 6: true} {
		if _, ok, _ := ps.Load(ctx, key(i)); ok != want {
			t.Errorf("after pruning, session %d kept %v, want %v", i, ok, want)
		}
	}
	if err := ps.Delete(ctx, key(6)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ps.Load(ctx, key(6)); ok {
		t.Fatal("deleted session")
	}
	// The portal's secret: 32 bytes, the same every time.
	k1, err := e.svc.PortalKey(ctx)
	if err != nil || len(k1) != 32 {
		t.Fatalf("portal key %d %v", len(k1), err)
	}
	if k2, _ := e.svc.PortalKey(ctx); !bytes.Equal(k1, k2) {
		t.Fatal("the portal key changed")
	}
}

// TestAudit: the audit log reads a page at a time, oldest first, up to a
// limit; its JSON lines name the event and carry no level.
func TestAudit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 2345
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			if err := tx.InsertAudit(store.AuditEvent{Time: t0, Event: "x", Outcome: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read := func(f store.AuditFilter) []string {
		t.Helper()
		var out []string
		if err := core.ReadAudit(ctx, e.st, f, func(a store.AuditEvent) error {
			out = append(out, a.Outcome)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := read(store.AuditFilter{})
	if len(all) != n || all[0] != "0" || all[n-1] != fmt.Sprint(n-1) {
		t.Fatalf("%d records, from %s to %s", len(all), all[0], all[len(all)-1])
	}
	for _, limit := range []int{1, 999, 1000, 1001, 2000, 2345, 5000} {
		got := read(store.AuditFilter{Limit: limit})
		if len(got) != min(limit, n) || got[len(got)-1] != fmt.Sprint(min(limit, n)-1) {
			t.Errorf("limit %d: %d records", limit, len(got))
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := core.ReadAudit(ctx, e.st, store.AuditFilter{}, func(store.AuditEvent) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("a failing callback: %v after %d", err, calls)
	}
	var b bytes.Buffer
	if err := core.LogAudit(ctx, core.AuditHandler(&b), store.AuditEvent{Time: t0, Event: core.AuditLoginApproved, Username: "ann", IP: "192.0.2.1", Detail: map[string]string{"z": "1", "a": "2"}}); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-26T12:00:00Z","event":"login.approved","username":"ann","ip":"192.0.2.1","a":"2","z":"1"}` + "\n"
	if b.String() != want {
		t.Fatalf("audit line\n%s want\n%s", b.String(), want)
	}
}

// TestAdmin: the administrator's functions on a store.
func TestAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.enroll("una")
	e.user("val")
	for _, c := range []struct {
		user, phone, pw string
		want            error
	}{
		{"bad name!", "+15550001234", "password1", core.ErrBadUsername},
		{"wes", "5550001234", "password1", core.ErrBadPhone},
		{"wes", "+15550001234", "1234567", nil},
		{"wes", "+15550001234", strings.Repeat("p", 1025), nil},
	} {
		if _, err := core.CreateAccount(ctx, e.st, rand.Reader, t0, c.user, c.phone, c.pw, fastArgon); err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("CreateAccount(%q, %q, %d bytes): %v", c.user, c.phone, len(c.pw), err)
		}
	}
	if _, err := core.CreateAccount(ctx, e.st, rand.Reader, t0, "wes", "+15550001234", strings.Repeat("p", 1024), fastArgon); err != nil {
		t.Fatalf("a password of 1024: %v", err)
	}
	if _, err := core.CreateAccount(ctx, e.st, rand.Reader, t0, "xia", "+15550001234", "12345678", fastArgon); err != nil {
		t.Fatalf("a password of 8 (NIST SP 800-63B's least): %v", err)
	}
	// A password of 1024 bytes is checked (wes has no device yet).
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "wes", Password: strings.Repeat("p", 1024)}); !errors.Is(err, core.ErrNoDevice) {
		t.Fatalf("a login with a password of 1024: %v", err)
	}
	// Unlock: an unknown user, a locked one, one that was not.
	if err := core.UnlockAccount(ctx, e.st, t0, "nobody"); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("unlock nobody: %v", err)
	}
	if err := core.UnlockAccount(ctx, e.st, t0, "bad name!"); !errors.Is(err, core.ErrNoUser) {
		t.Fatalf("unlock a bad name: %v", err)
	}
	lock(t, e, "una")
	if err := core.UnlockAccount(ctx, e.st, t0, "UNA"); err != nil {
		t.Fatal(err)
	}
	if err := core.UnlockAccount(ctx, e.st, t0, "val"); err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	core.ReadAudit(ctx, e.st, store.AuditFilter{}, func(a store.AuditEvent) error {
		if a.Event == core.AuditAccountUnlocked {
			outcomes = append(outcomes, a.Username+" "+a.Outcome+" "+a.Detail["failures"])
		}
		return nil
	})
	if strings.Join(outcomes, ",") != "una unlocked 5,val was not locked 0" {
		t.Fatalf("unlocks audited %q", outcomes)
	}
	if _, err := e.svc.StartLogin(ctx, core.LoginRequest{Username: "una", Password: "password1"}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	// Devices of one user, of all, of nobody.
	if ds, err := core.ListDevices(ctx, e.st, "Una"); err != nil || len(ds) != 1 || ds[0].ID != d.auth.DeviceID {
		t.Fatalf("una's devices %+v %v", ds, err)
	}
	if ds, err := core.ListDevices(ctx, e.st, "val"); err != nil || len(ds) != 0 {
		t.Fatalf("val's devices %+v %v", ds, err)
	}
	if ds, err := core.ListDevices(ctx, e.st, ""); err != nil || len(ds) != 1 {
		t.Fatalf("all devices %+v %v", ds, err)
	}
	for _, u := range []string{"nobody", "bad name!"} {
		if _, err := core.ListDevices(ctx, e.st, u); !errors.Is(err, core.ErrNoUser) {
			t.Fatalf("devices of %q: %v", u, err)
		}
	}
	// Fraud reports: a denial as fraud, of one user or of all.
	l := e.login("una")
	if _, err := e.svc.Approve(ctx, core.ApprovalRequest{Device: d.auth, RequestID: l.ID, Deny: "fraud"}); err != nil {
		t.Fatal(err)
	}
	if st, err := e.svc.LoginStatus(ctx, l.ID); err != nil || st.Status != core.StatusDenied {
		t.Fatalf("the login denied as fraud: %+v %v", st, err)
	}
	for u, want := range map[string]int{"": 1, "una": 1, "val": 0} {
		if rs, err := core.FraudReports(ctx, e.st, u); err != nil || len(rs) != want || (want == 1 && rs[0].LoginID != l.ID) {
			t.Errorf("fraud reports of %q: %+v %v", u, rs, err)
		}
	}
	// A temporary password: none for an unknown user or one without a
	// device.
	for u, want := range map[string]error{"nobody": core.ErrNoUser, "bad name!": core.ErrNoUser, "val": core.ErrNoDevice} {
		if _, err := core.IssueTempPassword(ctx, e.st, rand.Reader, t0, u, fastArgon); !errors.Is(err, want) {
			t.Errorf("temp password of %q: %v", u, err)
		}
	}
}

// TestPasswords: the rule for a new password (NIST SP 800-63B 3.1.1.2: at
// least 8 characters; ibkey takes up to 1024) and the hashes it checks.
func TestPasswords(t *testing.T) {
	for _, c := range []struct {
		pw string
		ok bool
	}{
		{"1234567", false}, {"12345678", true}, {strings.Repeat("a", 1024), true}, {strings.Repeat("a", 1025), false},
		{"longusername", false}, {"LongUserName", false}, {"longusername1", true},
	} {
		err := core.CheckNewPassword("longusername", c.pw)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, core.ErrWeakPassword)) {
			t.Errorf("%d bytes %.12q: %v", len(c.pw), c.pw, err)
		}
	}
	def, err := core.HashPassword(rand.Reader, "password1", core.Argon2Params{})
	if err != nil || !strings.HasPrefix(def, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("the default hash %q %v (OWASP: 19 MiB, 2 passes, 1 lane)", def, err)
	}
	h, err := core.HashPassword(rand.Reader, "password1", fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []core.Argon2Params{{Memory: 256*1024 + 1, Time: 1, Threads: 1}, {Memory: 64, Time: 0, Threads: 1}, {Memory: 64, Time: 11, Threads: 1}, {Memory: 64, Time: 1, Threads: 0}, {Memory: 64, Time: 1, Threads: 17}} {
		if _, err := core.HashPassword(rand.Reader, "x", p); err == nil {
			t.Errorf("parameters %+v taken", p)
		}
	}
	if _, err := core.HashPassword(rand.Reader, "x", core.Argon2Params{Memory: 8, Time: 10, Threads: 16}); err != nil {
		t.Errorf("10 passes, 16 lanes refused: %v", err)
	}
	if ok, err := core.CheckPassword(h, "password1"); !ok || err != nil {
		t.Fatalf("right: %v %v", ok, err)
	}
	if ok, err := core.CheckPassword(h, "password2"); ok || err != nil {
		t.Fatalf("wrong: %v %v", ok, err)
	}
	parts := strings.Split(h, "$")
	salt, sum := parts[4], parts[5]
	for _, bad := range []string{
		"", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + sum, "$argon2id$v=18$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + sum, "$argon2id$v=19$m=0,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=262145,t=1,p=1$" + salt + "$" + sum, "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=11,p=1$" + salt + "$" + sum, "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=17$" + salt + "$" + sum, "$argon2id$v=19$m=64,t=1,p=1$!!$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum[:20],
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum + sum + sum, h + "$",
	} {
		if ok, err := core.CheckPassword(bad, "password1"); ok || err == nil {
			t.Errorf("CheckPassword(%q): %v %v", bad, ok, err)
		}
	}
	// 256 MiB is taken: the salt is drawn (and fails here) rather than the
	// parameters refused, without the cost of hashing with 256 MiB.
	if _, err := core.HashPassword(failReader{}, "x", core.Argon2Params{Memory: 256 * 1024, Time: 1, Threads: 1}); err == nil || !strings.Contains(err.Error(), "random") {
		t.Errorf("256 MiB: %v, want the random source's failure", err)
	}
	// The edges of the caps are taken: 16 threads, 10 passes, a hash of
	// 16 and of 64 bytes.
	for _, good := range []string{
		"$argon2id$v=19$m=8,t=10,p=16$" + salt + "$" + sum,
		"$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + sum[:22],
		"$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + strings.Repeat("A", 86),
	} {
		if _, err := core.CheckPassword(good, "password1"); err != nil {
			t.Errorf("CheckPassword(%q): %v", good, err)
		}
	}
}

// TestErrors: each typed error says what it is and unwraps to its
// sentinel.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		err      error
		sentinel error
		text     string
	}{
		{&core.InputError{Msg: "x"}, core.ErrBadRequest, "core: bad request: x"},
		{&core.LockedError{Until: t0}, core.ErrLocked, "core: account locked until 2026-11-26T12:00:00Z"},
		{&core.LockedError{Hard: true}, core.ErrLocked, "core: account locked until an administrator unlocks it"},
		{&core.LockedError{}, core.ErrLocked, "core: account locked until an administrator unlocks it"},
		{&core.RateLimitError{Limit: "ip"}, core.ErrRateLimited, "core: too many requests (ip)"},
		{&core.BadResponseError{AttemptsLeft: 3}, core.ErrBadResponse, "core: wrong response, 3 attempts left"},
		{&core.BadCodeError{AttemptsLeft: 2}, core.ErrBadCode, "core: wrong activation code, 2 attempts left"},
		{&core.NotFoundError{What: "login"}, core.ErrNotFound, "core: no such login"},
		{&core.KeyMismatchError{}, core.ErrKeyMismatch, core.ErrKeyMismatch.Error()},
		{&core.PasswordError{Reason: "r"}, core.ErrWeakPassword, "core: password refused: r"},
		{&core.GatewayError{Err: errors.New("down")}, core.ErrGateway, "core: the code could not be sent: down"},
	} {
		if c.err.Error() != c.text || !errors.Is(c.err, c.sentinel) {
			t.Errorf("%T: %q, want %q and %v", c.err, c.err.Error(), c.text, c.sentinel)
		}
	}
}

// TestNew: a service's defaults (docs/PROTOCOL.md: a long-poll waits 30 s
// at most; a login's challenge lives 3 minutes) and its identity, kept in
// the store across restarts.
func TestNew(t *testing.T) {
	ctx := context.Background()
	if _, err := core.New(ctx, core.Config{}); err == nil {
		t.Fatal("a service without a store")
	}
	e := newEnv(t)
	if e.svc.MaxWait() != 30*time.Second || e.svc.Limits().ChallengeTTL != challengeTTL || e.svc.Store() != e.st || e.svc.Log() == nil || !e.svc.Now().Equal(t0) {
		t.Fatalf("defaults: %v %+v", e.svc.MaxWait(), e.svc.Limits())
	}
	if got := strings.Join(e.svc.Suites(), " "); got != "OCRA-1:HOTP-SHA256-8:QN06 OCRA-1:HOTP-SHA256-8:QN06-PSHA1 OCRA-1:HOTP-SHA256-8:QH40-S032" {
		t.Fatalf("suites %s", got)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(e.svc.PrivateKeySeed()).Public().(ed25519.PublicKey), e.svc.PublicKey()) {
		t.Fatal("the seed is not the identity's")
	}
	// The randomness is the config's: two services on one seed draw the
	// same identity and the same logins.
	e2 := newEnv(t)
	if !bytes.Equal(e2.svc.PublicKey(), e.svc.PublicKey()) {
		t.Fatal("two services on one seed: two identities")
	}
	e.enroll("amy")
	e2.enroll("amy")
	if l1, l2 := e.login("amy"), e2.login("amy"); l1.ID != l2.ID || l1.Challenge != l2.Challenge {
		t.Fatalf("two services on one seed: %+v, %+v", l1, l2)
	}
	// New passwords are hashed with the config's Argon2id parameters.
	if err := e.svc.ChangePassword(ctx, core.ChangePasswordRequest{Username: "amy", Password: "a new password"}); err != nil {
		t.Fatal(err)
	}
	if s := e.snapshot([]string{"amy"}, nil); !strings.Contains(s, `"$argon2id$v=19$m=64,t=1,p=1$`) {
		t.Fatalf("the new password's hash:\n%s", s)
	}
	// A second service on the same store has the same identity.
	log := slog.New(slog.DiscardHandler)
	again, err := core.New(ctx, core.Config{Store: e.st, Argon2: fastArgon, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !bytes.Equal(again.PublicKey(), e.svc.PublicKey()) {
		t.Fatal("a new identity on the same store")
	}
	if again.MaxWait() != 30*time.Second || again.Log() != log {
		t.Fatalf("MaxWait %v", again.MaxWait())
	}
	// A damaged identity is an error, not another identity.
	if err := e.st.Update(ctx, func(tx store.Tx) error { return tx.PutMeta("service_key", []byte("short")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ServiceKey(ctx, e.st, rand.Reader); err == nil {
		t.Fatal("a damaged service key taken")
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }
