// Package storetest is the suite of tests every engine of package store
// passes: records and their times round trip exactly, transactions commit
// or roll back as their outcome says, a challenge is spent once and a user
// has one active device however many goroutines race, rate-limit buckets
// and portal sessions are shared by every handle on one database, secrets
// are sealed under the master key, and a wrong key opens nothing.
//
// An engine's tests call [Run] with an [Engine].
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/internal/atrest"
	"ibkey/portal/store"
)

// Engine is what the suite needs of an engine.
type Engine struct {
	// New makes a new, empty database and returns its name (a file, a
	// URL) for Open.
	New func(t testing.TB) string
	// Open opens the database name with key. Every call is a handle of
	// its own, as another process or instance would have.
	Open func(t testing.TB, name string, key *store.MasterKey) (store.Store, error)
	// Exec runs a statement (with ? placeholders) on the database of st,
	// outside the store: what someone with the database alone could do.
	Exec func(t testing.TB, st store.Store, q string, args ...any) error
	// Bytes reads one value (with ? placeholders) of the database of st,
	// outside the store.
	Bytes func(t testing.TB, st store.Store, q string, args ...any) []byte
}

// Key is the master key the suite opens its databases with.
func Key(t testing.TB, b byte) *store.MasterKey {
	t.Helper()
	k, err := store.NewMasterKey(bytes.Repeat([]byte{b}, store.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Run runs the suite.
func Run(t *testing.T, e Engine) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Engine)
	}{
		{"Records", testRecords},
		{"TimesRoundTrip", testTimes},
		{"Outcome", testOutcome},
		{"AccountNumbers", testAccountNumbers},
		{"SpentOnce", testSpentOnce},
		{"OneActiveDevice", testOneActiveDevice},
		{"CountsNotLost", testCountsNotLost},
		{"Buckets", testBuckets},
		{"Sessions", testSessions},
		{"Audit", testAudit},
		{"Events", testEvents},
		{"MasterKey", testMasterKey},
		{"Rekey", testRekey},
		{"Notify", testNotify},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, e) })
	}
}

var ctx = context.Background()

