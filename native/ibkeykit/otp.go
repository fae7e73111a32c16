package ibkeykit

import (
	"time"

	"ibkey/authcore/ocra"
)

// OCRAInput is the data of one OCRA computation: the fields the suite
// names, and only those (a field the suite does not use is refused).
type OCRAInput struct {
	// Challenge is the question Q, in the suite's format.
	Challenge string
	// Counter is C, for a suite with one; it must not be negative.
	Counter int64
	// PIN is P, the plain PIN, for a suite with one.
	PIN string
	// Session is S, for a suite with one.
	Session []byte
	// Time is T in Unix seconds, for a suite with one; 0 for none.
	Time int64
}

// OCRA returns the RFC 6287 response of suite (such as
// "OCRA-1:HOTP-SHA1-6:QN08") with key for input. Every error is CodeInvalid.
func OCRA(suite string, key []byte, input *OCRAInput) (string, error) {
	in := input
	if in == nil {
		return "", errorf(CodeInvalid, "no input")
	}
	s, err := ocra.ParseSuite(suite)
	if err != nil {
		return "", &codedError{Code: CodeInvalid, err: err}
	}
	oi := ocra.Input{Challenge: in.Challenge, PIN: in.PIN, Session: in.Session}
	if s.Counter() {
		if in.Counter < 0 {
			return "", errorf(CodeInvalid, "negative counter")
		}
		oi.Counter, oi.HasCounter = uint64(in.Counter), true
	} else if in.Counter != 0 {
		oi.HasCounter = true // refused by the suite: no input is dropped silently
	}
	if in.Time != 0 {
		oi.Time = time.Unix(in.Time, 0)
	}
	r, err := ocra.Generate(s, key, oi)
	if err != nil {
		return "", &codedError{Code: CodeInvalid, err: err}
	}
	return r, nil
}

// HOTP returns the RFC 4226 code of key at counter, with hash "SHA1",
// "SHA256" or "SHA512" and 6 to 10 digits. Every error is CodeInvalid.
func HOTP(hash string, key []byte, counter int64, digits int) (string, error) {
	h, err := ocra.ParseHash(hash)
	if err != nil {
		return "", &codedError{Code: CodeInvalid, err: err}
	}
	if counter < 0 {
		return "", errorf(CodeInvalid, "negative counter")
	}
	r, err := ocra.HOTP(h, key, uint64(counter), digits)
	if err != nil {
		return "", &codedError{Code: CodeInvalid, err: err}
	}
	return r, nil
}

// TOTP returns the RFC 6238 code of key at the Unix time unixSeconds, for
// time steps of periodSeconds (30 is usual), with hash "SHA1", "SHA256"
// or "SHA512" and 6 to 10 digits. Every error is CodeInvalid.
func TOTP(hash string, key []byte, unixSeconds, periodSeconds int64, digits int) (string, error) {
	h, err := ocra.ParseHash(hash)
	if err != nil {
		return "", &codedError{Code: CodeInvalid, err: err}
	}
	if periodSeconds <= 0 || periodSeconds > 1<<31 {
		return "", errorf(CodeInvalid, "period out of range")
	}
	r, err := ocra.TOTP(h, key, time.Unix(unixSeconds, 0), time.Duration(periodSeconds)*time.Second, digits)
	if err != nil {
		return "", &codedError{Code: CodeInvalid, err: err}
	}
	return r, nil
}
