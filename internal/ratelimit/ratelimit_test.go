package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	l := New(2, 3, false)
	for i := range 3 {
		if !l.Allow("a", t0) {
			t.Fatalf("burst %d refused", i)
		}
	}
	ok, report := l.Take("a", t0)
	if ok || !report {
		t.Fatalf("past the burst: %v %v", ok, report)
	}
	if ok, report := l.Take("a", t0.Add(100*time.Millisecond)); ok || report {
		t.Fatalf("a second refusal within a minute: %v %v", ok, report)
	}
	if !l.Allow("b", t0) {
		t.Fatal("keys share a bucket")
	}
	if !l.Allow("a", t0.Add(600*time.Millisecond)) {
		t.Fatal("no refill")
	}
	l.Allow("a", t0.Add(600*time.Millisecond))
	if _, report := l.Take("a", t0.Add(time.Minute+time.Second)); report {
		t.Fatal("the bucket was full again: no refusal to report")
	}
	for range 2 { // the Take above took one of the 3
		if !l.Allow("a", t0.Add(time.Minute+time.Second)) {
			t.Fatal("refused within the burst")
		}
	}
	if ok, report := l.Take("a", t0.Add(time.Minute+time.Second)); ok || !report {
		t.Fatalf("a refusal a minute later: %v %v", ok, report)
	}
	if !New(1, 1, true).Allow("x", t0) || !(*Limiter)(nil).Allow("x", t0) {
		t.Fatal("an off limiter refused")
	}
	// A rate of zero is off too (New's doc): it never refuses.
	z := New(0, 1, false)
	for i := range 3 {
		if !z.Allow("x", t0) {
			t.Fatalf("a limiter of rate 0 refused request %d", i+1)
		}
	}
}

// TestBurstCap: a key idle for an hour gets its burst at once, not an
// hour's worth of tokens (at 10 a second, 36,000).
func TestBurstCap(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	l := New(10, 50, false)
	if !l.Allow("a", t0) {
		t.Fatal("first refused")
	}
	later := t0.Add(time.Hour)
	n := 0
	for l.Allow("a", later) {
		n++
		if n > 100 {
			break
		}
	}
	if n != 50 {
		t.Fatalf("after an hour idle: %d at once, want the burst of 50", n)
	}
}

// TestReportEvery: of the refusals of one key, the first is reported and
// then the first from one minute after the last report on, to the
// nanosecond.
func TestReportEvery(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	l := New(1e-9, 1, false) // one token, no refill to speak of
	l.Allow("a", t0)
	for _, c := range []struct {
		at     time.Duration
		report bool
	}{
		{0, true},
		{time.Minute - time.Nanosecond, false},
		{time.Minute, true},
		{2*time.Minute - time.Nanosecond, false},
		{2*time.Minute + time.Nanosecond, true},
	} {
		if ok, report := l.Take("a", t0.Add(c.at)); ok || report != c.report {
			t.Errorf("at +%v: allowed %v, reported %v, want refused and reported %v", c.at, ok, report, c.report)
		}
	}
}

// TestSweep: a Limiter keeps at most maxKeys buckets; the key past them
// drops the buckets that are full again (refilled to the burst, to the
// instant) and keeps the others with what they hold.
func TestSweep(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	// Below maxKeys a new key sweeps nothing, not even a full bucket.
	small := New(2, 4, false)
	small.Allow("a", t0)
	small.Allow("b", t0.Add(time.Hour))
	if len(small.buckets) != 2 {
		t.Fatalf("%d buckets of 2 keys", len(small.buckets))
	}
	l := New(2, 4, false) // refills from empty in 2 s
	const half = 500 * time.Millisecond
	for i := range maxKeys - 1 {
		l.Allow(strconv.Itoa(i), t0) // 3 tokens left: full again at t0+500ms
	}
	for range 4 {
		l.Allow("drained", t0.Add(half)) // 0 left at t0+500ms: full at t0+2.5s
	}
	if len(l.buckets) != maxKeys {
		t.Fatalf("%d buckets", len(l.buckets))
	}
	// One less than full, a nanosecond before: nothing swept.
	if !l.Allow("new", t0.Add(half-time.Nanosecond)) {
		t.Fatal("a new key refused")
	}
	if len(l.buckets) != maxKeys+1 {
		t.Fatalf("a new key at %d buckets, none full: %d buckets, want %d", maxKeys, len(l.buckets), maxKeys+1)
	}
	delete(l.buckets, "new")
	// At t0+500ms the 99,999 are full to the instant: swept; "drained" is not.
	if !l.Allow("newer", t0.Add(half)) {
		t.Fatal("a new key refused")
	}
	if len(l.buckets) != 2 {
		t.Fatalf("after the sweep: %d buckets, want drained and newer", len(l.buckets))
	}
	if l.Allow("drained", t0.Add(half)) {
		t.Fatal("the sweep refilled a drained bucket")
	}
	// Below maxKeys a new key sweeps nothing.
	l.Allow("x", t0.Add(time.Hour))
	if len(l.buckets) != 3 {
		t.Fatalf("%d buckets, want 3", len(l.buckets))
	}
}
