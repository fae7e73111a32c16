package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

// Enrollment by Client Portal link. The portal, after a step-up, starts an
// enrollment that needs no SMS code (StartLinkEnrollment) and shows its
// link and Session ID; the device exchanges the Session ID for the
// enrollment (ExchangeSession) and activates it with the Session ID in
// place of the code.

// MaxLinksPerWindow is how many enrollments by link a user may start
// within verifier.Config.CodeTTL (10 minutes).
const MaxLinksPerWindow = 5

// LinkEnrollment is an enrollment by link, as the portal shows it.
type LinkEnrollment struct {
	ID        string // the enrollment id (not secret, not shown)
	Username  string
	SessionID string // canonical: 16 characters; show it with protocol.FormatSessionID
	ExpiresAt time.Time
}

// Link returns the enrollment link for the service at base (its public
// URL): ibkey://enroll?service=BASE&session=SESSIONID.
func (l LinkEnrollment) Link(base string) string { return protocol.EnrollLink(base, l.SessionID) }

// LinkRequest starts an enrollment by link for a user whom the portal has
// just verified again (step-up), from the client at IP.
type LinkRequest struct {
	Username, IP string
}

// StartLinkEnrollment starts an enrollment by link. The Session ID is
// single use, valid for Limits.CodeTTL (10 minutes), takes at most
// Limits.CodeMaxTries wrong tries, and replaces the user's earlier
// enrollments by link still pending. At most MaxLinksPerWindow are started
// per user per CodeTTL. Errors: ErrNoUser, *LockedError, *RateLimitError
// (links).
func (s *Service) StartLinkEnrollment(ctx context.Context, req LinkRequest) (LinkEnrollment, error) {
	return StartLinkEnrollment(ctx, s.st, s.rand, s.now(), s.cfg.Limits, req.Username)
}

// StartLinkEnrollment is Service.StartLinkEnrollment on a store, for
// admin tools and tests.
func StartLinkEnrollment(ctx context.Context, st store.Store, rnd io.Reader, now time.Time, limits verifier.Config, username string) (LinkEnrollment, error) {
	limits = limits.WithDefaults()
	username, ok := protocol.CanonicalUsername(username)
	if !ok {
		return LinkEnrollment{}, ErrNoUser
	}
	var out LinkEnrollment
	audit := func(tx store.Tx, e store.AuditEvent) error {
		e.Time = now
		return tx.InsertAudit(e)
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			return locked(acct.Lockout)
		}
		recent, err := tx.RecentEnrollments(acct.Username, now.Add(-limits.CodeTTL), 100)
		if err != nil {
			return err
		}
		links := 0
		for _, e := range recent {
			if e.Channel == protocol.ChannelLink {
				links++
			}
		}
		if links >= MaxLinksPerWindow {
			if err := audit(tx, store.AuditEvent{Event: AuditRateLimited, Username: acct.Username, Outcome: "refused", Detail: map[string]string{"limit": "links"}}); err != nil {
				return err
			}
			return store.Commit(rateLimited("links"))
		}
		// The newest link is the only live one.
		for _, e := range recent {
			if e.Channel == protocol.ChannelLink && e.State == verifier.EnrollPending {
				e.State = verifier.EnrollFailed
				if err := tx.UpdateEnrollment(e); err != nil {
					return err
				}
			}
		}
		for range 8 {
			e, session, err := verifier.NewLinkEnrollment(limits, rnd, now, acct.Username)
			if err != nil {
				return err
			}
			// Live locators are unique, so that a locator names one session.
			if _, err := tx.EnrollmentByLocator(e.Locator, now); err == nil {
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			out = LinkEnrollment{ID: e.ID, Username: acct.Username, SessionID: session, ExpiresAt: e.ExpiresAt.UTC()}
			if err := tx.InsertEnrollment(e, now); err != nil {
				return err
			}
			return audit(tx, store.AuditEvent{Event: AuditEnrollStarted, Username: acct.Username, Outcome: "link shown", Detail: map[string]string{"enrollment": e.ID, "channel": protocol.ChannelLink}})
		}
		return errors.New("core: no free Session ID locator")
	})
	if err != nil {
		return LinkEnrollment{}, fmt.Errorf("start device enrollment: %w", err)
	}
	return out, nil
}

// SessionRequest exchanges a Session ID (as typed) for its enrollment,
// from the client at IP.
type SessionRequest struct {
	Session, IP string
}

// ExchangeSession returns the enrollment of a Session ID without using it
// up (the activation does), counting wrong ones. Its per-address limit is
// its own (as many exchanges as password checks per account). Errors:
// *RateLimitError, *InputError, ErrBadSession (wrong, expired, used,
// replaced: one answer for all), *LockedError (to the right Session ID
// only).
func (s *Service) ExchangeSession(ctx context.Context, req SessionRequest) (protocol.Enrollment, error) {
	if err := s.take(ctx, LimitSession, req.IP, s.rate.PerAccount, s.rate.AccountBurst, "", req.IP); err != nil {
		return protocol.Enrollment{}, err
	}
	session, err := protocol.NormalizeSessionID(req.Session)
	if err != nil {
		return protocol.Enrollment{}, badRequest("session must be a Session ID of 16 letters and digits")
	}
	now := s.now()
	var out protocol.Enrollment
	err = s.st.Update(ctx, func(tx store.Tx) error {
		e, err := tx.EnrollmentByLocator(session[:verifier.LocatorLen], now)
		if errors.Is(err, store.ErrNotFound) {
			return ErrBadSession
		}
		if err != nil {
			return err
		}
		// Held, and read before the enrollment changes: its lock, its
		// count of failures.
		acct, err := tx.Account(e.Username)
		if err != nil {
			return err
		}
		wasFailed := e.State == verifier.EnrollFailed
		switch err := e.CheckSession(s.cfg.Limits, session, now); {
		case errors.Is(err, verifier.ErrBadCode), errors.Is(err, verifier.ErrTooManyTries) && !wasFailed:
			// A wrong Session ID with a live locator counts toward its
			// enrollment's tries and its account's lock.
			if err := tx.UpdateEnrollment(e); err != nil {
				return err
			}
			if _, err := s.countFailure(tx, &acct, now, store.AuditEvent{Event: AuditCodeFailed, IP: req.IP, Detail: map[string]string{"enrollment": e.ID, "channel": protocol.ChannelLink}}); err != nil {
				return err
			}
			return store.Commit(ErrBadSession)
		case errors.Is(err, verifier.ErrTooManyTries),
			errors.Is(err, verifier.ErrExpired), errors.Is(err, verifier.ErrSpent), errors.Is(err, verifier.ErrBadChannel):
			return ErrBadSession
		case err != nil:
			return err
		}
		// Only the right Session ID learns that its user is locked.
		if acct.Lockout.Locked(now) {
			return locked(acct.Lockout)
		}
		out = protocol.Enrollment{ID: e.ID, Channel: protocol.ChannelLink, ExpiresAt: e.ExpiresAt.UTC(), Username: acct.Username, Session: session}
		return nil
	})
	if err != nil {
		return protocol.Enrollment{}, err
	}
	return out, nil
}
