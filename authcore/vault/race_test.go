package vault

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/internal/atomicfile"
)

// The multi-process races: several processes (this test binary run again
// as TestRaceChild) change one vault file at once. The overlap is forced,
// not hoped for: the parent holds the vault's lock while every child
// starts its change, each child says when its change is waiting for the
// lock (so it has read the file and made its seal), and only then does the
// parent let go. Every change thus starts from the same file, and only the
// checks made under the lock keep them apart.

// raceOp is one change a child makes.
type raceOp struct {
	Dir, Store string // the vault's folder and its SecretStore's
	Op         string // add, remove, rename, changepin
	A, B, C    string // name, new name or old PIN, new PIN
	Seed       byte   // the secret of an add: secret32(Seed)
}

// lockSignal is the vault's folder; the first time the change finds the
// lock taken (armed), it calls waiting.
type lockSignal struct {
	*atomicfile.Dir
	mu      sync.Mutex
	armed   bool
	waiting func()
}

func (s *lockSignal) TryLock(name string) (func(), bool, error) {
	unlock, ok, err := s.Dir.TryLock(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && !ok && s.armed {
		s.armed = false
		s.waiting()
	}
	return unlock, ok, err
}

// TestRaceChild is one process of the races below; it runs only in a child.
func TestRaceChild(t *testing.T) {
	spec := os.Getenv("IBKEY_VAULT_RACE")
	if spec == "" {
		t.Skip("run by the race tests in a child process")
	}
	var op raceOp
	if err := json.Unmarshal([]byte(spec), &op); err != nil {
		t.Fatal(err)
	}
	out := os.Stdout
	d, err := atomicfile.OpenDir(op.Dir)
	if err != nil {
		t.Fatal(err)
	}
	st := &lockSignal{Dir: d, waiting: func() { fmt.Fprintln(out, "waiting") }}
	v, err := open(st, d.Path(), dirStore(op.Store), nil)
	if err != nil {
		t.Fatal(err)
	}
	v.kdf, v.lockWait = testKDF, 2*time.Minute
	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.armed = true
	st.mu.Unlock()
	switch op.Op {
	case "add":
		err = v.Add(pinUser(op.A, op.C, secret32(op.Seed)), rand.Reader, testNow)
	case "remove":
		err = v.Remove(op.A)
	case "rename":
		err = v.Rename(op.A, op.B)
	case "changepin":
		err = v.ChangePIN(op.A, op.B, op.C, rand.Reader)
	default:
		t.Fatalf("unknown op %q", op.Op)
	}
	switch {
	case err == nil:
		fmt.Fprintln(out, "result ok")
	case errors.Is(err, ErrExists):
		fmt.Fprintln(out, "result exists")
	case errors.Is(err, ErrNoUser):
		fmt.Fprintln(out, "result nouser")
	case strings.Contains(err.Error(), "changed meanwhile"):
		fmt.Fprintln(out, "result changed")
	default:
		fmt.Fprintln(out, "result error:", err)
	}
}

// race runs ops at once, one process each, on the vault in dir, and
// returns each one's result: ok, exists, nouser, changed or error: ....
func race(t *testing.T, dir, store string, ops []raceOp) []string {
	t.Helper()
	type child struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		lines *bufio.Scanner
	}
	line := func(c child) string {
		if !c.lines.Scan() {
			t.Fatalf("a child ended early: %v", c.lines.Err())
		}
		return c.lines.Text()
	}
	children := make([]child, len(ops))
	for i, op := range ops {
		op.Dir, op.Store = dir, store
		spec, _ := json.Marshal(op)
		cmd := exec.Command(os.Args[0], "-test.run=^TestRaceChild$", "-test.count=1", "-test.v=false")
		cmd.Env = append(os.Environ(), "IBKEY_VAULT_RACE="+string(spec))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		children[i] = child{cmd, in, bufio.NewScanner(out)}
	}
	for i, c := range children {
		if l := line(c); l != "ready" {
			t.Fatalf("child %d (%s): %q, want ready", i, ops[i].Op, l)
		}
	}
	// Hold the lock while every child starts its change.
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, ok, err := d.TryLock(lockName)
	if err != nil || !ok {
		t.Fatalf("take the vault's lock: %v %v", ok, err)
	}
	for _, c := range children {
		if _, err := io.WriteString(c.in, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range children {
		if l := line(c); l != "waiting" {
			unlock()
			t.Fatalf("child %d (%s): %q, want it waiting for the lock", i, ops[i].Op, l)
		}
	}
	unlock()
	results := make([]string, len(ops))
	for i, c := range children {
		l := line(c)
		results[i] = strings.TrimPrefix(l, "result ")
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d (%s): %v", i, ops[i].Op, err)
		}
	}
	return results
}

func raceSetup(t *testing.T) (dir, store string, v *Vault) {
	t.Helper()
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no child processes on " + runtime.GOOS)
	}
	if os.Getenv("IBKEY_VAULT_RACE") != "" {
		t.Skip("in a child")
	}
	base := t.TempDir()
	dir, store = filepath.Join(base, "vault"), filepath.Join(base, "store")
	return dir, store, openTest(t, dir, dirStore(store), nil)
}

