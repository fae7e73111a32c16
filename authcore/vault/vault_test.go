package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
)

func TestUsersIsolated(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	a, b := secret32(1), secret32(100)
	mustAdd(t, v, pinUser("alice", "2468", a))
	u := pinUser("bob", "2468", b) // the same PIN
	u.ChannelKey, u.DeliveryKey = []byte("bob channel"), secret32(7)
	mustAdd(t, v, u)

	for _, c := range []struct {
		name   string
		secret []byte
	}{{"alice", a}, {"bob", b}} {
		got := respond(t, v, c.name, Unlock{PIN: "2468"}, "123456")
		if w := want(t, suiteIB, c.secret, ocra.Input{Challenge: "123456"}); got != w {
			t.Errorf("%s: response %s, want %s (its own secret)", c.name, got, w)
		}
	}
	if respond(t, v, "alice", Unlock{PIN: "2468"}, "123456") == respond(t, v, "bob", Unlock{PIN: "2468"}, "123456") {
		t.Error("alice and bob give the same response")
	}
	ch, del, err := v.Keys("alice")
	if err != nil || ch != nil || del != nil {
		t.Errorf("alice's keys = %x, %x, %v; want none", ch, del, err)
	}
	ch, del, err = v.Keys("bob")
	if err != nil || string(ch) != "bob channel" || !bytes.Equal(del, secret32(7)) {
		t.Errorf("bob's keys = %q, %x, %v", ch, del, err)
	}

	// The stored seals share nothing: different salts, and removing one
	// user leaves the other working.
	b0, err := v.load()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b0.Users[0].PIN.Salt, b0.Users[1].PIN.Salt) {
		t.Error("two users share a salt")
	}
	if err := v.Remove("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Unlock("alice", Unlock{PIN: "2468"}, testNow); !errors.Is(err, ErrNoUser) {
		t.Errorf("Unlock removed user: %v, want ErrNoUser", err)
	}
	if got, w := respond(t, v, "bob", Unlock{PIN: "2468"}, "654321"), want(t, suiteIB, b, ocra.Input{Challenge: "654321"}); got != w {
		t.Errorf("bob after alice's removal: %s, want %s", got, w)
	}
}

// Every four-digit PIN opens the seal without an error, and only the right
// one gives the right response. With -short (the js/wasm run), every 17th
// PIN and the right one.
func TestAllFourDigitPINs(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	secret := secret32(42)
	const right = "4739"
	mustAdd(t, v, pinUser("alice", right, secret))
	in := ocra.Input{Challenge: "318205"}
	w := want(t, suiteIB, secret, in)
	rightCount, step := 0, 1
	if testing.Short() {
		step = 17
	}
	for i := range 10000 {
		pin := fmt.Sprintf("%04d", i)
		if i%step != 0 && pin != right {
			continue
		}
		s, err := v.Unlock("alice", Unlock{PIN: pin}, testNow)
		if err != nil {
			t.Fatalf("PIN %s: %v", pin, err)
		}
		got, err := s.Respond(in)
		s.Close()
		if err != nil {
			t.Fatalf("PIN %s: Respond: %v", pin, err)
		}
		if got == w {
			rightCount++
			if pin != right {
				// 8 digits: a chance collision has probability 1e-4
				// over the whole run; a systematic one is a bug.
				t.Logf("PIN %s gives the right response by chance", pin)
			}
		} else if pin == right {
			t.Fatalf("the right PIN gives %s, want %s", got, w)
		}
	}
	if rightCount > 2 {
		t.Fatalf("%d PINs give the right response", rightCount)
	}
}