func open(t testing.TB, e Engine) (store.Store, string) {
	t.Helper()
	name := e.New(t)
	st, err := e.Open(t, name, Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, name
}

func reopen(t testing.TB, e Engine, name string) store.Store {
	t.Helper()
	st, err := e.Open(t, name, Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func update(t testing.TB, st store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func view(t testing.TB, st store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func account(name string) store.Account {
	return store.Account{Username: name, Account: "U" + name, Phone: "+15550001234", Password: "$argon2id$x", Created: t0}
}

func device(id, user string) store.Device {
	return store.Device{ID: id, Username: user, EnrollmentID: "e" + id, State: store.DevicePending, Suite: protocol.SuiteIBKey,
		Secret: bytes.Repeat([]byte{0x5e}, 32), ChannelHash: make([]byte, 32), DeliveryKey: make([]byte, 32), ConfirmChallenge: "123456",
		Created: t0, Expires: t0.Add(10 * time.Minute)}
}

func login(id, user, dev string) store.Login {
	return store.Login{ID: id, Username: user, DeviceID: dev, Kind: store.KindLogin, Challenge: "123456", Status: store.StatusPending,
		Created: t0, Expires: t0.Add(3 * time.Minute), App: "app", IP: "192.0.2.1", Browser: "b"}
}

// testRecords writes every kind of record and reads it back.
func testRecords(t *testing.T, e Engine) {
	st, _ := open(t, e)
	a := account("ann")
	a.MustChange = true
	a.Lockout = verifier.Lockout{Failures: 3, LockedUntil: t0.Add(time.Minute)}
	d := device("d1", "ann")
	d.PINHash = bytes.Repeat([]byte{0x71}, 20)
	l := login("l1", "ann", "d1")
	l.Payload, l.PushChallenge, l.Number, l.Purpose = []byte(`{"x":1}`), "ab12", 42, "add_device"
	en := verifier.Enrollment{ID: "en1", Username: "ann", State: verifier.EnrollPending, Channel: "sms", CodeHash: []byte{1, 2}, Tries: 1, Sends: 2,
		ExpiresAt: t0.Add(time.Hour), LastSent: t0, Channels: []string{"sms", "voice"}}
	update(t, st, func(tx store.Tx) error {
		for _, err := range []error{
			tx.InsertAccount(a), tx.InsertDevice(d), tx.InsertLogin(l), tx.InsertEnrollment(en, t0),
			tx.PutMeta("plain", []byte("v1")), tx.PutMeta("plain", []byte("v2")), tx.InsertMeta("service_key", []byte("seed")),
			tx.InsertDelivery(store.Delivery{ID: "dl1", DeviceID: "d1", Kind: "k", Label: "l", Sealed: []byte{9}, Created: t0}),
			tx.InsertFraudReport(store.FraudReport{LoginID: "l1", Username: "ann", DeviceID: "d1", IP: "192.0.2.1", App: "a", Browser: "b", Time: t0}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx store.Tx) error {
		if got, err := tx.Account("ann"); err != nil || got != a {
			t.Errorf("account %+v %v, want %+v", got, err, a)
		}
		if got, err := tx.Device("d1"); err != nil || !bytes.Equal(got.Secret, d.Secret) || !bytes.Equal(got.PINHash, d.PINHash) || got.State != d.State || !got.Expires.Equal(d.Expires) {
			t.Errorf("device %+v %v", got, err)
		}
		if got, err := tx.Login("l1"); err != nil || got.Purpose != l.Purpose || !bytes.Equal(got.Payload, l.Payload) || got.Number != 42 || got.PushChallenge != "ab12" {
			t.Errorf("login %+v %v", got, err)
		}
		if gl, ga, gd, err := tx.LoginAccount("l1"); err != nil || gl.Purpose != l.Purpose || !gl.Expires.Equal(l.Expires) || ga != a || gd.ID != "d1" || !bytes.Equal(gd.Secret, d.Secret) || !bytes.Equal(gd.PINHash, d.PINHash) {
			t.Errorf("login with account and device: %+v %+v %+v %v", gl, ga, gd, err)
		}
		if got, err := tx.Enrollment("en1"); err != nil || got.Channels[1] != "voice" || got.Tries != 1 || got.Sends != 2 || !bytes.Equal(got.CodeHash, en.CodeHash) {
			t.Errorf("enrollment %+v %v", got, err)
		}
		if v, err := tx.Meta("plain"); err != nil || string(v) != "v2" {
			t.Errorf("meta %q %v", v, err)
		}
		if v, err := tx.Meta("service_key"); err != nil || string(v) != "seed" {
			t.Errorf("sealed meta %q %v", v, err)
		}
		if ds, err := tx.PendingDeliveries("d1"); err != nil || len(ds) != 1 || ds[0].ID != "dl1" {
			t.Errorf("deliveries %+v %v", ds, err)
		}
		if rs, err := tx.FraudReports(); err != nil || len(rs) != 1 || rs[0].LoginID != "l1" {
			t.Errorf("fraud reports %+v %v", rs, err)
		}
		for what, err := range map[string]error{
			"account": second(tx.Account("bob")), "device": second(tx.Device("dx")), "login": second(tx.Login("lx")),
			"enrollment": second(tx.Enrollment("ex")), "meta": second(tx.Meta("none")), "active device": second(tx.ActiveDevice("ann")),
			"locator": second(tx.EnrollmentByLocator("ABCD", t0)), "session": second(tx.Session([]byte("none"))),
			"login with account": func() error { _, _, _, err := tx.LoginAccount("lx"); return err }(),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("no %s: %v, want ErrNotFound", what, err)
			}
		}
		return nil
	})
	// Duplicates.
	for what, fn := range map[string]func(tx store.Tx) error{
		"account": func(tx store.Tx) error {
			a := account("ann")
			a.Account = "U0000001"
			return tx.InsertAccount(a)
		},
		"device": func(tx store.Tx) error { return tx.InsertDevice(device("d1", "ann")) },
		"login":  func(tx store.Tx) error { return tx.InsertLogin(login("l1", "ann", "d1")) },
		"meta":   func(tx store.Tx) error { return tx.InsertMeta("service_key", []byte("other")) },
		"delivery": func(tx store.Tx) error {
			return tx.InsertDelivery(store.Delivery{ID: "dl1", DeviceID: "d1", Kind: "k", Label: "l", Sealed: []byte{1}, Created: t0})
		},
	} {
		if err := st.Update(ctx, fn); !errors.Is(err, store.ErrExists) {
			t.Errorf("a second %s: %v, want ErrExists", what, err)
		}
	}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.InsertAccount(account("Ann")) }); !errors.Is(err, store.ErrBadUsername) {
		t.Error("an account under a name not in its canonical form")
	}
	// Updates.
	update(t, st, func(tx store.Tx) error {
		a, err := tx.Account("ann")
		if err != nil {
			return err
		}
		a.Lockout = verifier.Lockout{Failures: 100, Hard: true}
		a.Password, a.MustChange = "$argon2id$y", false
		if err := tx.UpdateAccount(a); err != nil {
			return err
		}
		d.State, d.Activated = store.DeviceActive, t0.Add(time.Second)
		if err := tx.UpdateDevice(d); err != nil {
			return err
		}
		l.Status, l.Reason = store.StatusDenied, "fraud"
		if err := tx.UpdateLogin(l); err != nil {
			return err
		}
		en.State, en.Tries = verifier.EnrollFailed, 10
		if err := tx.UpdateEnrollment(en); err != nil {
			return err
		}
		return tx.MarkDelivered("dl1", t0.Add(time.Minute))
	})
	view(t, st, func(tx store.Tx) error {
		if a, _ := tx.Account("ann"); !a.Lockout.Hard || a.Lockout.Failures != 100 || a.Password != "$argon2id$y" || a.MustChange {
			t.Errorf("updated account %+v", a)
		}
		if d, err := tx.ActiveDevice("ann"); err != nil || d.ID != "d1" || !d.Activated.Equal(t0.Add(time.Second)) {
			t.Errorf("active device %+v %v", d, err)
		}
		if l, _ := tx.Login("l1"); l.Status != store.StatusDenied || l.Reason != "fraud" {
			t.Errorf("updated login %+v", l)
		}
		if en, _ := tx.Enrollment("en1"); en.State != verifier.EnrollFailed || en.Tries != 10 {
			t.Errorf("updated enrollment %+v", en)
		}
		if ds, _ := tx.PendingDeliveries("d1"); len(ds) != 0 {
			t.Errorf("delivered, still pending: %+v", ds)
		}
		return nil
	})
	// A login is spent once: its status moves from pending only.
	err := st.Update(ctx, func(tx store.Tx) error {
		l, err := tx.Login("l1")
		if err != nil {
			return err
		}
		l.Status = store.StatusApproved
		return tx.UpdateLogin(l)
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a login that is not pending updated: %v, want ErrConflict", err)
	}
	// Devices in the order they were made; enrollments newest first.
	update(t, st, func(tx store.Tx) error {
		for _, id := range []string{"d3", "d2"} {
			if err := tx.InsertDevice(device(id, "ann")); err != nil {
				return err
			}
		}
		e2 := en
		e2.ID = "en2"
		return tx.InsertEnrollment(e2, t0)
	})
	view(t, st, func(tx store.Tx) error {
		ds, err := tx.Devices("ann")
		if err != nil || len(ds) != 3 || ds[0].ID != "d1" || ds[1].ID != "d3" || ds[2].ID != "d2" {
			t.Errorf("devices %v %v", ids(ds), err)
		}
		if all, _ := tx.Devices(""); len(all) != 3 {
			t.Errorf("every device: %v", ids(all))
		}
		es, err := tx.RecentEnrollments("ann", t0, 10)
		if err != nil || len(es) != 2 || es[0].ID != "en2" {
			t.Errorf("recent enrollments %+v %v", es, err)
		}
		return nil
	})
}

func second[T any](_ T, err error) error { return err }

func ids(ds []store.Device) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// testOutcome: nil commits, an error rolls back, Commit(err) commits and
// returns err; View returns what its function does.
func testOutcome(t *testing.T, e Engine) {
	st, _ := open(t, e)
	errRefused := errors.New("refused")
	if err := st.Update(ctx, func(tx store.Tx) error { tx.InsertAccount(account("rolled")); return errRefused }); err != errRefused {
		t.Fatalf("Update: %v, want the function's error", err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("kept")); err != nil {
			return err
		}
		return store.Commit(fmt.Errorf("wrapped: %w", errRefused))
	}); !errors.Is(err, errRefused) || err.Error() != "wrapped: refused" {
		t.Fatalf("Update with Commit: %v", err)
	}
	view(t, st, func(tx store.Tx) error {
		if _, err := tx.Account("rolled"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rolled back, yet there: %v", err)
		}
		if _, err := tx.Account("kept"); err != nil {
			t.Errorf("committed, yet gone: %v", err)
		}
		return nil
	})
	if err := st.View(ctx, func(store.Tx) error { return errRefused }); err != errRefused {
		t.Errorf("View: %v", err)
	}
	if store.Commit(nil) != nil {
		t.Error("Commit(nil) is not nil")
	}
	// A write refused by the store (a time it cannot hold) writes nothing.
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("half")); err != nil {
			return err
		}
		return tx.InsertLogin(store.Login{ID: "late", Username: "half", Created: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)})
	})
	if !errors.Is(err, store.ErrTimeRange) {
		t.Fatalf("a time out of range: %v", err)
	}
	view(t, st, func(tx store.Tx) error {
		if _, err := tx.Account("half"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("half a transaction written: %v", err)
		}
		return nil
	})
}

