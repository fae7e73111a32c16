package ocra

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"math/bits"
	"time"
)

// Input holds the data inputs of one OCRA computation. Which fields are
// needed depends on the suite; giving one that the suite does not use is an
// error, so that a mistaken call cannot pass silently.
type Input struct {
	// Challenge is the question Q, in the suite's format (N, A or H).
	Challenge string
	// PeerChallenge, when not empty, is the second challenge of the mutual
	// mode of RFC 6287 section 7.3: the question is Challenge followed by
	// PeerChallenge, each within the suite's limits.
	PeerChallenge string
	// Counter is C, used when HasCounter is set.
	Counter    uint64
	HasCounter bool
	// PIN is the plain PIN, hashed with the suite's P hash. PINHash may be
	// given instead: the digest itself, as a verifier stores it.
	PIN     string
	PINHash []byte
	// Session is S, left-padded with zeros to the suite's length.
	Session []byte
	// Time is T, turned into time steps of the suite. The zero Time means
	// none was given.
	Time time.Time
}

// Window bounds a Verify search.
type Window struct {
	// Counter is how many counters after Input.Counter to try as well.
	Counter uint64
	// Drift is how many time steps before and after Input.Time to try.
	Drift int
}

// Caps on Verify windows: a window is a cost that a caller's input sets.
const (
	MaxCounterWindow = 1000
	MaxDrift         = 100
)

// Match says which counter or time step gave the response, so that the
// caller can refuse a replay by remembering it.
type Match struct {
	Counter  uint64 // the matching counter, when the suite has C
	TimeStep int64  // the matching time step, when the suite has T
}

// Generator computes and verifies OCRA responses for one suite and key. It
// keeps its HMAC keyed and its buffers between calls, so it does not
// allocate per response. A Generator is not safe for concurrent use.
type Generator struct {
	suite Suite
	mac   hash.Hash
	msg   []byte
	sum   [64]byte
	pinH  hash.Hash
	qUsed int // bytes of the Q field the last question wrote; the rest is zero
}

// NewGenerator returns a Generator for suite and key.
func NewGenerator(suite Suite, key []byte) (*Generator, error) {
	if suite.IsZero() {
		return nil, &SuiteError{Reason: "zero Suite"}
	}
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	g := &Generator{
		suite: suite,
		mac:   hmac.New(suite.hash.New, key),
		msg:   make([]byte, suite.messageSize),
	}
	copy(g.msg, suite.raw) // followed by the 0x00 separator
	if suite.pin != 0 {
		g.pinH = suite.pin.New()
	}
	return g, nil
}

// Suite returns the generator's suite.
func (g *Generator) Suite() Suite { return g.suite }

