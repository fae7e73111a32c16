package core

import (
	"context"
	"errors"
	"strings"

	"ibkey/authcore/protocol"
	"ibkey/portal/store"
)

// NewPasswordRequest sets a new password through a login approved with a
// temporary one, from the client at IP.
type NewPasswordRequest struct {
	LoginID, Password, IP string
}

// ChangePasswordRequest sets a new password for a user whom the portal
// has just verified again (step-up), from the client at IP.
type ChangePasswordRequest struct {
	Username, Password, IP string
}

// CheckNewPassword is the rule for a new password: 8 to 1024 characters,
// not the username (canonical, lower case). It returns a *PasswordError
// with the reason for people, or nil.
func CheckNewPassword(username, password string) error {
	switch {
	case len(password) < 8:
		return &PasswordError{Reason: "Use at least 8 characters."}
	case len(password) > maxPassword:
		return &PasswordError{Reason: "Use at most 1024 characters."}
	case strings.ToLower(password) == username:
		return &PasswordError{Reason: "Your password cannot be your username."}
	}
	return nil
}

// SetTempPassword sets a new password after login LoginID was approved
// while the account's password was a temporary one, within the
// challenge's lifetime. Errors: *RateLimitError, *NotFoundError,
// *PasswordError, ErrNoChangePending (not approved, not a temporary
// password, already changed, or too late), *LockedError.
func (s *Service) SetTempPassword(ctx context.Context, req NewPasswordRequest) error {
	if err := s.AllowIP(ctx, req.IP); err != nil {
		return err
	}
	var username string
	err := s.st.View(ctx, func(tx store.Tx) error {
		l, err := tx.Login(req.LoginID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !isLogin(l)) {
			return notFound("login")
		}
		username = l.Username
		return err
	})
	if err != nil {
		return err
	}
	if err := CheckNewPassword(username, req.Password); err != nil {
		return err
	}
	// Argon2id outside the write transaction.
	hash, err := HashPassword(s.rand, req.Password, s.cfg.Argon2)
	if err != nil {
		return err
	}
	now := s.now()
	return s.st.Update(ctx, func(tx store.Tx) error {
		l, acct, _, err := openLogin(tx, req.LoginID, isLogin, notFound("login"), now)
		if err != nil {
			return err
		}
		if l.Status != store.StatusApproved || !acct.MustChange || !now.Before(l.Expires) {
			return ErrNoChangePending
		}
		acct.Password, acct.MustChange = hash, false
		if err := tx.UpdateAccount(acct); err != nil {
			return err
		}
		return s.audit(tx, store.AuditEvent{Event: AuditPasswordChanged, Username: acct.Username, Device: l.DeviceID, IP: req.IP, Outcome: "changed",
			Detail: map[string]string{"how": "temporary", "login": l.ID}})
	})
}

// ChangePassword sets a new password for a user the portal has just
// verified again (step-up). Errors: ErrNoUser, *PasswordError,
// *LockedError.
func (s *Service) ChangePassword(ctx context.Context, req ChangePasswordRequest) error {
	username, ok := protocol.CanonicalUsername(req.Username)
	if !ok {
		return ErrNoUser
	}
	if err := CheckNewPassword(username, req.Password); err != nil {
		return err
	}
	hash, err := HashPassword(s.rand, req.Password, s.cfg.Argon2)
	if err != nil {
		return err
	}
	now := s.now()
	return s.st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account(username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		if a.Lockout.Locked(now) {
			return locked(a.Lockout)
		}
		a.Password, a.MustChange = hash, false
		if err := tx.UpdateAccount(a); err != nil {
			return err
		}
		return s.audit(tx, store.AuditEvent{Event: AuditPasswordChanged, Username: username, IP: req.IP, Outcome: "changed", Detail: map[string]string{"how": "stepup"}})
	})
}
