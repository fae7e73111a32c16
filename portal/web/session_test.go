package web

import (
	"context"
	"crypto/rand"
	"testing"
	"time"
)

// TestSessionLifetime: a portal session ends 15 minutes after it was last
// seen and 8 hours after it began however much it is used
// (docs/PORTAL.md), each at the instant: live one nanosecond before, gone
// at it.
func TestSessionLifetime(t *testing.T) {
	const idle, absolute = 15 * time.Minute, 8 * time.Hour
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	start := func(t *testing.T) (*sessions, string) {
		t.Helper()
		s := &sessions{st: newMemSessions(), rand: rand.Reader, idle: idle, max: absolute, limit: 10}
		_, id, err := s.rotate(ctx, session{user: "ann"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return s, id
	}
	live := func(t *testing.T, s *sessions, id string, at time.Time) bool {
		t.Helper()
		v, ok, err := s.get(ctx, id, at)
		if err != nil {
			t.Fatal(err)
		}
		if ok && v.user != "ann" {
			t.Fatalf("session %+v", v)
		}
		return ok
	}
	t.Run("idle", func(t *testing.T) {
		for _, c := range []struct {
			at   time.Duration
			live bool
		}{{idle - time.Nanosecond, true}, {idle, false}, {idle + time.Nanosecond, false}} {
			s, id := start(t)
			if got := live(t, s, id, t0.Add(c.at)); got != c.live {
				t.Errorf("unused for %v: live %v, want %v", c.at, got, c.live)
			}
		}
		// Each use moves the idle end on.
		s, id := start(t)
		if !live(t, s, id, t0.Add(10*time.Minute)) || !live(t, s, id, t0.Add(10*time.Minute+idle-time.Nanosecond)) {
			t.Fatal("a session in use ended")
		}
		if live(t, s, id, t0.Add(2*10*time.Minute+2*idle)) {
			t.Fatal("an unused session lived on")
		}
	})
	t.Run("absolute", func(t *testing.T) {
		for _, c := range []struct {
			at   time.Duration
			live bool
		}{{absolute - time.Nanosecond, true}, {absolute, false}, {absolute + time.Nanosecond, false}} {
			s, id := start(t)
			// Used every 10 minutes, never idle for 15.
			for at := 10 * time.Minute; at < absolute; at += 10 * time.Minute {
				if !live(t, s, id, t0.Add(at)) {
					t.Fatalf("a session in use ended at %v", at)
				}
			}
			if got := live(t, s, id, t0.Add(c.at)); got != c.live {
				t.Errorf("in use for %v: live %v, want %v", c.at, got, c.live)
			}
		}
	})
}
