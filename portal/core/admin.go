package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

// The administrator's functions: they work on a store, without a running
// service (the command line), and are audited.

// accountDigits is how many digits an account number has after its U.
const accountDigits = 7

// accountTries is how many account numbers CreateAccount tries: with 10
// million numbers, one taken in a thousand loses all 20 tries once in
// 10^60.
const accountTries = 20

// CreateAccount adds a user with password (hashed with p) and phone. The
// account's username is the canonical form of username (lower case):
// creating a case variant of an existing user is ErrUserExists. The
// account number is random; a taken one is replaced by another, in the
// same transaction.
func CreateAccount(ctx context.Context, st store.Store, rnd io.Reader, now time.Time, username, phone, password string, p Argon2Params) (store.Account, error) {
	username, ok := protocol.CanonicalUsername(username)
	if !ok {
		return store.Account{}, ErrBadUsername
	}
	if !ValidPhone(phone) {
		return store.Account{}, ErrBadPhone
	}
	if len(password) < 8 || len(password) > maxPassword {
		return store.Account{}, errors.New("core: password must have 8 to 1024 characters")
	}
	hash, err := HashPassword(rnd, password, p)
	if err != nil {
		return store.Account{}, err
	}
	var a store.Account
	err = st.Update(ctx, func(tx store.Tx) error {
		for range accountTries {
			num, err := verifier.Digits(rnd, accountDigits)
			if err != nil {
				return err
			}
			a = store.Account{Username: username, Account: "U" + num, Phone: phone, Password: hash, Created: now}
			err = tx.InsertAccount(a)
			if errors.Is(err, store.ErrAccountTaken) {
				continue
			}
			if err != nil {
				return err
			}
			return tx.InsertAudit(store.AuditEvent{Time: now, Event: AuditAccountCreated, Username: username, Outcome: "created",
				Detail: map[string]string{"by": "admin", "account": a.Account, "phone": MaskPhone(phone)}})
		}
		return errors.New("core: no free account number")
	})
	if errors.Is(err, store.ErrExists) {
		return store.Account{}, fmt.Errorf("%w: %q (usernames do not tell the case of letters apart)", ErrUserExists, username)
	}
	if err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// UnlockAccount lifts a user's lockout and clears the failure count (an
// administrator's action, audited at now).
func UnlockAccount(ctx context.Context, st store.Store, now time.Time, username string) error {
	username, ok := protocol.CanonicalUsername(username)
	if !ok {
		return ErrNoUser
	}
	return st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account(username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		was := a.Lockout
		a.Lockout = verifier.Lockout{}
		if err := tx.UpdateAccount(a); err != nil {
			return err
		}
		outcome := "unlocked"
		if !was.Locked(now) {
			outcome = "was not locked"
		}
		return tx.InsertAudit(store.AuditEvent{Time: now, Event: AuditAccountUnlocked, Username: username, Outcome: outcome,
			Detail: map[string]string{"by": "admin", "failures": strconv.Itoa(was.Failures), "hard": strconv.FormatBool(was.Hard)}})
	})
}

// ListDevices returns the devices of username, or of every user when
// username is empty.
func ListDevices(ctx context.Context, st store.Store, username string) ([]store.Device, error) {
	if username != "" {
		c, ok := protocol.CanonicalUsername(username)
		if !ok {
			return nil, ErrNoUser
		}
		username = c
	}
	var ds []store.Device
	err := st.View(ctx, func(tx store.Tx) error {
		if username != "" {
			if _, err := tx.Account(username); errors.Is(err, store.ErrNotFound) {
				return ErrNoUser
			}
		}
		var err error
		ds, err = tx.Devices(username)
		return err
	})
	return ds, err
}

// FraudReports returns the logins denied as fraud, of username or of
// everyone when username is empty, oldest first.
func FraudReports(ctx context.Context, st store.Store, username string) ([]store.FraudReport, error) {
	var out []store.FraudReport
	err := st.View(ctx, func(tx store.Tx) error {
		rs, err := tx.FraudReports()
		for _, r := range rs {
			if username == "" || r.Username == username {
				out = append(out, r)
			}
		}
		return err
	})
	return out, err
}

// IssueTempPassword gives username a new random temporary password: the
// account's password becomes it (to be changed at the next login), and it
// is sealed to the active device's delivery key and queued in its inbox,
// with a signed event on the device channel (every instance of the service
// is told, where the store carries notifications). It returns the
// delivery id. The password itself is never returned or logged.
func IssueTempPassword(ctx context.Context, st store.Store, rnd io.Reader, now time.Time, username string, p Argon2Params) (string, error) {
	id, _, err := issueTempPassword(ctx, st, rnd, now, username, p)
	return id, err
}

// IssueTempPassword is the package function run in the service: the
// device's long-poll is woken at once.
func (s *Service) IssueTempPassword(ctx context.Context, username string) (string, error) {
	id, deviceID, err := issueTempPassword(ctx, s.st, s.rand, s.now(), username, s.cfg.Argon2)
	if err != nil {
		return "", err
	}
	s.notify(deviceID)
	return id, nil
}

func issueTempPassword(ctx context.Context, st store.Store, rnd io.Reader, now time.Time, username string, p Argon2Params) (string, string, error) {
	username, ok := protocol.CanonicalUsername(username)
	if !ok {
		return "", "", ErrNoUser
	}
	key, err := ServiceKey(ctx, st, rnd)
	if err != nil {
		return "", "", err
	}
	pw, err := verifier.NewTempPassword(rnd)
	if err != nil {
		return "", "", err
	}
	hash, err := HashPassword(rnd, pw, p)
	if err != nil {
		return "", "", err
	}
	id, err := verifier.NewID(rnd)
	if err != nil {
		return "", "", err
	}
	var deviceID string
	err = st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account(username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		d, err := tx.ActiveDevice(username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoDevice
		}
		if err != nil {
			return err
		}
		deviceID = d.ID
		label, sealed, err := verifier.SealTempPassword(rnd, d.DeliveryKey, id, d.ID, pw)
		if err != nil {
			return err
		}
		if err := tx.InsertDelivery(store.Delivery{ID: id, DeviceID: d.ID, Kind: verifier.TempPasswordKind, Label: label, Sealed: sealed, Created: now}); err != nil {
			return err
		}
		ev, err := protocol.SignEvent(key, 0, protocol.Event{Type: protocol.EventDelivery, ID: id, DeviceID: d.ID, Username: username, IssuedAt: now.UTC(), ExpiresAt: now.Add(7 * 24 * time.Hour).UTC()})
		if err != nil {
			return err
		}
		if _, err := tx.InsertEvent(store.Event{DeviceID: d.ID, Kind: protocol.EventDelivery, RefID: id, Payload: ev.Payload, Signature: ev.Signature, Expires: now.Add(7 * 24 * time.Hour)}); err != nil {
			return err
		}
		if err := tx.Notify(d.ID); err != nil {
			return err
		}
		a.Password, a.MustChange = hash, true
		if err := tx.UpdateAccount(a); err != nil {
			return err
		}
		return tx.InsertAudit(store.AuditEvent{Time: now, Event: AuditTempIssued, Username: username, Device: d.ID, Outcome: "sealed to the device",
			Detail: map[string]string{"by": "admin", "delivery": id}})
	})
	if err != nil {
		return "", "", err
	}
	return id, deviceID, nil
}
