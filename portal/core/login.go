package core

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

// Purpose says what a login is for, so that the phone can tell the person.
type Purpose string

// The purposes of logins.
const (
	PurposeLogin    Purpose = "login"           // a login (of a relying party, of the portal)
	PurposePassword Purpose = "change_password" // the portal's step-up before changing the password
	PurposeDevice   Purpose = "add_device"      // the portal's step-up before adding a device
)

// Status is where a login stands.
type Status string

// The states of a login.
const (
	StatusPending  Status = store.StatusPending
	StatusApproved Status = store.StatusApproved
	StatusDenied   Status = store.StatusDenied
	StatusExpired  Status = store.StatusExpired
	StatusFailed   Status = store.StatusFailed
)

// LoginRequest is a login attempt: username and password from the client
// at IP, for a purpose.
type LoginRequest struct {
	Username, Password string
	App                string // the application the phone shows; "" is the purpose's (at most 128 bytes)
	Browser            string // the browser the phone shows; longer than 256 bytes is cut
	IP                 string
	Purpose            Purpose // "" is PurposeLogin
}

// Login is a started login.
type Login struct {
	ID        string
	Username  string    // the account's canonical username
	Challenge string    // the challenge for the response string, "123456"
	ExpiresAt time.Time // when the challenge (and the login) expires
	Push      bool      // a seamless request went to the user's device
	Number    int       // the number to match on the phone, when Push
}

// LoginState is where a login stands.
type LoginState struct {
	Status Status
	// PasswordChangeRequired says that the login is approved and the
	// account's password is a temporary one: a new one is to be set
	// (SetTempPassword) within the challenge's lifetime.
	PasswordChangeRequired bool
}

// ResponseRequest is the response string to a login's challenge, from the
// client at IP.
type ResponseRequest struct {
	LoginID, Response, IP string
}

// purposeApp is what the phone shows as the application of a login.
func purposeApp(p Purpose) string {
	switch p {
	case PurposePassword:
		return "Client Portal: change password"
	case PurposeDevice:
		return "Client Portal: add a device"
	}
	return "Client Portal"
}

// cleanText is s as the store and the phone show it: valid UTF-8 without
// control characters, at most max bytes (cut on a character).
func cleanText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for len(s) > max {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return s
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xc0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, len(s)
}

// StartLogin checks the username and password and starts a login: a
// challenge and, when the active device takes them, a seamless request.
// Errors: *InputError, ErrBadCredentials, *LockedError, *RateLimitError,
// ErrNoDevice.
func (s *Service) StartLogin(ctx context.Context, req LoginRequest) (Login, error) {
	purpose := req.Purpose
	if purpose == PurposeLogin {
		purpose = ""
	}
	if len(req.App) > 128 {
		return Login{}, badRequest("app or browser too long")
	}
	where := string(purpose)
	if where == "" {
		where = "login"
	}
	acct, err := s.checkCredentials(ctx, req.IP, req.Username, req.Password, where)
	if err != nil {
		return Login{}, err
	}
	challenge, err := verifier.NewChallenge(s.rand)
	if err != nil {
		return Login{}, err
	}
	id, err := verifier.NewID(s.rand)
	if err != nil {
		return Login{}, err
	}
	push, err := verifier.NewPushRequest(s.rand)
	if err != nil {
		return Login{}, err
	}
	app := req.App
	if app == "" {
		app = purposeApp(purpose)
	}
	app, browser := cleanText(app, 128), cleanText(req.Browser, 256)
	ip := cleanText(req.IP, 64)
	now := s.now()
	var out Login
	var deviceID string
	err = s.st.Update(ctx, func(tx store.Tx) error {
		out = Login{ID: id, Username: acct.Username, Challenge: challenge, ExpiresAt: now.Add(s.cfg.Limits.ChallengeTTL).UTC()}
		// Held until the commit: the events of a device are numbered in
		// the order they commit (store.Tx.InsertEvent).
		a, err := tx.Account(acct.Username)
		if err != nil {
			return err
		}
		if a.Lockout.Locked(now) {
			return locked(a.Lockout)
		}
		d, err := tx.ActiveDevice(a.Username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		}
		if err != nil {
			return err
		}
		deviceID = d.ID
		l := store.Login{
			ID: id, Username: a.Username, DeviceID: d.ID, Kind: store.KindLogin, Challenge: challenge,
			Status: store.StatusPending, Created: now, Expires: now.Add(s.cfg.Limits.ChallengeTTL),
			App: app, IP: ip, Browser: browser, Purpose: string(purpose),
		}
		pending, err := tx.PendingPush(a.Username, now)
		if err != nil {
			return err
		}
		var ev protocol.SignedEvent
		if d.Suite == protocol.SuiteIBKey && pending < s.cfg.Limits.MaxOutstanding {
			e := protocol.Event{
				Type: protocol.EventLogin, ID: id, DeviceID: d.ID, Username: a.Username,
				Challenge: push.Challenge, Numbers: push.Choices,
				Context:  protocol.LoginContext{App: app, IP: ip, Browser: browser, Time: now.UTC()},
				IssuedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.Limits.RequestTTL).UTC(),
			}
			if ev, err = protocol.SignEvent(s.key, 0, e); err != nil {
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
			detail["purpose"] = string(purpose)
		}
		if err := s.audit(tx, store.AuditEvent{Event: loginEvent(l, "started"), Username: a.Username, Device: d.ID, IP: ip, Outcome: "challenge issued", Detail: detail}); err != nil {
			return err
		}
		if !out.Push {
			return nil
		}
		if _, err := tx.InsertEvent(store.Event{DeviceID: d.ID, Kind: protocol.EventLogin, RefID: id, Payload: ev.Payload, Signature: ev.Signature, Expires: now.Add(s.cfg.Limits.RequestTTL)}); err != nil {
			return err
		}
		return tx.Notify(d.ID)
	})
	if err != nil {
		return Login{}, err
	}
	if out.Push {
		s.notify(deviceID)
	}
	return out, nil
}

