package ratelimit

import (
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
}
