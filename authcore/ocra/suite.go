package ocra

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
	"strings"
	"time"
)

// Hash names the hash function of an HMAC or of a PIN digest.
type Hash uint8

// The hash functions that RFC 6287 allows.
const (
	SHA1 Hash = iota + 1
	SHA256
	SHA512
)

// String returns the name as suites spell it: "SHA1", "SHA256" or "SHA512".
func (h Hash) String() string {
	switch h {
	case SHA1:
		return "SHA1"
	case SHA256:
		return "SHA256"
	case SHA512:
		return "SHA512"
	}
	return "Hash(" + strconv.Itoa(int(h)) + ")"
}

// Size is the length of the hash's output in bytes.
func (h Hash) Size() int {
	switch h {
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	}
	panic("ocra: invalid hash")
}

// New returns a new hash.Hash of h.
func (h Hash) New() hash.Hash {
	switch h {
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	}
	panic("ocra: invalid hash")
}

// ParseHash reads "SHA1", "SHA256" or "SHA512".
func ParseHash(s string) (Hash, error) {
	switch s {
	case "SHA1":
		return SHA1, nil
	case "SHA256":
		return SHA256, nil
	case "SHA512":
		return SHA512, nil
	}
	return 0, &SuiteError{Suite: s, Reason: "unknown hash " + strconv.Quote(s)}
}

// Format is the alphabet of a challenge: the F of a suite's QFxx.
type Format byte

// The challenge formats of RFC 6287 section 6.3.
const (
	Numeric     Format = 'N' // decimal digits
	Alphabetic  Format = 'A' // printable ASCII, as RFC 6287's "alphanumeric"
	Hexadecimal Format = 'H' // hexadecimal digits, either case
)

// Limits of the suite grammar.
const (
	MinChallenge  = 4   // fewest characters in any challenge
	MaxChallenge  = 64  // largest xx in QFxx
	MaxSession    = 512 // largest nnn in Snnn, in bytes
	questionBytes = 128 // the Q field of the message is always 128 bytes
)

// Suite is a parsed OCRA suite such as "OCRA-1:HOTP-SHA1-6:QN08". The zero
// Suite is not valid; get one from ParseSuite or MustParseSuite.
type Suite struct {
	raw         string
	hash        Hash
	digits      int
	counter     bool
	format      Format
	maxQ        int
	pin         Hash // 0 when the suite takes no PIN
	session     int  // bytes; 0 when the suite takes no session
	plainS      bool // written "S" rather than "Snnn"
	step        time.Duration
	stepText    string // "30S", "1M", "1H"
	messageSize int
}

