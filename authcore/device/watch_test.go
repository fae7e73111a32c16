package device

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

// watchClock is a clock that tests move while Watch reads it.
type watchClock struct{ ns atomic.Int64 }

func (c *watchClock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *watchClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// expect reads notices until one satisfies ok and returns it. It fails
// the test if the channel closes or nothing comes for a long time (a
// hang, not a measure of speed).
func expect(t *testing.T, ch <-chan Notice, what string, ok func(Notice) bool) Notice {
	t.Helper()
	guard := time.After(10 * time.Second)
	for {
		select {
		case n, open := <-ch:
			if !open {
				t.Fatalf("%s: the channel closed", what)
			}
			if ok(n) {
				return n
			}
		case <-guard:
			t.Fatalf("%s: no such notice", what)
		}
	}
}

// drain reads ch until Watch closes it, as it must once its context ends.
func drain(t *testing.T, ch <-chan Notice) {
	t.Helper()
	guard := time.After(10 * time.Second)
	for {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		case <-guard:
			t.Fatal("Watch did not close its channel when its context ended")
		}
	}
}

// TestWatch: Watch follows the enrolled users of the vault: it tells that
// the service answers, each login request once, the end of each request
// (no longer pending, past its expiry by the device's clock, its user
// removed), a rename, a service that cannot be reached and its return, a
// retired device (no longer polled), and closes when its context ends.
func TestWatch(t *testing.T) {
	t.Parallel()
	f, ts, d0, now0 := enrollAlice(t)
	var clock watchClock
	clock.set(*now0)
	d := &Device{Vault: d0.Vault, Client: d0.Client, Now: clock.now}
	f.set(func(f *fakeService) { f.longPoll, f.pending = true, []string{} })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := d.Watch(ctx, WatchOptions{Wait: time.Second, Retry: time.Millisecond, Rescan: 5 * time.Millisecond})

	n := expect(t, ch, "online", func(n Notice) bool { return true })
	if n.User != "alice" || n.Device != fakeDevice || !n.Online || n.Request != nil || n.Err != nil {
		t.Fatalf("first notice %+v", n)
	}
	start := clock.now()
	f.set(func(f *fakeService) { f.pending = []string{"l1"} })
	f.login("l1", []int{12, 57, 89}, start.Add(2*time.Minute))
	n = expect(t, ch, "request l1", func(n Notice) bool { return n.Request != nil })
	if n.Request.Event.ID != "l1" || n.User != "alice" || n.Request.User != "alice" {
		t.Fatalf("request notice %+v", n)
	}
	// Answered in the browser: the service no longer lists it.
	f.set(func(f *fakeService) { f.pending = []string{} })
	if n = expect(t, ch, "l1 over", func(n Notice) bool { return n.Over != "" }); n.Over != "l1" {
		t.Fatalf("over %+v", n)
	}
	// Expired by the device's clock, though the service still lists it.
	f.set(func(f *fakeService) { f.pending = []string{"l2"} })
	f.login("l2", []int{12, 57, 89}, start.Add(time.Minute))
	expect(t, ch, "request l2", func(n Notice) bool { return n.Request != nil && n.Request.Event.ID == "l2" })
	clock.set(start.Add(time.Minute))
	f.set(func(f *fakeService) {}) // wake the long-poll
	if n = expect(t, ch, "l2 expired", func(n Notice) bool { return n.Over != "" }); n.Over != "l2" {
		t.Fatalf("over %+v", n)
	}
	// A request that comes expired, or not pending, is not delivered.
	f.set(func(f *fakeService) { f.pending = []string{"l3", "l4"} })
	f.login("l3", []int{12, 57, 89}, clock.now().Add(-time.Nanosecond))
	f.login("l5", []int{12, 57, 89}, clock.now().Add(time.Minute))
	f.login("l4", []int{12, 57, 89}, clock.now().Add(time.Minute))
	if n = expect(t, ch, "request l4", func(n Notice) bool { return n.Request != nil }); n.Request.Event.ID != "l4" {
		t.Fatalf("delivered %+v, want l4", n.Request.Event)
	}
	// A rename shows in later notices.
	if err := d.Vault.Rename("alice", "alicia"); err != nil {
		t.Fatal(err)
	}
	// The poll under way was asked under the old name; the next one,
	// after l4 is over, is under the new name.
	f.set(func(f *fakeService) { f.pending = []string{} })
	if n = expect(t, ch, "l4 over", func(n Notice) bool { return n.Over != "" }); n.Over != "l4" {
		t.Fatalf("over %+v", n)
	}
	f.set(func(f *fakeService) { f.pending = []string{"l4", "l6"} })
	f.login("l6", []int{12, 57, 89}, clock.now().Add(time.Minute))
	if n = expect(t, ch, "request l6", func(n Notice) bool { return n.Request != nil }); n.User != "alicia" || n.Request.User != "alicia" {
		t.Errorf("after the rename: %+v", n)
	}
	// The service cannot be reached, then again.
	f.set(func(f *fakeService) { f.eventsStatus, f.eventsCode = 503, "unavailable" })
	n = expect(t, ch, "offline", func(n Notice) bool { return !n.Online })
	if !Offline(n.Err) {
		t.Errorf("offline notice %+v", n)
	}
	f.set(func(f *fakeService) { f.eventsStatus = 0 })
	expect(t, ch, "online again", func(n Notice) bool { return n.Online && n.Err == nil && n.Request == nil && n.Over == "" })
	// Another failure is told, online.
	f.set(func(f *fakeService) { f.eventsStatus, f.eventsCode = 400, protocol.CodeBadRequest })
	if n = expect(t, ch, "failure", func(n Notice) bool { return n.Err != nil }); !n.Online {
		t.Errorf("a refusal is not offline: %+v", n)
	}
	// Retired: told, what it held is over, and it is no longer polled.
	f.set(func(f *fakeService) { f.eventsStatus, f.eventsCode = 403, protocol.CodeDeviceRetired })
	n = expect(t, ch, "retired", func(n Notice) bool { return errors.Is(n.Err, protocol.ErrDeviceRetired) })
	held := map[string]bool{}
	for len(held) < 1 {
		n = expect(t, ch, "held over", func(n Notice) bool { return n.Over != "" })
		held[n.Over] = true
	}
	if !held["l6"] {
		t.Errorf("over after retirement: %v", held)
	}
	f.took()
	time.Sleep(30 * time.Millisecond) // rescans pass; not an assertion
	for _, c := range f.took() {
		if c == "GET /api/v1/devices/dev-1/events" {
			t.Fatal("a retired device is polled again")
		}
	}
	cancel()
	drain(t, ch)
	_ = ts
	_ = vault.ErrNoUser
}

