package ocra

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSuiteErrorQuote: a refused suite is named in the error, at most 64
// bytes of it, with control bytes, bytes from 0x7f, quotes and backslashes
// escaped, so that a hostile suite string cannot forge or flood a log line.
func TestSuiteErrorQuote(t *testing.T) {
	t.Parallel()
	s64 := strings.Repeat("a", 64)
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{s64, `"` + s64 + `"`},
		{s64 + "b", `"` + s64 + `..."`},
		{" ~", `" ~"`},
		{"\x1f\x7f\x80\xff", `"\x1f\x7f\x80\xff"`},
		{`a"b\c`, `"a\x22b\x5cc"`},
	} {
		if got := quote(c.in); got != c.want {
			t.Errorf("quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	e := &SuiteError{Suite: "X\n", Reason: "bad"}
	if got := e.Error(); got != `ocra: invalid suite "X\x0a": bad` {
		t.Errorf("Error() = %s", got)
	}
}

// TestInputErrorText: an input error names its field after the reason.
func TestInputErrorText(t *testing.T) {
	t.Parallel()
	_, err := Generate(MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08"), []byte("k"), Input{Challenge: "12345678", HasCounter: true})
	if err == nil || err.Error() != "ocra: input not used by the suite: counter" {
		t.Errorf("Error() = %v", err)
	}
	if _, err := HOTP(SHA1, []byte("k"), 0, 5); !errors.Is(err, ErrDigits) {
		t.Errorf("HOTP with 5 digits: %v", err)
	}
	if _, err := TOTP(SHA1, nil, time.Unix(0, 0), 30*time.Second, 6); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("TOTP without a key: %v", err)
	}
	if c, err := HOTP(SHA1, []byte("12345678901234567890"), 1, 6); err != nil || c != "287082" {
		t.Errorf("HOTP = %s, %v, want RFC 4226's 287082", c, err)
	}
}