// ParseSuite parses an OCRA suite string (RFC 6287 section 6):
//
//	OCRA-1:HOTP-H-D:[C-]QFxx[-PH][-Snnn][-TG]
//
// H is SHA1, SHA256 or SHA512; D is 0 (no truncation) or 4 to 10 digits; F
// is N, A or H and xx the longest challenge, 04 to 64; P's hash is SHA1,
// SHA256 or SHA512; nnn is the session length in bytes (plain "S" means 64,
// as TiQR writes it); G is 1-59S, 1-59M or 1-48H. The parts come in that
// order, each at most once.
func ParseSuite(s string) (Suite, error) {
	bad := func(reason string) (Suite, error) {
		return Suite{}, &SuiteError{Suite: s, Reason: reason}
	}
	if len(s) > 128 {
		return bad("too long")
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return bad("want three parts separated by ':'")
	}
	if parts[0] != "OCRA-1" {
		return bad("unknown version " + strconv.Quote(parts[0]))
	}
	st := Suite{raw: s}

	cf := strings.Split(parts[1], "-")
	if len(cf) != 3 || cf[0] != "HOTP" {
		return bad("crypto function must be HOTP-SHAx-digits")
	}
	h, err := ParseHash(cf[1])
	if err != nil {
		return bad("unknown hash " + strconv.Quote(cf[1]))
	}
	st.hash = h
	d, ok := smallNumber(cf[2], 2)
	if !ok || (d != 0 && (d < 4 || d > 10)) {
		return bad("digits must be 0 or 4 to 10")
	}
	st.digits = d

	if parts[2] == "" {
		return bad("missing data input")
	}
	in := strings.Split(parts[2], "-")
	i := 0
	if in[i] == "C" {
		st.counter = true
		i++
	}
	if i >= len(in) || len(in[i]) == 0 || in[i][0] != 'Q' {
		return bad("missing challenge QFxx")
	}
	q := in[i]
	if len(q) != 4 {
		return bad("challenge must be QFxx with two digits")
	}
	switch f := Format(q[1]); f {
	case Numeric, Alphabetic, Hexadecimal:
		st.format = f
	default:
		return bad("challenge format must be N, A or H")
	}
	if q[2] < '0' || q[2] > '9' || q[3] < '0' || q[3] > '9' {
		return bad("challenge length must be two digits")
	}
	st.maxQ = int(q[2]-'0')*10 + int(q[3]-'0')
	if st.maxQ < MinChallenge || st.maxQ > MaxChallenge {
		return bad("challenge length must be 04 to 64")
	}
	i++

	if i < len(in) && strings.HasPrefix(in[i], "P") {
		ph, err := ParseHash(in[i][1:])
		if err != nil {
			return bad("PIN hash must be SHA1, SHA256 or SHA512")
		}
		st.pin = ph
		i++
	}
	if i < len(in) && strings.HasPrefix(in[i], "S") {
		switch n := in[i][1:]; {
		case n == "":
			st.session, st.plainS = 64, true
		case len(n) == 3 && isDigits(n):
			v, _ := strconv.Atoi(n)
			if v < 1 || v > MaxSession {
				return bad("session length must be 001 to 512")
			}
			st.session = v
		default:
			return bad("session must be S or Snnn with three digits")
		}
		i++
	}
	if i < len(in) && strings.HasPrefix(in[i], "T") {
		g := in[i][1:]
		if len(g) < 2 {
			return bad("time step must be like T30S, T1M or T1H")
		}
		n, ok := smallNumber(g[:len(g)-1], 2)
		var unit time.Duration
		limit := 59
		switch g[len(g)-1] {
		case 'S':
			unit = time.Second
		case 'M':
			unit = time.Minute
		case 'H':
			unit, limit = time.Hour, 48
		default:
			return bad("time step unit must be S, M or H")
		}
		if !ok || n < 1 || n > limit {
			return bad("time step out of range (1-59S, 1-59M, 1-48H)")
		}
		st.step, st.stepText = time.Duration(n)*unit, g
		i++
	}
	if i != len(in) {
		return bad("unexpected " + strconv.Quote(in[i]) + " (order is C, Q, P, S, T)")
	}

	st.messageSize = len(s) + 1 + questionBytes
	if st.counter {
		st.messageSize += 8
	}
	if st.pin != 0 {
		st.messageSize += st.pin.Size()
	}
	st.messageSize += st.session
	if st.step != 0 {
		st.messageSize += 8
	}
	return st, nil
}

// MustParseSuite is ParseSuite for suites that are constants of the
// program; it panics on error.
func MustParseSuite(s string) Suite {
	st, err := ParseSuite(s)
	if err != nil {
		panic(err)
	}
	return st
}

// smallNumber reads a decimal of at most max digits with no leading zero
// (except "0" itself), so that formatting gives back the same text.
func smallNumber(s string, max int) (int, bool) {
	if s == "" || len(s) > max || !isDigits(s) || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String returns the suite as it was parsed.
func (s Suite) String() string { return s.raw }

// IsZero reports whether s is the zero Suite, which is not valid.
func (s Suite) IsZero() bool { return s.raw == "" }

// Hash is the HMAC's hash function.
func (s Suite) Hash() Hash { return s.hash }

// Digits is the response length; 0 means the whole HMAC, in hexadecimal.
func (s Suite) Digits() int { return s.digits }

// Counter reports whether the suite takes a counter (C).
func (s Suite) Counter() bool { return s.counter }

// Challenge returns the challenge format and its longest length.
func (s Suite) Challenge() (Format, int) { return s.format, s.maxQ }

// PIN returns the hash of the PIN input, or 0 when the suite takes no PIN.
func (s Suite) PIN() Hash { return s.pin }

// Session is the length in bytes of the session input, or 0.
func (s Suite) Session() int { return s.session }

// TimeStep is the time step of the T input, or 0 when the suite has none.
func (s Suite) TimeStep() time.Duration { return s.step }

// MarshalText implements encoding.TextMarshaler.
func (s Suite) MarshalText() ([]byte, error) { return []byte(s.raw), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Suite) UnmarshalText(b []byte) error {
	st, err := ParseSuite(string(b))
	if err != nil {
		return err
	}
	*s = st
	return nil
}
