package storetest

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

func sameTime(a, b time.Time) bool { return a.Equal(b) && a.IsZero() == b.IsZero() }

// timeRecord writes a record whose time fields all hold at (at in field
// i of n only, when one field is being checked), and reads them back.
type timeRecord struct {
	name   string
	fields int
	write  func(tx store.Tx, id string, ts []time.Time) error
	read   func(tx store.Tx, id string) ([]time.Time, error)
	// needed: the record's time cannot be none (it is refused).
	needed bool
}

func timeRecords() []timeRecord {
	dev := func(id string) store.Device {
		return store.Device{ID: id, Username: "tim", EnrollmentID: "e", State: store.DevicePending, Suite: protocol.SuiteIBKey,
			Secret: make([]byte, 32), ChannelHash: make([]byte, 32), DeliveryKey: make([]byte, 32), ConfirmChallenge: "123456"}
	}
	return []timeRecord{
		{"account", 2,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertAccount(store.Account{Username: id, Account: "U" + id, Phone: "+15550001234", Password: "x",
					Lockout: verifier.Lockout{Failures: 3, LockedUntil: ts[0]}, Created: ts[1]})
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				a, err := tx.Account(id)
				return []time.Time{a.Lockout.LockedUntil, a.Created}, err
			}, false},
		{"account update", 1,
			func(tx store.Tx, id string, ts []time.Time) error {
				if err := tx.InsertAccount(store.Account{Username: id, Account: "U" + id, Phone: "+15550001234", Password: "x", Created: time.Unix(5, 0)}); err != nil {
					return err
				}
				a, err := tx.Account(id)
				if err != nil {
					return err
				}
				a.Lockout.LockedUntil = ts[0]
				return tx.UpdateAccount(a)
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				a, err := tx.Account(id)
				return []time.Time{a.Lockout.LockedUntil}, err
			}, false},
		{"enrollment", 2,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertEnrollment(verifier.Enrollment{ID: id, Username: "tim", State: verifier.EnrollPending, Channel: "sms", CodeHash: []byte{1}, ExpiresAt: ts[0], LastSent: ts[1]}, time.Unix(5, 0))
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				e, err := tx.Enrollment(id)
				return []time.Time{e.ExpiresAt, e.LastSent}, err
			}, false},
		{"enrollment update", 2,
			func(tx store.Tx, id string, ts []time.Time) error {
				e := verifier.Enrollment{ID: id, Username: "tim", State: verifier.EnrollPending, Channel: "sms", CodeHash: []byte{1}, ExpiresAt: time.Unix(5, 0)}
				if err := tx.InsertEnrollment(e, time.Unix(5, 0)); err != nil {
					return err
				}
				e.ExpiresAt, e.LastSent = ts[0], ts[1]
				return tx.UpdateEnrollment(e)
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				e, err := tx.Enrollment(id)
				return []time.Time{e.ExpiresAt, e.LastSent}, err
			}, false},
		{"device", 4,
			func(tx store.Tx, id string, ts []time.Time) error {
				d := dev(id)
				d.Created, d.Expires, d.Activated, d.Retired = ts[0], ts[1], ts[2], ts[3]
				return tx.InsertDevice(d)
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				d, err := tx.Device(id)
				return []time.Time{d.Created, d.Expires, d.Activated, d.Retired}, err
			}, false},
		{"device update", 2,
			func(tx store.Tx, id string, ts []time.Time) error {
				d := dev(id)
				if err := tx.InsertDevice(d); err != nil {
					return err
				}
				d.Activated, d.Retired = ts[0], ts[1]
				return tx.UpdateDevice(d)
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				d, err := tx.Device(id)
				return []time.Time{d.Activated, d.Retired}, err
			}, false},
		{"login", 2,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertLogin(store.Login{ID: id, Username: "tim", DeviceID: "d", Kind: store.KindLogin, Challenge: "123456", Status: store.StatusPending, Created: ts[0], Expires: ts[1]})
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				l, err := tx.Login(id)
				return []time.Time{l.Created, l.Expires}, err
			}, false},
		{"event", 1,
			func(tx store.Tx, id string, ts []time.Time) error {
				_, err := tx.InsertEvent(store.Event{DeviceID: id, Kind: "test", RefID: id, Payload: []byte("{}"), Signature: []byte{1}, Expires: ts[0]})
				return err
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				// Events lists the events that have not expired: ask at the
				// earliest instant, and read the earliest expiry as the
				// one absent answer.
				evs, err := tx.Events(id, 0, time.Unix(0, math.MinInt64), 10)
				if err != nil || len(evs) == 0 {
					return []time.Time{time.Unix(0, math.MinInt64)}, err
				}
				return []time.Time{evs[0].Expires}, nil
			}, false},
		{"delivery", 1,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertDelivery(store.Delivery{ID: id, DeviceID: id, Kind: "k", Label: "l", Sealed: []byte{1}, Created: ts[0]})
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				ds, err := tx.PendingDeliveries(id)
				if err != nil || len(ds) != 1 {
					return nil, fmt.Errorf("pending deliveries %v: %w", ds, err)
				}
				return []time.Time{ds[0].Created}, nil
			}, false},
		{"audit record", 1,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertAudit(store.AuditEvent{Time: ts[0], Event: "test", Username: id})
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				evs, err := tx.Audit(store.AuditFilter{Username: id})
				if err != nil || len(evs) != 1 {
					return nil, fmt.Errorf("audit of %s: %v %w", id, evs, err)
				}
				return []time.Time{evs[0].Time}, nil
			}, true},
		{"send", 1,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertSend(store.Send{Time: ts[0], Username: id, Phone: id, Channel: "sms"})
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				// A send is read back as counted at or after its time,
				// and not after it.
				var at time.Time
				for _, c := range storeTimes[1:] {
					n, _, err := tx.CountSends(id, id, c)
					if err != nil || n != 1 {
						continue
					}
					after := c.Add(1)
					if after.UnixNano() == 0 {
						after = after.Add(1) // the epoch is no time of the store
					}
					next, _, err := tx.CountSends(id, id, after)
					if c.Equal(time.Unix(0, math.MaxInt64)) || (err == nil && next == 0) {
						at = c
					}
				}
				return []time.Time{at}, nil
			}, true},
		{"fraud report", 1,
			func(tx store.Tx, id string, ts []time.Time) error {
				return tx.InsertFraudReport(store.FraudReport{LoginID: id, Username: "tim", DeviceID: "d", Time: ts[0]})
			},
			func(tx store.Tx, id string) ([]time.Time, error) {
				rs, err := tx.FraudReports()
				for _, r := range rs {
					if r.LoginID == id {
						return []time.Time{r.Time}, nil
					}
				}
				return nil, fmt.Errorf("no fraud report %s: %w", id, err)
			}, false},
	}
}

