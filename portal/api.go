package portal

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
)

// The handlers: each reads its request, calls one operation of the core
// and writes its answer. The per-address limit of the API is taken here,
// before the body is read, except where the core takes it itself (the
// operations the pages share: password checks, responses, new passwords).

// allowIP takes a token of the client address's bucket of requests.
func (s *Server) allowIP(r *http.Request) error { return s.svc.AllowIP(r.Context(), s.ClientIP(r)) }

// deviceAuth reads the device named in the path and its token from
// "Authorization: Device <base64url token>"; a missing or malformed token
// is nil (the core answers ErrUnauthorized).
func deviceAuth(r *http.Request) core.DeviceAuth {
	a := core.DeviceAuth{DeviceID: r.PathValue("id")}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, protocol.AuthScheme) || len(tok) > 128 {
		return a
	}
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "=")); err == nil && len(b) == 32 {
		a.Token = b
	}
	return a
}

func (s *Server) handleService(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"service_key": []byte(s.svc.PublicKey()),
		"suites":      s.svc.Suites(),
	})
	return nil
}

// --- relying-party logins ---

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req protocol.LoginRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if len(req.App) > 128 || len(req.Browser) > 256 {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "app or browser too long")
	}
	if req.Browser == "" {
		req.Browser = r.UserAgent() // the core cuts it to 256 bytes
	}
	l, err := s.svc.StartLogin(r.Context(), core.LoginRequest{
		Username: req.Username, Password: req.Password, App: req.App, Browser: req.Browser, IP: s.ClientIP(r),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, protocol.Login{ID: l.ID, Challenge: l.Challenge, ExpiresAt: l.ExpiresAt, Push: l.Push, Number: l.Number})
	return nil
}

// handleResponse checks the response to a login's challenge; the core
// spends the challenge in the transaction that reads it.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) error {
	var req protocol.LoginAnswer
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if _, err := s.svc.Respond(r.Context(), core.ResponseRequest{LoginID: r.PathValue("id"), Response: req.Response, IP: s.ClientIP(r)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: string(core.StatusApproved)})
	return nil
}

func (s *Server) handleLoginStatus(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	st, err := s.svc.LoginStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.LoginStatus{Status: string(st.Status), PasswordChangeRequired: st.PasswordChangeRequired})
	return nil
}

// handlePassword sets a new password after a login approved with a
// temporary password, within the challenge's lifetime.
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) error {
	var req protocol.PasswordChange
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if len(req.Password) < 8 || len(req.Password) > 1024 {
		return errf(http.StatusBadRequest, protocol.CodeBadRequest, "the new password must have 8 to 1024 characters")
	}
	if err := s.svc.SetTempPassword(r.Context(), core.NewPasswordRequest{LoginID: r.PathValue("id"), Password: req.Password, IP: s.ClientIP(r)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: "changed"})
	return nil
}

// --- enrollment ---

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) error {
	var req protocol.EnrollRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	out, err := s.svc.Enroll(r.Context(), core.EnrollRequest{Username: req.Username, Password: req.Password, Channel: req.Channel, IP: s.ClientIP(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleEnrollSession exchanges a Session ID for its enrollment.
func (s *Server) handleEnrollSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	var req protocol.SessionRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	out, err := s.svc.ExchangeSession(r.Context(), core.SessionRequest{Session: req.Session, IP: s.ClientIP(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	var req protocol.ResendRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	out, err := s.svc.Resend(r.Context(), core.ResendRequest{EnrollmentID: r.PathValue("id"), Channel: req.Channel, IP: s.ClientIP(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	var req protocol.ActivateRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	out, err := s.svc.Activate(r.Context(), core.ActivateRequest{
		EnrollmentID: r.PathValue("id"), Code: req.Code, Session: req.Session,
		PublicKey: req.PublicKey, DeliveryKey: req.DeliveryKey, ChannelToken: req.ChannelToken,
		Card: req.Card, PINHash: req.PINHash, IP: s.ClientIP(r),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleConfirm makes a pending device the user's one active device.
func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	var req protocol.ConfirmRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if err := s.svc.Confirm(r.Context(), core.ConfirmRequest{Device: deviceAuth(r), Response: req.Response, IP: s.ClientIP(r)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: "active"})
	return nil
}

// --- the device channel ---

// handleEvents is the device channel: a long-poll that answers at once
// with the pending events after the sequence number `after`, or waits for
// one up to `wait` milliseconds (25 s by default, at most MaxWait). Every
// answer lists the device's login requests still pending; with `pending`
// (the digest of the list the device holds) it also answers as soon as
// that list changes (docs/PROTOCOL.md).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
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
		wait = time.Duration(min(ms, int64(time.Hour/time.Millisecond))) * time.Millisecond
	}
	out, err := s.svc.WaitEvents(r.Context(), core.EventsRequest{Device: deviceAuth(r), After: after, Wait: wait, Pending: q.Get("pending")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleApproval approves or denies a seamless login request.
func (s *Server) handleApproval(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	var req protocol.ApprovalRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	status, err := s.svc.Approve(r.Context(), core.ApprovalRequest{
		Device: deviceAuth(r), RequestID: req.RequestID, Number: req.Number, Response: req.Response, Deny: req.Deny, IP: s.ClientIP(r),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: string(status)})
	return nil
}

// --- sealed deliveries and PIN proofs ---

// handleInboxChallenge issues the challenge that opens the inbox.
func (s *Server) handleInboxChallenge(w http.ResponseWriter, r *http.Request) error {
	return s.issueProof(w, r, core.ProofInbox)
}

// handlePINChallenge issues a challenge that proves the PIN and does
// nothing else: a device proves the old PIN before it changes it.
func (s *Server) handlePINChallenge(w http.ResponseWriter, r *http.Request) error {
	return s.issueProof(w, r, core.ProofPIN)
}

func (s *Server) issueProof(w http.ResponseWriter, r *http.Request, kind core.ProofKind) error {
	if err := s.allowIP(r); err != nil {
		return err
	}
	out, err := s.svc.IssueProof(r.Context(), core.ProofChallengeRequest{Device: deviceAuth(r), Kind: kind, IP: s.ClientIP(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// proofRequest reads the answer to a proof challenge.
func (s *Server) proofRequest(r *http.Request) (core.ProofRequest, error) {
	if err := s.allowIP(r); err != nil {
		return core.ProofRequest{}, err
	}
	var req protocol.ProofResponse
	if err := decodeJSON(r.Body, &req); err != nil {
		return core.ProofRequest{}, err
	}
	return core.ProofRequest{Device: deviceAuth(r), ChallengeID: req.ChallengeID, Response: req.Response, IP: s.ClientIP(r)}, nil
}

// handleInbox releases the device's sealed deliveries once it answers its
// inbox challenge.
func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) error {
	req, err := s.proofRequest(r)
	if err != nil {
		return err
	}
	ds, err := s.svc.OpenInbox(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Inbox{Deliveries: ds})
	return nil
}

// handlePINProof checks the answer to a PIN challenge.
func (s *Server) handlePINProof(w http.ResponseWriter, r *http.Request) error {
	req, err := s.proofRequest(r)
	if err != nil {
		return err
	}
	if err := s.svc.ProvePIN(r.Context(), req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Status{Status: "proved"})
	return nil
}
