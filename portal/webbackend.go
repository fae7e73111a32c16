package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/web"
)

// The Client Portal pages (package web) on the service: WebBackend is
// web.Backend in process, and MountWeb serves the pages at "/" beside the
// API.

// WebBackend implements web.Backend over a Server. The outcomes of the API
// (CONTRACT.md) become the sentinel errors of package web, as
// docs/PORTAL.md lists them.
type WebBackend struct {
	s *Server
	// PublicURL is the service's URL in enrollment links; "" takes the
	// scheme and host of the browser's request.
	PublicURL string
}

// NewWebBackend returns the pages' Backend on s.
func NewWebBackend(s *Server, publicURL string) *WebBackend {
	return &WebBackend{s: s, PublicURL: strings.TrimSuffix(publicURL, "/")}
}

var _ web.Backend = (*WebBackend)(nil)

// MountWeb mounts the Client Portal pages at "/" on the service's mux (the
// API keeps /api/ and /healthz). Call it before serving. opt.Clock and
// opt.Log default to the service's.
func (s *Server) MountWeb(opt web.Options, publicURL string) {
	if opt.Clock == nil {
		opt.Clock = s.now
	}
	if opt.Log == nil {
		opt.Log = s.log
	}
	if opt.OnRateLimit == nil {
		opt.OnRateLimit = func(ip string) {
			s.auditAlone(context.Background(), AuditEvent{Event: AuditRateLimited, IP: ip, Outcome: "refused", Detail: map[string]string{"limit": "pages"}})
		}
	}
	b := NewWebBackend(s, publicURL)
	h := web.New(b, opt)
	s.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), webReqKey{}, webReq{ip: clientIP(r), base: requestBase(r, opt.Secure)})
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
}

type webReqKey struct{}

// webReq is what the Backend knows of the browser's request.
type webReq struct {
	ip   string
	base string // scheme://host of the request, for links
}

func fromCtx(ctx context.Context) webReq {
	r, _ := ctx.Value(webReqKey{}).(webReq)
	return r
}

// requestBase is the scheme and host the browser used, or "" when the Host
// header is not a plain host[:port].
func requestBase(r *http.Request, secure bool) string {
	scheme := "http"
	if secure || r.TLS != nil {
		scheme = "https"
	}
	u, err := url.Parse(scheme + "://" + r.Host)
	if err != nil || r.Host == "" || u.Host != r.Host || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	return scheme + "://" + r.Host
}

// purposeApp is what the phone shows as the application of a login.
func purposeApp(p web.Purpose) string {
	switch p {
	case web.PurposePassword:
		return "Client Portal: change password"
	case web.PurposeDevice:
		return "Client Portal: add a device"
	}
	return "Client Portal"
}

// StartLogin implements web.Backend.
func (b *WebBackend) StartLogin(ctx context.Context, req web.LoginRequest) (web.Login, error) {
	ip := req.IP
	if ip == "" {
		ip = fromCtx(ctx).ip
	}
	l, username, err := b.s.startLogin(ctx, ip, protocol.LoginRequest{
		Username: req.Username, Password: req.Password, App: purposeApp(req.Purpose), Browser: req.UserAgent,
	}, string(req.Purpose))
	if err != nil {
		return web.Login{}, b.webError(ctx, err, req.Username)
	}
	return web.Login{ID: l.ID, Username: username, Challenge: l.Challenge, ExpiresAt: l.ExpiresAt, Push: l.Push, Number: l.Number}, nil
}

// Respond implements web.Backend: an approved login also says whether its
// password is a temporary one (GET /api/v1/logins/{id}).
func (b *WebBackend) Respond(ctx context.Context, loginID, response string) (web.LoginState, error) {
	if b.s.allowIP(ctx, fromCtx(ctx).ip) != nil {
		return web.LoginState{}, web.ErrRateLimited
	}
	if err := b.s.respond(ctx, loginID, response, fromCtx(ctx).ip); err != nil {
		return web.LoginState{}, b.loginError(ctx, err, loginID)
	}
	return b.Status(ctx, loginID)
}