// testAccountNumbers: a taken account number is ErrAccountTaken, and the
// transaction goes on (another number is tried in it).
func testAccountNumbers(t *testing.T, e Engine) {
	st, _ := open(t, e)
	update(t, st, func(tx store.Tx) error {
		return tx.InsertAccount(store.Account{Username: "a", Account: "U1000001", Phone: "+1555", Password: "x", Created: t0})
	})
	update(t, st, func(tx store.Tx) error {
		b := store.Account{Username: "b", Account: "U1000001", Phone: "+1555", Password: "x", Created: t0}
		if err := tx.InsertAccount(b); !errors.Is(err, store.ErrAccountTaken) {
			return fmt.Errorf("a taken number: %v, want ErrAccountTaken", err)
		}
		b.Account = "U1000002"
		return tx.InsertAccount(b)
	})
	view(t, st, func(tx store.Tx) error {
		if b, err := tx.Account("b"); err != nil || b.Account != "U1000002" {
			t.Errorf("b: %+v %v", b, err)
		}
		return nil
	})
}

// Racers is how many goroutines race in the concurrency tests.
const Racers = 24

// testSpentOnce: goroutines on several handles spend one pending
// challenge at once, as the service does (read it in Update, then write
// it): exactly one sees it pending.
func testSpentOnce(t *testing.T, e Engine) {
	for _, joined := range []bool{false, true} {
		t.Run(fmt.Sprint("joined=", joined), func(t *testing.T) { spentOnce(t, e, joined) })
	}
}

