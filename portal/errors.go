package portal

import (
	"errors"
	"net/http"
	"strings"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
)

// apiError is an error answer: status, stable code and message go to the
// client; err (internal detail) goes only to the log.
type apiError struct {
	status       int
	code, msg    string
	attemptsLeft *int
	err          error
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.code + ": " + e.err.Error()
	}
	return e.code
}

func errf(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

// outcome is how the API answers a domain error of the core.
type outcome struct {
	err    error
	status int
	code   string
	msg    string
	// detail, when set, writes the message (and attempts left) from the
	// error's details.
	detail func(err error, e *apiError)
}

// outcomes is the one table from the core's domain errors to the API's
// answers (docs/PROTOCOL.md, "Errors"), matched in order with errors.Is.
var outcomes = []outcome{
	{core.ErrBadRequest, http.StatusBadRequest, protocol.CodeBadRequest, "bad request", func(err error, e *apiError) {
		var ie *core.InputError
		if errors.As(err, &ie) {
			e.msg = ie.Msg
		}
	}},
	{core.ErrWeakPassword, http.StatusBadRequest, protocol.CodeBadRequest, "the new password must have 8 to 1024 characters and not be the username", nil},
	{core.ErrBadCredentials, http.StatusUnauthorized, protocol.CodeBadCredentials, "wrong username or password", nil},
	{core.ErrUnauthorized, http.StatusUnauthorized, protocol.CodeUnauthorized, "device not recognised", nil},
	{core.ErrBadCode, http.StatusForbidden, protocol.CodeInvalidCode, "wrong activation code", func(err error, e *apiError) {
		var bc *core.BadCodeError
		if errors.As(err, &bc) {
			e.attemptsLeft = &bc.AttemptsLeft
		}
	}},
	{core.ErrBadSession, http.StatusForbidden, protocol.CodeInvalidCode, "wrong or expired Session ID; start again in the Client Portal", nil},
	{core.ErrBadResponse, http.StatusForbidden, protocol.CodeInvalidResponse, "wrong response; start again", func(err error, e *apiError) {
		var br *core.BadResponseError
		if errors.As(err, &br) {
			e.attemptsLeft = &br.AttemptsLeft
			if br.Approval {
				e.msg = "wrong response (wrong PIN?)"
			}
		}
	}},
	{core.ErrKeyMismatch, http.StatusForbidden, protocol.CodeInvalidResponse, "the device's secret does not match", func(err error, e *apiError) {
		var km *core.KeyMismatchError
		if errors.As(err, &km) && km.Retired {
			e.msg = "the device's secret does not match; enroll again"
		}
	}},
	{core.ErrWrongNumber, http.StatusForbidden, protocol.CodeWrongNumber, "that is not the number the login shows; the login is refused", nil},
	{core.ErrNoDevice, http.StatusForbidden, protocol.CodeNoDevice, "no IB Key device is active for this user; enroll one first", nil},
	{core.ErrDeviceRetired, http.StatusForbidden, protocol.CodeDeviceRetired, "this device was replaced by another; enroll again", nil},
	{core.ErrNotFound, http.StatusNotFound, protocol.CodeNotFound, "not found", func(err error, e *apiError) {
		var nf *core.NotFoundError
		if errors.As(err, &nf) {
			e.msg = "no such " + nf.What
		}
	}},
	{core.ErrNoChangePending, http.StatusConflict, "no_change_pending", "no password change is pending for this login", nil},
	{core.ErrExpired, http.StatusGone, protocol.CodeGone, "expired or already used; start again", nil},
	{core.ErrSpent, http.StatusGone, protocol.CodeGone, "expired or already used; start again", nil},
	{core.ErrTooManyTries, http.StatusGone, protocol.CodeGone, "too many wrong codes; start again", nil},
	{core.ErrLocked, http.StatusLocked, protocol.CodeLocked, "too many failed attempts; try again later or ask support to unlock", nil},
	{core.ErrRateLimited, http.StatusTooManyRequests, protocol.CodeRateLimited, "too many requests; try again later", func(err error, e *apiError) {
		var rl *core.RateLimitError
		if !errors.As(err, &rl) {
			return
		}
		switch {
		case rl.Limit == "resend_interval":
			e.msg = "a code was sent a moment ago; wait before asking again"
		case rl.Limit == "enrollment_sends":
			e.msg = "too many codes sent; start again later"
		case strings.HasPrefix(rl.Limit, "sends_"):
			e.msg = "too many codes were sent to this user or phone number; try again later"
		}
	}},
	{core.ErrGateway, http.StatusBadGateway, "gateway", "the code could not be sent; ask for it again", func(err error, e *apiError) {
		e.err = err // the gateway's failure, for the log
	}},
	{core.ErrNoGateway, http.StatusServiceUnavailable, "no_gateway", "activation codes cannot be sent now", nil},
	{core.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "the service is stopping; try again", nil},
}

// apiErrorOf is the answer to err: an answer of the transport itself, a
// domain error of the core through the table, or else a fault: 500, with
// the error for the log only.
func apiErrorOf(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, o := range outcomes {
		if errors.Is(err, o.err) {
			e := &apiError{status: o.status, code: o.code, msg: o.msg}
			if o.detail != nil {
				o.detail(err, e)
			}
			return e
		}
	}
	return &apiError{status: http.StatusInternalServerError, code: protocol.CodeInternal, msg: "internal error", err: err}
}
