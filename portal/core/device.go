package core

import (
	"context"
	"errors"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

// EventsRequest is a device's long-poll: its events after sequence number
// After, or a wait of up to Wait (at most Config.MaxWait) for one. Pending,
// when set, is the digest (protocol.PendingDigest) of the list of pending
// requests the device holds: the long-poll also answers as soon as the
// list differs.
type EventsRequest struct {
	Device  DeviceAuth
	After   int64
	Wait    time.Duration
	Pending string
}

// WaitEvents is the device channel: it answers at once with the device's
// pending events after req.After, or waits for one, woken by this
// instance's operations, by the store's notifications from other
// instances (store.Listener), and by a look at the store every
// CrossProcessPoll. Every answer lists the device's login requests still
// pending; with req.Pending it also answers as soon as that list changes:
// a request answered, refused or expired. Errors: *InputError (a malformed
// digest), ErrUnauthorized, ErrDeviceRetired (also when the device is
// retired during the wait), ErrUnavailable (ctx ended).
func (s *Service) WaitEvents(ctx context.Context, req EventsRequest) (protocol.Events, error) {
	if req.Pending != "" && !protocol.ValidDigest(req.Pending) {
		return protocol.Events{}, badRequest("pending must be the digest of the pending list")
	}
	var d store.Device
	if err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		d, err = authDevice(tx, req.Device, false)
		return err
	}); err != nil {
		return protocol.Events{}, err
	}
	wait := min(max(req.Wait, 0), s.cfg.MaxWait)
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
		var evs []store.Event
		var last int64
		pending := []string{}
		var soonest time.Time // the first pending request to expire
		now := s.now()
		err := s.st.View(ctx, func(tx store.Tx) error {
			pending, soonest = pending[:0], time.Time{}
			if _, err := authDevice(tx, req.Device, false); err != nil {
				return err
			}
			var err error
			if evs, err = tx.Events(d.ID, req.After, now, 20); err != nil {
				return err
			}
			if last, err = tx.LastEvent(d.ID); err != nil {
				return err
			}
			ls, err := tx.PendingPushes(d.Username, now)
			for _, l := range ls {
				end := l.Created.Add(s.cfg.Limits.RequestTTL) // as Approve counts it
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
			if ctx.Err() != nil {
				return protocol.Events{}, ErrUnavailable
			}
			return protocol.Events{}, err
		}
		out := protocol.Events{Events: []protocol.SignedEvent{}, Next: max(req.After, last), Pending: pending}
		if len(evs) > 0 {
			out.Next = evs[len(evs)-1].Seq
			for _, e := range evs {
				out.Events = append(out.Events, protocol.SignedEvent{Seq: e.Seq, Payload: e.Payload, Signature: e.Signature})
			}
			return out, nil
		}
		if timedOut || (req.Pending != "" && protocol.PendingDigest(pending) != req.Pending) {
			return out, nil // nothing new, or the device's list is stale
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
		case <-ctx.Done():
			return protocol.Events{}, ErrUnavailable
		}
	}
}

// ApprovalRequest answers a seamless login request: an approval (Number
// and Response) or a denial (Deny: fraud or mistake).
type ApprovalRequest struct {
	Device    DeviceAuth
	RequestID string
	Number    int
	Response  string
	Deny      string
	IP        string
}

