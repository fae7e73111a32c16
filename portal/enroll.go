package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"regexp"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
)

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidUsername reports whether u is an acceptable username, in any case
// (see protocol.CanonicalUsername).
func ValidUsername(u string) bool {
	_, ok := protocol.CanonicalUsername(u)
	return ok
}

// canonUser is the canonical form of username, or ErrBadUsername.
func canonUser(username string) (string, error) {
	c, ok := protocol.CanonicalUsername(username)
	if !ok {
		return "", ErrBadUsername
	}
	return c, nil
}

// ValidPhone reports whether p is an E.164 phone number (+CC...).
func ValidPhone(p string) bool { return phoneRE.MatchString(p) }

var errCredentials = errf(http.StatusUnauthorized, protocol.CodeBadCredentials, "wrong username or password")

var errLocked = errf(http.StatusLocked, protocol.CodeLocked, "too many failed attempts; try again later or ask support to unlock")

// checkCredentials checks username and password the same way whether or
// not the user exists: an unknown user costs one hash with the dummy hash
// and gets the same answer as a wrong password. A wrong password counts
// toward the account's lock. A locked account is refused before its
// password is checked, so that guesses during a lock are neither answered
// nor counted. where says what the password is for, in the audit log:
// login, a step-up's task, enroll, resend.
func (s *Server) checkCredentials(ctx context.Context, ip, username, password, where string) (Account, error) {
	if err := s.allowIP(ctx, ip); err != nil {
		return Account{}, err
	}
	username, ok := protocol.CanonicalUsername(username)
	if len(password) > maxPassword || !ok {
		return Account{}, errCredentials // no such user can exist
	}
	if err := s.allowUser(ctx, username, ip); err != nil {
		return Account{}, err
	}
	var acct Account
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		acct, err = tx.Account(username)
		return err
	})
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Account{}, internal(err)
	}
	if found && acct.Lockout.Locked(s.now()) {
		return Account{}, errLocked
	}
	hash := s.dummyHash
	if found {
		hash = acct.Password
	}
	ok, herr := CheckPassword(hash, password)
	if herr != nil {
		return Account{}, internal(herr)
	}
	if ok && found {
		return acct, nil
	}
	failed := AuditEvent{Event: AuditPasswordFailed, IP: ip, Detail: map[string]string{"where": where}}
	if !found {
		// The name typed is not kept: it may be a password typed in the
		// wrong field.
		failed.Outcome = "unknown user"
		s.auditAlone(ctx, failed)
		return Account{}, errCredentials
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		a, err := tx.Account(username)
		if err != nil {
			return err
		}
		_, err = s.countFailure(tx, &a, now, failed)
		return err
	})
	if err != nil {
		return Account{}, internal(err)
	}
	return Account{}, errCredentials
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) error {
	var req protocol.EnrollRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.Channel != "" && req.Channel != protocol.ChannelSMS && req.Channel != protocol.ChannelVoice {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "channel must be sms or voice")
	}
	ip := clientIP(r)
	acct, err := s.checkCredentials(r.Context(), ip, req.Username, req.Password, "enroll")
	if err != nil {
		return err
	}
	if s.cfg.Gateway == nil {
		return errNoGateway
	}
	now := s.now()
	e, code, err := verifier.NewEnrollment(s.cfg.Limits, s.rand, now, acct.Username, req.Channel)
	if err != nil {
		return internal(err)
	}
	var result error
	err = s.store.Update(r.Context(), func(tx Tx) error {
		var err error
		if result, err = s.checkSend(tx, acct, e.Channel, ip, now); err != nil || result != nil {
			return err
		}
		if err := tx.InsertEnrollment(e, now); err != nil {
			return err
		}
		if err := s.audit(tx, AuditEvent{Event: AuditEnrollStarted, Username: acct.Username, IP: ip, Outcome: "started", Detail: map[string]string{"enrollment": e.ID, "channel": e.Channel}}); err != nil {
			return err
		}
		return s.recordSend(tx, acct, e.Channel, ip, e.ID, now)
	})
	if err != nil {
		return internal(err)
	}
	if result != nil {
		return result
	}
	if err := s.send(r.Context(), acct, e.Channel, code); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.enrollmentView(e, acct))
	return nil
}

