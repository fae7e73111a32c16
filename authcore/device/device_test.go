package device

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

func TestChallengeInput(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	u := vault.User{Suite: ocra.MustParseSuite(protocol.SuiteIBKey)}
	in, err := ChallengeInput(u, " 123 456 ", now)
	if err != nil || in.Challenge != "123456" {
		t.Fatalf("ChallengeInput = %+v, %v", in, err)
	}
	if _, err := ChallengeInput(u, "12345a", now); err == nil {
		t.Error("a letter in a numeric challenge was taken")
	}
	card := vault.User{Suite: ocra.MustParseSuite(protocol.SuiteDSC)}
	if _, err := ChallengeInput(card, "654321", now); err != nil {
		t.Errorf("card: %v", err)
	}
	if _, err := ChallengeInput(vault.User{Suite: ocra.MustParseSuite(protocol.SuiteApprove)}, "ab", now); err == nil {
		t.Error("a suite with session data was taken")
	}
	if _, err := ChallengeInput(vault.User{Suite: ocra.MustParseSuite("OCRA-1:HOTP-SHA1-6:C-QN06")}, "123456", now); err == nil {
		t.Error("a suite with a counter was taken")
	}
	in, err = ChallengeInput(vault.User{Suite: ocra.MustParseSuite("OCRA-1:HOTP-SHA1-6:QN06-T1M")}, "123456", now)
	if err != nil || !in.Time.Equal(now) {
		t.Errorf("a suite with time: %+v, %v", in, err)
	}
	if in, _ := ChallengeInput(u, "123456", now); !in.Time.IsZero() || in.PIN != "" {
		t.Errorf("a suite without time or PIN: %+v", in)
	}
}

func TestOffline(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf("protocol: %w", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}})
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{refused, true},
		{context.DeadlineExceeded, true},
		{&protocol.Error{Status: 503, Code: "unavailable"}, true},
		{&protocol.Error{Status: 502, Code: "Bad Gateway"}, true},
		{&protocol.Error{Status: 504, Code: "Gateway Timeout"}, true},
		{&protocol.Error{Status: 500, Code: protocol.CodeInternal}, false},
		{&protocol.Error{Status: 501, Code: "Not Implemented"}, false},
		{&protocol.Error{Status: 505, Code: "HTTP Version Not Supported"}, false},
		{&net.OpError{Op: "read", Err: errors.New("reset")}, true},
		{fmt.Errorf("x: %w", context.Canceled), false},
		{errors.New("other"), false},
		{&protocol.Error{Status: 410, Code: protocol.CodeGone}, false},
		{ErrWrongPIN, false},
	} {
		if got := Offline(c.err); got != c.want {
			t.Errorf("Offline(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestServiceOutcome(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]error{
		protocol.CodeWrongNumber:     ErrWrongNumber,
		protocol.CodeInvalidResponse: ErrWrongPIN,
		protocol.CodeGone:            ErrExpired,
	} {
		pe := &protocol.Error{Status: 403, Code: code, AttemptsLeft: -1}
		got := serviceOutcome(pe)
		if !errors.Is(got, want) || !errors.Is(got, pe) {
			t.Errorf("serviceOutcome(%s) = %v, want %v wrapping it", code, got, want)
		}
	}
}
