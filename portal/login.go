package portal

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
)

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req protocol.LoginRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if len(req.App) > 128 || len(req.Browser) > 256 {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "app or browser too long")
	}
	if req.Browser == "" {
		req.Browser = r.UserAgent() // startLogin cuts it to 256 bytes
	}
	out, _, err := s.startLogin(r.Context(), clientIP(r), req, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// startLogin checks the credentials and starts a login from the client at
// ip: a challenge and, when the device takes them, a seamless request.
// purpose is what a portal login is for ("" or "login": a login; else a
// step-up's task). It returns the account's canonical username too.
func (s *Server) startLogin(ctx context.Context, ip string, req protocol.LoginRequest, purpose string) (protocol.Login, string, error) {
	if purpose == "login" {
		purpose = ""
	}
	if len(req.App) > 128 {
		return protocol.Login{}, "", errf(http.StatusBadRequest, protocol.CodeBadRequest, "app or browser too long")
	}
	where := purpose
	if where == "" {
		where = "login"
	}
	acct, err := s.checkCredentials(ctx, ip, req.Username, req.Password, where)
	if err != nil {
		return protocol.Login{}, "", err
	}
	challenge, err := verifier.NewChallenge(s.rand)
	if err != nil {
		return protocol.Login{}, "", internal(err)
	}
	id, err := verifier.NewID(s.rand)
	if err != nil {
		return protocol.Login{}, "", internal(err)
	}
	push, err := verifier.NewPushRequest(s.rand)
	if err != nil {
		return protocol.Login{}, "", internal(err)
	}
	app := req.App
	if app == "" {
		app = "Client Portal"
	}
	browser := req.Browser
	if len(browser) > 256 {
		browser = browser[:256]
	}
	now := s.now()
	out := protocol.Login{ID: id, Challenge: challenge, ExpiresAt: now.Add(s.cfg.Limits.ChallengeTTL).UTC()}
	var result error
	var deviceID string
	err = s.store.Update(ctx, func(tx Tx) error {
		acct, err := tx.Account(acct.Username)
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			result = errLocked
			return nil
		}
		d, err := tx.ActiveDevice(acct.Username)
		if errors.Is(err, ErrNotFound) {
			result = errf(http.StatusForbidden, protocol.CodeNoDevice, "no IB Key device is active for this user; enroll one first")
			return nil
		}
		if err != nil {
			return err
		}
		deviceID = d.ID
		l := Login{
			ID: id, Username: acct.Username, DeviceID: d.ID, Kind: KindLogin, Challenge: challenge,
			Status: StatusPending, Created: now, Expires: now.Add(s.cfg.Limits.ChallengeTTL),
			App: app, IP: ip, Browser: browser, Purpose: purpose,
		}
		pending, err := tx.PendingPush(acct.Username, now)
		if err != nil {
			return err
		}
		var ev protocol.SignedEvent
		if d.Suite == protocol.SuiteIBKey && pending < s.cfg.Limits.MaxOutstanding {
			e := protocol.Event{
				Type: protocol.EventLogin, ID: id, DeviceID: d.ID, Username: acct.Username,
				Challenge: push.Challenge, Numbers: push.Choices,
				Context:  protocol.LoginContext{App: app, IP: l.IP, Browser: browser, Time: now.UTC()},
				IssuedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.Limits.RequestTTL).UTC(),
			}
			ev, err = protocol.SignEvent(s.key, 0, e)
			if err != nil {
				return err
			}
			l.PushChallenge, l.Number, l.Payload = push.Challenge, push.Number, ev.Payload
			out.Push, out.Number = true, push.Number
		}
		if err := tx.InsertLogin(l); err != nil {
			return err
		}
		detail := map[string]string{"login": id, "app": app, "push": strconv.FormatBool(out.Push)}
		if purpose != "" {
			detail["purpose"] = purpose
		}
		if err := s.audit(tx, AuditEvent{Event: loginEvent(l, "started"), Username: acct.Username, Device: d.ID, IP: ip, Outcome: "challenge issued", Detail: detail}); err != nil {
			return err
		}
		if out.Push {
			_, err = tx.InsertEvent(Event{DeviceID: d.ID, Kind: protocol.EventLogin, RefID: id, Payload: ev.Payload, Signature: ev.Signature, Expires: now.Add(s.cfg.Limits.RequestTTL)})
		}
		return err
	})
	if err != nil {
		return protocol.Login{}, "", internal(err)
	}
	if result != nil {
		return protocol.Login{}, "", result
	}
	if out.Push {
		s.notify(deviceID)
	}
	return out, acct.Username, nil
}

var errNoLogin = errf(http.StatusNotFound, protocol.CodeNotFound, "no such login")

// handleResponse checks the response to a login's challenge. The challenge
// is consumed in the same transaction that reads it: of concurrent
// submissions, one sees it pending.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.LoginAnswer
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if err := s.respond(r.Context(), r.PathValue("id"), req.Response, clientIP(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: StatusApproved})
	return nil
}

// errExpired answers like errGone; the portal's pages tell the two apart.
var errExpired = errf(http.StatusGone, protocol.CodeGone, "expired or already used; start again")

