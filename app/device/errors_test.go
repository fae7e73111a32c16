package device

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"ibkey/app"
	core "ibkey/authcore/device"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/platform"
)

func TestMapErr(t *testing.T) {
	t.Parallel()
	svc := func(status int, code string) error {
		return fmt.Errorf("device: %w", &protocol.Error{Status: status, Code: code, AttemptsLeft: -1})
	}
	netErr := fmt.Errorf("protocol: %w", &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}})
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"connection refused", netErr, app.ErrOffline},
		{"deadline", context.DeadlineExceeded, app.ErrOffline},
		{"503", svc(503, "unavailable"), app.ErrOffline},
		{"bad credentials", svc(401, protocol.CodeBadCredentials), app.ErrBadCredentials},
		{"bad code", svc(403, protocol.CodeInvalidCode), app.ErrBadCode},
		{"gone", svc(410, protocol.CodeGone), app.ErrExpired},
		{"request expired", core.ErrExpired, app.ErrExpired},
		{"rate limited", svc(429, protocol.CodeRateLimited), app.ErrRateLimited},
		{"too many", svc(429, protocol.CodeTooMany), app.ErrRateLimited},
		{"locked", svc(423, protocol.CodeLocked), app.ErrLocked},
		{"wrong number (service)", svc(403, protocol.CodeWrongNumber), app.ErrWrongNumber},
		{"wrong number (device)", fmt.Errorf("%w: 9", core.ErrWrongNumber), app.ErrWrongNumber},
		{"wrong PIN", fmt.Errorf("%w: %w", core.ErrWrongPIN, svc(403, protocol.CodeInvalidResponse)), app.ErrWrongPIN},
		{"bad PIN", fmt.Errorf("%w: too easy to guess", vault.ErrBadPIN), app.ErrBadPIN},
		{"no user", fmt.Errorf("%w: %q", vault.ErrNoUser, "x"), app.ErrNotFound},
		{"exists", fmt.Errorf("%w: %q", vault.ErrExists, "x"), app.ErrExists},
		{"cancelled", fmt.Errorf("vault: biometric check: %w", platform.ErrBiometricCancelled), app.ErrCancelled},
		{"bad link", fmt.Errorf("%w: no session", app.ErrBadLink), app.ErrBadLink},
	}
	sentinels := []error{app.ErrOffline, app.ErrBadCredentials, app.ErrBadCode, app.ErrBadLink, app.ErrExpired,
		app.ErrRateLimited, app.ErrLocked, app.ErrWrongNumber, app.ErrWrongPIN, app.ErrBadPIN, app.ErrCancelled,
		app.ErrNotFound, app.ErrExists}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mapErr(c.err)
			if !errors.Is(got, c.want) {
				t.Fatalf("mapErr(%v) = %v, want %v", c.err, got, c.want)
			}
			if !errors.Is(got, c.err) {
				t.Errorf("mapErr(%v) = %v lost the detail", c.err, got)
			}
			for _, s := range sentinels {
				if s != c.want && errors.Is(got, s) {
					t.Errorf("mapErr(%v) = %v is also %v", c.err, got, s)
				}
			}
		})
	}
	if mapErr(nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
	other := errors.New("something else")
	if got := mapErr(other); got != other {
		t.Errorf("mapErr(other) = %v", got)
	}
}

func TestPlace(t *testing.T) {
	t.Parallel()
	for ip, want := range map[string]string{
		"127.0.0.1": app.PlaceLocal, "::1": app.PlaceLocal, "10.1.2.3": app.PlaceLocal,
		"192.168.0.7": app.PlaceLocal, "172.16.5.5": app.PlaceLocal, "fd00::1": app.PlaceLocal,
		"fe80::1": app.PlaceLocal, "203.0.113.7": "", "8.8.8.8": "", "": "", "nonsense": "",
	} {
		if got := Place(ip); got != want {
			t.Errorf("Place(%q) = %q, want %q", ip, got, want)
		}
	}
}
