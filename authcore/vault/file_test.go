package vault

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// damagedVault makes a vault with two users and returns it, its store and
// the file's bytes.
func damagedVault(t *testing.T) (*Vault, *memStore, []byte) {
	t.Helper()
	v, store, _ := newTest(t)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	u := pinUser("bob", "", secret32(2))
	u.Card, u.Suite = true, suiteCard
	mustAdd(t, v, u)
	data, err := os.ReadFile(v.path)
	if err != nil {
		t.Fatal(err)
	}
	return v, store, data
}

// checkRefused writes data as the vault file, then checks that Open, List,
// Add and Unlock all fail with an error matching one of wants, and that the
// file still holds data.
func checkRefused(t *testing.T, v *Vault, store *memStore, data []byte, wants ...error) {
	t.Helper()
	if err := os.WriteFile(v.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	is := func(err error) bool {
		for _, w := range wants {
			if errors.Is(err, w) {
				return true
			}
		}
		return false
	}
	if _, err := Open(v.dir, store, nil); !is(err) {
		t.Fatalf("Open: %v, want %v", err, wants)
	}
	if _, err := v.List(); !is(err) {
		t.Fatalf("List: %v, want %v", err, wants)
	}
	if err := v.Add(pinUser("carol", "2468", secret32(3)), rand.Reader, testNow); !is(err) {
		t.Fatalf("Add: %v, want %v", err, wants)
	}
	if _, err := v.Unlock("alice", Unlock{PIN: "2468"}, testNow.Add(time.Hour)); !is(err) {
		t.Fatalf("Unlock: %v, want %v", err, wants)
	}
	if err := v.Remove("alice"); !is(err) {
		t.Fatalf("Remove: %v, want %v", err, wants)
	}
	got, err := os.ReadFile(v.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the refused file was changed")
	}
}

func TestFlippedByte(t *testing.T) {
	t.Parallel()
	v, store, data := damagedVault(t)
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 1 << (i % 8)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			wants := []error{ErrDamaged}
			if i == len(magic) || i == len(magic)+1 { // the version
				wants = append(wants, ErrTooNew)
			}
			checkRefused(t, v, store, bad, wants...)
		})
	}
}

func TestTruncated(t *testing.T) {
	t.Parallel()
	v, store, data := damagedVault(t)
	for n := range len(data) {
		t.Run(fmt.Sprint(n), func(t *testing.T) { checkRefused(t, v, store, data[:n], ErrDamaged) })
	}
	// And a file that grew.
	checkRefused(t, v, store, append(bytes.Clone(data), 0), ErrDamaged)
}

func TestNewerVersion(t *testing.T) {
	t.Parallel()
	v, store, data := damagedVault(t)
	bad := bytes.Clone(data)
	binary.BigEndian.PutUint16(bad[len(magic):], version+1)
	checkRefused(t, v, store, bad, ErrTooNew)
	_, err := Open(v.dir, store, nil)
	if !strings.Contains(err.Error(), "newer version") {
		t.Errorf("message %q does not say why", err)
	}
}

func TestLostKeys(t *testing.T) {
	t.Parallel()
	for _, name := range []string{VaultKeyName, PepperName} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, store, data := damagedVault(t)
			other := newMemStore()
			for k, b := range store.m {
				other.m[k] = b
			}
			// Lost: Open must not make a new key over a vault that exists.
			delete(other.m, name)
			if _, err := Open(v.dir, other, nil); !errors.Is(err, ErrDamaged) {
				t.Errorf("lost %s: %v", name, err)
			}
			if _, ok := other.m[name]; ok {
				t.Errorf("Open made a new %s", name)
			}
			// Replaced.
			other.m[name] = secret32(200)
			if _, err := Open(v.dir, other, nil); !errors.Is(err, ErrDamaged) {
				t.Errorf("replaced %s: %v", name, err)
			}
			if got, _ := os.ReadFile(v.path); !bytes.Equal(got, data) {
				t.Error("file changed")
			}
		})
	}
}

// TestCrashChild is the child of TestCrashSafety: it adds users until it is
// killed, printing "ack NAME" after each Add returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("IBKEY_VAULT_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrashSafety")
	}
	v, err := Open(filepath.Join(dir, "vault"), dirStore(filepath.Join(dir, "store")), nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	v.kdf = testKDF
	prefix := os.Getenv("IBKEY_VAULT_CRASH_PREFIX")
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if err := v.Add(pinUser(name, "2468", secret32(byte(i))), rand.Reader, time.Now()); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println("ack", name)
	}
}

// A child process adding users is killed at random moments, many times;
// afterwards the vault opens and holds every user whose Add returned.
func TestCrashSafety(t *testing.T) {
	if os.Getenv("IBKEY_VAULT_CRASH_DIR") != "" {
		t.Skip("in the child")
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no child processes on " + runtime.GOOS)
	}
	dir := t.TempDir()
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	acked := map[string]bool{}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "IBKEY_VAULT_CRASH_DIR="+dir, fmt.Sprintf("IBKEY_VAULT_CRASH_PREFIX=r%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill at a random moment: sometimes during Open, mostly during
		// the writes that follow.
		kill := time.After(time.Duration(mrand.IntN(300)) * time.Millisecond)
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				if name, ok := strings.CutPrefix(l, "ack "); ok {
					acked[name] = true
				} else if strings.HasPrefix(l, "error") {
					t.Fatalf("round %d: child: %s", round, l)
				}
			case <-kill:
				cmd.Process.Kill() // SIGKILL on Unix
				kill = nil
			}
		}
		cmd.Wait()

		v, err := Open(filepath.Join(dir, "vault"), dirStore(filepath.Join(dir, "store")), nil)
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		have := map[string]bool{}
		for _, u := range v.Users() {
			have[u.Name] = true
		}
		for name := range acked {
			if !have[name] {
				t.Fatalf("round %d: acknowledged user %s lost", round, name)
			}
		}
	}
	t.Logf("%d rounds, %d acknowledged users kept", rounds, len(acked))
	if len(acked) == 0 {
		t.Error("no child ever acknowledged a user: the test proves nothing")
	}
}