func TestGates(t *testing.T) {
	t.Parallel()
	v, _, bio := newTest(t)
	secret := secret32(9)
	in := ocra.Input{Challenge: "111222"}
	w := want(t, suiteIB, secret, in)

	both := pinUser("both", "9517", secret)
	both.Biometric = true
	mustAdd(t, v, both)
	bioOnly := pinUser("bio", "", secret)
	bioOnly.Biometric = true
	mustAdd(t, v, bioOnly)

	gates := map[string]Gate{}
	for _, u := range v.Users() {
		gates[u.Name] = u.Gate
	}
	if gates["both"] != GatePINBiometric || gates["bio"] != GateBiometric {
		t.Errorf("gates = %v", gates)
	}
	for _, c := range []struct {
		user string
		how  Unlock
	}{{"both", Unlock{PIN: "9517"}}, {"both", Unlock{Biometric: true, Reason: "log in"}}, {"bio", Unlock{Biometric: true}}} {
		if got := respond(t, v, c.user, c.how, in.Challenge); got != w {
			t.Errorf("%s %+v: %s, want %s", c.user, c.how, got, w)
		}
	}
	if _, err := v.Unlock("bio", Unlock{PIN: "9517"}, testNow); !errors.Is(err, ErrNoGate) {
		t.Errorf("PIN on a biometric-only user: %v, want ErrNoGate", err)
	}
	if _, err := v.Unlock("both", Unlock{}, testNow); !errors.Is(err, ErrNoGate) {
		t.Errorf("no gate: %v, want ErrNoGate", err)
	}
	if _, err := v.Unlock("both", Unlock{PIN: "9517", Biometric: true}, testNow); !errors.Is(err, ErrNoGate) {
		t.Errorf("two gates: %v, want ErrNoGate", err)
	}
	failed := errors.New("not recognised")
	bio.mu.Lock()
	bio.fail = failed
	bio.mu.Unlock()
	if _, err := v.Unlock("bio", Unlock{Biometric: true}, testNow); !errors.Is(err, failed) {
		t.Errorf("failed check: %v", err)
	}
	bio.mu.Lock()
	bio.fail = nil
	// A key that the platform replaced (biometrics re-enrolled) does not
	// open the seal: an error, never a wrong secret.
	for k := range bio.keys {
		bio.keys[k] = secret32(0)
	}
	bio.mu.Unlock()
	if _, err := v.Unlock("bio", Unlock{Biometric: true}, testNow); !errors.Is(err, ErrDamaged) {
		t.Errorf("replaced key: %v, want ErrDamaged", err)
	}
	if err := v.Remove("bio"); err != nil {
		t.Fatal(err)
	}
	bio.mu.Lock()
	n := len(bio.keys)
	bio.mu.Unlock()
	if n != 1 {
		t.Errorf("%d biometric keys after removing a user, want 1", n)
	}

	// Without Biometrics, a biometric user cannot be added or unlocked.
	nv := openTest(t, v.dir, v.secrets, nil)
	if err := nv.Add(bioOnly, rand.Reader, testNow); !errors.Is(err, ErrNoBiometrics) {
		t.Errorf("Add without biometrics: %v", err)
	}
	if _, err := nv.Unlock("both", Unlock{Biometric: true}, testNow); !errors.Is(err, ErrNoBiometrics) {
		t.Errorf("Unlock without biometrics: %v", err)
	}
}

func TestCard(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	secret := secret32(77)
	mustAdd(t, v, NewUser{Name: "card", Suite: suiteCard, Secret: secret, Card: true})
	u, err := v.User("card")
	if err != nil || u.Gate != GateCard {
		t.Fatalf("User = %+v, %v", u, err)
	}
	for _, pin := range []string{"1234", "5790"} {
		got := respond(t, v, "card", Unlock{PIN: pin}, "123456")
		if w := want(t, suiteCard, secret, ocra.Input{Challenge: "123456", PIN: pin}); got != w {
			t.Errorf("PIN %s: %s, want %s", pin, got, w)
		}
	}
	if _, err := v.Unlock("card", Unlock{Biometric: true}, testNow); !errors.Is(err, ErrNoGate) {
		t.Errorf("biometric card: %v", err)
	}
	if err := v.ChangePIN("card", "1234", "5790", rand.Reader); !errors.Is(err, ErrNoGate) {
		t.Errorf("ChangePIN on a card: %v", err)
	}
	// The card's secret is sealed under the vault key only: no PIN seal.
	b, _ := v.load()
	if b.Users[0].PIN != nil || !bytes.Equal(b.Users[0].Card, secret) {
		t.Error("card stored with a PIN seal")
	}
}