// loginError is webError for an error about login id, whose username a
// LockedError needs.
func (b *WebBackend) loginError(ctx context.Context, err error, loginID string) error {
	var username string
	if errors.Is(err, errLocked) {
		b.s.store.View(ctx, func(tx Tx) error {
			l, err := tx.Login(loginID)
			username = l.Username
			return err
		})
	}
	return b.webError(ctx, err, username)
}

// Status implements web.Backend.
func (b *WebBackend) Status(ctx context.Context, loginID string) (web.LoginState, error) {
	st, err := b.s.loginStatus(ctx, loginID)
	if err != nil {
		return web.LoginState{}, b.webError(ctx, err, "")
	}
	return web.LoginState{Status: web.Status(st.Status), PasswordChangeRequired: st.PasswordChangeRequired}, nil
}

// passwordPolicy is the portal's rule for a new password: 8 to 1024
// characters, not the username.
func passwordPolicy(username, newPassword string) error {
	switch {
	case len(newPassword) < 8:
		return &web.PasswordError{Reason: "Use at least 8 characters."}
	case len(newPassword) > maxPassword:
		return &web.PasswordError{Reason: "Use at most 1024 characters."}
	case strings.ToLower(newPassword) == username: // username is lower case
		return &web.PasswordError{Reason: "Your password cannot be your username."}
	}
	return nil
}

// SetLoginPassword implements web.Backend: the password change of POST
// /api/v1/logins/{id}/password (after a login approved with a temporary
// password, within its challenge's lifetime), with the policy of
// ChangePassword and the per-address rate limit of the API.
func (b *WebBackend) SetLoginPassword(ctx context.Context, loginID, newPassword string) error {
	if b.s.allowIP(ctx, fromCtx(ctx).ip) != nil {
		return web.ErrRateLimited
	}
	username, err := b.s.loginUsername(ctx, loginID)
	if err != nil {
		return b.webError(ctx, err, "")
	}
	if err := passwordPolicy(username, newPassword); err != nil {
		return err
	}
	err = b.s.setTempPassword(ctx, loginID, newPassword, fromCtx(ctx).ip)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNoChangePending):
		return web.ErrNoChangePending
	}
	return b.loginError(ctx, err, loginID)
}

// ChangePassword implements web.Backend: 8 to 1024 characters, not the
// username.
func (b *WebBackend) ChangePassword(ctx context.Context, username, newPassword string) error {
	username, ok := protocol.CanonicalUsername(username)
	if !ok {
		return ErrNoUser
	}
	if err := passwordPolicy(username, newPassword); err != nil {
		return err
	}
	hash, err := HashPassword(b.s.rand, newPassword, b.s.cfg.Argon2)
	if err != nil {
		return err
	}
	now := b.s.now()
	var locked *web.LockedError
	err = b.s.store.Update(ctx, func(tx Tx) error {
		a, err := tx.Account(username)
		if err != nil {
			return err
		}
		if a.Lockout.Locked(now) {
			locked = lockedError(a.Lockout)
			return nil
		}
		a.Password, a.MustChange = hash, false
		if err := tx.UpdateAccount(a); err != nil {
			return err
		}
		return b.s.audit(tx, AuditEvent{Event: AuditPasswordChanged, Username: username, IP: fromCtx(ctx).ip, Outcome: "changed", Detail: map[string]string{"how": "stepup"}})
	})
	if err != nil {
		return fmt.Errorf("portal: change password: %w", err)
	}
	if locked != nil {
		return locked
	}
	return nil
}

