package ocra

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"time"
)

// OTP computes HOTP codes (RFC 4226) and TOTP codes (RFC 6238) for one key,
// on the same HMAC and truncation as OCRA. It keeps its HMAC keyed between
// calls. An OTP is not safe for concurrent use.
type OTP struct {
	mac    hash.Hash
	digits int
	msg    [8]byte
	sum    [64]byte
}

// NewOTP returns an OTP for key with digits digits (6 to 10) and hash h.
func NewOTP(h Hash, key []byte, digits int) (*OTP, error) {
	if h != SHA1 && h != SHA256 && h != SHA512 {
		return nil, &SuiteError{Suite: h.String(), Reason: "unknown hash"}
	}
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	if digits < 6 || digits > 10 {
		return nil, ErrDigits
	}
	return &OTP{mac: hmac.New(h.New, key), digits: digits}, nil
}

// AppendHOTP appends the HOTP code for counter to dst.
func (o *OTP) AppendHOTP(dst []byte, counter uint64) []byte {
	binary.BigEndian.PutUint64(o.msg[:], counter)
	o.mac.Reset()
	o.mac.Write(o.msg[:])
	return appendCode(dst, o.mac.Sum(o.sum[:0]), o.digits)
}

// HOTP returns the HOTP code for counter.
func (o *OTP) HOTP(counter uint64) string {
	var buf [10]byte
	return string(o.AppendHOTP(buf[:0], counter))
}

// TOTP returns the TOTP code for t with a period of whole seconds.
func (o *OTP) TOTP(t time.Time, period time.Duration) (string, error) {
	if period < time.Second || period%time.Second != 0 {
		return "", ErrPeriod
	}
	return o.HOTP(uint64(timeStep(t, period))), nil
}

// VerifyHOTP checks code against counters counter to counter+window and
// returns the matching counter, or ErrMismatch. The window stops at the
// last counter, 2^64-1: it never wraps round to counters already used.
func (o *OTP) VerifyHOTP(code string, counter, window uint64) (uint64, error) {
	if window > MaxCounterWindow {
		return 0, ErrWindow
	}
	var buf [10]byte
	// Count the window, not the counter: counter+window may pass 2^64-1
	// (the counter is 8 bytes, RFC 4226 section 5.1), and a counter that
	// wrapped round to 0 would accept the codes of counters long spent.
	for i := uint64(0); i <= window && counter+i >= counter; i++ {
		c := counter + i
		if subtle.ConstantTimeCompare(o.AppendHOTP(buf[:0], c), []byte(code)) == 1 {
			return c, nil
		}
	}
	return 0, ErrMismatch
}

// VerifyTOTP checks code against the time steps within drift steps of t and
// returns the matching step, or ErrMismatch.
func (o *OTP) VerifyTOTP(code string, t time.Time, period time.Duration, drift int) (int64, error) {
	if period < time.Second || period%time.Second != 0 {
		return 0, ErrPeriod
	}
	if drift < 0 || drift > MaxDrift {
		return 0, ErrWindow
	}
	step := timeStep(t, period)
	var buf [10]byte
	for i := 0; i <= 2*drift; i++ {
		d := int64((i + 1) / 2)
		if i%2 == 1 {
			d = -d
		}
		if subtle.ConstantTimeCompare(o.AppendHOTP(buf[:0], uint64(step+d)), []byte(code)) == 1 {
			return step + d, nil
		}
	}
	return 0, ErrMismatch
}

// HOTP returns the RFC 4226 code of key for counter.
func HOTP(h Hash, key []byte, counter uint64, digits int) (string, error) {
	o, err := NewOTP(h, key, digits)
	if err != nil {
		return "", err
	}
	return o.HOTP(counter), nil
}

// TOTP returns the RFC 6238 code of key for time t and period.
func TOTP(h Hash, key []byte, t time.Time, period time.Duration, digits int) (string, error) {
	o, err := NewOTP(h, key, digits)
	if err != nil {
		return "", err
	}
	return o.TOTP(t, period)
}