// reopen reads the vault afresh, as a new process would: the file must
// still be readable.
func reopen(t *testing.T, dir, store string) (*Vault, []User) {
	t.Helper()
	v := openTest(t, dir, dirStore(store), nil)
	users, err := v.List()
	if err != nil {
		t.Fatalf("the vault no longer reads: %v", err)
	}
	return v, users
}

func userNames(users []User) []string {
	var n []string
	for _, u := range users {
		n = append(n, u.Name)
	}
	return n
}

func count(results []string, want string) int {
	n := 0
	for _, r := range results {
		if r == want {
			n++
		}
	}
	return n
}

// TestRaceAddSameName: four processes add "alice" at once. One wins, the
// others are told the name exists, and the file holds one alice: the
// winner's, opened by the winner's PIN.
func TestRaceAddSameName(t *testing.T) {
	t.Parallel()
	dir, store, _ := raceSetup(t)
	pins := []string{"2468", "8531", "9742", "3860"}
	var ops []raceOp
	for i, pin := range pins {
		ops = append(ops, raceOp{Op: "add", A: "alice", C: pin, Seed: byte(10 * (i + 1))})
	}
	res := race(t, dir, store, ops)
	if count(res, "ok") != 1 || count(res, "exists") != 3 {
		t.Fatalf("results %q, want one ok and three exists", res)
	}
	v, users := reopen(t, dir, store)
	if !slices.Equal(userNames(users), []string{"alice"}) {
		t.Fatalf("users %q, want one alice", userNames(users))
	}
	w := slices.Index(res, "ok")
	want := want(t, suiteIB, secret32(ops[w].Seed), ocra.Input{Challenge: "4711"})
	if got := respond(t, v, "alice", Unlock{PIN: pins[w]}, "4711"); got != want {
		t.Errorf("the winner's PIN opens another secret: %s, want %s", got, want)
	}
}

// TestRaceAddMany: processes adding different users at once lose none.
func TestRaceAddMany(t *testing.T) {
	t.Parallel()
	dir, store, v := raceSetup(t)
	mustAdd(t, v, pinUser("zoe", "2468", secret32(1)))
	var ops []raceOp
	for i := range 4 {
		ops = append(ops, raceOp{Op: "add", A: fmt.Sprintf("u%d", i), C: "8531", Seed: byte(i)})
	}
	res := race(t, dir, store, ops)
	if count(res, "ok") != 4 {
		t.Fatalf("results %q, want four ok", res)
	}
	_, users := reopen(t, dir, store)
	if got := userNames(users); !slices.Equal(got, []string{"u0", "u1", "u2", "u3", "zoe"}) {
		t.Errorf("users %q", got)
	}
}