// Generate returns the response for in.
func (g *Generator) Generate(in Input) (string, error) {
	var buf [128]byte
	b, err := g.Append(buf[:0], in)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Append appends the response for in to dst.
func (g *Generator) Append(dst []byte, in Input) ([]byte, error) {
	if err := g.fill(&in); err != nil {
		return dst, err
	}
	return g.respond(dst), nil
}

// Verify checks response against in, trying counters Input.Counter to
// Input.Counter+w.Counter when the suite has C and time steps within w.Drift
// of Input.Time when it has T. It compares in constant time and returns the
// first match, or ErrMismatch.
func (g *Generator) Verify(response string, in Input, w Window) (Match, error) {
	if w.Counter > MaxCounterWindow || w.Drift < 0 || w.Drift > MaxDrift {
		return Match{}, ErrWindow
	}
	if err := g.fill(&in); err != nil {
		return Match{}, err
	}
	s := g.suite
	counters := uint64(0)
	if s.counter {
		counters = w.Counter
	}
	drift := 0
	var step int64
	if s.step != 0 {
		drift = w.Drift
		step = timeStep(in.Time, s.step)
	}
	var buf [128]byte
	for c := uint64(0); c <= counters; c++ {
		if s.counter {
			binary.BigEndian.PutUint64(g.msg[g.counterAt():], in.Counter+c)
		}
		for i := 0; i <= 2*drift; i++ {
			// 0, -1, +1, -2, +2, ...: the likeliest step first.
			d := int64((i + 1) / 2)
			if i%2 == 1 {
				d = -d
			}
			if s.step != 0 {
				binary.BigEndian.PutUint64(g.msg[len(g.msg)-8:], uint64(step+d))
			}
			got := g.respond(buf[:0])
			if subtle.ConstantTimeCompare(got, []byte(response)) == 1 {
				m := Match{}
				if s.counter {
					m.Counter = in.Counter + c
				}
				if s.step != 0 {
					m.TimeStep = step + d
				}
				return m, nil
			}
		}
	}
	return Match{}, ErrMismatch
}

// Generate returns the OCRA response of suite and key for in. To compute
// many responses with one key, use a Generator.
func Generate(suite Suite, key []byte, in Input) (string, error) {
	g, err := NewGenerator(suite, key)
	if err != nil {
		return "", err
	}
	return g.Generate(in)
}

// Verify checks one response; see Generator.Verify.
func Verify(suite Suite, key []byte, response string, in Input, w Window) (Match, error) {
	g, err := NewGenerator(suite, key)
	if err != nil {
		return Match{}, err
	}
	return g.Verify(response, in, w)
}

// TimeStep returns the time step of t for a suite's step length: the T
// input of RFC 6287 and RFC 6238.
func TimeStep(t time.Time, step time.Duration) int64 { return timeStep(t, step) }

func timeStep(t time.Time, step time.Duration) int64 {
	sec := int64(step / time.Second)
	u := t.Unix()
	q := u / sec
	if u%sec < 0 {
		q--
	}
	return q
}

func (g *Generator) counterAt() int { return len(g.suite.raw) + 1 }

// fill checks in against the suite and writes it into the message.
func (g *Generator) fill(in *Input) error {
	s := g.suite
	m := g.msg
	off := len(s.raw) + 1
	if s.counter {
		if !in.HasCounter {
			return ErrMissingCounter
		}
		binary.BigEndian.PutUint64(m[off:], in.Counter)
		off += 8
	} else if in.HasCounter {
		return &InputError{Field: "counter", Err: ErrUnexpectedInput}
	}

	q := m[off : off+questionBytes]
	if c := in.Challenge; s.format == Numeric && in.PeerChallenge == "" &&
		len(c) >= MinChallenge && len(c) <= min(s.maxQ, 19) {
		// The usual case, a short numeric challenge: check and read it
		// in one pass.
		var v uint64
		for i := 0; i < len(c); i++ {
			d := c[i] - '0'
			if d > 9 {
				return &InputError{Field: "challenge", Err: ErrChallengeFormat}
			}
			v = v*10 + uint64(d)
		}
		clear(q[:g.qUsed])
		g.qUsed = putNumber(q, v)
	} else {
		if err := checkChallenge(s, in.Challenge, "challenge"); err != nil {
			return err
		}
		if in.PeerChallenge != "" {
			if err := checkChallenge(s, in.PeerChallenge, "peer challenge"); err != nil {
				return err
			}
		}
		clear(q[:g.qUsed])
		g.qUsed = encodeQuestion(q, s.format, in.Challenge, in.PeerChallenge)
	}
	off += questionBytes

	if s.pin != 0 {
		p := m[off : off+s.pin.Size()]
		switch {
		case in.PINHash != nil:
			if len(in.PINHash) != len(p) {
				return ErrPINHashSize
			}
			copy(p, in.PINHash)
		case in.PIN != "":
			g.pinH.Reset()
			g.pinH.Write([]byte(in.PIN))
			g.pinH.Sum(p[:0])
		default:
			return ErrMissingPIN
		}
		off += len(p)
	} else if in.PIN != "" || in.PINHash != nil {
		return &InputError{Field: "PIN", Err: ErrUnexpectedInput}
	}

	if s.session != 0 {
		if len(in.Session) == 0 {
			return ErrMissingSession
		}
		if len(in.Session) > s.session {
			return ErrSessionTooLong
		}
		f := m[off : off+s.session]
		pad := len(f) - len(in.Session)
		clear(f[:pad])
		copy(f[pad:], in.Session)
		off += s.session
	} else if len(in.Session) != 0 {
		return &InputError{Field: "session", Err: ErrUnexpectedInput}
	}

	if s.step != 0 {
		if in.Time.IsZero() {
			return ErrMissingTime
		}
		binary.BigEndian.PutUint64(m[off:], uint64(timeStep(in.Time, s.step)))
	} else if !in.Time.IsZero() {
		return &InputError{Field: "time", Err: ErrUnexpectedInput}
	}
	return nil
}

// respond computes the HMAC of the message and appends the truncated
// response to dst.
func (g *Generator) respond(dst []byte) []byte {
	g.mac.Reset()
	g.mac.Write(g.msg)
	sum := g.mac.Sum(g.sum[:0])
	return appendCode(dst, sum, g.suite.digits)
}

// InputError names the input that a suite refused. It unwraps to a
// sentinel error.
type InputError struct {
	Field string
	Err   error
}

func (e *InputError) Error() string { return e.Err.Error() + ": " + e.Field }

func (e *InputError) Unwrap() error { return e.Err }

func checkChallenge(s Suite, c, field string) error {
	if c == "" {
		if field == "challenge" {
			return ErrMissingChallenge
		}
		return &InputError{Field: field, Err: ErrChallengeTooShort}
	}
	if len(c) > s.maxQ {
		return &InputError{Field: field, Err: ErrChallengeTooLong}
	}
	if len(c) < MinChallenge {
		return &InputError{Field: field, Err: ErrChallengeTooShort}
	}
	// One loop per format: this runs on every response.
	bad := false
	switch s.format {
	case Numeric:
		for i := 0; i < len(c); i++ {
			bad = bad || c[i]-'0' > 9
		}
	case Hexadecimal:
		for i := 0; i < len(c); i++ {
			b := c[i] | 0x20 // fold A-F to a-f
			bad = bad || (c[i]-'0' > 9 && b-'a' > 5)
		}
	default: // Alphabetic: printable ASCII without space
		for i := 0; i < len(c); i++ {
			bad = bad || c[i]-'!' > '~'-'!'
		}
	}
	if bad {
		return &InputError{Field: field, Err: ErrChallengeFormat}
	}
	return nil
}

// encodeQuestion writes the question into the 128-byte Q field as RFC
// 6287's reference code does: N is read as one decimal number and written
// in hexadecimal, H as hexadecimal, A as its ASCII bytes; the result is
// left-aligned and padded with zero nibbles on the right. q must be zero
// on entry; encodeQuestion returns how many of its bytes it wrote.
func encodeQuestion(q []byte, f Format, a, b string) int {
	switch f {
	case Alphabetic:
		n := copy(q, a)
		return n + copy(q[n:], b)
	case Hexadecimal:
		i := putNibbles(q, 0, a)
		return (putNibbles(q, i, b) + 1) / 2
	case Numeric:
		if len(a)+len(b) <= 19 {
			// Fits in a uint64: the common case, done without the loop below.
			var v uint64
			for i := 0; i < len(a); i++ {
				v = v*10 + uint64(a[i]-'0')
			}
			for i := 0; i < len(b); i++ {
				v = v*10 + uint64(b[i]-'0')
			}
			return putNumber(q, v)
		}
		// Two challenges of at most 64 digits: below 10^128 < 2^426, so 54 bytes.
		var num [54]byte
		used := len(num) // num[used:] holds the number, big-endian
		mul := func(s string) {
			for i := 0; i < len(s); i++ {
				carry := uint(s[i] - '0')
				for j := len(num) - 1; j >= used || carry != 0; j-- {
					v := uint(num[j])*10 + carry
					num[j] = byte(v)
					carry = v >> 8
					if j < used {
						used = j
					}
				}
			}
		}
		mul(a)
		mul(b)
		// num[used] is never 0: used moves only to a byte that a carry
		// landed on. An all-zero question leaves v empty.
		v := num[used:]
		if len(v) > 0 && v[0] < 0x10 {
			// An odd number of hex digits: shift left one nibble.
			for i := 0; i < len(v); i++ {
				q[i] = v[i] << 4
				if i+1 < len(v) {
					q[i] |= v[i+1] >> 4
				}
			}
			return len(v)
		}
		return copy(q, v)
	}
	return 0
}

// putNumber writes v's hexadecimal digits into q, left-aligned, as
// encodeQuestion does for numeric questions, and returns the bytes written.
func putNumber(q []byte, v uint64) int {
	nibbles := max((bits.Len64(v)+3)/4, 1)
	v <<= 64 - 4*nibbles // left-align: the hex text padded on the right
	n := (nibbles + 1) / 2
	for i := 0; i < n; i++ {
		q[i] = byte(v >> (56 - 8*i))
	}
	return n
}

func putNibbles(q []byte, i int, s string) int {
	for k := 0; k < len(s); k++ {
		n := unhex(s[k])
		if i%2 == 0 {
			q[i/2] = n << 4
		} else {
			q[i/2] |= n
		}
		i++
	}
	return i
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// appendCode applies the dynamic truncation of RFC 4226 section 5.3 and
// appends the code in digits decimal digits; digits 0 appends the whole sum
// in hexadecimal (OCRA's "no truncation").
func appendCode(dst, sum []byte, digits int) []byte {
	if digits == 0 {
		const hexdigits = "0123456789abcdef"
		for _, c := range sum {
			dst = append(dst, hexdigits[c>>4], hexdigits[c&15])
		}
		return dst
	}
	o := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[o:o+4]) & 0x7fffffff
	// 32-bit arithmetic, and constant divisors for the usual 6 and 8
	// digits: they become multiplications, where a variable divisor is a
	// division of 20 to 40 cycles.
	var code uint32
	switch digits {
	case 6:
		code = bin % 1e6
	case 8:
		code = bin % 1e8
	case 10:
		code = bin // below 2^31 < 10^10
	default:
		code = bin % uint32(pow10[digits])
	}
	var d [10]byte
	for i := digits - 1; i >= 0; i-- {
		d[i] = byte('0' + code%10)
		code /= 10
	}
	return append(dst, d[:digits]...)
}