var errNoGateway = errf(http.StatusServiceUnavailable, "no_gateway", "activation codes cannot be sent now")

// send hands a code to the gateway; the caller has counted and recorded
// it (checkSend).
func (s *Server) send(ctx context.Context, acct Account, channel, code string) error {
	if s.cfg.Gateway == nil {
		return errNoGateway
	}
	m := Message{Time: s.now().UTC(), Channel: channel, To: acct.Phone, Username: acct.Username, Code: code, Text: messageText(channel, code)}
	if err := s.cfg.Gateway.Send(ctx, m); err != nil {
		return &apiError{status: http.StatusBadGateway, code: "gateway", msg: "the code could not be sent; ask for it again", err: err}
	}
	return nil
}

func (s *Server) enrollmentView(e verifier.Enrollment, acct Account) protocol.Enrollment {
	return protocol.Enrollment{ID: e.ID, Channel: e.Channel, To: MaskPhone(acct.Phone), ExpiresAt: e.ExpiresAt.UTC(), ResendAfter: e.ResendAfter(s.cfg.Limits).UTC()}
}

var errNoEnrollment = errf(http.StatusNotFound, protocol.CodeNotFound, "no such enrollment")

var errResendTooSoon = errf(http.StatusTooManyRequests, protocol.CodeRateLimited, "a code was sent a moment ago; wait before asking again")

var errGone = errf(http.StatusGone, protocol.CodeGone, "expired or already used; start again")

func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.ResendRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	out, err := s.resend(r.Context(), r.PathValue("id"), req.Channel, clientIP(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// resend sends a new code for enrollment id by channel ("" is the other
// one), asked from the client at ip.
func (s *Server) resend(ctx context.Context, id, channel, ip string) (protocol.Enrollment, error) {
	if s.cfg.Gateway == nil {
		return protocol.Enrollment{}, errNoGateway
	}
	now := s.now()
	var e verifier.Enrollment
	var acct Account
	var code string
	var result error
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		e, err = tx.Enrollment(id)
		if errors.Is(err, ErrNotFound) {
			result = errNoEnrollment
			return nil
		}
		if err != nil {
			return err
		}
		if acct, err = tx.Account(e.Username); err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			result = errLocked
			return nil
		}
		code, err = e.Resend(s.cfg.Limits, s.rand, now, channel)
		limit := func(name string) error {
			return s.audit(tx, AuditEvent{Event: AuditRateLimited, Username: acct.Username, IP: ip, Outcome: "refused", Detail: map[string]string{"limit": name, "enrollment": e.ID}})
		}
		switch {
		case errors.Is(err, verifier.ErrResendTooSoon):
			result = errResendTooSoon
			return limit("resend_interval")
		case errors.Is(err, verifier.ErrTooManySends):
			result = errf(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many codes sent; start again later")
			return limit("enrollment_sends")
		case errors.Is(err, verifier.ErrSpent):
			result = errGone
			return nil
		case errors.Is(err, verifier.ErrBadChannel):
			result = errf(http.StatusBadRequest, protocol.CodeBadRequest, "channel must be sms or voice")
			return nil
		case errors.Is(err, verifier.ErrNoCode):
			result = errf(http.StatusBadRequest, protocol.CodeBadRequest, "this enrollment came from a Client Portal link: it has no code to send")
			return nil
		case err != nil:
			return err
		}
		if result, err = s.checkSend(tx, acct, e.Channel, ip, now); err != nil || result != nil {
			return err
		}
		if err := tx.UpdateEnrollment(e); err != nil {
			return err
		}
		return s.recordSend(tx, acct, e.Channel, ip, e.ID, now)
	})
	if err != nil {
		return protocol.Enrollment{}, internal(err)
	}
	if result != nil {
		return protocol.Enrollment{}, result
	}
	if err := s.send(ctx, acct, e.Channel, code); err != nil {
		return protocol.Enrollment{}, err
	}
	return s.enrollmentView(e, acct), nil
}

