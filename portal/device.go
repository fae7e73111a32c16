package portal

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
)

// deviceToken reads "Authorization: Device <base64url token>".
func deviceToken(r *http.Request) ([]byte, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, protocol.AuthScheme) || len(tok) > 128 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil || len(b) != 32 {
		return nil, false
	}
	return b, true
}

func (s *Server) authView(r *http.Request) (Device, error) {
	var d Device
	var result error
	err := s.store.View(r.Context(), func(tx Tx) error {
		d, result = s.authDevice(tx, r, false)
		return nil
	})
	if err != nil {
		return Device{}, internal(err)
	}
	return d, result
}

// handleEvents is the device channel: a long-poll that answers at once with
// the pending events after the sequence number `after`, or waits for one
// (woken by the hub) up to `wait` milliseconds. Every answer lists the
// device's login requests still pending; with `pending` (the digest of the
// list the device holds) it also answers as soon as that list changes: a
// request answered, refused or expired (docs/PROTOCOL.md).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	d, err := s.authView(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	wait := 25 * time.Second
	if v := q.Get("wait"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return errf(http.StatusBadRequest, protocol.CodeBadRequest, "wait must be milliseconds")
		}
		wait = time.Duration(ms) * time.Millisecond
	}
	wait = min(wait, s.cfg.MaxWait)
	digest := q.Get("pending")
	if digest != "" && !protocol.ValidDigest(digest) {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "pending must be the digest of the pending list")
	}
	ch, cancel := s.hub.Subscribe(d.ID)
	defer cancel()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	poll := time.NewTicker(s.cfg.CrossProcessPoll)
	defer poll.Stop()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	timedOut := false
	for {
		var evs []Event
		var last int64
		var result error
		pending := []string{}
		var soonest time.Time // the first pending request to expire
		now := s.now()
		err := s.store.View(r.Context(), func(tx Tx) error {
			if _, result = s.authDevice(tx, r, false); result != nil {
				return nil
			}
			var err error
			if evs, err = tx.Events(d.ID, after, now, 20); err != nil {
				return err
			}
			if last, err = tx.LastEvent(d.ID); err != nil {
				return err
			}
			ls, err := tx.PendingPushes(d.Username, now)
			for _, l := range ls {
				end := l.Created.Add(s.cfg.Limits.RequestTTL) // as handleApproval counts it
				if l.DeviceID == d.ID && now.Before(end) {
					pending = append(pending, l.ID)
					if soonest.IsZero() || end.Before(soonest) {
						soonest = end
					}
				}
			}
			return err
		})
		if err != nil {
			return internal(err)
		}
		if result != nil {
			return result
		}
		out := protocol.Events{Events: []protocol.SignedEvent{}, Next: max(after, last), Pending: pending}
		if len(evs) > 0 {
			out.Next = evs[len(evs)-1].Seq
			for _, e := range evs {
				out.Events = append(out.Events, protocol.SignedEvent{Seq: e.Seq, Payload: e.Payload, Signature: e.Signature})
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}
		if timedOut || (digest != "" && protocol.PendingDigest(pending) != digest) {
			writeJSON(w, http.StatusOK, out) // nothing new, or the device's list is stale
			return nil
		}
		if !soonest.IsZero() {
			expiry.Reset(max(soonest.Sub(now), time.Millisecond))
		}
		select {
		case <-ch:
		case <-poll.C:
		case <-expiry.C:
		case <-timer.C:
			timedOut = true // answer with what is true now
		case <-r.Context().Done():
			return errf(http.StatusServiceUnavailable, "unavailable", "the service is stopping; try again")
		}
	}
}

