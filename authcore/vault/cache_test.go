package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/internal/storagetest"
)

// names returns the names of v's users, or fails.
func names(t *testing.T, v *Vault) []string {
	t.Helper()
	users, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users {
		out = append(out, u.Name)
	}
	return out
}

// TestCacheSeesOtherHandle: what a second Vault on the same folder writes
// is seen by the first at its next call, whether the first read the file
// just after a write (then it compares the bytes) or long after (then it
// trusts the file's stamp until that changes).
func TestCacheSeesOtherHandle(t *testing.T) {
	t.Parallel()
	for _, settled := range []bool{false, true} {
		t.Run(fmt.Sprint("settled=", settled), func(t *testing.T) {
			t.Parallel()
			a, store, _ := newTest(t)
			if settled {
				a.clock = func() time.Time { return time.Now().Add(time.Minute) }
			}
			b := openTest(t, a.dir, store, nil)
			mustAdd(t, a, pinUser("alice", "2468", secret32(1)))
			if got := names(t, a); !slices.Equal(got, []string{"alice"}) {
				t.Fatalf("a lists %q", got)
			}
			mustAdd(t, b, pinUser("bob", "1357", secret32(2)))
			if u, err := a.User("bob"); err != nil || u.Account != "bob-acct" {
				t.Fatalf("a.User(bob) after b added it: %+v, %v", u, err)
			}
			if err := b.Rename("alice", "carol"); err != nil {
				t.Fatal(err)
			}
			if _, err := a.User("alice"); !errors.Is(err, ErrNoUser) {
				t.Fatalf("a.User(alice) after b renamed her: %v, want ErrNoUser", err)
			}
			if got := names(t, a); !slices.Equal(got, []string{"bob", "carol"}) {
				t.Fatalf("a lists %q, want bob, carol", got)
			}
			if err := b.Remove("bob"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.Keys("bob"); !errors.Is(err, ErrNoUser) {
				t.Fatalf("a.Keys(bob) after b removed him: %v, want ErrNoUser", err)
			}
			// And a's own write keeps b's changes.
			mustAdd(t, a, pinUser("dave", "2468", secret32(4)))
			if got := names(t, b); !slices.Equal(got, []string{"carol", "dave"}) {
				t.Fatalf("b lists %q, want carol, dave", got)
			}
		})
	}
}

// TestCacheChild is the child of TestCacheSeesOtherProcess: it adds the
// user named in the environment to the vault there.
func TestCacheChild(t *testing.T) {
	dir := os.Getenv("IBKEY_VAULT_CACHE_DIR")
	if dir == "" {
		t.Skip("run by TestCacheSeesOtherProcess")
	}
	v := openTest(t, filepath.Join(dir, "vault"), dirStore(filepath.Join(dir, "store")), nil)
	mustAdd(t, v, pinUser(os.Getenv("IBKEY_VAULT_CACHE_USER"), "2468", secret32(9)))
}

// TestCacheSeesOtherProcess: a user added by another process (the command
// line while the app runs) is seen by a vault that has read the file
// before, just after its own write and long after.
func TestCacheSeesOtherProcess(t *testing.T) {
	if os.Getenv("IBKEY_VAULT_CACHE_DIR") != "" {
		t.Skip("in the child")
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no child processes on " + runtime.GOOS)
	}
	t.Parallel()
	dir := t.TempDir()
	v := openTest(t, filepath.Join(dir, "vault"), dirStore(filepath.Join(dir, "store")), nil)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	for i, clock := range []func() time.Time{time.Now, func() time.Time { return time.Now().Add(time.Minute) }} {
		v.clock = clock
		if _, err := v.List(); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("child%d", i)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "IBKEY_VAULT_CACHE_DIR="+dir, "IBKEY_VAULT_CACHE_USER="+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if _, err := v.User(name); err != nil {
			t.Fatalf("User(%s) after the child added it: %v", name, err)
		}
	}
}

// TestCacheReadsOnce: once the file has settled, reading a user costs the
// same with 50 users as with 1: the file is not read and decoded again
// while it does not change.
func TestCacheReadsOnce(t *testing.T) {
	allocs := func(n int) float64 {
		v, _, _ := newTest(t)
		for i := range n {
			mustAdd(t, v, pinUser(fmt.Sprintf("user%03d", i), "2468", secret32(byte(i))))
		}
		v.clock = func() time.Time { return time.Now().Add(time.Minute) }
		return testing.AllocsPerRun(20, func() {
			if _, err := v.User("user000"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := v.Keys("user000"); err != nil {
				t.Fatal(err)
			}
		})
	}
	one, fifty := allocs(1), allocs(50)
	if fifty > one+1 {
		t.Fatalf("User and Keys allocate %.0f times with 50 users, %.0f with 1: the file is decoded on every call", fifty, one)
	}
}

// TestCacheKept: a write that fails, and changes made to what the vault
// returns, leave the cache as the file is.
func TestCacheKept(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	v.clock = func() time.Time { return time.Now().Add(time.Minute) }
	u := pinUser("alice", "2468", secret32(1))
	u.ServiceKey = make([]byte, 32)
	mustAdd(t, v, u)
	mustAdd(t, v, pinUser("bob", "2468", secret32(2)))
	if err := v.Rename("alice", "bob"); !errors.Is(err, ErrExists) {
		t.Fatalf("Rename onto bob: %v, want ErrExists", err)
	}
	if err := v.Add(pinUser("carol", "12", secret32(3)), rand.Reader, testNow); !errors.Is(err, ErrBadPIN) {
		t.Fatalf("Add with a short PIN: %v", err)
	}
	if got := names(t, v); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("after failed writes: %q, want alice, bob", got)
	}
	a, _ := v.User("alice")
	a.ServiceKey[0] = 1
	v.Users()[0].ServiceKey[1] = 1
	if a, _ := v.User("alice"); a.ServiceKey[0] != 0 || a.ServiceKey[1] != 0 {
		t.Fatal("changing a returned user changed the vault")
	}
	nv := openTest(t, v.dir, v.secrets, nil)
	if got := names(t, nv); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("the file holds %q, want alice, bob", got)
	}
}