func TestAddChecks(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	bad := func(f func(u *NewUser)) NewUser { u := pinUser("x", "2468", secret32(2)); f(&u); return u }
	for _, c := range []struct {
		name string
		u    NewUser
		err  error
	}{
		{"duplicate", pinUser("alice", "8642", secret32(2)), ErrExists},
		{"short PIN", bad(func(u *NewUser) { u.PIN = "123" }), ErrBadPIN},
		{"long PIN", bad(func(u *NewUser) { u.PIN = "1234567" }), ErrBadPIN},
		{"space in PIN", bad(func(u *NewUser) { u.PIN = "12 45" }), ErrBadPIN},
		{"blocklisted", bad(func(u *NewUser) { u.PIN = "1234" }), ErrBadPIN},
		{"repeated", bad(func(u *NewUser) { u.PIN = "0000" }), ErrBadPIN},
		{"run down", bad(func(u *NewUser) { u.PIN = "654321" }), ErrBadPIN},
		{"letters run", bad(func(u *NewUser) { u.PIN = "ABCD" }), ErrBadPIN},
		{"no gate", bad(func(u *NewUser) { u.PIN = "" }), ErrNoGate},
		{"empty name", bad(func(u *NewUser) { u.Name = "" }), ErrInvalid},
		{"tab in name", bad(func(u *NewUser) { u.Name = "a\tb" }), ErrInvalid},
		{"newline in account", bad(func(u *NewUser) { u.Account = "a\nb" }), ErrInvalid},
		{"no suite", bad(func(u *NewUser) { u.Suite = ocra.Suite{} }), ErrInvalid},
		{"empty secret", bad(func(u *NewUser) { u.Secret = nil }), ErrInvalid},
		{"huge secret", bad(func(u *NewUser) { u.Secret = make([]byte, 129) }), ErrInvalid},
		{"short service key", bad(func(u *NewUser) { u.ServiceKey = make([]byte, 31) }), ErrInvalid},
		{"short delivery key", bad(func(u *NewUser) { u.DeliveryKey = make([]byte, 16) }), ErrInvalid},
		{"P suite not a card", bad(func(u *NewUser) { u.Suite = suiteCard }), ErrInvalid},
		{"card without P", bad(func(u *NewUser) { u.Card, u.PIN = true, "" }), ErrInvalid},
		{"card with PIN", bad(func(u *NewUser) { u.Card, u.Suite = true, suiteCard }), ErrInvalid},
	} {
		if err := v.Add(c.u, rand.Reader, testNow); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	for _, ok := range []string{"2468", "a1b2", "#x9!", "Zz9_-+"} {
		if err := CheckPIN(ok); err != nil {
			t.Errorf("CheckPIN(%q) = %v", ok, err)
		}
	}
	if n := len(v.Users()); n != 1 {
		t.Errorf("%d users after refused adds, want 1", n)
	}
}

func TestRenameRemoveFields(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	u := pinUser("carol", "2468", secret32(3))
	u.ServiceKey = pub
	mustAdd(t, v, u)
	mustAdd(t, v, pinUser("alice", "2468", secret32(4)))
	if err := v.Rename("carol", "alice"); !errors.Is(err, ErrExists) {
		t.Errorf("rename onto alice: %v", err)
	}
	if err := v.Rename("nobody", "x"); !errors.Is(err, ErrNoUser) {
		t.Errorf("rename nobody: %v", err)
	}
	if err := v.Rename("carol", "zed"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range v.Users() {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"alice", "zed"}) {
		t.Errorf("users = %v", names)
	}
	z, err := v.User("zed")
	if err != nil {
		t.Fatal(err)
	}
	if z.Account != "carol-acct" || z.Service != "https://ib.example" || z.DeviceID != "dev-carol" ||
		!z.ServiceKey.Equal(pub) || z.Suite.String() != suiteIB.String() || !z.Created.Equal(testNow) || !z.LastUsed.IsZero() {
		t.Errorf("zed = %+v", z)
	}
	later := testNow.Add(time.Hour)
	s, err := v.Unlock("zed", Unlock{PIN: "2468"}, later)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Respond(ocra.Input{Challenge: "1234"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Respond after Close: %v", err)
	}
	if z, _ = v.User("zed"); !z.LastUsed.Equal(later) {
		t.Errorf("LastUsed = %v, want %v", z.LastUsed, later)
	}
	if err := v.Remove("zed"); err != nil {
		t.Fatal(err)
	}
	if err := v.Remove("zed"); !errors.Is(err, ErrNoUser) {
		t.Errorf("second remove: %v", err)
	}
	if _, err := v.User("zed"); !errors.Is(err, ErrNoUser) {
		t.Errorf("User after remove: %v", err)
	}
}

func TestChangePIN(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	secret := secret32(5)
	mustAdd(t, v, pinUser("alice", "2468", secret))
	w := want(t, suiteIB, secret, ocra.Input{Challenge: "5555"})
	if err := v.ChangePIN("alice", "2468", "1111", rand.Reader); !errors.Is(err, ErrBadPIN) {
		t.Errorf("blocklisted new PIN: %v", err)
	}
	if err := v.ChangePIN("alice", "2468", "8531", rand.Reader); err != nil {
		t.Fatal(err)
	}
	if got := respond(t, v, "alice", Unlock{PIN: "8531"}, "5555"); got != w {
		t.Errorf("new PIN: %s, want %s", got, w)
	}
	if got := respond(t, v, "alice", Unlock{PIN: "2468"}, "5555"); got == w {
		t.Error("the old PIN still opens the secret")
	}
}

// Several Vaults on one folder (as several processes would be) add users at
// once; none is lost.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	dir, store := filepath.Join(t.TempDir(), "v"), newMemStore()
	openTest(t, dir, store, nil)
	var wg sync.WaitGroup
	for w := range 4 {
		v := openTest(t, dir, store, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				if err := v.Add(pinUser(fmt.Sprintf("w%d-%d", w, i), "2468", secret32(byte(i))), rand.Reader, testNow); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(openTest(t, dir, store, nil).Users()); n != 32 {
		t.Errorf("%d users, want 32", n)
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "deep", "vault")
	v := openTest(t, dir, newMemStore(), nil)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {filepath.Join(dir, FileName), 0o600}, {filepath.Join(dir, lockName), 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.mode {
			t.Errorf("%s: mode %o, want %o", c.path, got, c.mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != FileName && e.Name() != lockName {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func TestKDFCap(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	for _, k := range []KDF{{MaxMemoryKiB + 1, 1, 1}, {8, MaxTime + 1, 1}, {8, 1, 0}, {0, 1, 1}, {8, 1, MaxThreads + 1}} {
		b, err := v.load()
		if err != nil {
			t.Fatal(err)
		}
		b.Users[0].PIN.KDF = k
		data, err := encodeFile(b, v.key, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeFile(data, v.key); !errors.Is(err, ErrDamaged) {
			t.Errorf("KDF %+v: %v, want ErrDamaged", k, err)
		}
	}
}