// StartDeviceEnrollment implements web.Backend: an enrollment by link.
func (b *WebBackend) StartDeviceEnrollment(ctx context.Context, username string) (web.Enrollment, error) {
	le, err := b.s.StartDeviceEnrollment(ctx, username)
	switch {
	case errors.Is(err, ErrTooManyLinks):
		return web.Enrollment{}, web.ErrRateLimited
	case errors.Is(err, ErrUserLocked):
		return web.Enrollment{}, b.locked(ctx, username)
	case err != nil:
		return web.Enrollment{}, err
	}
	base := b.PublicURL
	if base == "" {
		base = fromCtx(ctx).base
	}
	if base == "" {
		return web.Enrollment{}, errors.New("portal: no service URL for the enrollment link: set the public URL")
	}
	return web.Enrollment{Link: le.Link(base), SessionID: protocol.FormatSessionID(le.SessionID), ExpiresAt: le.ExpiresAt}, nil
}

// ResendCode implements web.Backend: the newest pending SMS or voice
// enrollment of the user gets a new code.
func (b *WebBackend) ResendCode(ctx context.Context, username, password string, channel web.Channel) error {
	acct, err := b.s.checkCredentials(ctx, fromCtx(ctx).ip, username, password, "resend")
	if err != nil {
		return b.webError(ctx, err, username)
	}
	if acct.Lockout.Locked(b.s.now()) {
		return lockedError(acct.Lockout)
	}
	var id string
	err = b.s.store.View(ctx, func(tx Tx) error {
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
		return web.ErrNoEnrollment
	}
	if _, err := b.s.resend(ctx, id, string(channel), fromCtx(ctx).ip); err != nil {
		if errors.Is(err, errGone) {
			return web.ErrNoEnrollment
		}
		return b.webError(ctx, err, acct.Username)
	}
	return nil
}

// MessageLister is a Gateway that can list what it sent, for the
// developer outbox page.
type MessageLister interface {
	Messages(ctx context.Context) ([]Message, error)
}

// Outbox implements web.Backend: the messages of a Gateway that lists them
// (the built-in Outbox), else none.
func (b *WebBackend) Outbox(ctx context.Context) ([]web.Message, error) {
	ml, ok := b.s.cfg.Gateway.(MessageLister)
	if !ok {
		return nil, nil
	}
	msgs, err := ml.Messages(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.Message, len(msgs))
	for i, m := range msgs {
		out[i] = web.Message{Time: m.Time, Channel: web.Channel(m.Channel), To: m.To, Username: m.Username, Code: m.Code, Text: m.Text}
	}
	return out, nil
}

// webError maps an answer of the API to the errors of package web.
func (b *WebBackend) webError(ctx context.Context, err error, username string) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e == errExpired:
		return web.ErrExpired
	case e.code == protocol.CodeBadCredentials:
		return web.ErrBadCredentials
	case e.code == protocol.CodeLocked:
		return b.locked(ctx, username)
	case e.code == protocol.CodeRateLimited:
		return web.ErrRateLimited
	case e.code == protocol.CodeNoDevice:
		return web.ErrNoDevice
	case e.code == protocol.CodeInvalidResponse:
		left := 0
		if e.attemptsLeft != nil {
			left = *e.attemptsLeft
		}
		return &web.BadResponseError{AttemptsLeft: left}
	case e.code == protocol.CodeGone:
		return web.ErrSpent
	case e.code == protocol.CodeNotFound:
		return web.ErrNotFound
	}
	return fmt.Errorf("portal: %s: %w", e.code, err)
}

// locked is the LockedError of username, with the time the lock ends.
func (b *WebBackend) locked(ctx context.Context, username string) error {
	var lo verifier.Lockout
	username, _ = protocol.CanonicalUsername(username)
	if username != "" {
		b.s.store.View(ctx, func(tx Tx) error {
			a, err := tx.Account(username)
			lo = a.Lockout
			return err
		})
	}
	return lockedError(lo)
}

func lockedError(lo verifier.Lockout) *web.LockedError {
	if lo.Hard || lo.LockedUntil.IsZero() {
		return &web.LockedError{} // an administrator unlocks it
	}
	return &web.LockedError{Until: lo.LockedUntil}
}
