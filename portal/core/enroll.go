package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"regexp"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidPhone reports whether p is an E.164 phone number (+CC...).
func ValidPhone(p string) bool { return phoneRE.MatchString(p) }

// ValidUsername reports whether u is an acceptable username, in any case
// (see protocol.CanonicalUsername).
func ValidUsername(u string) bool {
	_, ok := protocol.CanonicalUsername(u)
	return ok
}

// EnrollRequest starts an enrollment by SMS or voice: the user's password
// from the client at IP, and the channel of the code ("" is SMS).
type EnrollRequest struct {
	Username, Password, Channel, IP string
}

// Enroll checks the username and password and sends an activation code.
// Errors: *InputError, ErrBadCredentials, *LockedError, *RateLimitError
// (no enrollment is made then), ErrNoGateway, *GatewayError.
func (s *Service) Enroll(ctx context.Context, req EnrollRequest) (protocol.Enrollment, error) {
	if req.Channel != "" && req.Channel != protocol.ChannelSMS && req.Channel != protocol.ChannelVoice {
		return protocol.Enrollment{}, badRequest("channel must be sms or voice")
	}
	acct, err := s.checkCredentials(ctx, req.IP, req.Username, req.Password, "enroll")
	if err != nil {
		return protocol.Enrollment{}, err
	}
	if s.cfg.Gateway == nil {
		return protocol.Enrollment{}, ErrNoGateway
	}
	now := s.now()
	e, code, err := verifier.NewEnrollment(s.cfg.Limits, s.rand, now, acct.Username, req.Channel)
	if err != nil {
		return protocol.Enrollment{}, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Account(acct.Username); err != nil {
			return err // held: the caps count every send of the user at once
		}
		if err := s.checkSend(tx, acct, e.Channel, req.IP, now); err != nil {
			return err
		}
		if err := tx.InsertEnrollment(e, now); err != nil {
			return err
		}
		if err := s.audit(tx, store.AuditEvent{Event: AuditEnrollStarted, Username: acct.Username, IP: req.IP, Outcome: "started", Detail: map[string]string{"enrollment": e.ID, "channel": e.Channel}}); err != nil {
			return err
		}
		return s.recordSend(tx, acct, e.Channel, req.IP, e.ID, now)
	})
	if err != nil {
		return protocol.Enrollment{}, err
	}
	if err := s.send(ctx, acct, e.Channel, code); err != nil {
		return protocol.Enrollment{}, err
	}
	return s.enrollmentView(e, acct), nil
}

func (s *Service) enrollmentView(e verifier.Enrollment, acct store.Account) protocol.Enrollment {
	return protocol.Enrollment{ID: e.ID, Channel: e.Channel, To: MaskPhone(acct.Phone), ExpiresAt: e.ExpiresAt.UTC(), ResendAfter: e.ResendAfter(s.cfg.Limits).UTC()}
}

// ResendRequest asks for a new code of an enrollment by Channel ("" is the
// other one than the last), from the client at IP.
type ResendRequest struct {
	EnrollmentID, Channel, IP string
}