func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.ActivateRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if verifier.CheckPublicKey(req.PublicKey) != nil || verifier.CheckPublicKey(req.DeliveryKey) != nil {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "public_key and delivery_key must be X25519 public keys")
	}
	if len(req.ChannelToken) != 32 {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "channel_token must be 32 bytes")
	}
	suiteName := protocol.SuiteIBKey
	if req.Card {
		suiteName = protocol.SuiteDSC
		if len(req.PINHash) != 20 {
			return errf(http.StatusBadRequest, protocol.CodeBadRequest, "a card needs pin_hash, the SHA-1 of its PIN")
		}
	} else if req.PINHash != nil {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "pin_hash is only for a card")
	}
	id := r.PathValue("id")
	now := s.now()
	var out protocol.Activation
	var result error
	err := s.store.Update(r.Context(), func(tx Tx) error {
		e, err := tx.Enrollment(id)
		if errors.Is(err, ErrNotFound) {
			result = errNoEnrollment
			return nil
		}
		if err != nil {
			return err
		}
		acct, err := tx.Account(e.Username)
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			result = errLocked
			return nil
		}
		code := req.Code
		if e.Channel == protocol.ChannelLink {
			// An enrollment by link takes its Session ID in place of a code.
			if code != "" {
				result = errf(http.StatusBadRequest, protocol.CodeBadRequest, "this enrollment came from a Client Portal link: send its session, not a code")
				return nil
			}
			if code, err = protocol.NormalizeSessionID(req.Session); err != nil {
				code = "-" // malformed: a wrong one
			}
		} else if req.Session != "" {
			result = errf(http.StatusBadRequest, protocol.CodeBadRequest, "this enrollment takes the activation code, not a session")
			return nil
		}
		badCode := func() (int, error) {
			// A wrong code counts toward the account's lock too, across
			// enrollments: the enrollment's own tries are not enough.
			if err := tx.UpdateEnrollment(e); err != nil {
				return 0, err
			}
			return s.countFailure(tx, &acct, now, AuditEvent{Event: AuditCodeFailed, IP: clientIP(r), Detail: map[string]string{"enrollment": e.ID, "channel": e.Channel}})
		}
		wasFailed := e.State == verifier.EnrollFailed
		switch err := e.Check(s.cfg.Limits, code, now); {
		case errors.Is(err, verifier.ErrBadCode):
			left, err := badCode()
			result = &apiError{status: http.StatusForbidden, code: protocol.CodeInvalidCode, msg: "wrong activation code", attemptsLeft: intp(min(left, e.TriesLeft(s.cfg.Limits)))}
			return err
		case errors.Is(err, verifier.ErrTooManyTries) && !wasFailed:
			// This wrong code was the last the enrollment takes.
			result = errf(http.StatusGone, protocol.CodeGone, "too many wrong codes; start again")
			_, err := badCode()
			return err
		case errors.Is(err, verifier.ErrTooManyTries):
			result = errf(http.StatusGone, protocol.CodeGone, "too many wrong codes; start again")
			return nil
		case errors.Is(err, verifier.ErrExpired), errors.Is(err, verifier.ErrSpent):
			result = errGone
			return nil
		case err != nil:
			return err
		}
		deviceID, err := verifier.NewID(s.rand)
		if err != nil {
			return err
		}
		serverPub, secret, err := verifier.Activate(s.rand, req.PublicKey, e.ID, suiteName, deviceID)
		if err != nil {
			return err
		}
		confirm, err := verifier.NewChallenge(s.rand)
		if err != nil {
			return err
		}
		th := sha256.Sum256(req.ChannelToken)
		d := Device{
			ID: deviceID, Username: acct.Username, EnrollmentID: e.ID, State: DevicePending, Suite: suiteName,
			Secret: secret, PINHash: req.PINHash, ChannelHash: th[:], DeliveryKey: req.DeliveryKey,
			ConfirmChallenge: confirm, Created: now, Expires: now.Add(s.cfg.Limits.CodeTTL),
		}
		if err := tx.InsertDevice(d); err != nil {
			return err
		}
		out = protocol.Activation{
			DeviceID: deviceID, Username: acct.Username, Account: acct.Account, Suite: suiteName,
			ApproveSuite: protocol.SuiteApprove, ServiceKey: s.PublicKey(), ServerKey: serverPub,
			ConfirmChallenge: confirm, ExpiresAt: d.Expires.UTC(),
		}
		if err := s.audit(tx, AuditEvent{Event: AuditDeviceEnrolled, Username: acct.Username, Device: deviceID, IP: clientIP(r), Outcome: "pending",
			Detail: map[string]string{"enrollment": e.ID, "channel": e.Channel, "suite": suiteName}}); err != nil {
			return err
		}
		return tx.UpdateEnrollment(e)
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

// handleConfirm makes a pending device the user's one active device once it
// proves the secret; every other device of the user is retired. A repeated
// confirmation of the device that became active gets the same answer, so
// that a device whose first answer was lost can ask again.
func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitIP(r); err != nil {
		return err
	}
	var req protocol.ConfirmRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	now := s.now()
	var result error
	var retired []string
	err := s.store.Update(r.Context(), func(tx Tx) error {
		d, aerr := s.authDevice(tx, r, true)
		if aerr != nil {
			result = aerr
			return nil
		}
		suite, err := ocra.ParseSuite(d.Suite)
		if err != nil {
			return err
		}
		if d.State == DeviceActive {
			// A repeated confirmation (the answer to the first was lost):
			// the same answer while this device is the active one, and
			// nothing changes.
			if err := verifier.VerifyResponse(suite, d.Secret, d.PINHash, d.ConfirmChallenge, req.Response); err != nil {
				if !errors.Is(err, verifier.ErrBadResponse) {
					return err
				}
				result = errf(http.StatusForbidden, protocol.CodeInvalidResponse, "the device's secret does not match")
			}
			return nil
		}
		if d.State != DevicePending || !now.Before(d.Expires) {
			result = errGone
			return nil
		}
		if err := verifier.VerifyResponse(suite, d.Secret, d.PINHash, d.ConfirmChallenge, req.Response); err != nil {
			if !errors.Is(err, verifier.ErrBadResponse) {
				return err
			}
			// The keys differ: this activation cannot be used.
			d.State, d.Retired = DeviceRetired, now
			result = errf(http.StatusForbidden, protocol.CodeInvalidResponse, "the device's secret does not match; enroll again")
			if err := tx.UpdateDevice(d); err != nil {
				return err
			}
			return s.audit(tx, AuditEvent{Event: AuditDeviceRetired, Username: d.Username, Device: d.ID, IP: clientIP(r), Outcome: "wrong confirmation"})
		}
		others, err := tx.Devices(d.Username)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ID != d.ID && o.State != DeviceRetired {
				was := o.State
				o.State, o.Retired = DeviceRetired, now
				if err := tx.UpdateDevice(o); err != nil {
					return err
				}
				retired = append(retired, o.ID)
				if err := s.audit(tx, AuditEvent{Event: AuditDeviceRetired, Username: o.Username, Device: o.ID, IP: clientIP(r), Outcome: "replaced",
					Detail: map[string]string{"by": d.ID, "was": was}}); err != nil {
					return err
				}
			}
		}
		d.State, d.Activated = DeviceActive, now
		if err := tx.UpdateDevice(d); err != nil {
			return err
		}
		return s.audit(tx, AuditEvent{Event: AuditDeviceConfirmed, Username: d.Username, Device: d.ID, IP: clientIP(r), Outcome: "active"})
	})
	if err != nil {
		return internal(err)
	}
	if result != nil {
		return result
	}
	for _, id := range retired {
		s.notify(id) // their long-polls end with device_retired
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: DeviceActive})
	return nil
}

// authDevice checks the device channel token of the request against the
// device named in the path. pending allows a device not yet confirmed.
func (s *Server) authDevice(tx Tx, r *http.Request, pending bool) (Device, error) {
	unauth := errf(http.StatusUnauthorized, protocol.CodeUnauthorized, "device not recognised")
	token, ok := deviceToken(r)
	if !ok {
		return Device{}, unauth
	}
	d, err := tx.Device(r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		return Device{}, unauth
	}
	if err != nil {
		return Device{}, internal(err)
	}
	th := sha256.Sum256(token)
	if !hmac.Equal(th[:], d.ChannelHash) {
		return Device{}, unauth
	}
	switch {
	case d.State == DeviceRetired:
		return Device{}, errf(http.StatusForbidden, protocol.CodeDeviceRetired, "this device was replaced by another; enroll again")
	case d.State == DevicePending && !pending:
		return Device{}, unauth
	}
	return d, nil
}
