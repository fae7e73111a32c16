package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ibkey/internal/atomicfile"
)

// TestUserLimit: the vault reads at most 1000 users (a file with more is
// refused as damaged), so Add takes the 1000th user and refuses the
// 1001st, and the file still reads.
func TestUserLimit(t *testing.T) {
	t.Parallel()
	v, store, _ := newTest(t)
	mustAdd(t, v, pinUser("u0000", "2468", secret32(1)))
	// 998 more at once, as copies of the first under other names.
	err := v.update(func(b *body) error {
		for i := 1; i <= 998; i++ {
			r := b.Users[0]
			r.ID = make([]byte, idSize)
			rand.Read(r.ID)
			r.Name = fmt.Sprintf("u%04d", i)
			b.Users = append(b.Users, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, v, pinUser("u0999", "2468", secret32(2)))
	if err := v.Add(pinUser("u1000", "2468", secret32(3)), rand.Reader, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("the 1001st user: %v, want ErrInvalid", err)
	}
	v2 := openTest(t, v.dir, store, nil)
	users, err := v2.List()
	if err != nil {
		t.Fatalf("the vault with 1000 users no longer reads: %v", err)
	}
	if len(users) != 1000 || users[999].Name != "u0999" {
		t.Errorf("%d users, the last %q", len(users), users[len(users)-1].Name)
	}
	// A file of 1001 users, written by other means, is refused.
	b, err := v2.load()
	if err != nil {
		t.Fatal(err)
	}
	big := &body{PepperID: b.PepperID, Users: append(slices.Clone(b.Users), b.Users[0])}
	big.Users[1000].ID, big.Users[1000].Name = make([]byte, idSize), "u1000"
	data, err := encodeFile(big, v2.key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFile(data, v2.key); !errors.Is(err, ErrDamaged) {
		t.Errorf("a file of 1001 users: %v, want ErrDamaged", err)
	}
}

// TestFieldLimits: each field of a new user at its limit and one past it.
// The PIN rules are the real app's (docs/SECURITY.md: 4 to 6 letters,
// digits or symbols, printable ASCII without space); the other limits are
// the file format's.
func TestFieldLimits(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	with := func(f func(u *NewUser)) NewUser {
		u := pinUser("", "2468", secret32(2)) // a name is given below
		u.ServiceKey, u.DeliveryKey, u.ChannelKey = make([]byte, 32), make([]byte, 32), make([]byte, 32)
		f(&u)
		return u
	}
	long := func(n int) string { return strings.Repeat("n", n) }
	for i, c := range []struct {
		u  NewUser
		ok bool
	}{
		{with(func(u *NewUser) { u.PIN = "2468" }), true},
		{with(func(u *NewUser) { u.PIN = "24681" }), true},
		{with(func(u *NewUser) { u.PIN = "246813" }), true},
		{with(func(u *NewUser) { u.PIN = "246" }), false},
		{with(func(u *NewUser) { u.PIN = "2468135" }), false},
		{with(func(u *NewUser) { u.PIN = "!~2x" }), true},
		{with(func(u *NewUser) { u.PIN = "24 8" }), false},
		{with(func(u *NewUser) { u.PIN = "24\x7f8" }), false},
		{with(func(u *NewUser) { u.PIN = "24\x1f8" }), false},
		{with(func(u *NewUser) { u.PIN = "24\u00e98" }), false},
		{with(func(u *NewUser) { u.Name = long(64) }), true},
		{with(func(u *NewUser) { u.Name = long(65) }), false},
		{with(func(u *NewUser) { u.Name = " x" }), false},
		{with(func(u *NewUser) { u.Name = "x " }), false},
		{with(func(u *NewUser) { u.Name = "x y" }), true},
		{with(func(u *NewUser) { u.Account = long(256) }), true},
		{with(func(u *NewUser) { u.Account = long(257) }), false},
		{with(func(u *NewUser) { u.Service = long(257) }), false},
		{with(func(u *NewUser) { u.DeviceID = long(257) }), false},
		{with(func(u *NewUser) { u.DeviceID = "\xff" }), false},
		{with(func(u *NewUser) { u.Secret = make([]byte, 1) }), true},
		{with(func(u *NewUser) { u.Secret = make([]byte, 128) }), true},
		{with(func(u *NewUser) { u.Secret = make([]byte, 129) }), false},
		{with(func(u *NewUser) { u.ChannelKey = make([]byte, 1024) }), true},
		{with(func(u *NewUser) { u.ChannelKey = make([]byte, 1025) }), false},
		{with(func(u *NewUser) { u.DeliveryKey = nil }), true},
		{with(func(u *NewUser) { u.DeliveryKey = make([]byte, 33) }), false},
		{with(func(u *NewUser) { u.ServiceKey = nil }), true},
		{with(func(u *NewUser) { u.ServiceKey = make([]byte, 33) }), false},
		{with(func(u *NewUser) { u.Biometric = true }), true},
		{with(func(u *NewUser) { u.PIN, u.Biometric = "", true }), true},
	} {
		if c.u.Name == "" {
			c.u.Name = fmt.Sprintf("u%d", i)
		}
		err := v.Add(c.u, rand.Reader, testNow)
		if (err == nil) != c.ok {
			t.Errorf("case %d (%q, PIN %q): %v, want ok=%v", i, c.u.Name, c.u.PIN, err, c.ok)
		}
		if err == nil {
			// What Add took, the file reads back.
			if _, err := decodeFile(v.cached().raw, v.key); err != nil {
				t.Errorf("case %d: the file no longer reads: %v", i, err)
			}
		}
	}
}

// TestRecordChecks: a record read from a file is checked as a new user
// is, and its seals against its gate and each other.
func TestRecordChecks(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	mustAdd(t, v, NewUser{Name: "both", Suite: suiteIB, Secret: secret32(1), PIN: "2468", Biometric: true,
		ServiceKey: make([]byte, 32), DeliveryKey: make([]byte, 32), ChannelKey: make([]byte, 1024)})
	mustAdd(t, v, NewUser{Name: "card", Suite: suiteCard, Secret: secret32(2), Card: true})
	b, err := v.load()
	if err != nil {
		t.Fatal(err)
	}
	both, card := b.Users[0], b.Users[1]
	for i, c := range []struct {
		r  record
		ok bool
	}{
		{both, true},
		{card, true},
		{func() record { r := both; r.ID = r.ID[:15]; return r }(), false},
		{func() record { r := both; r.Name = ""; return r }(), false},
		{func() record { r := both; r.Account = "a\nb"; return r }(), false},
		{func() record { r := both; r.Service = "a\nb"; return r }(), false},
		{func() record { r := both; r.DeviceID = "a\nb"; return r }(), false},
		{func() record { r := both; r.ServiceKey = make([]byte, 31); return r }(), false},
		{func() record { r := both; r.ServiceKey = nil; return r }(), true},
		{func() record { r := both; r.Suite = "OCRA-1"; return r }(), false},
		{func() record { r := both; r.ChannelKey = make([]byte, 1025); return r }(), false},
		{func() record { r := both; r.DeliveryKey = make([]byte, 31); return r }(), false},
		{func() record { r := both; r.DeliveryKey = nil; return r }(), true},
		{func() record { r := both; r.Gate = "face"; return r }(), false},
		{func() record { r := both; r.Gate = GatePIN; return r }(), false},
		{func() record { r := both; r.Gate = GateBiometric; return r }(), false},
		{func() record { r := both; r.Card = []byte{1}; return r }(), false},
		{func() record { r := card; r.Suite = suiteIB.String(); return r }(), false},
		{func() record { r := both; r.Suite = suiteCard.String(); return r }(), false},
		{func() record { r := both; p := *r.PIN; p.Salt = p.Salt[:15]; r.PIN = &p; return r }(), false},
		{func() record { r := both; p := *r.PIN; p.KDF.Time = 0; r.PIN = &p; return r }(), false},
		{func() record { r := both; p := *r.PIN; p.Sealed = p.Sealed[:31]; r.PIN = &p; return r }(), false},
		{func() record { r := both; p := *r.PIN; p.Sealed = nil; r.PIN = &p; return r }(), false},
		{func() record { r := both; p := *r.PIN; p.Sealed = make([]byte, 129); r.PIN = &p; return r }(), false},
		{func() record { r := both; s := *r.Bio; s.Sealed = s.Sealed[:47]; r.Bio = &s; return r }(), false},
		{func() record { r := both; s := *r.Bio; s.Nonce = s.Nonce[:23]; r.Bio = &s; return r }(), false},
		{func() record { r := both; s := *r.Bio; s.Key = ""; r.Bio = &s; return r }(), false},
		{func() record { r := both; s := *r.Bio; s.Key = "a\nb"; r.Bio = &s; return r }(), false},
		{func() record { r := card; r.Card = nil; return r }(), false},
		{func() record { r := card; r.Card = make([]byte, 129); return r }(), false},
		{func() record { r := card; r.Card = make([]byte, 128); return r }(), true},
		{func() record { r := card; r.Card = make([]byte, 1); return r }(), true},
	} {
		err := c.r.check()
		if (err == nil) != c.ok {
			t.Errorf("case %d: %v, want ok=%v", i, err, c.ok)
		}
	}
}

// TestLastUsedInstants: LastUsed is kept to the minute: an unlock less
// than a minute from it (either way) does not write the file; one a whole
// minute or more from it does.
func TestLastUsedInstants(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	at := func(now time.Time) time.Time {
		t.Helper()
		s, err := v.Unlock("alice", Unlock{PIN: "2468"}, now)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		u, err := v.User("alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.LastUsed
	}
	t0 := testNow
	for _, c := range []struct {
		now, want time.Time
	}{
		{t0, t0}, // the first use is written
		{t0.Add(time.Minute - time.Nanosecond), t0},
		{t0.Add(-time.Minute + time.Nanosecond), t0},
		{t0.Add(time.Minute), t0.Add(time.Minute)},
		{t0, t0}, // a clock set back a minute is written too
		{t0.Add(-time.Minute), t0.Add(-time.Minute)},
	} {
		if got := at(c.now); !got.Equal(c.want) {
			t.Errorf("unlock at %v: LastUsed %v, want %v", c.now.Sub(t0), got.Sub(t0), c.want.Sub(t0))
		}
	}
}

// TestDecodeHeader: each check of the container at its limit, with the
// reason it gives (docs/SECURITY.md: a damaged file says why).
func TestDecodeHeader(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	head := func(ver uint16, id []byte, n int) []byte {
		b := append([]byte(magic), byte(ver>>8), byte(ver))
		b = append(b, id...)
		return append(b, make([]byte, n)...)
	}
	id := keyID(key)
	for i, c := range []struct {
		data []byte
		err  error
		why  string
	}{
		{[]byte(magic[:7]), ErrDamaged, "not a vault file"},
		{[]byte("XBKEYVLT" + "\x00\x01"), ErrDamaged, "not a vault file"},
		{[]byte(magic), ErrDamaged, "truncated"},
		{head(1, id[:7], 0), ErrDamaged, "truncated"},
		{head(2, id, 0), ErrTooNew, "version 2"},
		{head(0, id, 0), ErrDamaged, "unknown version 0"},
		{head(1, id, 0), ErrDamaged, "truncated"},
		{head(1, id, 24+16-1), ErrDamaged, "truncated"},
		{head(1, id, 24+16), ErrDamaged, "authentication failed"},
		{head(1, make([]byte, 8), 24+16), ErrDamaged, "another vault key"},
		{head(1, id, maxFileSize-headerSize), ErrDamaged, "authentication failed"},
		{head(1, id, maxFileSize-headerSize+1), ErrDamaged, "larger than 16777216 bytes"},
	} {
		_, err := decodeFile(c.data, key)
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("case %d (%d bytes): %v, want %v saying %q", i, len(c.data), err, c.err, c.why)
		}
	}
}

// TestLockWaits: a lock held by another is tried again after 1, 2, 4, ...
// ms, at most 50 ms apart.
func TestLockWaits(t *testing.T) {
	t.Parallel()
	w := time.Millisecond
	var got []time.Duration
	for range 8 {
		w = nextLockWait(w)
		got = append(got, w)
	}
	ms := time.Millisecond
	if want := []time.Duration{2 * ms, 4 * ms, 8 * ms, 16 * ms, 32 * ms, 50 * ms, 50 * ms, 50 * ms}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
}

// plainStorage is a Storage that cannot name itself.
type plainStorage struct{ Storage }

// TestErrorsNameTheFile: errors name the vault's file and lock as the
// person can find them: the path in a folder, the storage's name, or the
// bare file name.
func TestErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "v")
	v := openTest(t, dir, newMemStore(), nil)
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	named, err := OpenStorage(d, v.secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := OpenStorage(plainStorage{d}, v.secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	unlock, ok, err := d.TryLock(lockName)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, c := range []struct {
		v          *Vault
		file, lock string
	}{
		{v, filepath.Join(dir, "vault.ibk"), filepath.Join(dir, "vault.lock")},
		{named, dir + "/vault.ibk", "vault.lock"},
		{plain, "vault.ibk", "vault.lock"},
	} {
		if c.v.path != c.file {
			t.Errorf("path %q, want %q", c.v.path, c.file)
		}
		c.v.lockWait = time.Millisecond
		err := c.v.Rename("x", "y")
		if !errors.Is(err, ErrLocked) || !strings.HasSuffix(err.Error(), " for "+c.lock+")") {
			t.Errorf("locked: %v, want it to name %s", err, c.lock)
		}
	}
	unlock()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("IBKEYVLT"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *Vault
		file string
	}{{v, filepath.Join(dir, "vault.ibk")}, {named, dir + "/vault.ibk"}, {plain, "vault.ibk"}} {
		if _, err := c.v.List(); !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), c.file+": ") {
			t.Errorf("damaged: %v, want it to begin with %s", err, c.file)
		}
	}
}

// TestUsersAfterDamage: Users gives the users last read when the file no
// longer reads; List gives the error.
func TestUsersAfterDamage(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	mustAdd(t, v, pinUser("alice", "2468", secret32(1)))
	if got := userNames(v.Users()); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("Users %q", got)
	}
	if err := os.WriteFile(v.path, []byte("IBKEYVLT"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.List(); !errors.Is(err, ErrDamaged) {
		t.Errorf("List of a damaged file: %v", err)
	}
	if got := userNames(v.Users()); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("Users of a damaged file: %q, want the users last read", got)
	}
}

// TestOversizeFile: a file over 16 MiB is refused as too large, whatever
// it holds (read one byte past the cap, so that the cap is seen).
func TestOversizeFile(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	data, err := os.ReadFile(v.path)
	if err != nil {
		t.Fatal(err)
	}
	big := append(data[:headerSize:headerSize], make([]byte, 16<<20+1-headerSize)...)
	if err := os.WriteFile(v.path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.List(); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "larger than 16777216 bytes") {
		t.Errorf("a file of 16 MiB + 1: %v", err)
	}
}

// TestChangePINNoPIN: a user without a PIN seal has no PIN to change here,
// and the error says why: a card's PIN is changed at the service.
func TestChangePINNoPIN(t *testing.T) {
	t.Parallel()
	v, _, _ := newTest(t)
	mustAdd(t, v, NewUser{Name: "card", Suite: suiteCard, Secret: secret32(1), Card: true})
	mustAdd(t, v, NewUser{Name: "face", Suite: suiteIB, Secret: secret32(2), Biometric: true})
	for name, why := range map[string]string{"card": "is a card: its PIN is changed at the service", "face": "has no PIN"} {
		err := v.ChangePIN(name, "2468", "8531", rand.Reader)
		if !errors.Is(err, ErrNoGate) || !strings.HasSuffix(err.Error(), why) {
			t.Errorf("ChangePIN(%s): %v, want ErrNoGate saying %q", name, err, why)
		}
	}
	if err := v.ChangePIN("nobody", "2468", "8531", rand.Reader); !errors.Is(err, ErrNoUser) {
		t.Errorf("ChangePIN(nobody): %v", err)
	}
	if err := v.ChangePIN("card", "24 8", "8531", rand.Reader); !errors.Is(err, ErrBadPIN) {
		t.Errorf("ChangePIN with a malformed old PIN: %v", err)
	}
}
