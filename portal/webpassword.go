package portal

import (
	"context"
	"errors"
	"net/http"

	"ibkey/authcore/protocol"
)

// errNoChangePending is the 409 of POST /api/v1/logins/{id}/password.
var errNoChangePending = errf(http.StatusConflict, "no_change_pending", "no password change is pending for this login")

// loginUsername returns the username of login id (errNoLogin when there is
// no such login).
func (s *Server) loginUsername(ctx context.Context, id string) (string, error) {
	var username string
	var result error
	err := s.store.View(ctx, func(tx Tx) error {
		l, err := tx.Login(id)
		if errors.Is(err, ErrNotFound) || (err == nil && l.Kind != KindLogin) {
			result = errNoLogin
			return nil
		}
		username = l.Username
		return err
	})
	if err != nil {
		return "", internal(err)
	}
	return username, result
}

// setTempPassword sets password as the account's after login id was
// approved while the account's password was a temporary one, within the
// challenge's lifetime: POST /api/v1/logins/{id}/password and the
// portal's new-password page both come here. The password must be 8 to 1024 characters.
// A locked account is refused with errLocked. Errors: errNoLogin,
// errNoChangePending (not approved, not a temporary password, already
// changed, or too late), errLocked, 400 bad_request.
func (s *Server) setTempPassword(ctx context.Context, id, password, ip string) error {
	if len(password) < 8 || len(password) > maxPassword {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "the new password must have 8 to 1024 characters")
	}
	// Argon2id outside the write transaction.
	hash, err := HashPassword(s.rand, password, s.cfg.Argon2)
	if err != nil {
		return internal(err)
	}
	now := s.now()
	var result error
	err = s.store.Update(ctx, func(tx Tx) error {
		l, acct, refused, err := openLogin(tx, id, isLogin, errNoLogin, now)
		if err != nil || refused != nil {
			result = refused
			return err
		}
		if l.Status != StatusApproved || !acct.MustChange || !now.Before(l.Expires) {
			result = errNoChangePending
			return nil
		}
		acct.Password, acct.MustChange = hash, false
		if err := tx.UpdateAccount(acct); err != nil {
			return err
		}
		return s.audit(tx, AuditEvent{Event: AuditPasswordChanged, Username: acct.Username, Device: l.DeviceID, IP: ip, Outcome: "changed",
			Detail: map[string]string{"how": "temporary", "login": l.ID}})
	})
	if err != nil {
		return internal(err)
	}
	return result
}
