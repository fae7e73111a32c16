package portal

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