// TestRaceRemoveRename: a remove, two renames to one new name, another
// remove and an add, all at once. Whatever the order, the file reads, no
// name is there twice, each user that stays keeps its own secret (its
// device id), and the users are what the reported results say.
func TestRaceRemoveRename(t *testing.T) {
	t.Parallel()
	dir, store, v := raceSetup(t)
	for i, n := range []string{"bob", "carol", "dave"} {
		mustAdd(t, v, pinUser(n, "2468", secret32(byte(i))))
	}
	res := race(t, dir, store, []raceOp{
		{Op: "remove", A: "bob"},
		{Op: "rename", A: "bob", B: "robert"},
		{Op: "rename", A: "carol", B: "robert"},
		{Op: "remove", A: "dave"},
		{Op: "add", A: "erin", C: "8531", Seed: 9},
	})
	removedBob, renamedBob, renamedCarol := res[0] == "ok", res[1] == "ok", res[2] == "ok"
	if res[3] != "ok" || res[4] != "ok" {
		t.Errorf("remove dave, add erin: %q", res[3:])
	}
	// bob goes one way: removed or renamed (never both, never neither,
	// unless carol took the name first).
	if removedBob == renamedBob {
		t.Errorf("remove bob %s, rename bob %s: exactly one must happen", res[0], res[1])
	}
	if renamedBob && renamedCarol {
		t.Errorf("both renames to robert happened: %q", res)
	}
	_, users := reopen(t, dir, store)
	want := []string{"erin"}
	if !renamedCarol {
		want = append(want, "carol")
	}
	if renamedBob || renamedCarol {
		want = append(want, "robert")
	}
	slices.Sort(want)
	if got := userNames(users); !slices.Equal(got, want) {
		t.Fatalf("results %q: users %q, want %q", res, got, want)
	}
	for _, u := range users {
		wantDev := "dev-" + u.Name
		if u.Name == "robert" {
			wantDev = map[bool]string{true: "dev-bob", false: "dev-carol"}[renamedBob]
		}
		if u.DeviceID != wantDev {
			t.Errorf("%s has device %s, want %s", u.Name, u.DeviceID, wantDev)
		}
	}
}

// TestRaceChangePIN: three processes change alice's PIN from the same PIN
// at once. One wins; the others are told the PIN changed meanwhile (not a
// silent success that the winner's write then undoes), and the winner's
// new PIN opens alice's secret.
func TestRaceChangePIN(t *testing.T) {
	t.Parallel()
	dir, store, v := raceSetup(t)
	secret := secret32(7)
	mustAdd(t, v, pinUser("alice", "2468", secret))
	pins := []string{"8531", "9742", "3860"}
	var ops []raceOp
	for _, p := range pins {
		ops = append(ops, raceOp{Op: "changepin", A: "alice", B: "2468", C: p})
	}
	res := race(t, dir, store, ops)
	if count(res, "ok") != 1 || count(res, "changed") != 2 {
		t.Fatalf("results %q, want one ok and two changed", res)
	}
	v, _ = reopen(t, dir, store)
	want := want(t, suiteIB, secret, ocra.Input{Challenge: "4711"})
	for i, p := range pins {
		got := respond(t, v, "alice", Unlock{PIN: p}, "4711")
		if (got == want) != (res[i] == "ok") {
			t.Errorf("PIN %s (%s) opens the secret: %v", p, res[i], got == want)
		}
	}
	if got := respond(t, v, "alice", Unlock{PIN: "2468"}, "4711"); got == want {
		t.Error("the old PIN still opens the secret")
	}
}

// TestRaceChangePINRename: a PIN change and a rename of the same user at
// once both land: the user is renamed and its new PIN opens its secret.
func TestRaceChangePINRename(t *testing.T) {
	t.Parallel()
	dir, store, v := raceSetup(t)
	secret := secret32(3)
	mustAdd(t, v, pinUser("alice", "2468", secret))
	res := race(t, dir, store, []raceOp{
		{Op: "changepin", A: "alice", B: "2468", C: "8531"},
		{Op: "rename", A: "alice", B: "alicia"},
	})
	if res[0] != "ok" || res[1] != "ok" {
		t.Fatalf("results %q, want both ok", res)
	}
	v, users := reopen(t, dir, store)
	if got := userNames(users); !slices.Equal(got, []string{"alicia"}) {
		t.Fatalf("users %q", got)
	}
	want := want(t, suiteIB, secret, ocra.Input{Challenge: "4711"})
	if got := respond(t, v, "alicia", Unlock{PIN: "8531"}, "4711"); got != want {
		t.Errorf("the new PIN opens another secret: %s, want %s", got, want)
	}
}

// TestRaceChangePINRemove: a PIN change of a user removed meanwhile is
// told so and brings nothing back.
func TestRaceChangePINRemove(t *testing.T) {
	t.Parallel()
	dir, store, v := raceSetup(t)
	mustAdd(t, v, pinUser("alice", "2468", secret32(3)))
	res := race(t, dir, store, []raceOp{
		{Op: "changepin", A: "alice", B: "2468", C: "8531"},
		{Op: "remove", A: "alice"},
	})
	if res[1] != "ok" || (res[0] != "ok" && res[0] != "nouser") {
		t.Fatalf("results %q", res)
	}
	if _, users := reopen(t, dir, store); len(users) != 0 {
		t.Errorf("users %q after the remove", userNames(users))
	}
}