// testTimes writes every time field of every record with every instant
// of storeTimes, reopens the database and reads them back: each comes back
// as the same instant. Times the store cannot hold are refused, and
// nothing is written.
func testTimes(t *testing.T, e Engine) {
	name := e.New(t)
	st, err := e.Open(t, name, Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	st.Update(ctx, func(tx store.Tx) error {
		return tx.InsertAccount(store.Account{Username: "tim", Account: "U0", Phone: "+15550001234", Password: "x", Created: time.Unix(5, 0)})
	})
	type written struct {
		rec timeRecord
		id  string
		ts  []time.Time
	}
	var all []written
	n := 0
	for _, rec := range timeRecords() {
		for field := range rec.fields {
			for _, at := range storeTimes {
				n++
				ts := make([]time.Time, rec.fields)
				for i := range ts {
					ts[i] = time.Unix(int64(1000+i), 0)
				}
				ts[field] = at
				id := fmt.Sprintf("t%04d", n)
				err := st.Update(ctx, func(tx store.Tx) error { return rec.write(tx, id, ts) })
				if rec.needed && at.IsZero() {
					if err == nil {
						t.Errorf("%s without a time was written", rec.name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s field %d = %v: %v", rec.name, field, at, err)
				}
				all = append(all, written{rec, id, ts})
			}
			for _, bad := range badTimes {
				n++
				ts := make([]time.Time, rec.fields)
				for i := range ts {
					ts[i] = time.Unix(int64(1000+i), 0)
				}
				ts[field] = bad
				id := fmt.Sprintf("t%04d", n)
				err := st.Update(ctx, func(tx store.Tx) error { return rec.write(tx, id, ts) })
				if !errors.Is(err, store.ErrTimeRange) {
					t.Errorf("%s field %d = %v: %v, want store.ErrTimeRange", rec.name, field, bad, err)
				}
				st.View(ctx, func(tx store.Tx) error {
					if got, err := rec.read(tx, id); err == nil && rec.name != "event" && rec.name != "send" {
						t.Errorf("%s field %d = %v: refused but written: %v", rec.name, field, bad, got)
					}
					return nil
				})
			}
		}
	}
	st.Close()

	st, err = e.Open(t, name, Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(ctx, func(tx store.Tx) error {
		for _, w := range all {
			got, err := w.rec.read(tx, w.id)
			if err != nil {
				t.Errorf("%s %s: %v", w.rec.name, w.id, err)
				continue
			}
			for i := range w.ts {
				if !sameTime(got[i], w.ts[i]) {
					t.Errorf("%s field %d: wrote %v, read %v", w.rec.name, i, w.ts[i], got[i])
				}
			}
		}
		return nil
	})
	// A delivery is delivered at any instant the store holds, and only
	// at one.
	for _, at := range append(storeTimes[1:], badTimes...) {
		n++
		id := fmt.Sprintf("t%04d", n)
		err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.InsertDelivery(store.Delivery{ID: id, DeviceID: id, Kind: "k", Label: "l", Sealed: []byte{1}, Created: time.Unix(5, 0)}); err != nil {
				return err
			}
			return tx.MarkDelivered(id, at)
		})
		var pending []store.Delivery
		st.View(ctx, func(tx store.Tx) error { pending, _ = tx.PendingDeliveries(id); return nil })
		ok := err == nil && len(pending) == 0
		bad := errors.Is(err, store.ErrTimeRange) && len(pending) == 0 // the whole transaction is undone
		if !ok && !bad {
			t.Errorf("delivered at %v: %v, %d pending", at, err, len(pending))
		}
	}
}
