package ocra

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseSuite checks that every suite the parser accepts formats back to
// the same text and parses again to the same Suite, and that whatever it
// refuses is a *SuiteError.
func FuzzParseSuite(f *testing.F) {
	for _, s := range []string{
		"OCRA-1:HOTP-SHA1-6:QN08",
		"OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
		"OCRA-1:HOTP-SHA512-8:QA10-T1M",
		"OCRA-1:HOTP-SHA1-0:QH40-S",
		"OCRA-1:HOTP-SHA1-10:C-QN04-PSHA512-S512-T48H",
		"OCRA-1:HOTP-SHA1-6:QN08-T60S",
		"OCRA-1:HOTP-SHA1-6:QN08-S000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSuite(text)
		if err != nil {
			var se *SuiteError
			if !errors.As(err, &se) || !errors.Is(err, ErrSuite) {
				t.Fatalf("ParseSuite(%q): error %v is not a *SuiteError", text, err)
			}
			return
		}
		if s.String() != text {
			t.Fatalf("ParseSuite(%q).String() = %q", text, s.String())
		}
		again, err := ParseSuite(s.String())
		if err != nil || again != s {
			t.Fatalf("parse again: %+v, %v; want %+v", again, err, s)
		}
		if d := s.Digits(); d != 0 && (d < 4 || d > 10) {
			t.Fatalf("digits %d accepted", d)
		}
		if _, max := s.Challenge(); max < MinChallenge || max > MaxChallenge {
			t.Fatalf("challenge length %d accepted", max)
		}
	})
}

// FuzzGenerate feeds Generate arbitrary inputs: it must never panic, must
// refuse with a sentinel error, and must agree with the math/big reference
// whenever it answers.
func FuzzGenerate(f *testing.F) {
	f.Add("OCRA-1:HOTP-SHA1-6:QN08", []byte("12345678901234567890"), "12345678", "", uint64(0), false, "", []byte(nil), int64(0))
	f.Add("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", []byte("k"), "00000000", "", uint64(7), true, "1234", []byte(nil), int64(0))
	f.Add("OCRA-1:HOTP-SHA512-8:QA08", []byte("k"), "CLI22220", "SRV11110", uint64(0), false, "", []byte(nil), int64(0))
	f.Add("OCRA-1:HOTP-SHA1-6:QH40-S064", []byte("k"), "0aF9", "", uint64(0), false, "", []byte{1, 2, 3}, int64(0))
	f.Add("OCRA-1:HOTP-SHA512-8:QN64-T1M", []byte("k"), "9999999999999999999999999999999999999999999999999999999999999999", "0001", uint64(0), false, "", []byte(nil), int64(1206446760))
	f.Fuzz(func(t *testing.T, suite string, key []byte, q, peer string, counter uint64, hasCounter bool, pin string, session []byte, unix int64) {
		s, err := ParseSuite(suite)
		if err != nil {
			return
		}
		in := Input{Challenge: q, PeerChallenge: peer, Counter: counter, HasCounter: hasCounter, PIN: pin, Session: session}
		if unix != 0 {
			in.Time = time.Unix(unix%(1<<40), 0)
		}
		got, err := Generate(s, key, in)
		if err != nil {
			for _, want := range []error{ErrChallengeTooLong, ErrChallengeTooShort, ErrChallengeFormat,
				ErrMissingChallenge, ErrMissingCounter, ErrMissingPIN, ErrMissingTime, ErrMissingSession,
				ErrSessionTooLong, ErrUnexpectedInput, ErrEmptyKey} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Generate: unexpected error %v", err)
		}
		if want := reference(t, s, key, in); got != want {
			t.Fatalf("Generate(%s, %+v) = %s, reference %s", s, in, got, want)
		}
		if _, err := Verify(s, key, got, in, Window{}); err != nil {
			t.Fatalf("Verify of its own response: %v", err)
		}
	})
}
