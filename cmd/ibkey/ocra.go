package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ibkey/authcore/ocra"
)

func init() {
	commands["ocra"] = command{
		"ocra --suite SUITE --key HEX [--challenge Q] [--counter N] [--pin PIN] [--session HEX] [--time UNIX]",
		cmdOCRA,
	}
	commands["hotp"] = command{
		"hotp --key HEX --counter N [--digits D] [--algorithm SHA1|SHA256|SHA512]",
		cmdHOTP,
	}
	commands["totp"] = command{
		"totp --key HEX --time UNIX [--period S] [--digits D] [--algorithm SHA1|SHA256|SHA512]",
		cmdTOTP,
	}
}

// optional records whether a flag was given at all.
type optional struct {
	set bool
	s   string
}

func (o *optional) String() string     { return o.s }
func (o *optional) Set(s string) error { o.s, o.set = s, true; return nil }

// multi collects a flag that may be given more than once.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func cmdOCRA(e *env, args []string) error {
	fs := flags("ocra")
	suiteText := fs.String("suite", "", "OCRA suite, such as OCRA-1:HOTP-SHA1-6:QN08")
	keyHex := fs.String("key", "", "the key, in hexadecimal")
	var challenges multi
	fs.Var(&challenges, "challenge", "the challenge Q; twice for the mutual mode (RFC 6287 section 7.3)")
	var counter, pin, session, unix optional
	fs.Var(&counter, "counter", "the counter C")
	fs.Var(&pin, "pin", "the PIN P")
	fs.Var(&session, "session", "the session S, in hexadecimal")
	fs.Var(&unix, "time", "the time T, in Unix seconds")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *suiteText == "" {
		return usagef("ocra: --suite is required")
	}
	suite, err := ocra.ParseSuite(*suiteText)
	if err != nil {
		return err
	}
	key, err := parseKey(*keyHex)
	if err != nil {
		return err
	}
	var in ocra.Input
	switch len(challenges) {
	case 0:
	case 1:
		in.Challenge = challenges[0]
	case 2:
		in.Challenge, in.PeerChallenge = challenges[0], challenges[1]
	default:
		return usagef("ocra: --challenge at most twice")
	}
	if counter.set {
		c, err := strconv.ParseUint(counter.s, 10, 64)
		if err != nil {
			return fmt.Errorf("ocra: --counter must be a whole number from 0 to 2^64-1")
		}
		in.Counter, in.HasCounter = c, true
	}
	if pin.set {
		if pin.s == "" {
			return fmt.Errorf("ocra: --pin is empty")
		}
		in.PIN = pin.s
	}
	if session.set {
		s := session.s
		if len(s)%2 == 1 {
			s = "0" + s
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return fmt.Errorf("ocra: --session must be hexadecimal")
		}
		if len(b) == 0 {
			return fmt.Errorf("ocra: --session is empty")
		}
		in.Session = b
	}
	if unix.set {
		t, err := parseUnix(unix.s)
		if err != nil {
			return err
		}
		in.Time = t
	}
	r, err := ocra.Generate(suite, key, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, r)
	return nil
}

func cmdHOTP(e *env, args []string) error {
	fs := flags("hotp")
	keyHex := fs.String("key", "", "the key, in hexadecimal")
	var counter optional
	fs.Var(&counter, "counter", "the counter")
	digits := fs.Int("digits", 6, "digits of the code, 6 to 10")
	alg := fs.String("algorithm", "SHA1", "SHA1, SHA256 or SHA512")
	if err := parse(fs, args); err != nil {
		return err
	}
	key, err := parseKey(*keyHex)
	if err != nil {
		return err
	}
	if !counter.set {
		return usagef("hotp: --counter is required")
	}
	c, err := strconv.ParseUint(counter.s, 10, 64)
	if err != nil {
		return fmt.Errorf("hotp: --counter must be a whole number from 0 to 2^64-1")
	}
	h, err := parseAlgorithm(*alg)
	if err != nil {
		return err
	}
	code, err := ocra.HOTP(h, key, c, *digits)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, code)
	return nil
}

func cmdTOTP(e *env, args []string) error {
	fs := flags("totp")
	keyHex := fs.String("key", "", "the key, in hexadecimal")
	var unix optional
	fs.Var(&unix, "time", "the time, in Unix seconds")
	period := fs.Int("period", 30, "the time step, in seconds")
	digits := fs.Int("digits", 6, "digits of the code, 6 to 10")
	alg := fs.String("algorithm", "SHA1", "SHA1, SHA256 or SHA512")
	if err := parse(fs, args); err != nil {
		return err
	}
	key, err := parseKey(*keyHex)
	if err != nil {
		return err
	}
	if !unix.set {
		return usagef("totp: --time is required")
	}
	t, err := parseUnix(unix.s)
	if err != nil {
		return err
	}
	h, err := parseAlgorithm(*alg)
	if err != nil {
		return err
	}
	if *period < 1 || *period > 86400 {
		return fmt.Errorf("totp: --period must be 1 to 86400 seconds")
	}
	code, err := ocra.TOTP(h, key, t, time.Duration(*period)*time.Second, *digits)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, code)
	return nil
}

func parseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, usagef("--key is required")
	}
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("--key must be hexadecimal with an even number of digits")
	}
	return k, nil
}

func parseUnix(s string) (time.Time, error) {
	u, err := strconv.ParseInt(s, 10, 64)
	if err != nil || u < 0 || u > 1<<40 {
		return time.Time{}, fmt.Errorf("--time must be Unix seconds, a whole number from 0")
	}
	return time.Unix(u, 0).UTC(), nil
}

func parseAlgorithm(s string) (ocra.Hash, error) {
	h, err := ocra.ParseHash(strings.ToUpper(strings.ReplaceAll(s, "-", "")))
	if err != nil {
		return 0, fmt.Errorf("--algorithm must be SHA1, SHA256 or SHA512")
	}
	return h, nil
}
