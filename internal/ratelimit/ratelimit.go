// Package ratelimit is a set of token buckets keyed by string (a client
// address, a username), in memory, for the service's per-request limits.
// Limits that must survive a restart live in the service's store instead.
package ratelimit

import (
	"sync"
	"time"
)

// maxKeys is how many buckets a Limiter keeps before it drops the full ones.
const maxKeys = 100000

// reportEvery is how often a key's refusals are reported (Allow's first).
const reportEvery = time.Minute

type bucket struct {
	tokens   float64
	last     time.Time
	reported time.Time // when a refusal was last reported
}

// Limiter allows rate requests per second per key, with bursts of burst.
// The zero Limiter, and one made with off, allows everything. It is safe
// for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	off     bool
	buckets map[string]*bucket
}

// New returns a Limiter; off, or a rate of zero or less, makes it one that
// allows everything.
func New(rate, burst float64, off bool) *Limiter {
	return &Limiter{rate: rate, burst: burst, off: off || rate <= 0, buckets: make(map[string]*bucket)}
}

// Allow takes one token of key's bucket at now and reports whether there
// was one.
func (l *Limiter) Allow(key string, now time.Time) bool {
	ok, _ := l.Take(key, now)
	return ok
}

// Take is Allow that also says, on a refusal, whether it is the first to
// report for key in a minute: a refusal worth recording (an audit record),
// where recording every one would let a flood write without end.
func (l *Limiter) Take(key string, now time.Time) (ok, report bool) {
	if l == nil || l.off || l.buckets == nil {
		return true, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxKeys {
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
		if now.Sub(b.reported) >= reportEvery {
			b.reported = now
			return false, true
		}
		return false, false
	}
	b.tokens--
	return true, false
}

// sweep drops the buckets that have refilled.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