// Approve approves or denies a seamless login request and returns the
// login's new status. Errors: *InputError, ErrUnauthorized,
// ErrDeviceRetired, *NotFoundError, *LockedError, ErrSpent (answered or
// expired), ErrWrongNumber, *BadResponseError.
func (s *Service) Approve(ctx context.Context, req ApprovalRequest) (Status, error) {
	if req.Deny != "" && req.Deny != protocol.DenyFraud && req.Deny != protocol.DenyMistake {
		return "", badRequest("deny must be fraud or mistake")
	}
	if req.Deny == "" && (req.Response == "" || len(req.Response) > 64 || req.Number < 0 || req.Number > 1000) {
		return "", badRequest("an approval needs number and response")
	}
	now := s.now()
	var status Status
	var closed string // the device whose request this answer closed
	err := s.st.Update(ctx, func(tx store.Tx) error {
		closed = ""
		d, err := authDevice(tx, req.Device, false)
		if err != nil {
			return err
		}
		// Approved, denied or refused: the request leaves the device's
		// pending list, which its long-polls (on any instance) learn.
		closed = d.ID
		if err := tx.Notify(d.ID); err != nil {
			return err
		}
		l, acct, _, err := openLogin(tx, req.RequestID, func(l store.Login) bool {
			return l.Kind == store.KindLogin && l.DeviceID == d.ID && l.Payload != nil
		}, notFound("login request"), now)
		if err != nil {
			return err
		}
		if l.Status != store.StatusPending || !now.Before(l.Created.Add(s.cfg.Limits.RequestTTL)) {
			return ErrSpent
		}
		if req.Deny != "" {
			l.Status, l.Reason, status = store.StatusDenied, req.Deny, StatusDenied
			if req.Deny == protocol.DenyFraud {
				if err := tx.InsertFraudReport(store.FraudReport{LoginID: l.ID, Username: l.Username, DeviceID: d.ID, IP: l.IP, App: l.App, Browser: l.Browser, Time: now}); err != nil {
					return err
				}
			}
			if err := updateLogin(tx, l); err != nil {
				return err
			}
			detail := loginDetail(l, "push")
			detail["login_ip"] = l.IP // the browser's address the person refused
			return s.audit(tx, store.AuditEvent{Event: loginEvent(l, "denied"), Username: l.Username, Device: d.ID, IP: req.IP, Outcome: req.Deny, Detail: detail})
		}
		verr := verifier.VerifyApproval(d.Secret, l.Payload, l.PushChallenge, l.Number, req.Number, req.Response)
		switch {
		case verr == nil:
			l.Status, status = store.StatusApproved, StatusApproved
			if err := updateLogin(tx, l); err != nil {
				return err
			}
			if err := succeed(tx, &acct); err != nil {
				return err
			}
			return s.audit(tx, store.AuditEvent{Event: loginEvent(l, "approved"), Username: acct.Username, Device: d.ID, IP: req.IP, Outcome: "approved", Detail: loginDetail(l, "push")})
		case errors.Is(verr, verifier.ErrWrongNumber):
			// The device holder chose another number than the browser
			// shows: not this person's login. Spent, not counted.
			l.Status, l.Reason = store.StatusFailed, "wrong_number"
			if err := updateLogin(tx, l); err != nil {
				return err
			}
			if err := s.audit(tx, store.AuditEvent{Event: loginEvent(l, "failed"), Username: acct.Username, Device: d.ID, IP: req.IP, Outcome: "wrong number", Detail: loginDetail(l, "push")}); err != nil {
				return err
			}
			return store.Commit(ErrWrongNumber)
		default:
			l.Status = store.StatusFailed
			if err := updateLogin(tx, l); err != nil {
				return err
			}
			left, err := s.countFailure(tx, &acct, now, store.AuditEvent{Event: loginEvent(l, "failed"), Device: d.ID, IP: req.IP, Outcome: "wrong response", Detail: loginDetail(l, "push")})
			if err != nil {
				return err
			}
			return store.Commit(&BadResponseError{AttemptsLeft: left, Approval: true})
		}
	})
	if closed != "" {
		s.notify(closed)
	}
	if err != nil {
		return "", err
	}
	return status, nil
}

// ProofKind is what a proof of the PIN is for.
type ProofKind string

// The kinds of PIN proofs.
const (
	ProofInbox ProofKind = store.KindInbox // opens the inbox of sealed deliveries
	ProofPIN   ProofKind = store.KindPIN   // proves the PIN and nothing else (before a PIN change)
)

// ProofChallengeRequest asks for a challenge that proves the device's PIN.
type ProofChallengeRequest struct {
	Device DeviceAuth
	Kind   ProofKind
	IP     string
}