// Resend sends a new code for an enrollment. Errors: *NotFoundError,
// *LockedError, *RateLimitError (resend_interval, enrollment_sends, a cap
// on codes sent), ErrSpent, *InputError, ErrNoGateway, *GatewayError.
func (s *Service) Resend(ctx context.Context, req ResendRequest) (protocol.Enrollment, error) {
	if s.cfg.Gateway == nil {
		return protocol.Enrollment{}, ErrNoGateway
	}
	now := s.now()
	var e verifier.Enrollment
	var acct store.Account
	var code string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		e, err = tx.Enrollment(req.EnrollmentID)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("enrollment")
		}
		if err != nil {
			return err
		}
		if acct, err = tx.Account(e.Username); err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			return locked(acct.Lockout)
		}
		code, err = e.Resend(s.cfg.Limits, s.rand, now, req.Channel)
		limit := func(name string) error {
			if err := s.audit(tx, store.AuditEvent{Event: AuditRateLimited, Username: acct.Username, IP: req.IP, Outcome: "refused", Detail: map[string]string{"limit": name, "enrollment": e.ID}}); err != nil {
				return err
			}
			return store.Commit(rateLimited(name))
		}
		switch {
		case errors.Is(err, verifier.ErrResendTooSoon):
			return limit("resend_interval")
		case errors.Is(err, verifier.ErrTooManySends):
			return limit("enrollment_sends")
		case errors.Is(err, verifier.ErrSpent):
			return ErrSpent
		case errors.Is(err, verifier.ErrBadChannel):
			return badRequest("channel must be sms or voice")
		case errors.Is(err, verifier.ErrNoCode):
			return badRequest("this enrollment came from a Client Portal link: it has no code to send")
		case err != nil:
			return err
		}
		if err := s.checkSend(tx, acct, e.Channel, req.IP, now); err != nil {
			return err
		}
		if err := tx.UpdateEnrollment(e); err != nil {
			return err
		}
		return s.recordSend(tx, acct, e.Channel, req.IP, e.ID, now)
	})
	if err != nil {
		return protocol.Enrollment{}, err
	}
	if err := s.send(ctx, acct, e.Channel, code); err != nil {
		return protocol.Enrollment{}, err
	}
	return s.enrollmentView(e, acct), nil
}

// ResendCodeRequest is the portal's "Didn't receive a security code?": the
// person has no device yet, so the password is checked.
type ResendCodeRequest struct {
	Username, Password, Channel, IP string
}

