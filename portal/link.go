package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
)

// Enrollment by Client Portal link. The portal, after a step-up, starts an
// enrollment that needs no SMS code (StartDeviceEnrollment) and shows its
// link and Session ID; the device exchanges the Session ID for the
// enrollment (POST /api/v1/enrollments/session) and activates it with the
// Session ID in place of the code.

// Limits of enrollments by link.
const (
	// MaxLinksPerWindow is how many enrollments by link a user may start
	// within verifier.Config.CodeTTL (10 minutes).
	MaxLinksPerWindow = 5
)

// Errors of StartDeviceEnrollment.
var (
	ErrTooManyLinks = errors.New("portal: too many device enrollments started; wait a few minutes")
	ErrUserLocked   = errors.New("portal: the user is locked")
)

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

// StartDeviceEnrollment starts an enrollment by link for username, whom
// the portal has just verified again (step-up). The Session ID is single
// use, valid for Limits.CodeTTL (10 minutes), takes at most
// Limits.CodeMaxTries wrong tries, and replaces the user's earlier
// enrollments by link still pending. At most MaxLinksPerWindow are started
// per user per CodeTTL (ErrTooManyLinks). ErrNoUser, ErrUserLocked.
func (s *Server) StartDeviceEnrollment(ctx context.Context, username string) (LinkEnrollment, error) {
	return StartLinkEnrollment(ctx, s.store, s.rand, s.now(), s.cfg.Limits, username)
}

// StartLinkEnrollment is StartDeviceEnrollment on a store, for admin tools
// and tests.
func StartLinkEnrollment(ctx context.Context, st Store, rnd io.Reader, now time.Time, limits verifier.Config, username string) (LinkEnrollment, error) {
	limits = limits.WithDefaults()
	username, ok := protocol.CanonicalUsername(username)
	if !ok {
		return LinkEnrollment{}, fmt.Errorf("start device enrollment: %w", ErrNoUser)
	}
	var out LinkEnrollment
	tooMany := false
	audit := func(tx Tx, e AuditEvent) error {
		e.Time = now
		return tx.InsertAudit(e)
	}
	err := st.Update(ctx, func(tx Tx) error {
		acct, err := tx.Account(username)
		if errors.Is(err, ErrNotFound) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			return ErrUserLocked
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
			tooMany = true
			return audit(tx, AuditEvent{Event: AuditRateLimited, Username: acct.Username, Outcome: "refused", Detail: map[string]string{"limit": "links"}})
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
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			out = LinkEnrollment{ID: e.ID, Username: acct.Username, SessionID: session, ExpiresAt: e.ExpiresAt.UTC()}
			if err := tx.InsertEnrollment(e, now); err != nil {
				return err
			}
			return audit(tx, AuditEvent{Event: AuditEnrollStarted, Username: acct.Username, Outcome: "link shown", Detail: map[string]string{"enrollment": e.ID, "channel": protocol.ChannelLink}})
		}
		return errors.New("portal: no free Session ID locator")
	})
	if err == nil && tooMany {
		err = ErrTooManyLinks
	}
	if err != nil {
		return LinkEnrollment{}, fmt.Errorf("start device enrollment: %w", err)
	}
	return out, nil
}

var errBadSession = errf(http.StatusForbidden, protocol.CodeInvalidCode, "wrong or expired Session ID; start again in the Client Portal")

// handleEnrollSession exchanges a Session ID for its enrollment. It does
// not use the session up (the activation does) but counts wrong ones.
func (s *Server) handleEnrollSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	if ok, report := s.sessionLimit.Take(clientIP(r), s.now()); !ok {
		if report {
			s.limited(r.Context(), "session", "", clientIP(r))
		}
		return errRate
	}
	var req protocol.SessionRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	session, err := protocol.NormalizeSessionID(req.Session)
	if err != nil {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "session must be a Session ID of 16 letters and digits")
	}
	now := s.now()
	var out protocol.Enrollment
	var result error
	err = s.store.Update(r.Context(), func(tx Tx) error {
		e, err := tx.EnrollmentByLocator(session[:verifier.LocatorLen], now)
		if errors.Is(err, ErrNotFound) {
			result = errBadSession
			return nil
		}
		if err != nil {
			return err
		}
		wasFailed := e.State == verifier.EnrollFailed
		switch err := e.CheckSession(s.cfg.Limits, session, now); {
		case errors.Is(err, verifier.ErrBadCode), errors.Is(err, verifier.ErrTooManyTries) && !wasFailed:
			// A wrong Session ID with a live locator counts toward its
			// enrollment's tries and its account's lock.
			result = errBadSession
			if err := tx.UpdateEnrollment(e); err != nil {
				return err
			}
			acct, err := tx.Account(e.Username)
			if err != nil {
				return err
			}
			_, err = s.countFailure(tx, &acct, now, AuditEvent{Event: AuditCodeFailed, IP: clientIP(r), Detail: map[string]string{"enrollment": e.ID, "channel": protocol.ChannelLink}})
			return err
		case errors.Is(err, verifier.ErrTooManyTries):
			result = errBadSession
			return nil
		case errors.Is(err, verifier.ErrExpired), errors.Is(err, verifier.ErrSpent), errors.Is(err, verifier.ErrBadChannel):
			result = errBadSession
			return nil
		case err != nil:
			return err
		}
		// Only the right Session ID learns that its user is locked.
		acct, err := tx.Account(e.Username)
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			result = errLocked
			return nil
		}
		out = protocol.Enrollment{ID: e.ID, Channel: protocol.ChannelLink, ExpiresAt: e.ExpiresAt.UTC(), Username: acct.Username, Session: session}
		return nil
	})
	if err != nil {
		return internal(err)
	}
	if result != nil {
		return result
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