// IssueProof issues a single-use challenge of a kind to a device, valid
// ChallengeTTL. Errors: ErrUnauthorized, ErrDeviceRetired, *LockedError.
func (s *Service) IssueProof(ctx context.Context, req ProofChallengeRequest) (protocol.ProofChallenge, error) {
	now := s.now()
	var out protocol.ProofChallenge
	err := s.st.Update(ctx, func(tx store.Tx) error {
		d, err := authDevice(tx, req.Device, false)
		if err != nil {
			return err
		}
		acct, err := tx.Account(d.Username)
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			return locked(acct.Lockout)
		}
		id, err := verifier.NewID(s.rand)
		if err != nil {
			return err
		}
		c, err := verifier.NewChallenge(s.rand)
		if err != nil {
			return err
		}
		l := store.Login{ID: id, Username: d.Username, DeviceID: d.ID, Kind: string(req.Kind), Challenge: c, Status: store.StatusPending,
			Created: now, Expires: now.Add(s.cfg.Limits.ChallengeTTL), IP: req.IP}
		out = protocol.ProofChallenge{ID: id, Challenge: c, ExpiresAt: l.Expires.UTC()}
		return tx.InsertLogin(l)
	})
	if err != nil {
		return protocol.ProofChallenge{}, err
	}
	return out, nil
}

// ProofRequest answers a challenge of a kind issued to a device.
type ProofRequest struct {
	Device      DeviceAuth
	Kind        ProofKind
	ChallengeID string
	Response    string
	IP          string
}

// ProvePIN checks the answer to a PIN challenge: a proof of the PIN that
// counts toward the lockout as an inbox proof does, and releases nothing.
// Errors: those of OpenInbox.
func (s *Service) ProvePIN(ctx context.Context, req ProofRequest) error {
	req.Kind = ProofPIN
	return s.prove(ctx, req, nil)
}

// OpenInbox checks the answer to an inbox challenge, a proof of the PIN
// that counts toward the lockout, and releases the device's sealed
// deliveries (each once). Errors: *InputError, ErrUnauthorized,
// ErrDeviceRetired, *NotFoundError, *LockedError, ErrSpent,
// *BadResponseError.
func (s *Service) OpenInbox(ctx context.Context, req ProofRequest) ([]protocol.Delivery, error) {
	req.Kind = ProofInbox
	out := []protocol.Delivery{}
	err := s.prove(ctx, req, func(tx store.Tx, d store.Device, now time.Time) error {
		out = []protocol.Delivery{}
		ds, err := tx.PendingDeliveries(d.ID)
		if err != nil {
			return err
		}
		for _, x := range ds {
			out = append(out, protocol.Delivery{ID: x.ID, Kind: x.Kind, Label: x.Label, Sealed: x.Sealed, CreatedAt: x.Created.UTC()})
			if err := tx.MarkDelivered(x.ID, now); err != nil {
				return err
			}
			if x.Kind == verifier.TempPasswordKind {
				if err := s.audit(tx, store.AuditEvent{Event: AuditTempDelivered, Username: d.Username, Device: d.ID, IP: req.IP, Outcome: "released", Detail: map[string]string{"delivery": x.ID}}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// prove checks the answer to a challenge of req.Kind issued to the
// device. The challenge is spent either way; a wrong response counts
// toward the user's lockout, a right one resets it and runs then (when not
// nil) in the same transaction.
func (s *Service) prove(ctx context.Context, req ProofRequest, then func(tx store.Tx, d store.Device, now time.Time) error) error {
	if len(req.Response) > 64 {
		return badRequest("response too long")
	}
	now := s.now()
	return s.st.Update(ctx, func(tx store.Tx) error {
		d, err := authDevice(tx, req.Device, false)
		if err != nil {
			return err
		}
		l, acct, _, err := openLogin(tx, req.ChallengeID, func(l store.Login) bool {
			return l.Kind == string(req.Kind) && l.DeviceID == d.ID
		}, notFound("challenge"), now)
		if err != nil {
			return err
		}
		if l.Status != store.StatusPending || !now.Before(l.Expires) {
			return ErrSpent
		}
		if err := s.check(tx, &acct, &l, d, l.Challenge, req.Response, req.IP, now); err != nil || then == nil {
			return err
		}
		return then(tx, d, now)
	})
}