// checkCredentials checks username and password the same way whether or
// not the user exists: an unknown user costs one hash with the dummy hash
// and gets the same answer as a wrong password. A wrong password counts
// toward the account's lock. A locked account is refused before its
// password is checked, so that guesses during a lock are neither answered
// nor counted. where says what the password is for, in the audit log:
// login, a step-up's task, enroll, resend.
func (s *Service) checkCredentials(ctx context.Context, ip, username, password, where string) (store.Account, error) {
	if err := s.AllowIP(ctx, ip); err != nil {
		return store.Account{}, err
	}
	username, ok := protocol.CanonicalUsername(username)
	if len(password) > maxPassword || !ok {
		return store.Account{}, ErrBadCredentials // no such user can exist
	}
	if err := s.allowUser(ctx, username, ip); err != nil {
		return store.Account{}, err
	}
	var acct store.Account
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		acct, err = tx.Account(username)
		return err
	})
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Account{}, err
	}
	if found && acct.Lockout.Locked(s.now()) {
		return store.Account{}, locked(acct.Lockout)
	}
	hash := s.dummyHash
	if found {
		hash = acct.Password
	}
	ok, err = CheckPassword(hash, password)
	if err != nil {
		return store.Account{}, err
	}
	if ok && found {
		return acct, nil
	}
	failed := store.AuditEvent{Event: AuditPasswordFailed, IP: ip, Detail: map[string]string{"where": where}}
	if !found {
		// The name typed is not kept: it may be a password typed in the
		// wrong field.
		failed.Outcome = "unknown user"
		s.auditAlone(ctx, failed)
		return store.Account{}, ErrBadCredentials
	}
	now := s.now()
	err = s.st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account(username)
		if err != nil {
			return err
		}
		_, err = s.countFailure(tx, &a, now, failed)
		return err
	})
	if err != nil {
		return store.Account{}, err
	}
	return store.Account{}, ErrBadCredentials
}

// Respond checks the response to a login's challenge and spends the
// challenge: of concurrent submissions (on any instance) one finds it
// pending. An approved login says whether the password is a temporary
// one. Errors: *RateLimitError, *InputError, *NotFoundError, *LockedError,
// ErrSpent, ErrExpired, *BadResponseError.
func (s *Service) Respond(ctx context.Context, req ResponseRequest) (LoginState, error) {
	if err := s.AllowIP(ctx, req.IP); err != nil {
		return LoginState{}, err
	}
	if len(req.Response) > 64 {
		return LoginState{}, badRequest("response too long")
	}
	now := s.now()
	var out LoginState
	var pushed string // the device whose seamless request this closes
	err := s.st.Update(ctx, func(tx store.Tx) error {
		pushed = ""
		l, acct, d, err := openLogin(tx, req.LoginID, isLogin, notFound("login"), now)
		if err != nil {
			return err
		}
		if l.Status != store.StatusPending {
			return ErrSpent
		}
		if l.Payload != nil {
			// Answered in the browser, rightly or not: the device (on
			// whichever instance it waits) drops the request it shows.
			pushed = l.DeviceID
			if err := tx.Notify(l.DeviceID); err != nil {
				return err
			}
		}
		if !now.Before(l.Expires) {
			return ErrExpired
		}
		if d.State != store.DeviceActive {
			l.Status = store.StatusFailed
			if err := updateLogin(tx, l); err != nil {
				return err
			}
			return store.Commit(ErrSpent)
		}
		out = LoginState{Status: StatusApproved, PasswordChangeRequired: acct.MustChange}
		return s.check(tx, &acct, &l, d, l.Challenge, req.Response, req.IP, now)
	})
	if pushed != "" {
		s.notify(pushed)
	}
	if err != nil {
		return LoginState{}, err
	}
	return out, nil
}

