package portal

import (
	"sync"
	"time"
)

// RateLimit sets the token buckets of the service. Zero fields take the
// defaults; Disabled turns limiting off (benchmarks).
type RateLimit struct {
	PerIP        float64 // requests per second per client address: 20
	IPBurst      float64 // 60
	PerAccount   float64 // password checks and enrollments per second per user: 0.2
	AccountBurst float64 // 10
	Disabled     bool
}

func (r RateLimit) withDefaults() RateLimit {
	if r.PerIP <= 0 {
		r.PerIP = 20
	}
	if r.IPBurst <= 0 {
		r.IPBurst = 60
	}
	if r.PerAccount <= 0 {
		r.PerAccount = 0.2
	}
	if r.AccountBurst <= 0 {
		r.AccountBurst = 10
	}
	return r
}

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is a set of token buckets keyed by string.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	off     bool
	buckets map[string]*bucket
}

func newLimiter(rate, burst float64, off bool) *limiter {
	return &limiter{rate: rate, burst: burst, off: off, buckets: make(map[string]*bucket)}
}

// allow takes one token of key's bucket at now.
func (l *limiter) allow(key string, now time.Time) bool {
	if l.off {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= 100000 {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens += el * l.rate
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops the buckets that have refilled.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
