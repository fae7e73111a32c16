package ocra

import (
	"strings"
	"testing"
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
