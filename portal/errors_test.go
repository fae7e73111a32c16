package portal

import (
	"errors"
	"fmt"
	"testing"

	"ibkey/portal/core"
)

// TestErrorTable: each domain error of the core has one answer of the API
// (docs/PROTOCOL.md, "Errors"), wrapped or not; anything else is a 500
// whose detail stays in the log.
func TestErrorTable(t *testing.T) {
	left := func(n int) *int { return &n }
	for _, c := range []struct {
		err    error
		status int
		code   string
		msg    string
		left   *int
	}{
		{&core.InputError{Msg: "channel must be sms or voice"}, 400, "bad_request", "channel must be sms or voice", nil},
		{&core.PasswordError{Reason: "Your password cannot be your username."}, 400, "bad_request", "the new password must have 8 to 1024 characters and not be the username", nil},
		{core.ErrBadCredentials, 401, "invalid_credentials", "wrong username or password", nil},
		{core.ErrUnauthorized, 401, "unauthorized", "device not recognised", nil},
		{&core.BadCodeError{AttemptsLeft: 3}, 403, "invalid_code", "wrong activation code", left(3)},
		{core.ErrBadSession, 403, "invalid_code", "wrong or expired Session ID; start again in the Client Portal", nil},
		{&core.BadResponseError{AttemptsLeft: 2}, 403, "invalid_response", "wrong response; start again", left(2)},
		{&core.BadResponseError{AttemptsLeft: 0, Approval: true}, 403, "invalid_response", "wrong response (wrong PIN?)", left(0)},
		{&core.KeyMismatchError{}, 403, "invalid_response", "the device's secret does not match", nil},
		{&core.KeyMismatchError{Retired: true}, 403, "invalid_response", "the device's secret does not match; enroll again", nil},
		{core.ErrWrongNumber, 403, "wrong_number", "that is not the number the login shows; the login is refused", nil},
		{core.ErrNoDevice, 403, "no_device", "no IB Key device is active for this user; enroll one first", nil},
		{core.ErrDeviceRetired, 403, "device_retired", "this device was replaced by another; enroll again", nil},
		{&core.NotFoundError{What: "login request"}, 404, "not_found", "no such login request", nil},
		{core.ErrNoChangePending, 409, "no_change_pending", "no password change is pending for this login", nil},
		{core.ErrExpired, 410, "gone", "expired or already used; start again", nil},
		{core.ErrSpent, 410, "gone", "expired or already used; start again", nil},
		{core.ErrTooManyTries, 410, "gone", "too many wrong codes; start again", nil},
		{&core.LockedError{Hard: true}, 423, "locked", "too many failed attempts; try again later or ask support to unlock", nil},
		{&core.RateLimitError{Limit: core.LimitIP}, 429, "rate_limited", "too many requests; try again later", nil},
		{&core.RateLimitError{Limit: "resend_interval"}, 429, "rate_limited", "a code was sent a moment ago; wait before asking again", nil},
		{&core.RateLimitError{Limit: "enrollment_sends"}, 429, "rate_limited", "too many codes sent; start again later", nil},
		{&core.RateLimitError{Limit: "sends_phone_day"}, 429, "rate_limited", "too many codes were sent to this user or phone number; try again later", nil},
		{&core.GatewayError{Err: errors.New("smsc down")}, 502, "gateway", "the code could not be sent; ask for it again", nil},
		{core.ErrNoGateway, 503, "no_gateway", "activation codes cannot be sent now", nil},
		{core.ErrUnavailable, 503, "unavailable", "the service is stopping; try again", nil},
		{errors.New("sqlite: database disk image is malformed"), 500, "internal", "internal error", nil},
	} {
		for _, err := range []error{c.err, fmt.Errorf("start device enrollment: %w", c.err)} {
			e := apiErrorOf(err)
			if e.status != c.status || e.code != c.code || e.msg != c.msg || (c.left == nil) != (e.attemptsLeft == nil) || (c.left != nil && *c.left != *e.attemptsLeft) {
				t.Errorf("%v: %d %s %q %v, want %d %s %q %v", err, e.status, e.code, e.msg, e.attemptsLeft, c.status, c.code, c.msg, c.left)
			}
			if (e.status == 500 || e.status == 502) != (e.err != nil) {
				t.Errorf("%v: the log gets %v", err, e.err)
			}
		}
	}
}