// ResendCode sends again the code of the user's newest pending SMS or
// voice enrollment, by Channel. Errors: ErrBadCredentials, *LockedError,
// *RateLimitError, ErrNoEnrollment (none pending; a link does not count),
// ErrNoGateway, *GatewayError.
func (s *Service) ResendCode(ctx context.Context, req ResendCodeRequest) error {
	acct, err := s.checkCredentials(ctx, req.IP, req.Username, req.Password, "resend")
	if err != nil {
		return err
	}
	var id string
	err = s.st.View(ctx, func(tx store.Tx) error {
		es, err := tx.RecentEnrollments(acct.Username, time.Time{}, 20)
		for _, e := range es {
			if e.State == verifier.EnrollPending && e.Channel != protocol.ChannelLink {
				id = e.ID
				break
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if id == "" {
		return ErrNoEnrollment
	}
	_, err = s.Resend(ctx, ResendRequest{EnrollmentID: id, Channel: req.Channel, IP: req.IP})
	if errors.Is(err, ErrSpent) || errors.Is(err, ErrNotFound) {
		return ErrNoEnrollment // activated meanwhile
	}
	return err
}

// DeviceAuth names a device and carries its channel token (nil when the
// request had none, or a malformed one).
type DeviceAuth struct {
	DeviceID string
	Token    []byte
}

// ActivateRequest activates an enrollment: its code (or, for an
// enrollment by link, its Session ID), the device's keys and channel
// token, from the client at IP.
type ActivateRequest struct {
	EnrollmentID string
	Code         string
	Session      string
	PublicKey    []byte // X25519 activation key
	DeliveryKey  []byte // X25519 delivery key
	ChannelToken []byte // 32 bytes
	Card         bool   // a DSC+ card: PINHash is the SHA-1 of its PIN
	PINHash      []byte
	IP           string
}

// Activate checks the code and makes a pending device, to be confirmed.
// Errors: *InputError, *NotFoundError, *LockedError, *BadCodeError,
// ErrTooManyTries, ErrExpired, ErrSpent.
func (s *Service) Activate(ctx context.Context, req ActivateRequest) (protocol.Activation, error) {
	if verifier.CheckPublicKey(req.PublicKey) != nil || verifier.CheckPublicKey(req.DeliveryKey) != nil {
		return protocol.Activation{}, badRequest("public_key and delivery_key must be X25519 public keys")
	}
	if len(req.ChannelToken) != 32 {
		return protocol.Activation{}, badRequest("channel_token must be 32 bytes")
	}
	suiteName := protocol.SuiteIBKey
	if req.Card {
		suiteName = protocol.SuiteDSC
		if len(req.PINHash) != 20 {
			return protocol.Activation{}, badRequest("a card needs pin_hash, the SHA-1 of its PIN")
		}
	} else if req.PINHash != nil {
		return protocol.Activation{}, badRequest("pin_hash is only for a card")
	}
	now := s.now()
	var out protocol.Activation
	err := s.st.Update(ctx, func(tx store.Tx) error {
		e, err := tx.Enrollment(req.EnrollmentID)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("enrollment")
		}
		if err != nil {
			return err
		}
		acct, err := tx.Account(e.Username)
		if err != nil {
			return err
		}
		if acct.Lockout.Locked(now) {
			return locked(acct.Lockout)
		}
		code := req.Code
		if e.Channel == protocol.ChannelLink {
			// An enrollment by link takes its Session ID in place of a code.
			if code != "" {
				return badRequest("this enrollment came from a Client Portal link: send its session, not a code")
			}
			if code, err = protocol.NormalizeSessionID(req.Session); err != nil {
				code = "-" // malformed: a wrong one
			}
		} else if req.Session != "" {
			return badRequest("this enrollment takes the activation code, not a session")
		}
		badCode := func() (int, error) {
			// A wrong code counts toward the account's lock too, across
			// enrollments: the enrollment's own tries are not enough.
			if err := tx.UpdateEnrollment(e); err != nil {
				return 0, err
			}
			return s.countFailure(tx, &acct, now, store.AuditEvent{Event: AuditCodeFailed, IP: req.IP, Detail: map[string]string{"enrollment": e.ID, "channel": e.Channel}})
		}
		wasFailed := e.State == verifier.EnrollFailed
		switch err := e.Check(s.cfg.Limits, code, now); {
		case errors.Is(err, verifier.ErrBadCode):
			left, err := badCode()
			if err != nil {
				return err
			}
			return store.Commit(&BadCodeError{AttemptsLeft: min(left, e.TriesLeft(s.cfg.Limits))})
		case errors.Is(err, verifier.ErrTooManyTries) && !wasFailed:
			// This wrong code was the last the enrollment takes.
			if _, err := badCode(); err != nil {
				return err
			}
			return store.Commit(ErrTooManyTries)
		case errors.Is(err, verifier.ErrTooManyTries):
			return ErrTooManyTries
		case errors.Is(err, verifier.ErrExpired):
			return ErrExpired
		case errors.Is(err, verifier.ErrSpent):
			return ErrSpent
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
		d := store.Device{
			ID: deviceID, Username: acct.Username, EnrollmentID: e.ID, State: store.DevicePending, Suite: suiteName,
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
		if err := s.audit(tx, store.AuditEvent{Event: AuditDeviceEnrolled, Username: acct.Username, Device: deviceID, IP: req.IP, Outcome: "pending",
			Detail: map[string]string{"enrollment": e.ID, "channel": e.Channel, "suite": suiteName}}); err != nil {
			return err
		}
		return tx.UpdateEnrollment(e)
	})
	if err != nil {
		return protocol.Activation{}, err
	}
	return out, nil
}

// ConfirmRequest confirms a pending device with the response of its new
// secret to its confirmation challenge.
type ConfirmRequest struct {
	Device   DeviceAuth
	Response string
	IP       string
}

// Confirm makes a pending device the user's one active device once it
// proves the secret; every other device of the user is retired, in the
// same transaction. A repeated confirmation of the device that became
// active gets the same answer, so that a device whose first answer was
// lost can ask again. Errors: ErrUnauthorized, ErrDeviceRetired,
// ErrSpent (expired or not pending), *KeyMismatchError.
func (s *Service) Confirm(ctx context.Context, req ConfirmRequest) error {
	now := s.now()
	var retired []string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		retired = nil
		d, err := authDevice(tx, req.Device, true)
		if err != nil {
			return err
		}
		// The user's devices change under the account, held: of two
		// confirmations of one user, the second sees the first's.
		if _, err := tx.Account(d.Username); err != nil {
			return err
		}
		if d, err = authDevice(tx, req.Device, true); err != nil {
			return err
		}
		suite, err := ocra.ParseSuite(d.Suite)
		if err != nil {
			return err
		}
		if d.State == store.DeviceActive {
			// A repeated confirmation (the answer to the first was lost):
			// the same answer while this device is the active one, and
			// nothing changes.
			if err := verifier.VerifyResponse(suite, d.Secret, d.PINHash, d.ConfirmChallenge, req.Response); err != nil {
				if !errors.Is(err, verifier.ErrBadResponse) {
					return err
				}
				return &KeyMismatchError{}
			}
			return nil
		}
		if d.State != store.DevicePending || !now.Before(d.Expires) {
			return ErrSpent
		}
		if err := verifier.VerifyResponse(suite, d.Secret, d.PINHash, d.ConfirmChallenge, req.Response); err != nil {
			if !errors.Is(err, verifier.ErrBadResponse) {
				return err
			}
			// The keys differ: this activation cannot be used.
			d.State, d.Retired = store.DeviceRetired, now
			if err := tx.UpdateDevice(d); err != nil {
				return err
			}
			if err := s.audit(tx, store.AuditEvent{Event: AuditDeviceRetired, Username: d.Username, Device: d.ID, IP: req.IP, Outcome: "wrong confirmation"}); err != nil {
				return err
			}
			return store.Commit(&KeyMismatchError{Retired: true})
		}
		others, err := tx.Devices(d.Username)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ID != d.ID && o.State != store.DeviceRetired {
				was := o.State
				o.State, o.Retired = store.DeviceRetired, now
				if err := tx.UpdateDevice(o); err != nil {
					return err
				}
				retired = append(retired, o.ID)
				if err := tx.Notify(o.ID); err != nil {
					return err
				}
				if err := s.audit(tx, store.AuditEvent{Event: AuditDeviceRetired, Username: o.Username, Device: o.ID, IP: req.IP, Outcome: "replaced",
					Detail: map[string]string{"by": d.ID, "was": was}}); err != nil {
					return err
				}
			}
		}
		d.State, d.Activated = store.DeviceActive, now
		if err := tx.UpdateDevice(d); err != nil {
			return err
		}
		return s.audit(tx, store.AuditEvent{Event: AuditDeviceConfirmed, Username: d.Username, Device: d.ID, IP: req.IP, Outcome: "active"})
	})
	if err != nil {
		return err
	}
	for _, id := range retired {
		s.notify(id) // their long-polls end with device_retired
	}
	return nil
}

// authDevice checks a device's channel token against the device. pending
// allows a device not yet confirmed.
func authDevice(tx store.Tx, a DeviceAuth, pending bool) (store.Device, error) {
	if len(a.Token) != 32 {
		return store.Device{}, ErrUnauthorized
	}
	d, err := tx.Device(a.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, ErrUnauthorized
	}
	if err != nil {
		return store.Device{}, err
	}
	th := sha256.Sum256(a.Token)
	if !hmac.Equal(th[:], d.ChannelHash) {
		return store.Device{}, ErrUnauthorized
	}
	switch {
	case d.State == store.DeviceRetired:
		return store.Device{}, ErrDeviceRetired
	case d.State == store.DevicePending && !pending:
		return store.Device{}, ErrUnauthorized
	}
	return d, nil
}
