package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/skip2/go-qrcode"

	"ibkey/authcore/digits"
	"ibkey/authcore/protocol"
	"ibkey/internal/webapp"
	"ibkey/portal/core"
)

// Limits on what a form may carry; longer values are refused before the
// Backend sees them.
const (
	maxUsername    = 256
	maxPassword    = 1024
	maxResponse    = 64
	minNewPassword = 8
)

func (h *handler) home(q *request) {
	if q.s.user != "" {
		http.Redirect(q.w, q.r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(q.w, q.r, "/login", http.StatusSeeOther)
}

// --- login ---

func (h *handler) loginPage(q *request) {
	if q.s.user != "" {
		http.Redirect(q.w, q.r, "/account", http.StatusSeeOther)
		return
	}
	v := view{Title: "Log in"}
	if q.r.URL.Query().Has("out") {
		v.Flash = &flash{Text: "You have logged out."}
	}
	h.render(q, http.StatusOK, "login", v)
}

func (h *handler) loginSubmit(q *request) {
	username := strings.TrimSpace(q.r.PostForm.Get("username"))
	password := q.r.PostForm.Get("password")
	again := func(status int, msg string) {
		h.render(q, status, "login", view{Title: "Log in", Username: username, Error: msg})
	}
	if username == "" || password == "" {
		again(http.StatusBadRequest, "Enter your username and your password.")
		return
	}
	if len(username) > maxUsername || len(password) > maxPassword {
		again(http.StatusUnauthorized, "Wrong username or password.")
		return
	}
	l, err := h.b.StartLogin(q.r.Context(), h.loginRequest(q.r, username, password, core.PurposeLogin))
	if err != nil {
		h.startFailed(q, err, again)
		return
	}
	q.s.pending = &pendingLogin{Login: l, Purpose: core.PurposeLogin}
	q.s.stepUp = nil
	h.redirect(q, "/login/verify", nil)
}

func (h *handler) loginRequest(r *http.Request, username, password string, p core.Purpose) core.LoginRequest {
	return core.LoginRequest{Username: username, Password: password, Purpose: p, IP: h.opt.ClientIP(r), Browser: userAgent(r)}
}

// startFailed answers a StartLogin error, on the login or the step-up page.
func (h *handler) startFailed(q *request, err error, again func(int, string)) {
	switch {
	case errors.Is(err, core.ErrBadCredentials):
		again(http.StatusUnauthorized, "Wrong username or password.")
	case errors.Is(err, core.ErrLocked):
		h.locked(q, err)
	case errors.Is(err, core.ErrRateLimited):
		again(http.StatusTooManyRequests, "Too many attempts. Wait a minute, then try again.")
	case errors.Is(err, core.ErrNoDevice):
		again(http.StatusForbidden, "No IB Key device is active for this user. Add one with the IB Key app "+
			"(or ibkey users add) first; the activation code comes by SMS.")
	default:
		h.fault(q.w, q.r, err)
	}
}

// locked shows what to do about a locked account. A logged-in session ends:
// the account cannot be used until it is unlocked.
func (h *handler) locked(q *request, err error) {
	v := view{Title: "Account locked"}
	var le *core.LockedError
	if errors.As(err, &le) && !le.Hard {
		v.LockedUntil = le.Until
	}
	if q.s.user != "" {
		h.remove(q)
	} else {
		q.s.pending, q.s.stepUp, q.s.forced = nil, nil, nil
		h.save(q)
	}
	h.render(q, http.StatusLocked, "locked", v)
}

// startOver is where a failed login or step-up begins again.
func startOver(p core.Purpose) string {
	switch p {
	case core.PurposePassword:
		return "/stepup?for=password"
	case core.PurposeDevice:
		return "/stepup?for=device"
	}
	return "/login"
}

func taskName(p core.Purpose) string {
	switch p {
	case core.PurposePassword:
		return "change your password"
	case core.PurposeDevice:
		return "add a device"
	}
	return "log in"
}

// pending returns the session's outstanding login, ending it with a message
// when it has expired. ok is false when the caller has been redirected.
func (h *handler) pending(q *request) (*pendingLogin, bool) {
	p := q.s.pending
	if p == nil {
		next := "/login"
		if q.s.user != "" {
			next = "/account"
		}
		h.redirect(q, next, nil)
		return nil, false
	}
	if !h.now().Before(p.ExpiresAt) {
		h.expired(q, p, core.ErrExpired)
		return nil, false
	}
	return p, true
}

func (h *handler) expired(q *request, p *pendingLogin, err error) {
	q.s.pending = nil
	msg := "The challenge expired before it was answered. Start again."
	if errors.Is(err, core.ErrSpent) {
		msg = "That challenge was already used. Start again."
	}
	h.redirect(q, startOver(p.Purpose), &flash{Error: true, Text: msg})
}

func (h *handler) verifyPage(q *request) {
	p, ok := h.pending(q)
	if !ok {
		return
	}
	h.render(q, http.StatusOK, "verify", verifyView(p))
}

// verifyView is the page of an outstanding login or step-up.
func verifyView(p *pendingLogin) view {
	title := "Verify it's you"
	if p.Purpose != core.PurposeLogin {
		title = "Confirm it's you"
	}
	return view{Title: title, Pending: p, Purpose: p.Purpose, Task: taskName(p.Purpose)}
}

func (h *handler) verifySubmit(q *request) {
	p, ok := h.pending(q)
	if !ok {
		return
	}
	resp := digits.Strip(q.r.PostForm.Get("response"))
	if resp == "" || len(resp) > maxResponse {
		v := verifyView(p)
		v.Error = "Enter the response string that IB Key shows, like 1234 5678."
		h.render(q, http.StatusBadRequest, "verify", v)
		return
	}
	st, err := h.b.Respond(q.r.Context(), core.ResponseRequest{LoginID: p.ID, Response: resp, IP: h.opt.ClientIP(q.r)})
	switch {
	case err == nil:
		h.approved(q, p, st.PasswordChangeRequired)
	case errors.Is(err, core.ErrBadResponse):
		q.s.pending = nil
		msg := "That response was wrong, and the challenge is now used up. Start again."
		var be *core.BadResponseError
		if errors.As(err, &be) {
			msg = fmt.Sprintf("That response was wrong, and the challenge is now used up. "+
				"%d more wrong %s will lock the account. Start again.", be.AttemptsLeft, plural(be.AttemptsLeft, "answer", "answers"))
		}
		h.redirect(q, startOver(p.Purpose), &flash{Error: true, Text: msg})
	case errors.Is(err, core.ErrExpired), errors.Is(err, core.ErrSpent), errors.Is(err, core.ErrNotFound):
		h.expired(q, p, err)
	case errors.Is(err, core.ErrLocked):
		h.locked(q, err)
	case errors.Is(err, core.ErrRateLimited):
		v := verifyView(p)
		v.Error = "Too many attempts. Wait a minute, then try again."
		h.render(q, http.StatusTooManyRequests, "verify", v)
	default:
		h.fault(q.w, q.r, err)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// verifyContinue moves on after the push was answered on the phone: the
// page's script submits it when the status changes, and without script the
// person presses its button.
func (h *handler) verifyContinue(q *request) {
	p, ok := h.pending(q)
	if !ok {
		return
	}
	st, err := h.b.LoginStatus(q.r.Context(), p.ID)
	if errors.Is(err, core.ErrNotFound) {
		h.expired(q, p, core.ErrExpired)
		return
	}
	if err != nil {
		h.fault(q.w, q.r, err)
		return
	}
	switch st.Status {
	case core.StatusApproved:
		h.approved(q, p, st.PasswordChangeRequired)
	case core.StatusPending:
		h.redirect(q, "/login/verify", &flash{Text: "Not approved yet. Approve on your phone, or enter the response string."})
	case core.StatusDenied:
		q.s.pending = nil
		h.redirect(q, startOver(p.Purpose), &flash{Error: true, Text: "The request was denied on your phone. Start again."})
	case core.StatusExpired:
		h.expired(q, p, core.ErrExpired)
	default:
		q.s.pending = nil
		h.redirect(q, startOver(p.Purpose), &flash{Error: true, Text: "The request was not approved. Start again."})
	}
}

// approved finishes a login or a step-up whose second factor checked out.
// Either way the session gets a new id and CSRF token. When the password
// is a temporary one (mustChange), the session is not logged in yet: it
// must choose a new password first.
func (h *handler) approved(q *request, p *pendingLogin, mustChange bool) {
	now := h.now()
	q.s.pending = nil
	if p.Purpose != core.PurposeLogin && p.Username != q.s.user {
		h.fault(q.w, q.r, fmt.Errorf("web: step-up for %q in the session of %q", p.Username, q.s.user))
		return
	}
	if mustChange {
		q.s.user, q.s.stepUp, q.s.enroll = "", nil, nil
		q.s.forced = &forcedChange{LoginID: p.ID, Username: p.Username, Until: p.ExpiresAt}
		if err := h.rotate(q); err != nil {
			h.fault(q.w, q.r, err)
			return
		}
		h.redirect(q, "/login/new-password", nil)
		return
	}
	if p.Purpose == core.PurposeLogin {
		q.s.user, q.s.loginAt = p.Username, now
		q.s.stepUp, q.s.enroll = nil, nil
	} else {
		q.s.stepUp = &stepUp{Purpose: p.Purpose, Until: now.Add(h.opt.StepUp)}
	}
	if err := h.rotate(q); err != nil {
		h.fault(q.w, q.r, err)
		return
	}
	switch p.Purpose {
	case core.PurposePassword:
		h.redirect(q, "/password", nil)
	case core.PurposeDevice:
		h.startEnrollment(q)
	default:
		h.redirect(q, "/account", nil)
	}
}

// status is the JSON the verify page's script polls.
func (h *handler) status(q *request) {
	st := "none"
	if p := q.s.pending; p != nil {
		if !h.now().Before(p.ExpiresAt) {
			st = string(core.StatusExpired)
		} else {
			s, err := h.b.LoginStatus(q.r.Context(), p.ID)
			switch {
			case errors.Is(err, core.ErrNotFound):
				st = string(core.StatusExpired)
			case err != nil:
				h.log.Error("web: status", "err", err)
				writeJSON(q.w, http.StatusInternalServerError, map[string]string{"error": "internal"})
				return
			default:
				st = string(s.Status)
			}
		}
	}
	writeJSON(q.w, http.StatusOK, map[string]string{"status": st})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// --- the account ---

func (h *handler) account(q *request) {
	h.render(q, http.StatusOK, "account", view{Title: "Your account"})
}

// logout ends the session; the login page says so without a session of
// its own.
func (h *handler) logout(q *request) {
	h.remove(q)
	http.Redirect(q.w, q.r, "/login?out", http.StatusSeeOther)
}

// --- step-up ---

func parsePurpose(s string) (core.Purpose, bool) {
	switch s {
	case "password":
		return core.PurposePassword, true
	case "device":
		return core.PurposeDevice, true
	}
	return "", false
}

func purposeParam(p core.Purpose) string {
	if p == core.PurposeDevice {
		return "device"
	}
	return "password"
}

func (h *handler) stepUpPage(q *request) {
	p, ok := parsePurpose(q.r.URL.Query().Get("for"))
	if !ok {
		http.Redirect(q.w, q.r, "/account", http.StatusSeeOther)
		return
	}
	h.render(q, http.StatusOK, "stepup", view{Title: "Verify it's you", Purpose: p, Task: taskName(p)})
}

func (h *handler) stepUpSubmit(q *request) {
	p, ok := parsePurpose(q.r.PostForm.Get("for"))
	if !ok {
		h.redirect(q, "/account", nil)
		return
	}
	username := strings.TrimSpace(q.r.PostForm.Get("username"))
	password := q.r.PostForm.Get("password")
	again := func(status int, msg string) {
		h.render(q, status, "stepup", view{Title: "Verify it's you", Purpose: p, Task: taskName(p), Username: username, Error: msg})
	}
	if username == "" || password == "" {
		again(http.StatusBadRequest, "Enter your username and your password.")
		return
	}
	// One form of a username (protocol.CanonicalUsername), compared
	// exactly: "Alice" is alice, and nobody else.
	if canon, ok := protocol.CanonicalUsername(username); !ok || canon != q.s.user {
		again(http.StatusForbidden, "Enter the username you are logged in with.")
		return
	}
	if len(password) > maxPassword {
		again(http.StatusUnauthorized, "Wrong username or password.")
		return
	}
	l, err := h.b.StartLogin(q.r.Context(), h.loginRequest(q.r, username, password, p))
	if err != nil {
		h.startFailed(q, err, again)
		return
	}
	if l.Username != q.s.user {
		h.log.Warn("web: step-up for another account", "account", l.Username, "session", q.s.user)
		again(http.StatusForbidden, "Enter the username you are logged in with.")
		return
	}
	q.s.pending = &pendingLogin{Login: l, Purpose: p}
	h.redirect(q, "/login/verify", nil)
}

// stepped reports whether the session has a fresh step-up for p; if not,
// it sends the browser to the step-up page.
func (h *handler) stepped(q *request, p core.Purpose) bool {
	su := q.s.stepUp
	if su != nil && su.Purpose == p && h.now().Before(su.Until) {
		return true
	}
	var f *flash
	if su != nil && su.Purpose == p {
		q.s.stepUp = nil
		f = &flash{Error: true, Text: "The verification has run out. Verify again."}
	}
	h.redirect(q, "/stepup?for="+purposeParam(p), f)
	return false
}

// --- change the password ---

func (h *handler) passwordPage(q *request) {
	if !h.stepped(q, core.PurposePassword) {
		return
	}
	h.render(q, http.StatusOK, "password", view{Title: "Change your password", MinPassword: minNewPassword})
}

func (h *handler) passwordSubmit(q *request) {
	if !h.stepped(q, core.PurposePassword) {
		return
	}
	pw, confirm := q.r.PostForm.Get("new"), q.r.PostForm.Get("confirm")
	again := func(status int, msg string) {
		h.render(q, status, "password", view{Title: "Change your password", MinPassword: minNewPassword, Error: msg})
	}
	if msg := newPasswordProblem(pw, confirm); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	err := h.b.ChangePassword(q.r.Context(), core.ChangePasswordRequest{Username: q.s.user, Password: pw, IP: h.opt.ClientIP(q.r)})
	switch {
	case err == nil:
		q.s.stepUp = nil
		h.redirect(q, "/account", &flash{Text: "Your password was changed."})
	case errors.Is(err, core.ErrWeakPassword):
		again(http.StatusBadRequest, passwordRefusal(err))
	case errors.Is(err, core.ErrLocked):
		h.locked(q, err)
	default:
		h.fault(q.w, q.r, err)
	}
}

// newPasswordProblem checks a new password and its confirmation as the
// forms do before the Backend sees them, and says what is wrong, if
// anything.
func newPasswordProblem(pw, confirm string) string {
	switch {
	case pw != confirm:
		return "The two passwords are not the same."
	case len([]rune(pw)) < minNewPassword:
		return fmt.Sprintf("Use at least %d characters.", minNewPassword)
	case len(pw) > maxPassword:
		return "That password is too long."
	}
	return ""
}

// passwordRefusal is what the page says of an ErrWeakPassword.
func passwordRefusal(err error) string {
	var pe *core.PasswordError
	if errors.As(err, &pe) && pe.Reason != "" {
		return pe.Reason
	}
	return "That password is too easy to guess. Choose another."
}

// --- a temporary password: choose a new one at login ---

// forcedChange returns the session's pending change of a temporary
// password; ok is false when the caller has been redirected (no change
// pending, or its time ran out).
func (h *handler) forcedChange(q *request) (*forcedChange, bool) {
	f := q.s.forced
	if f == nil {
		h.home(q)
		return nil, false
	}
	if !h.now().Before(f.Until) {
		h.forcedExpired(q)
		return nil, false
	}
	return f, true
}

// forcedExpired ends a change of a temporary password that the service no
// longer takes: the person logs in again with the temporary password.
func (h *handler) forcedExpired(q *request) {
	q.s.forced = nil
	h.redirect(q, "/login", &flash{Error: true, Text: "The time to choose a new password ran out. " +
		"Log in again with your temporary password, then choose a new one."})
}

func (h *handler) newPasswordView(f *forcedChange, msg string) view {
	return view{Title: "Choose a new password", MinPassword: minNewPassword, Deadline: f.Until, Error: msg}
}

func (h *handler) newPasswordPage(q *request) {
	f, ok := h.forcedChange(q)
	if !ok {
		return
	}
	h.render(q, http.StatusOK, "newpassword", h.newPasswordView(f, ""))
}

// newPasswordSubmit sets the new password through the approved login, with
// the rules and errors of the change password page, then logs the session
// in. No step-up: the person has just proved both factors.
func (h *handler) newPasswordSubmit(q *request) {
	f, ok := h.forcedChange(q)
	if !ok {
		return
	}
	pw, confirm := q.r.PostForm.Get("new"), q.r.PostForm.Get("confirm")
	again := func(status int, msg string) {
		h.render(q, status, "newpassword", h.newPasswordView(f, msg))
	}
	if msg := newPasswordProblem(pw, confirm); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	err := h.b.SetTempPassword(q.r.Context(), core.NewPasswordRequest{LoginID: f.LoginID, Password: pw, IP: h.opt.ClientIP(q.r)})
	switch {
	case err == nil:
		q.s.forced = nil
		q.s.user, q.s.loginAt = f.Username, h.now()
		if err := h.rotate(q); err != nil {
			h.fault(q.w, q.r, err)
			return
		}
		h.redirect(q, "/account", &flash{Text: "Your new password is set."})
	case errors.Is(err, core.ErrWeakPassword):
		again(http.StatusBadRequest, passwordRefusal(err))
	case errors.Is(err, core.ErrNoChangePending), errors.Is(err, core.ErrNotFound):
		h.forcedExpired(q)
	case errors.Is(err, core.ErrRateLimited):
		again(http.StatusTooManyRequests, "Too many attempts. Wait a minute, then try again.")
	case errors.Is(err, core.ErrLocked):
		h.locked(q, err)
	default:
		h.fault(q.w, q.r, err)
	}
}

// --- add a device ---

// startEnrollment uses the session's fresh device step-up to start an
// enrollment, then shows it.
func (h *handler) startEnrollment(q *request) {
	base := h.opt.PublicURL
	if base == "" {
		base = requestBase(q.r, h.opt.Secure)
	}
	if base == "" {
		h.fault(q.w, q.r, errors.New("web: no service URL for the enrollment link: set the public URL"))
		return
	}
	le, err := h.b.StartLinkEnrollment(q.r.Context(), core.LinkRequest{Username: q.s.user, IP: h.opt.ClientIP(q.r)})
	switch {
	case err == nil:
	case errors.Is(err, core.ErrRateLimited):
		h.redirect(q, "/account", &flash{Error: true, Text: "Too many devices were started a moment ago. Wait a minute, then try again."})
		return
	case errors.Is(err, core.ErrLocked):
		h.locked(q, err)
		return
	default:
		h.fault(q.w, q.r, err)
		return
	}
	q.s.stepUp = nil
	q.s.enroll = &Enrollment{Link: le.Link(base), SessionID: protocol.FormatSessionID(le.SessionID), ExpiresAt: le.ExpiresAt}
	h.redirect(q, "/device", nil)
}

func (h *handler) devicePage(q *request) {
	e := q.s.enroll
	if e == nil || !h.now().Before(e.ExpiresAt) {
		var f *flash
		if e != nil {
			q.s.enroll = nil
			f = &flash{Error: true, Text: "That enrollment expired. Verify again to start a new one."}
		}
		h.redirect(q, "/stepup?for=device", f)
		return
	}
	h.render(q, http.StatusOK, "device", view{Title: "Add a device", Enrollment: e, AppLink: h.appLink(e)})
}

// appLink is the web app's link for the enrollment e when the service
// serves the web app, else "": SERVICE/app/#enroll=SESSIONID, the Session
// ID in the fragment, which the browser keeps to itself (no server log
// sees it). A phone's camera opens it in the browser.
func (h *handler) appLink(e *Enrollment) string {
	if !h.opt.WebApp {
		return ""
	}
	service, session, err := protocol.ParseEnrollLink(e.Link)
	if err != nil || service == "" {
		return ""
	}
	return service + webapp.Prefix + "#enroll=" + protocol.FormatSessionID(session)
}

// qrSize is the QR code's side in pixels; the page shows it at 256 CSS
// pixels, so that it stays sharp on a phone's denser screen.
const qrSize = 512

func (h *handler) deviceQR(q *request) {
	e := q.s.enroll
	if e == nil || !h.now().Before(e.ExpiresAt) {
		http.NotFound(q.w, q.r)
		return
	}
	link := e.Link
	if app := h.appLink(e); app != "" {
		link = app
	}
	png, err := qrcode.Encode(link, qrcode.Medium, qrSize)
	if err != nil {
		h.fault(q.w, q.r, err)
		return
	}
	q.w.Header().Set("Content-Type", "image/png")
	q.w.Write(png)
}

// --- "Didn't receive a security code?" ---

func (h *handler) resendPage(q *request) {
	v := view{Title: "Didn't receive a security code?", Username: q.s.user, Channel: ChannelSMS}
	// After a resend: the good news comes in the address, so that an
	// anonymous visitor needs no session for it.
	switch Channel(q.r.URL.Query().Get("sent")) {
	case ChannelSMS:
		v.Flash = &flash{Text: "A new code is on its way by SMS to the phone number on file."}
	case ChannelVoice:
		v.Flash = &flash{Text: "A new code is on its way by a voice call to the phone number on file."}
	}
	h.render(q, http.StatusOK, "resend", v)
}

func (h *handler) resendSubmit(q *request) {
	username := strings.TrimSpace(q.r.PostForm.Get("username"))
	password := q.r.PostForm.Get("password")
	ch := Channel(q.r.PostForm.Get("channel"))
	again := func(status int, msg string) {
		h.render(q, status, "resend", view{Title: "Didn't receive a security code?", Username: username, Channel: ch, Error: msg})
	}
	if ch != ChannelSMS && ch != ChannelVoice {
		ch = ChannelSMS
		again(http.StatusBadRequest, "Choose SMS or Voice.")
		return
	}
	if username == "" || password == "" {
		again(http.StatusBadRequest, "Enter your username and your password.")
		return
	}
	if len(username) > maxUsername || len(password) > maxPassword {
		again(http.StatusUnauthorized, "Wrong username or password.")
		return
	}
	err := h.b.ResendCode(q.r.Context(), core.ResendCodeRequest{Username: username, Password: password, Channel: string(ch), IP: h.opt.ClientIP(q.r)})
	switch {
	case err == nil:
		h.redirect(q, "/resend?sent="+string(ch), nil)
	case errors.Is(err, core.ErrBadCredentials):
		again(http.StatusUnauthorized, "Wrong username or password.")
	case errors.Is(err, core.ErrNoEnrollment):
		again(http.StatusConflict, "No device is waiting for a code for this user. Start adding the device in "+
			"IB Key (or with ibkey users add) first, then come back here if the code does not arrive.")
	case errors.Is(err, core.ErrRateLimited):
		again(http.StatusTooManyRequests, "A code was sent a moment ago. Wait a minute before asking again.")
	case errors.Is(err, core.ErrLocked):
		h.locked(q, err)
	default:
		h.fault(q.w, q.r, err)
	}
}

// --- the developer outbox ---

// maxOutbox caps the messages the outbox page shows.
const maxOutbox = 200

func (h *handler) outbox(q *request) {
	if !h.opt.DevOutboxPublic && !h.isLoopback(q.r) {
		http.NotFound(q.w, q.r)
		return
	}
	msgs, err := h.b.Outbox(q.r.Context())
	if err != nil {
		h.fault(q.w, q.r, err)
		return
	}
	msgs = slices.Clone(msgs)
	slices.Reverse(msgs)
	if len(msgs) > maxOutbox {
		msgs = msgs[:maxOutbox]
	}
	h.render(q, http.StatusOK, "outbox", view{Title: "Developer outbox", Messages: msgs})
}