func spentOnce(t *testing.T, e Engine, joined bool) {
	st, name := open(t, e)
	other := reopen(t, e, name)
	update(t, st, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("sam")); err != nil {
			return err
		}
		if err := tx.InsertDevice(device("d", "sam")); err != nil {
			return err
		}
		return tx.InsertLogin(login("race", "sam", "d"))
	})
	var won, spent atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range Racers {
		h := []store.Store{st, other}[i%2]
		wg.Go(func() {
			<-start
			err := h.Update(ctx, func(tx store.Tx) error {
				var l store.Login
				var a store.Account
				var err error
				if joined {
					l, a, _, err = tx.LoginAccount("race")
				} else if l, err = tx.Login("race"); err == nil {
					a, err = tx.Account(l.Username)
				}
				if err != nil {
					return err
				}
				if l.Status != store.StatusPending {
					return errSpent
				}
				a.Lockout.Failures++
				if err := tx.UpdateAccount(a); err != nil {
					return err
				}
				l.Status = store.StatusApproved
				return tx.UpdateLogin(l)
			})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, errSpent):
				spent.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if won.Load() != 1 || spent.Load() != Racers-1 {
		t.Fatalf("%d spent the challenge, %d found it spent, of %d", won.Load(), spent.Load(), Racers)
	}
}

var errSpent = errors.New("spent")

// testOneActiveDevice: pending devices of one user are confirmed at once
// on several handles, as the service does (hold the account, retire the
// others, activate this one): one is active in the end. And the database
// itself refuses a second active device.
func testOneActiveDevice(t *testing.T, e Engine) {
	st, name := open(t, e)
	other := reopen(t, e, name)
	update(t, st, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("cal")); err != nil {
			return err
		}
		for i := range Racers {
			if err := tx.InsertDevice(device(fmt.Sprintf("p%02d", i), "cal")); err != nil {
				return err
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range Racers {
		h := []store.Store{st, other}[i%2]
		wg.Go(func() {
			<-start
			err := h.Update(ctx, func(tx store.Tx) error {
				d, err := tx.Device(fmt.Sprintf("p%02d", i))
				if err != nil {
					return err
				}
				if _, err := tx.Account(d.Username); err != nil {
					return err
				}
				others, err := tx.Devices(d.Username)
				if err != nil {
					return err
				}
				for _, o := range others {
					if o.ID != d.ID && o.State == store.DeviceActive {
						o.State, o.Retired = store.DeviceRetired, t0
						if err := tx.UpdateDevice(o); err != nil {
							return err
						}
					}
				}
				d.State, d.Activated = store.DeviceActive, t0.Add(time.Duration(i))
				return tx.UpdateDevice(d)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	active := func() (n int) {
		view(t, st, func(tx store.Tx) error {
			ds, err := tx.Devices("cal")
			for _, d := range ds {
				if d.State == store.DeviceActive {
					n++
				}
			}
			return err
		})
		return n
	}
	if n := active(); n != 1 {
		t.Fatalf("%d active devices", n)
	}
	// Without the account held, the database keeps one active device.
	var ok, refused atomic.Int32
	update(t, st, func(tx store.Tx) error {
		for i := range Racers {
			if err := tx.InsertDevice(device(fmt.Sprintf("q%02d", i), "cal")); err != nil {
				return err
			}
		}
		return nil
	})
	start = make(chan struct{})
	for i := range Racers {
		h := []store.Store{st, other}[i%2]
		wg.Go(func() {
			<-start
			err := h.Update(ctx, func(tx store.Tx) error {
				d := device(fmt.Sprintf("q%02d", i), "cal")
				d.State, d.Activated = store.DeviceActive, t0
				return tx.UpdateDevice(d)
			})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrExists):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 0 || refused.Load() != Racers || active() != 1 {
		t.Fatalf("a second active device: %d written, %d refused, %d active", ok.Load(), refused.Load(), active())
	}
}

// testCountsNotLost: failures counted at once on several handles are all
// counted (a read of the account holds it until the write).
func testCountsNotLost(t *testing.T, e Engine) {
	st, name := open(t, e)
	other := reopen(t, e, name)
	update(t, st, func(tx store.Tx) error { return tx.InsertAccount(account("cnt")) })
	var wg sync.WaitGroup
	for i := range Racers {
		h := []store.Store{st, other}[i%2]
		wg.Go(func() {
			err := h.Update(ctx, func(tx store.Tx) error {
				a, err := tx.Account("cnt")
				if err != nil {
					return err
				}
				a.Lockout.Failures++
				return tx.UpdateAccount(a)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	view(t, st, func(tx store.Tx) error {
		if a, _ := tx.Account("cnt"); a.Lockout.Failures != Racers {
			t.Errorf("%d failures counted of %d", a.Lockout.Failures, Racers)
		}
		return nil
	})
}

// testBuckets: a bucket gives its burst, then Rate a second; the first
// refusal in a minute is reported; every handle on the database shares it.
func testBuckets(t *testing.T, e Engine) {
	st, name := open(t, e)
	other := reopen(t, e, name)
	b := store.Bucket{Key: "ip:192.0.2.1", Rate: 2, Burst: 5}
	take := func(h store.Store, at time.Time) store.Taken {
		t.Helper()
		got, err := h.Take(ctx, b, at)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for i := range 5 {
		if got := take([]store.Store{st, other}[i%2], t0); !got.OK {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	if got := take(other, t0); got.OK || !got.Report {
		t.Fatalf("over the burst: %+v, want refused and reported", got)
	}
	if got := take(st, t0.Add(100*time.Millisecond)); got.OK || got.Report {
		t.Fatalf("over the burst again: %+v, want refused, not reported", got)
	}
	if got := take(st, t0.Add(500*time.Millisecond)); !got.OK {
		t.Fatalf("after half a second (one token): %+v", got)
	}
	if got := take(other, t0.Add(600*time.Millisecond)); got.OK {
		t.Fatalf("a token twice: %+v", got)
	}
	if got := take(st, t0.Add(61*time.Second)); !got.OK {
		t.Fatal("refilled bucket refused")
	}
	for range 4 {
		take(st, t0.Add(61*time.Second))
	}
	if got := take(st, t0.Add(61*time.Second)); got.OK || !got.Report {
		t.Fatalf("a minute after the last report: %+v", got)
	}
	// A clock behind the bucket's adds nothing.
	if got := take(other, t0); got.OK {
		t.Fatal("an earlier time refilled the bucket")
	}
	// Another key is another bucket; concurrent takes give exactly the
	// burst.
	c := store.Bucket{Key: "acct:x", Rate: 0.001, Burst: 10}
	var okN atomic.Int32
	var wg sync.WaitGroup
	for i := range Racers {
		wg.Go(func() {
			got, err := []store.Store{st, other}[i%2].Take(ctx, c, t0)
			if err != nil {
				t.Error(err)
			}
			if got.OK {
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	if okN.Load() != 10 {
		t.Fatalf("%d tokens of a burst of 10 taken by %d at once", okN.Load(), Racers)
	}
	for _, bad := range []store.Bucket{{Key: "", Rate: 1, Burst: 1}, {Key: "k", Rate: 0, Burst: 1}, {Key: "k", Rate: 1, Burst: 0.5}} {
		if _, err := st.Take(ctx, bad, t0); err == nil {
			t.Errorf("bucket %+v taken", bad)
		}
	}
	// Full buckets are dropped.
	update(t, st, func(tx store.Tx) error { return tx.PruneBuckets(t0.Add(time.Hour)) })
	if got := take(st, t0.Add(time.Hour)); !got.OK {
		t.Fatal("a pruned bucket refused")
	}
}

// testSessions: a session is kept under its key, sealed; the kinds are
// counted and dropped apart.
func testSessions(t *testing.T, e Engine) {
	st, name := open(t, e)
	secret := []byte("csrf=Zq3b7VRdYxP1; user=ann; pending-challenge=918273")
	s1 := store.Session{Key: bytes.Repeat([]byte{1}, 32), Data: secret, LoggedIn: true, Created: t0, Seen: t0}
	update(t, st, func(tx store.Tx) error { return tx.InsertSession(s1) })
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.InsertSession(s1) }); !errors.Is(err, store.ErrExists) {
		t.Errorf("a session inserted twice: %v", err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.UpdateSession(store.Session{Key: []byte("gone"), Created: t0, Seen: t0})
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session gone updated: %v", err)
	}
	other := reopen(t, e, name)
	view(t, other, func(tx store.Tx) error {
		got, err := tx.Session(s1.Key)
		if err != nil || !bytes.Equal(got.Data, secret) || !got.LoggedIn || !got.Created.Equal(t0) || !got.Seen.Equal(t0) {
			t.Errorf("session read by another handle: %+v %v", got, err)
		}
		return nil
	})
	if raw := e.Bytes(t, st, "SELECT data FROM sessions WHERE key = ?", s1.Key); bytes.Contains(raw, []byte("918273")) || len(raw) != len(secret)+atrest.Overhead {
		t.Errorf("session data not sealed: %q", raw)
	}
	update(t, st, func(tx store.Tx) error {
		if err := tx.TouchSession(s1.Key, t0.Add(time.Minute)); err != nil {
			return err
		}
		for i := range 5 {
			s := store.Session{Key: []byte{2, byte(i)}, Data: []byte("x"), LoggedIn: false, Created: t0, Seen: t0.Add(time.Duration(i) * time.Second)}
			if err := tx.InsertSession(s); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx store.Tx) error {
		if n, err := tx.CountSessions(false); err != nil || n != 5 {
			t.Errorf("%d sessions under way, %v", n, err)
		}
		if n, _ := tx.CountSessions(true); n != 1 {
			t.Errorf("%d sessions logged in", n)
		}
		if s, _ := tx.Session(s1.Key); !s.Seen.Equal(t0.Add(time.Minute)) {
			t.Errorf("touched session seen %v", s.Seen)
		}
		return nil
	})
	s1.Data, s1.Seen = []byte("csrf=other"), t0.Add(2*time.Minute)
	update(t, other, func(tx store.Tx) error { return tx.UpdateSession(s1) })
	view(t, st, func(tx store.Tx) error {
		if s, err := tx.Session(s1.Key); err != nil || string(s.Data) != "csrf=other" || !s.Seen.Equal(s1.Seen) {
			t.Errorf("updated session %+v %v", s, err)
		}
		return nil
	})
	update(t, st, func(tx store.Tx) error { return tx.DropSessions(false, 2) })
	view(t, st, func(tx store.Tx) error {
		for i, want := range []bool{false, false, true, true, true} {
			if _, err := tx.Session([]byte{2, byte(i)}); (err == nil) != want {
				t.Errorf("session %d: %v", i, err)
			}
		}
		if _, err := tx.Session(s1.Key); err != nil {
			t.Error("a drop of the other kind dropped a logged-in session")
		}
		return nil
	})
	update(t, st, func(tx store.Tx) error {
		if err := tx.PruneSessions(t0.Add(3*time.Second), time.Unix(1, 0)); err != nil {
			return err
		}
		return tx.DeleteSession(s1.Key)
	})
	view(t, st, func(tx store.Tx) error {
		n, _ := tx.CountSessions(false)
		m, _ := tx.CountSessions(true)
		if n != 2 || m != 0 {
			t.Errorf("after prune and delete: %d, %d", n, m)
		}
		return nil
	})
	// A session's data moved to another key does not open.
	s3 := store.Session{Key: bytes.Repeat([]byte{3}, 32), Data: []byte("other"), Created: t0, Seen: t0}
	update(t, st, func(tx store.Tx) error { return tx.InsertSession(s3) })
	e.Exec(t, st, "UPDATE sessions SET data = ? WHERE key = ?", e.Bytes(t, st, "SELECT data FROM sessions WHERE key = ?", []byte{2, 4}), s3.Key)
	if err := st.View(ctx, func(tx store.Tx) error { return second(tx.Session(s3.Key)) }); !errors.Is(err, atrest.ErrOpen) {
		t.Errorf("moved session data: %v, want atrest.ErrOpen", err)
	}
}

// testAudit: records come back in order, by user and time, a page at a
// time.
func testAudit(t *testing.T, e Engine) {
	st, _ := open(t, e)
	update(t, st, func(tx store.Tx) error {
		for i := range 10 {
			u := []string{"ann", "bob"}[i%2]
			ev := store.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Event: "login.started", Username: u, Device: "d", IP: "192.0.2.1", Outcome: "ok",
				Detail: map[string]string{"n": fmt.Sprint(i)}}
			if err := tx.InsertAudit(ev); err != nil {
				return err
			}
		}
		if err := tx.InsertAudit(store.AuditEvent{Time: t0, Event: "x", Detail: map[string]string{"username": "no"}}); err == nil {
			return errors.New("a detail under a field's name")
		}
		return nil
	})
	view(t, st, func(tx store.Tx) error {
		all, err := tx.Audit(store.AuditFilter{})
		if err != nil || len(all) != 10 || all[3].Detail["n"] != "3" || all[0].ID >= all[1].ID {
			t.Errorf("audit: %d %v", len(all), err)
		}
		bob, _ := tx.Audit(store.AuditFilter{Username: "bob", Since: t0.Add(5 * time.Second)})
		if len(bob) != 3 || bob[0].Detail["n"] != "5" {
			t.Errorf("bob since 5 s: %+v", bob)
		}
		page, _ := tx.Audit(store.AuditFilter{After: all[6].ID, Limit: 2})
		if len(page) != 2 || page[0].ID != all[7].ID {
			t.Errorf("page after 6: %+v", page)
		}
		return nil
	})
}

// testEvents: a device's events come in order, without those whose login
// is answered or whose delivery is released; Notify is allowed in a
// transaction.
func testEvents(t *testing.T, e Engine) {
	st, _ := open(t, e)
	var seqs []int64
	update(t, st, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("eve")); err != nil {
			return err
		}
		if _, err := tx.Account("eve"); err != nil {
			return err
		}
		for _, l := range []string{"l1", "l2"} {
			if err := tx.InsertLogin(login(l, "eve", "d1")); err != nil {
				return err
			}
		}
		if err := tx.InsertDelivery(store.Delivery{ID: "dl", DeviceID: "d1", Kind: "k", Label: "l", Sealed: []byte{1}, Created: t0}); err != nil {
			return err
		}
		for _, ev := range []store.Event{
			{DeviceID: "d1", Kind: "login", RefID: "l1", Payload: []byte("1"), Signature: []byte("s"), Expires: t0.Add(time.Minute)},
			{DeviceID: "d2", Kind: "login", RefID: "l2", Payload: []byte("x"), Signature: []byte("s"), Expires: t0.Add(time.Minute)},
			{DeviceID: "d1", Kind: "login", RefID: "l2", Payload: []byte("2"), Signature: []byte("s"), Expires: t0.Add(time.Minute)},
			{DeviceID: "d1", Kind: "delivery", RefID: "dl", Payload: []byte("3"), Signature: []byte("s"), Expires: t0.Add(time.Hour)},
		} {
			seq, err := tx.InsertEvent(ev)
			if err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return tx.Notify("d1")
	})
	if !(seqs[0] < seqs[1] && seqs[1] < seqs[2] && seqs[2] < seqs[3]) {
		t.Fatalf("sequence numbers %v", seqs)
	}
	events := func(after int64, at time.Time) (out []string) {
		view(t, st, func(tx store.Tx) error {
			evs, err := tx.Events("d1", after, at, 10)
			for _, e := range evs {
				out = append(out, string(e.Payload))
			}
			return err
		})
		return out
	}
	if got := fmt.Sprint(events(0, t0)); got != "[1 2 3]" {
		t.Fatalf("events %s", got)
	}
	if got := fmt.Sprint(events(seqs[2], t0)); got != "[3]" {
		t.Fatalf("events after %d: %s", seqs[2], got)
	}
	if got := fmt.Sprint(events(0, t0.Add(2*time.Minute))); got != "[3]" {
		t.Fatalf("events after the logins expired: %s", got)
	}
	update(t, st, func(tx store.Tx) error {
		l, _ := tx.Login("l1")
		l.Status = store.StatusApproved
		if err := tx.UpdateLogin(l); err != nil {
			return err
		}
		return tx.MarkDelivered("dl", t0)
	})
	if got := fmt.Sprint(events(0, t0)); got != "[2]" {
		t.Fatalf("events after an answer and a release: %s", got)
	}
	view(t, st, func(tx store.Tx) error {
		if last, err := tx.LastEvent("d1"); err != nil || last != seqs[3] {
			t.Errorf("last event %d %v", last, err)
		}
		if last, err := tx.LastEvent("none"); err != nil || last != 0 {
			t.Errorf("last event of none: %d %v", last, err)
		}
		if n, err := tx.PendingPush("eve", t0); err != nil || n != 0 {
			t.Errorf("pending pushes %d %v", n, err)
		}
		if ls, err := tx.PendingPushes("eve", t0); err != nil || len(ls) != 0 {
			t.Errorf("pending pushes %v %v", ls, err)
		}
		return nil
	})
	// Logins with a seamless request, pending and alive, oldest first.
	update(t, st, func(tx store.Tx) error {
		for i, id := range []string{"p2", "p1", "p3", "p4"} {
			l := login(id, "eve", "d1")
			l.Payload = []byte("{}")
			l.Created = t0.Add(time.Duration(map[string]int{"p1": 1, "p2": 2, "p3": 3, "p4": 4}[id]) * time.Second)
			switch i {
			case 2:
				l.Status = store.StatusApproved
			case 3:
				l.Payload = nil // no seamless request
			}
			if err := tx.InsertLogin(l); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx store.Tx) error {
		ls, err := tx.PendingPushes("eve", t0)
		if err != nil || len(ls) != 2 || ls[0].ID != "p1" || ls[1].ID != "p2" || !ls[0].Created.Equal(t0.Add(time.Second)) {
			t.Errorf("pending pushes %+v %v", ls, err)
		}
		if n, _ := tx.PendingPush("eve", t0); n != 2 {
			t.Errorf("%d pending pushes counted", n)
		}
		if ls, _ := tx.PendingPushes("eve", t0.Add(time.Hour)); len(ls) != 0 {
			t.Errorf("expired pending pushes %+v", ls)
		}
		return nil
	})
}

// testMasterKey: the secrets are sealed, bound to their rows; a wrong key
// opens nothing and changes nothing; the right one opens all.
func testMasterKey(t *testing.T, e Engine) {
	st, name := open(t, e)
	update(t, st, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("kim")); err != nil {
			return err
		}
		for _, id := range []string{"k1", "k2"} {
			d := device(id, "kim")
			d.Secret = bytes.Repeat([]byte(id[1:]), 32)
			d.PINHash = bytes.Repeat([]byte{0x33}, 20)
			if err := tx.InsertDevice(d); err != nil {
				return err
			}
		}
		return tx.PutMeta("service_key", bytes.Repeat([]byte{0x44}, 32))
	})
	raw1 := e.Bytes(t, st, "SELECT secret FROM devices WHERE id = ?", "k1")
	if len(raw1) != 32+atrest.Overhead || bytes.Contains(raw1, bytes.Repeat([]byte("1"), 8)) {
		t.Fatalf("stored secret %x", raw1)
	}
	if raw := e.Bytes(t, st, "SELECT pin_hash FROM devices WHERE id = ?", "k1"); bytes.Contains(raw, bytes.Repeat([]byte{0x33}, 8)) {
		t.Fatalf("stored PIN hash %x", raw)
	}
	if raw := e.Bytes(t, st, "SELECT value FROM meta WHERE key = ?", "service_key"); bytes.Contains(raw, bytes.Repeat([]byte{0x44}, 8)) {
		t.Fatalf("stored service key %x", raw)
	}
	st.Close()

	if other, err := e.Open(t, name, Key(t, 8)); !errors.Is(err, store.ErrWrongKey) {
		if err == nil {
			other.Close()
		}
		t.Fatalf("another key: %v, want ErrWrongKey", err)
	}
	st = reopen(t, e, name)
	view(t, st, func(tx store.Tx) error {
		d, err := tx.Device("k1")
		if err != nil || !bytes.Equal(d.Secret, bytes.Repeat([]byte("1"), 32)) {
			t.Errorf("after reopening with the right key: %v", err)
		}
		return nil
	})
	// Swapped between rows, a sealed secret does not open.
	raw2 := e.Bytes(t, st, "SELECT secret FROM devices WHERE id = ?", "k2")
	e.Exec(t, st, "UPDATE devices SET secret = ? WHERE id = ?", raw2, "k1")
	if err := st.View(ctx, func(tx store.Tx) error { return second(tx.Device("k1")) }); !errors.Is(err, atrest.ErrOpen) {
		t.Fatalf("a swapped secret: %v, want atrest.ErrOpen", err)
	}
}

// testRekey: the secrets sealed again under another key open with it
// only, on this handle and on one opened after.
func testRekey(t *testing.T, e Engine) {
	st, name := open(t, e)
	r, ok := st.(store.Rekeyer)
	if !ok {
		t.Skip("the engine cannot change its key")
	}
	var pub []byte
	update(t, st, func(tx store.Tx) error {
		if err := tx.InsertAccount(account("rex")); err != nil {
			return err
		}
		for i := range 3 {
			d := device(fmt.Sprint("r", i), "rex")
			d.Secret = bytes.Repeat([]byte{byte(i + 1)}, 32)
			if i == 1 {
				d.PINHash = bytes.Repeat([]byte{9}, 20)
			}
			if err := tx.InsertDevice(d); err != nil {
				return err
			}
		}
		pub = bytes.Repeat([]byte{0x55}, 32)
		if err := tx.InsertMeta("service_key", pub); err != nil {
			return err
		}
		return tx.InsertSession(store.Session{Key: []byte("sess"), Data: []byte("state"), Created: t0, Seen: t0})
	})
	check := func(st store.Store, when string) {
		t.Helper()
		view(t, st, func(tx store.Tx) error {
			for i := range 3 {
				d, err := tx.Device(fmt.Sprint("r", i))
				if err != nil || !bytes.Equal(d.Secret, bytes.Repeat([]byte{byte(i + 1)}, 32)) || (i == 1) != (d.PINHash != nil) {
					t.Errorf("%s: device r%d: %v", when, i, err)
				}
			}
			if v, err := tx.Meta("service_key"); err != nil || !bytes.Equal(v, pub) {
				t.Errorf("%s: service key: %v", when, err)
			}
			if s, err := tx.Session([]byte("sess")); err != nil || string(s.Data) != "state" {
				t.Errorf("%s: session: %v", when, err)
			}
			return nil
		})
	}
	if err := r.Rekey(ctx, Key(t, 9)); err != nil {
		t.Fatal(err)
	}
	check(st, "after the rekey")
	st.Close()
	if old, err := e.Open(t, name, Key(t, 7)); !errors.Is(err, store.ErrWrongKey) {
		if err == nil {
			old.Close()
		}
		t.Fatalf("the old key after the rekey: %v", err)
	}
	st2, err := e.Open(t, name, Key(t, 9))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	check(st2, "reopened with the new key")
	if raw := e.Bytes(t, st2, "SELECT secret FROM devices WHERE id = ?", "r0"); bytes.Contains(raw, bytes.Repeat([]byte{1}, 8)) {
		t.Fatalf("stored secret %x", raw)
	}
}

// testNotify: an engine that carries notifications between processes
// tells every handle of the devices notified in committed transactions,
// and of none rolled back.
func testNotify(t *testing.T, e Engine) {
	st, name := open(t, e)
	other := reopen(t, e, name)
	l, ok := other.(store.Listener)
	if !ok {
		t.Skip("the engine carries no notifications between processes (long-polls look at the store)")
	}
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan string, 16)
	ready := make(chan struct{})
	var once sync.Once
	go l.Listen(c, func(id string) {
		once.Do(func() { close(ready) })
		if id != "" {
			got <- id
		}
	})
	// The listener says "" once when it (re)connects.
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener never started")
	}
	st.Update(ctx, func(tx store.Tx) error { tx.Notify("rolled-back"); return errors.New("no") })
	update(t, st, func(tx store.Tx) error { return tx.Notify("dev-1") })
	select {
	case id := <-got:
		if id != "dev-1" {
			t.Fatalf("notified %q, want dev-1", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
}

// TimesRange is every instant the store keeps (see testTimes).
var storeTimes = []time.Time{
	{},
	time.Unix(0, math.MinInt64),
	time.Unix(0, math.MaxInt64),
	time.Unix(0, 1),
	time.Unix(0, -1),
	time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC),
	time.Date(2026, 11, 26, 12, 0, 0, 987654321, time.FixedZone("UTC+5:45", 20700)),
	time.Date(1900, 2, 28, 23, 59, 59, 999999999, time.FixedZone("UTC-3", -10800)),
}

// badTimes are instants the representation cannot hold.
var badTimes = []time.Time{
	time.Unix(0, math.MinInt64).Add(-1),
	time.Unix(0, math.MaxInt64).Add(1),
	time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
	time.Unix(0, 0), // 0 is "none"
}