// respond checks the response, from the client at ip, to login id's
// challenge and consumes it.
func (s *Server) respond(ctx context.Context, id, response, ip string) error {
	if len(response) > 64 {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "response too long")
	}
	now := s.now()
	var result error
	var pushed string // the device whose seamless request this closes
	err := s.store.Update(ctx, func(tx Tx) error {
		l, acct, refused, err := openLogin(tx, id, isLogin, errNoLogin, now)
		if err != nil || refused != nil {
			result = refused
			return err
		}
		if l.Status == StatusPending && l.Payload != nil {
			pushed = l.DeviceID
		}
		if l.Status != StatusPending {
			result = errGone
			return nil
		}
		if !now.Before(l.Expires) {
			result = errExpired
			return nil
		}
		d, err := tx.Device(l.DeviceID)
		if err != nil {
			return err
		}
		if d.State != DeviceActive {
			l.Status = StatusFailed
			result = errGone
			return tx.UpdateLogin(l)
		}
		result, err = s.check(tx, &acct, &l, d, l.Challenge, response, ip, now)
		return err
	})
	if err != nil {
		return internal(err)
	}
	if pushed != "" {
		// Answered in the browser, rightly or not: the device drops the
		// request it shows.
		s.notify(pushed)
	}
	return result
}

// check verifies a response (from the client at ip) to challenge with
// device d, spends l and counts the outcome on acct, writing both and
// auditing it. It returns the answer's error, if any.
func (s *Server) check(tx Tx, acct *Account, l *Login, d Device, challenge, response, ip string, now time.Time) (error, error) {
	suite, err := ocra.ParseSuite(d.Suite)
	if err != nil {
		return nil, err
	}
	verr := verifier.VerifyResponse(suite, d.Secret, d.PINHash, challenge, response)
	if verr == nil {
		l.Status = StatusApproved
		succeed(acct)
		if err := tx.UpdateLogin(*l); err != nil {
			return nil, err
		}
		if err := tx.UpdateAccount(*acct); err != nil {
			return nil, err
		}
		outcome := "approved"
		if l.Kind != KindLogin {
			outcome = "proved"
		}
		return nil, s.audit(tx, AuditEvent{Event: loginEvent(*l, "approved"), Username: acct.Username, Device: d.ID, IP: ip, Outcome: outcome, Detail: loginDetail(*l, "response")})
	}
	// A malformed response (letters, wrong length) counts as a wrong one.
	l.Status = StatusFailed
	if err := tx.UpdateLogin(*l); err != nil {
		return nil, err
	}
	left, err := s.countFailure(tx, acct, now, AuditEvent{Event: loginEvent(*l, "failed"), Device: d.ID, IP: ip, Outcome: "wrong response", Detail: loginDetail(*l, "response")})
	if err != nil {
		return nil, err
	}
	return &apiError{status: http.StatusForbidden, code: protocol.CodeInvalidResponse, msg: "wrong response; start again", attemptsLeft: intp(left)}, nil
}

// loginEvent is the audit event of what happens to l: a login's
// (login.started, login.approved, ...), a step-up's (stepup.*) or a PIN
// proof's (pin.proved, pin.failed; an inbox proof is one too).
func loginEvent(l Login, what string) string {
	switch {
	case l.Kind != KindLogin:
		if what == "approved" {
			return AuditPINProved
		}
		return AuditPINFailed
	case l.Purpose != "":
		return "stepup." + what
	}
	return "login." + what
}

// loginDetail are the audit details of l, answered by method.
func loginDetail(l Login, method string) map[string]string {
	d := map[string]string{"method": method}
	switch l.Kind {
	case KindLogin:
		d["login"] = l.ID
		if l.Purpose != "" {
			d["purpose"] = l.Purpose
		}
	default:
		d["challenge"] = l.ID
		d["kind"] = l.Kind
	}
	return d
}

func (s *Server) handleLoginStatus(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	out, err := s.loginStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) loginStatus(ctx context.Context, id string) (protocol.LoginStatus, error) {
	var out protocol.LoginStatus
	var result error
	now := s.now()
	err := s.store.View(ctx, func(tx Tx) error {
		l, err := tx.Login(id)
		if errors.Is(err, ErrNotFound) || (err == nil && l.Kind != KindLogin) {
			result = errNoLogin
			return nil
		}
		if err != nil {
			return err
		}
		out.Status = l.Status
		if l.Status == StatusPending && !now.Before(l.Expires) {
			out.Status = StatusExpired
		}
		if l.Status == StatusApproved {
			acct, err := tx.Account(l.Username)
			if err != nil {
				return err
			}
			out.PasswordChangeRequired = acct.MustChange
		}
		return nil
	})
	if err != nil {
		return protocol.LoginStatus{}, internal(err)
	}
	if result != nil {
		return protocol.LoginStatus{}, result
	}
	return out, nil
}

// handlePassword sets a new password after a login approved with a
// temporary password, within the challenge's lifetime.
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.PasswordChange
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if err := s.setTempPassword(r.Context(), r.PathValue("id"), req.Password, clientIP(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: "changed"})
	return nil
}

// openLogin loads login id and its account for a decision in tx. refused
// is missing when there is no such login or ok turns it down, and errLocked
// when the account is locked; err is the store's own failure.
func openLogin(tx Tx, id string, ok func(Login) bool, missing error, now time.Time) (l Login, acct Account, refused, err error) {
	l, err = tx.Login(id)
	if errors.Is(err, ErrNotFound) || (err == nil && !ok(l)) {
		return l, acct, missing, nil
	}
	if err != nil {
		return l, acct, nil, err
	}
	if acct, err = tx.Account(l.Username); err != nil {
		return l, acct, nil, err
	}
	if acct.Lockout.Locked(now) {
		return l, acct, errLocked, nil
	}
	return l, acct, nil, nil
}

// isLogin accepts a login of the relying-party API (not an inbox or PIN
// challenge).
func isLogin(l Login) bool { return l.Kind == KindLogin }