// handleApproval approves or denies a seamless login request.
func (s *Server) handleApproval(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.ApprovalRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.Deny != "" && req.Deny != protocol.DenyFraud && req.Deny != protocol.DenyMistake {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "deny must be fraud or mistake")
	}
	if req.Deny == "" && (req.Response == "" || len(req.Response) > 64 || req.Number < 0 || req.Number > 1000) {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "an approval needs number and response")
	}
	now := s.now()
	var result error
	var status string
	var closed string // the device whose request this answer closed
	err := s.store.Update(r.Context(), func(tx Tx) error {
		d, aerr := s.authDevice(tx, r, false)
		if aerr != nil {
			result = aerr
			return nil
		}
		closed = d.ID
		l, acct, refused, err := openLogin(tx, req.RequestID, func(l Login) bool {
			return l.Kind == KindLogin && l.DeviceID == d.ID && l.Payload != nil
		}, errf(http.StatusNotFound, protocol.CodeNotFound, "no such login request"), now)
		if err != nil || refused != nil {
			result = refused
			return err
		}
		if l.Status != StatusPending || !now.Before(l.Created.Add(s.cfg.Limits.RequestTTL)) {
			result = errGone
			return nil
		}
		ip := clientIP(r)
		if req.Deny != "" {
			l.Status, l.Reason, status = StatusDenied, req.Deny, StatusDenied
			if req.Deny == protocol.DenyFraud {
				if err := tx.InsertFraudReport(FraudReport{LoginID: l.ID, Username: l.Username, DeviceID: d.ID, IP: l.IP, App: l.App, Browser: l.Browser, Time: now}); err != nil {
					return err
				}
			}
			if err := tx.UpdateLogin(l); err != nil {
				return err
			}
			detail := loginDetail(l, "push")
			detail["login_ip"] = l.IP // the browser's address the person refused
			return s.audit(tx, AuditEvent{Event: loginEvent(l, "denied"), Username: l.Username, Device: d.ID, IP: ip, Outcome: req.Deny, Detail: detail})
		}
		verr := verifier.VerifyApproval(d.Secret, l.Payload, l.PushChallenge, l.Number, req.Number, req.Response)
		switch {
		case verr == nil:
			l.Status, status = StatusApproved, StatusApproved
			succeed(&acct)
			if err := tx.UpdateAccount(acct); err != nil {
				return err
			}
			if err := s.audit(tx, AuditEvent{Event: loginEvent(l, "approved"), Username: acct.Username, Device: d.ID, IP: ip, Outcome: "approved", Detail: loginDetail(l, "push")}); err != nil {
				return err
			}
		case errors.Is(verr, verifier.ErrWrongNumber):
			// The device holder chose another number than the browser
			// shows: not this person's login. Spent, not counted.
			l.Status, l.Reason = StatusFailed, "wrong_number"
			result = errf(http.StatusForbidden, protocol.CodeWrongNumber, "that is not the number the login shows; the login is refused")
			if err := s.audit(tx, AuditEvent{Event: loginEvent(l, "failed"), Username: acct.Username, Device: d.ID, IP: ip, Outcome: "wrong number", Detail: loginDetail(l, "push")}); err != nil {
				return err
			}
		default:
			l.Status = StatusFailed
			left, err := s.countFailure(tx, &acct, now, AuditEvent{Event: loginEvent(l, "failed"), Device: d.ID, IP: ip, Outcome: "wrong response", Detail: loginDetail(l, "push")})
			if err != nil {
				return err
			}
			result = &apiError{status: http.StatusForbidden, code: protocol.CodeInvalidResponse, msg: "wrong response (wrong PIN?)", attemptsLeft: intp(left)}
		}
		return tx.UpdateLogin(l)
	})
	if err != nil {
		return internal(err)
	}
	if closed != "" {
		// Approved, denied or refused: the request leaves the device's
		// pending list (and any other long-poll of the device learns it).
		s.notify(closed)
	}
	if result != nil {
		return result
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: status})
	return nil
}

// handleInboxChallenge issues the challenge that opens the inbox.
func (s *Server) handleInboxChallenge(w http.ResponseWriter, r *http.Request) error {
	return s.issueProof(w, r, KindInbox)
}

// handlePINChallenge issues a challenge that proves the PIN and does
// nothing else: a device proves the old PIN before it changes it.
func (s *Server) handlePINChallenge(w http.ResponseWriter, r *http.Request) error {
	return s.issueProof(w, r, KindPIN)
}