// updateLogin writes a pending login's new status: a login no longer
// pending (spent meanwhile, as the database sees it) is ErrSpent.
func updateLogin(tx store.Tx, l store.Login) error {
	err := tx.UpdateLogin(l)
	if errors.Is(err, store.ErrConflict) {
		return ErrSpent
	}
	return err
}

// check verifies a response (from the client at ip) to challenge with
// device d, spends l and counts the outcome on acct, writing both and
// auditing it: nil when right, a *BadResponseError to commit when wrong.
func (s *Service) check(tx store.Tx, acct *store.Account, l *store.Login, d store.Device, challenge, response, ip string, now time.Time) error {
	suite, err := ocra.ParseSuite(d.Suite)
	if err != nil {
		return err
	}
	if verifier.VerifyResponse(suite, d.Secret, d.PINHash, challenge, response) == nil {
		l.Status = store.StatusApproved
		if err := updateLogin(tx, *l); err != nil {
			return err
		}
		if err := succeed(tx, acct); err != nil {
			return err
		}
		outcome := "approved"
		if l.Kind != store.KindLogin {
			outcome = "proved"
		}
		return s.audit(tx, store.AuditEvent{Event: loginEvent(*l, "approved"), Username: acct.Username, Device: d.ID, IP: ip, Outcome: outcome, Detail: loginDetail(*l, "response")})
	}
	// A malformed response (letters, wrong length) counts as a wrong one.
	l.Status = store.StatusFailed
	if err := updateLogin(tx, *l); err != nil {
		return err
	}
	left, err := s.countFailure(tx, acct, now, store.AuditEvent{Event: loginEvent(*l, "failed"), Device: d.ID, IP: ip, Outcome: "wrong response", Detail: loginDetail(*l, "response")})
	if err != nil {
		return err
	}
	return store.Commit(&BadResponseError{AttemptsLeft: left})
}

// loginEvent is the audit event of what happens to l: a login's
// (login.started, login.approved, ...), a step-up's (stepup.*) or a PIN
// proof's (pin.proved, pin.failed; an inbox proof is one too).
func loginEvent(l store.Login, what string) string {
	switch {
	case l.Kind != store.KindLogin:
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
func loginDetail(l store.Login, method string) map[string]string {
	d := map[string]string{"method": method}
	switch l.Kind {
	case store.KindLogin:
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

// LoginStatus reports where a login stands. Errors: *NotFoundError.
func (s *Service) LoginStatus(ctx context.Context, id string) (LoginState, error) {
	var out LoginState
	now := s.now()
	err := s.st.View(ctx, func(tx store.Tx) error {
		l, err := tx.Login(id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !isLogin(l)) {
			return notFound("login")
		}
		if err != nil {
			return err
		}
		out.Status = Status(l.Status)
		if l.Status == store.StatusPending && !now.Before(l.Expires) {
			out.Status = StatusExpired
		}
		if l.Status == store.StatusApproved {
			acct, err := tx.Account(l.Username)
			if err != nil {
				return err
			}
			out.PasswordChangeRequired = acct.MustChange
		}
		return nil
	})
	if err != nil {
		return LoginState{}, err
	}
	return out, nil
}

// openLogin loads login id with its account and its device for a decision
// in tx (holding the login and the account): missing when there is no such
// login or ok turns it down, a *LockedError when the account is locked,
// else the store's own failure.
func openLogin(tx store.Tx, id string, ok func(store.Login) bool, missing error, now time.Time) (l store.Login, acct store.Account, d store.Device, err error) {
	l, acct, d, err = tx.LoginAccount(id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !ok(l)) {
		return l, acct, d, missing
	}
	if err != nil {
		return l, acct, d, err
	}
	if acct.Lockout.Locked(now) {
		return l, acct, d, locked(acct.Lockout)
	}
	return l, acct, d, nil
}

// succeed ends the run of failures of acct (a right response, approval or
// PIN proof), writing the account only when there was one.
func succeed(tx store.Tx, acct *store.Account) error {
	if acct.Lockout == (verifier.Lockout{}) {
		return nil
	}
	acct.Lockout.Succeed()
	return tx.UpdateAccount(*acct)
}

// isLogin accepts a login of the relying-party API (not an inbox or PIN
// challenge).
func isLogin(l store.Login) bool { return l.Kind == store.KindLogin }