// TestOpenStorage: a vault over another storage than a folder (the
// browser's) works the same, and reads its file only when the storage's
// stamp says it changed.
func TestOpenStorage(t *testing.T) {
	t.Parallel()
	st, store := storagetest.NewMemory(), newMemStore()
	if _, err := OpenStorage(nil, store, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("OpenStorage(nil): %v, want ErrInvalid", err)
	}
	v, err := OpenStorage(st, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.kdf = testKDF
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	before := st.Reads()
	for range 10 {
		if _, err := v.User("alice"); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.Reads() - before; n > 1 {
		t.Errorf("10 reads of a user read the file %d times, want at most once", n)
	}
	if got := respond(t, v, "alice", Unlock{PIN: "2468"}, "123456"); got != want(t, suiteIB, secret32(1), ocra.Input{Challenge: "123456"}) {
		t.Errorf("response %s", got)
	}
	w, err := OpenStorage(st, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.kdf = testKDF
	mustAdd(t, w, pinUser("bob", "2468", secret32(2)))
	if got := names(t, v); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("after another handle's write: %q, want alice, bob", got)
	}
	unlock, ok, err := st.TryLock(lockName)
	if err != nil || !ok {
		t.Fatal("lock", ok, err)
	}
	v.lockWait = 50 * time.Millisecond
	if err := v.Rename("alice", "carol"); !errors.Is(err, ErrLocked) {
		t.Errorf("Rename while another holds the lock: %v, want ErrLocked", err)
	}
	unlock()
	if err := v.Rename("alice", "carol"); err != nil {
		t.Fatal(err)
	}
}
