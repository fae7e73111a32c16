package core

import (
	"context"
	"strconv"
	"time"

	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

// The service's limits on guessing and on sending, and their audit
// records (docs/SECURITY.md says why each is what it is). Every count is in
// the store, so that the limits hold across restarts and across the
// instances of one service.

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

// The limits' names, in RateLimitError and in the audit log.
const (
	LimitIP      = "ip"      // requests per client address
	LimitAccount = "account" // password checks per account
	LimitSession = "session" // Session ID exchanges per client address
	LimitPages   = "pages"   // Client Portal pages per client address
)

// take takes a token of the bucket limit:key in the store; a refusal is
// a *RateLimitError, and the first in a minute is audited.
func (s *Service) take(ctx context.Context, limit, key string, rate, burst float64, username, ip string) error {
	if s.rate.Disabled {
		return nil
	}
	now := s.now()
	got, err := s.st.Take(ctx, store.Bucket{Key: limit + ":" + key, Rate: rate, Burst: burst}, now)
	if err != nil {
		return err
	}
	s.prune(ctx, now)
	if got.Report {
		s.auditAlone(ctx, store.AuditEvent{Event: AuditRateLimited, Username: username, IP: ip, Outcome: "refused", Detail: map[string]string{"limit": limit}})
	}
	if !got.OK {
		return rateLimited(limit)
	}
	return nil
}

// AllowIP takes a token of the client address's bucket of requests: nil,
// a *RateLimitError, or a fault of the store.
func (s *Service) AllowIP(ctx context.Context, ip string) error {
	return s.take(ctx, LimitIP, ip, s.rate.PerIP, s.rate.IPBurst, "", ip)
}

// allowUser takes a token of the user's bucket of password checks.
func (s *Service) allowUser(ctx context.Context, username, ip string) error {
	return s.take(ctx, LimitAccount, username, s.rate.PerAccount, s.rate.AccountBurst, username, ip)
}

// AllowPage takes a token of the client address's bucket of Client Portal
// pages (rate a second, bursts of burst), shared by every instance.
func (s *Service) AllowPage(ctx context.Context, ip string, rate, burst float64) error {
	return s.take(ctx, LimitPages, ip, rate, burst, "", ip)
}

// pruneEvery is how often an instance drops the store's full buckets.
const pruneEvery = time.Minute

// prune drops the full rate-limit buckets, once a minute at most.
func (s *Service) prune(ctx context.Context, now time.Time) {
	last := s.pruned.Load()
	if now.UnixNano()-last < int64(pruneEvery) || !s.pruned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if err := s.st.Update(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.PruneBuckets(now) }); err != nil {
		s.log.Error("prune", "err", err)
	}
}

// countFailure counts a failure of one of acct's secrets (a password, an
// activation code or Session ID, a response, an approval, a PIN proof)
// toward its lock, writes the account, and audits e (as the failure) and,
// when this failure locks the account, account.locked. It returns the
// attempts left before the (next) lock. acct was read in tx (held).
func (s *Service) countFailure(tx store.Tx, acct *store.Account, now time.Time, e store.AuditEvent) (int, error) {
	left := acct.Lockout.Fail(s.cfg.Limits, now)
	if err := tx.UpdateAccount(*acct); err != nil {
		return 0, err
	}
	e.Username = acct.Username
	if e.Outcome == "" {
		e.Outcome = "failed"
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["failures"] = strconv.Itoa(acct.Lockout.Failures)
	if err := s.audit(tx, e); err != nil {
		return 0, err
	}
	if acct.Lockout.Locked(now) {
		d := map[string]string{"failures": strconv.Itoa(acct.Lockout.Failures)}
		outcome := "until " + acct.Lockout.LockedUntil.UTC().Format(time.RFC3339)
		if acct.Lockout.Hard {
			outcome = "until an administrator unlocks"
		}
		if err := s.audit(tx, store.AuditEvent{Event: AuditAccountLocked, Username: acct.Username, Device: e.Device, IP: e.IP, Outcome: outcome, Detail: d}); err != nil {
			return 0, err
		}
	}
	return left, nil
}

// locked is the LockedError of a lockout.
func locked(lo verifier.Lockout) error {
	if lo.Hard {
		return &LockedError{Hard: true}
	}
	return &LockedError{Until: lo.LockedUntil}
}

// sendsKept is how long a record of a sent code is kept: the longest cap
// is a day.
const sendsKept = 48 * time.Hour

// checkSend counts the codes sent to acct and its phone in the last hour
// and day: a *RateLimitError (whose audit record is written in tx, to
// commit) when one more is over a cap, else nil.
func (s *Service) checkSend(tx store.Tx, acct store.Account, channel, ip string, now time.Time) error {
	var n verifier.Sent
	var err error
	if n.UserHour, n.PhoneHour, err = tx.CountSends(acct.Username, acct.Phone, now.Add(-time.Hour)); err != nil {
		return err
	}
	if n.UserDay, n.PhoneDay, err = tx.CountSends(acct.Username, acct.Phone, now.Add(-24*time.Hour)); err != nil {
		return err
	}
	if cerr := verifier.SendCap(s.cfg.Limits, n); cerr != nil {
		name := verifier.CapName(cerr)
		if err := s.audit(tx, store.AuditEvent{Event: AuditRateLimited, Username: acct.Username, IP: ip, Outcome: "refused",
			Detail: map[string]string{"limit": name, "channel": channel}}); err != nil {
			return err
		}
		return store.Commit(rateLimited(name))
	}
	return nil
}

// recordSend records a code sent to acct, with its audit record.
func (s *Service) recordSend(tx store.Tx, acct store.Account, channel, ip, enrollmentID string, now time.Time) error {
	if err := tx.PruneSends(now.Add(-sendsKept)); err != nil {
		return err
	}
	if err := tx.InsertSend(store.Send{Time: now, Username: acct.Username, Phone: acct.Phone, Channel: channel}); err != nil {
		return err
	}
	return s.audit(tx, store.AuditEvent{Event: AuditCodeSent, Username: acct.Username, IP: ip, Outcome: "sent",
		Detail: map[string]string{"channel": channel, "to": MaskPhone(acct.Phone), "enrollment": enrollmentID}})
}
