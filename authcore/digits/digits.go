// Package digits is the one rule for the digit strings people read and
// type: login challenges ("123 456"), response strings ("1234 5678") and
// activation codes. People write them in groups; the groups are for the
// eyes only. The app, the device flows, the service's checks and the
// Client Portal's pages all read and write them through this package, so
// that what one shows the others take.
package digits

import "strings"

// IsDigit reports whether r is an ASCII digit, the only digits a
// challenge, a response or a code is made of.
func IsDigit(r rune) bool { return r >= '0' && r <= '9' }

// IsSeparator reports whether r is a character people put between groups
// of digits: a space (also a tab, a no-break or a thin space, as copied
// from a web page) or a dash.
func IsSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '-', '\u00a0', '\u2009', '\u202f':
		return true
	}
	return false
}

// Strip returns s without the separators between groups: "123 456" is
// "123456", "1234-5678" is "12345678". Every other character stays, so
// that the caller's check refuses "12a 456" rather than reading "12456".
func Strip(s string) string {
	if strings.IndexFunc(s, IsSeparator) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if IsSeparator(r) {
			return -1
		}
		return r
	}, s)
}

// Only reports whether s is one or more ASCII digits and nothing else.
func Only(s string) bool {
	for i := 0; i < len(s); i++ {
		if !IsDigit(rune(s[i])) {
			return false
		}
	}
	return s != ""
}

// Group writes s without its separators (see Strip) in groups of n
// characters from the left, one space between groups: Group("123456", 3)
// is "123 456", Group("12345678", 4) is "1234 5678", Group("1234567", 3)
// is "123 456 7". An n below 1 writes the characters in one group.
func Group(s string, n int) string {
	rs := []rune(Strip(s))
	if n < 1 || len(rs) <= n {
		return string(rs)
	}
	var b strings.Builder
	b.Grow(len(rs) + len(rs)/n)
	for i, r := range rs {
		if i > 0 && i%n == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
