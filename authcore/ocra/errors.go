package ocra

import "errors"

// Sentinel errors. Detail comes wrapped in a *SuiteError or *InputError,
// which unwrap to these.
var (
	// ErrSuite: the suite string is unknown or malformed.
	ErrSuite = errors.New("ocra: invalid suite")
	// ErrChallengeTooLong: the challenge is longer than the suite allows.
	ErrChallengeTooLong = errors.New("ocra: challenge too long")
	// ErrChallengeTooShort: the challenge has fewer than 4 characters.
	ErrChallengeTooShort = errors.New("ocra: challenge too short")
	// ErrChallengeFormat: the challenge has a character its format does not allow.
	ErrChallengeFormat = errors.New("ocra: challenge has a character its format does not allow")
	// ErrMissingChallenge: the suite needs a challenge and none was given.
	ErrMissingChallenge = errors.New("ocra: missing challenge")
	// ErrMissingCounter: the suite needs a counter (C) and none was given.
	ErrMissingCounter = errors.New("ocra: suite needs a counter")
	// ErrMissingPIN: the suite needs a PIN (P) and none was given.
	ErrMissingPIN = errors.New("ocra: suite needs a PIN")
	// ErrPINHashSize: a pre-hashed PIN has the wrong length for the suite.
	ErrPINHashSize = errors.New("ocra: PIN hash has the wrong length")
	// ErrMissingTime: the suite needs a time (T) and none was given.
	ErrMissingTime = errors.New("ocra: suite needs a time")
	// ErrSessionTooLong: the session is longer than the suite's S length.
	ErrSessionTooLong = errors.New("ocra: session too long")
	// ErrMissingSession: the suite needs session data (S) and none was given.
	ErrMissingSession = errors.New("ocra: suite needs session data")
	// ErrUnexpectedInput: an input was given that the suite does not use.
	ErrUnexpectedInput = errors.New("ocra: input not used by the suite")
	// ErrEmptyKey: the key is empty.
	ErrEmptyKey = errors.New("ocra: empty key")
	// ErrDigits: HOTP or TOTP digits out of range (RFC 4226 asks for 6 to 10).
	ErrDigits = errors.New("ocra: digits out of range")
	// ErrPeriod: a TOTP period that is not a positive whole number of seconds.
	ErrPeriod = errors.New("ocra: period must be a positive number of seconds")
	// ErrWindow: a Verify window larger than MaxCounterWindow or MaxDrift.
	ErrWindow = errors.New("ocra: verify window too large")
	// ErrMismatch: Verify found no counter or time step that gives the response.
	ErrMismatch = errors.New("ocra: response does not match")
)

// SuiteError says why a suite string was refused. It unwraps to ErrSuite.
type SuiteError struct {
	Suite  string
	Reason string
}

func (e *SuiteError) Error() string {
	return "ocra: invalid suite " + quote(e.Suite) + ": " + e.Reason
}

func (e *SuiteError) Unwrap() error { return ErrSuite }

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}
