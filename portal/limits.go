package portal

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
)

// The service's limits on guessing and on sending, and their audit
// records (docs/SECURITY.md says why each is what it is).

// countFailure counts a failure of one of acct's secrets (a password, an
// activation code or Session ID, a response, an approval, a PIN proof)
// toward its lock, writes the account, and audits e (as the failure) and,
// when this failure locks the account, account.locked. It returns the
// attempts left before the (next) lock.
func (s *Server) countFailure(tx Tx, acct *Account, now time.Time, e AuditEvent) (int, error) {
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
		if err := s.audit(tx, AuditEvent{Event: AuditAccountLocked, Username: acct.Username, Device: e.Device, IP: e.IP, Outcome: outcome, Detail: d}); err != nil {
			return 0, err
		}
	}
	return left, nil
}

// succeed ends acct's run of failures (a right response, approval or PIN
// proof); it writes nothing.
func succeed(acct *Account) { acct.Lockout.Succeed() }

// errSendCap is the 429 of a code that the caps per user or phone hold.
var errSendCap = errf(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many codes were sent to this user or phone number; try again later")

// sendsKept is how long a record of a sent code is kept: the longest cap
// is a day.
const sendsKept = 48 * time.Hour

// checkSend counts the codes sent to acct and its phone in the last hour
// and day: errSendCap (and an audit record of the cap, in tx) when one more
// is over a cap, else nil.
func (s *Server) checkSend(tx Tx, acct Account, channel, ip string, now time.Time) (refused error, err error) {
	var n verifier.Sent
	if n.UserHour, n.PhoneHour, err = tx.CountSends(acct.Username, acct.Phone, now.Add(-time.Hour)); err != nil {
		return nil, err
	}
	if n.UserDay, n.PhoneDay, err = tx.CountSends(acct.Username, acct.Phone, now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	if cerr := verifier.SendCap(s.cfg.Limits, n); cerr != nil {
		return errSendCap, s.audit(tx, AuditEvent{Event: AuditRateLimited, Username: acct.Username, IP: ip, Outcome: "refused",
			Detail: map[string]string{"limit": verifier.CapName(cerr), "channel": channel}})
	}
	return nil, nil
}

// recordSend records a code sent to acct, with its audit record.
func (s *Server) recordSend(tx Tx, acct Account, channel, ip, enrollmentID string, now time.Time) error {
	if err := tx.PruneSends(now.Add(-sendsKept)); err != nil {
		return err
	}
	if err := tx.InsertSend(Send{Time: now, Username: acct.Username, Phone: acct.Phone, Channel: channel}); err != nil {
		return err
	}
	return s.audit(tx, AuditEvent{Event: AuditCodeSent, Username: acct.Username, IP: ip, Outcome: "sent",
		Detail: map[string]string{"channel": channel, "to": MaskPhone(acct.Phone), "enrollment": enrollmentID}})
}

// limited audits a refusal of an in-memory rate limit (the first of each
// key in a minute: see ratelimit.Limiter.Take).
func (s *Server) limited(ctx context.Context, limit, username, ip string) {
	s.auditAlone(ctx, AuditEvent{Event: AuditRateLimited, Username: username, IP: ip, Outcome: "refused", Detail: map[string]string{"limit": limit}})
}

// allowIP takes a token of the client address's bucket.
func (s *Server) allowIP(ctx context.Context, ip string) error {
	ok, report := s.ipLimit.Take(ip, s.now())
	if report {
		s.limited(ctx, "ip", "", ip)
	}
	if !ok {
		return errRate
	}
	return nil
}

// allowUser takes a token of the user's bucket of password checks.
func (s *Server) allowUser(ctx context.Context, username, ip string) error {
	ok, report := s.userLimit.Take(username, s.now())
	if report {
		s.limited(ctx, "account", username, ip)
	}
	if !ok {
		return errRate
	}
	return nil
}