// issueProof issues a single-use challenge of kind (KindInbox, KindPIN) to
// the device of r, valid ChallengeTTL.
func (s *Server) issueProof(w http.ResponseWriter, r *http.Request, kind string) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	now := s.now()
	var out protocol.ProofChallenge
	var result error
	err := s.store.Update(r.Context(), func(tx Tx) error {
		d, aerr := s.authDevice(tx, r, false)
		if aerr != nil {
			result = aerr
			return nil
		}
		acct, err := tx.Account(d.Username)
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			result = errLocked
			return nil
		}
		id, err := verifier.NewID(s.rand)
		if err != nil {
			return err
		}
		c, err := verifier.NewChallenge(s.rand)
		if err != nil {
			return err
		}
		l := Login{ID: id, Username: d.Username, DeviceID: d.ID, Kind: kind, Challenge: c, Status: StatusPending, Created: now, Expires: now.Add(s.cfg.Limits.ChallengeTTL), IP: clientIP(r)}
		out = protocol.ProofChallenge{ID: id, Challenge: c, ExpiresAt: l.Expires.UTC()}
		return tx.InsertLogin(l)
	})
	if err != nil {
		return internal(err)
	}
	if result != nil {
		return result
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleInbox releases the device's sealed deliveries once it answers its
// inbox challenge, a proof of the PIN that counts toward the lockout.
func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) error {
	out := protocol.Inbox{Deliveries: []protocol.Delivery{}}
	err := s.prove(r, KindInbox, func(tx Tx, d Device, now time.Time) error {
		ds, err := tx.PendingDeliveries(d.ID)
		if err != nil {
			return err
		}
		for _, x := range ds {
			out.Deliveries = append(out.Deliveries, protocol.Delivery{ID: x.ID, Kind: x.Kind, Label: x.Label, Sealed: x.Sealed, CreatedAt: x.Created.UTC()})
			if err := tx.MarkDelivered(x.ID, now); err != nil {
				return err
			}
			if x.Kind == verifier.TempPasswordKind {
				if err := s.audit(tx, AuditEvent{Event: AuditTempDelivered, Username: d.Username, Device: d.ID, IP: clientIP(r), Outcome: "released", Detail: map[string]string{"delivery": x.ID}}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handlePINProof checks the answer to a PIN challenge: a proof of the PIN
// that counts toward the lockout as an inbox proof does, and releases
// nothing.
func (s *Server) handlePINProof(w http.ResponseWriter, r *http.Request) error {
	if err := s.prove(r, KindPIN, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: "proved"})
	return nil
}

// prove checks the answer of r (a protocol.ProofResponse) to a challenge of
// kind issued to r's device. The challenge is spent either way; a wrong
// response counts toward the user's lockout, a right one resets it and
// runs then (when not nil) in the same transaction.
func (s *Server) prove(r *http.Request, kind string, then func(tx Tx, d Device, now time.Time) error) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.ProofResponse
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if len(req.Response) > 64 {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "response too long")
	}
	now := s.now()
	var result error
	err := s.store.Update(r.Context(), func(tx Tx) error {
		d, aerr := s.authDevice(tx, r, false)
		if aerr != nil {
			result = aerr
			return nil
		}
		l, acct, refused, err := openLogin(tx, req.ChallengeID, func(l Login) bool {
			return l.Kind == kind && l.DeviceID == d.ID
		}, errf(http.StatusNotFound, protocol.CodeNotFound, "no such challenge"), now)
		if err != nil || refused != nil {
			result = refused
			return err
		}
		if l.Status != StatusPending || !now.Before(l.Expires) {
			result = errGone
			return nil
		}
		result, err = s.check(tx, &acct, &l, d, l.Challenge, req.Response, clientIP(r), now)
		if err != nil || result != nil || then == nil {
			return err
		}
		return then(tx, d, now)
	})
	if err != nil {
		return internal(err)
	}
	return result
}