// TestWatchRemoved: a user removed from the vault is no longer polled and
// what it held is over.
func TestWatchRemoved(t *testing.T) {
	t.Parallel()
	f, _, d0, now0 := enrollAlice(t)
	var clock watchClock
	clock.set(*now0)
	d := &Device{Vault: d0.Vault, Client: d0.Client, Now: clock.now}
	f.set(func(f *fakeService) { f.longPoll, f.pending = true, nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := d.Watch(ctx, WatchOptions{Wait: time.Second, Retry: time.Millisecond, Rescan: 5 * time.Millisecond})
	expect(t, ch, "online", func(n Notice) bool { return n.Online })
	// A service that does not list pending requests: each is held until
	// it expires or its user goes.
	f.login("l1", []int{12, 57, 89}, clock.now().Add(time.Minute))
	expect(t, ch, "request", func(n Notice) bool { return n.Request != nil })
	if err := d.Vault.Remove("alice"); err != nil {
		t.Fatal(err)
	}
	if n := expect(t, ch, "over", func(n Notice) bool { return n.Over != "" }); n.Over != "l1" {
		t.Errorf("over %+v", n)
	}
	cancel()
	drain(t, ch)
}

// TestWatchOptions: the defaults of WatchOptions (a 25 s long-poll, a 1 s
// first pause, a rescan every 3 s) and the pauses after failed polls,
// doubled up to 30 s.
func TestWatchOptions(t *testing.T) {
	t.Parallel()
	want := WatchOptions{Wait: 25 * time.Second, Retry: time.Second, Rescan: 3 * time.Second}
	for _, o := range []WatchOptions{{}, {Wait: -1, Retry: -1, Rescan: -1}} {
		if got := o.withDefaults(); got != want {
			t.Errorf("%+v.withDefaults() = %+v", o, got)
		}
	}
	set := WatchOptions{Wait: 1, Retry: 2, Rescan: 3}
	if got := set.withDefaults(); got != set {
		t.Errorf("set options changed: %+v", got)
	}
	p := time.Second
	var got []time.Duration
	for range 7 {
		p = nextPause(p)
		got = append(got, p)
	}
	if !slices.Equal(got, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}) {
		t.Errorf("pauses %v", got)
	}
	if nextPause(15*time.Second) != 30*time.Second || nextPause(15*time.Second+1) != 30*time.Second {
		t.Error("the cap")
	}
}

// TestConfirmDelays: a confirmation without an answer is tried 6 times,
// with waits of 0.5, 1, 2, 4 and 8 s (docs/PROTOCOL.md, "confirm").
func TestConfirmDelays(t *testing.T) {
	t.Parallel()
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if !slices.Equal(confirmDelays, want) {
		t.Errorf("confirmDelays = %v, want %v", confirmDelays, want)
	}
}
