package verifier

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
)

// TestActivateKAT: the service's half of the key agreement gives the
// known answer of docs/PROTOCOL.md's "The OCRA secret" for the keys of RFC
// 7748 section 6.1 (device Alice, service Bob), computed apart from this
// code with x/crypto's curve25519 and hkdf (see the protocol package's
// TestDeriveSecretKAT).
func TestActivateKAT(t *testing.T) {
	t.Parallel()
	alicePub, _ := hex.DecodeString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	bobPriv, _ := hex.DecodeString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	sp, secret, err := Activate(bytes.NewReader(bobPriv), alicePub, "0123456789abcdef0123456789abcdef", protocol.SuiteIBKey, "fedcba9876543210fedcba9876543210")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sp); got != "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" {
		t.Errorf("server key %s, want RFC 7748's Bob", got)
	}
	if got := hex.EncodeToString(secret); got != "e355d750244535f6aba94ff3907fcb2200bf0a682de74555f33e262ca0f4ee24" {
		t.Errorf("secret %s", got)
	}
	for _, bad := range [][]byte{nil, alicePub[:31], append(bytes.Clone(alicePub), 0), make([]byte, 32)} {
		if _, _, err := Activate(rand.Reader, bad, "e", protocol.SuiteIBKey, "d"); !errors.Is(err, protocol.ErrBadKey) {
			t.Errorf("Activate with device key %x: %v", bad, err)
		}
	}
	if _, _, err := Activate(bytes.NewReader(nil), alicePub, "e", protocol.SuiteIBKey, "d"); err == nil {
		t.Error("Activate without randomness")
	}
	if err := CheckPublicKey(alicePub); err != nil {
		t.Errorf("CheckPublicKey(RFC 7748 key): %v", err)
	}
	for _, bad := range [][]byte{nil, alicePub[:31], append(bytes.Clone(alicePub), 0)} {
		if err := CheckPublicKey(bad); !errors.Is(err, protocol.ErrBadKey) {
			t.Errorf("CheckPublicKey(%d bytes): %v", len(bad), err)
		}
	}
}

// TestCodeHashKAT: the stored form of a code is SHA-256("ibkey-code-v1" ||
// lp(enrollment id) || code), computed apart with Python's hashlib.
func TestCodeHashKAT(t *testing.T) {
	t.Parallel()
	got := hex.EncodeToString(CodeHash("0123456789abcdef0123456789abcdef", "12345678"))
	if got != "4eaed64aeacf9d6cd4c366f96f77ec042321caa9b0ab1916d5f0a156f6e34b18" {
		t.Errorf("CodeHash = %s", got)
	}
}

// seq reads the bytes given, then fails.
func seq(b ...byte) *bytes.Reader { return bytes.NewReader(b) }

// TestDigitsRejection: n digits are a uniform number below 10^n, drawn by
// rejection over whole bytes: for 6 digits, 3 bytes, and values from
// 16,000,000 (the largest multiple of 10^6 below 2^24) on are drawn again.
func TestDigitsRejection(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []byte
		n    int
		want string
	}{
		{[]byte{0x00, 0x00, 0x2a}, 6, "000042"},
		{[]byte{0xf4, 0x23, 0xff}, 6, "999999"},                   // 15,999,999: kept
		{[]byte{0xf4, 0x24, 0x00, 0x00, 0x00, 0x07}, 6, "000007"}, // 16,000,000: drawn again
		{[]byte{0xff, 0xff, 0xff, 0x00, 0x01, 0x00}, 6, "000256"}, // 2^24-1: drawn again
		// 8 digits: 4 bytes; from 4,200,000,000 on drawn again.
		{[]byte{0x05, 0xf5, 0xe1, 0x00}, 8, "00000000"}, // 10^8
		{[]byte{0x00, 0x00, 0x00, 0x01}, 8, "00000001"},
		{[]byte{0xfa, 0x56, 0xe9, 0xff}, 8, "99999999"},                         // 4,199,999,999: kept
		{[]byte{0xfa, 0x56, 0xea, 0x00, 0x00, 0x00, 0x00, 0x09}, 8, "00000009"}, // 4,200,000,000: drawn again
	} {
		got, err := Digits(seq(c.in...), c.n)
		if err != nil || got != c.want {
			t.Errorf("Digits(%x, %d) = %q, %v, want %q", c.in, c.n, got, err, c.want)
		}
	}
	if _, err := Digits(seq(0xf4, 0x24, 0x00), 6); err == nil {
		t.Error("Digits with the random source run dry")
	}
}

// TestPushNumbers: the numbers of a seamless login are three different
// two-digit numbers (10 to 99), one of them the browser's.
func TestPushNumbers(t *testing.T) {
	t.Parallel()
	lo, hi := 99, 10
	for range 300 {
		p, err := NewPushRequest(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Choices {
			if n < 10 || n > 99 {
				t.Fatalf("number %d in %+v", n, p)
			}
			lo, hi = min(lo, n), max(hi, n)
		}
		if p.Choices[0] == p.Choices[1] || p.Choices[1] == p.Choices[2] || p.Choices[0] == p.Choices[2] {
			t.Fatalf("a number twice: %+v", p)
		}
	}
	if lo > 12 || hi < 97 {
		t.Errorf("900 numbers span only %d to %d", lo, hi)
	}
	// Fixed bytes: the challenge is the first 20 in hex; then numbers
	// below 90 (one byte each; 180 and above are drawn again) plus 10, a
	// repeat drawn again; then the browser's number, one of the three (a
	// byte below 255, modulo 3).
	in := append(bytes.Repeat([]byte{0xab}, 20),
		0,   // 10
		200, // drawn again
		89,  // 99
		0,   // 10 again: drawn again
		179, // 89 + 10 = 99 again: drawn again
		2,   // 12
		255, // drawn again
		1,   // the second: 99
	)
	p, err := NewPushRequest(seq(in...))
	if err != nil {
		t.Fatal(err)
	}
	if p.Challenge != "abababababababababababababababababababab" || !slices.Equal(p.Choices, []int{10, 99, 12}) || p.Number != 99 {
		t.Errorf("NewPushRequest = %+v", p)
	}
	for n := range len(in) {
		if _, err := NewPushRequest(seq(in[:n]...)); err == nil {
			t.Errorf("NewPushRequest with %d random bytes", n)
		}
	}
}

// TestVerifyResponsePIN: a DSC+ card's response includes the card PIN's
// SHA-1 (P) that the service keeps; the IB Key suite has none and ignores
// a stored one.
func TestVerifyResponsePIN(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	dsc := ocra.MustParseSuite(protocol.SuiteDSC)
	h := sha1.Sum([]byte("1234"))
	r, err := ocra.Generate(dsc, key, ocra.Input{Challenge: "123456", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyResponse(dsc, key, h[:], "123456", r); err != nil {
		t.Errorf("card response: %v", err)
	}
	other := sha1.Sum([]byte("4321"))
	if err := VerifyResponse(dsc, key, other[:], "123456", r); !errors.Is(err, ErrBadResponse) {
		t.Errorf("card response, other PIN: %v", err)
	}
	ib := ocra.MustParseSuite(protocol.SuiteIBKey)
	r, _ = ocra.Generate(ib, key, ocra.Input{Challenge: "123456"})
	if err := VerifyResponse(ib, key, h[:], "123456", r[:4]+" "+r[4:]); err != nil {
		t.Errorf("IB Key response with a stored PIN hash: %v", err)
	}
	if err := VerifyResponse(ib, key, nil, "12", r); err == nil || errors.Is(err, ErrBadResponse) {
		t.Errorf("a malformed challenge: %v", err)
	}
	if err := VerifyApproval(key, []byte("p"), "xyz", 10, 10, r); err == nil || errors.Is(err, ErrBadResponse) {
		t.Errorf("a malformed approval challenge: %v", err)
	}
}

// TestRandomFormsKAT: ids, Session IDs and temporary passwords from fixed
// bytes: a 128-bit id in hex (docs/PROTOCOL.md: "32 lowercase hex
// digits"), a Session ID of 16 Crockford base32 characters (one byte
// each, modulo 32), a temporary password of 12 characters from 54 (one
// byte each, below 216 = 4·54, modulo 54).
func TestRandomFormsKAT(t *testing.T) {
	t.Parallel()
	id, err := NewID(seq(bytes.Repeat([]byte{0x5a}, 16)...))
	if err != nil || id != "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" {
		t.Errorf("NewID = %q, %v", id, err)
	}
	var b []byte
	for i := range 16 {
		b = append(b, byte(i*2+32*i)) // i*2 modulo 32
	}
	sid, err := NewSessionID(seq(b...))
	if err != nil || sid != "02468ACEGJMPRTWY" {
		t.Errorf("NewSessionID = %q, %v", sid, err)
	}
	// The alphabet: a-z without i l o (0-22), A-Z without I L O
	// (23-45), 2-9 (46-53).
	pw, err := NewTempPassword(seq(0, 1, 2, 216, 3, 22, 23, 45, 46, 53, 215, 107, 8))
	if err != nil || pw != "abcdzAZ2999j" {
		t.Errorf("NewTempPassword = %q, %v", pw, err)
	}
	for _, f := range []func() error{
		func() error { _, err := NewID(seq(make([]byte, 15)...)); return err },
		func() error { _, err := NewSessionID(seq(make([]byte, 15)...)); return err },
		func() error { _, err := NewTempPassword(seq(make([]byte, 11)...)); return err },
		func() error { _, _, err := NewEnrollment(Config{}, seq(make([]byte, 16)...), t0, "u", ""); return err },
		func() error { _, _, err := NewLinkEnrollment(Config{}, seq(make([]byte, 16)...), t0, "u"); return err },
		func() error { _, _, err := NewLinkEnrollment(Config{}, seq(make([]byte, 10)...), t0, "u"); return err },
	} {
		if err := f(); err == nil {
			t.Error("made from too few random bytes")
		}
	}
}

// TestSendCapError: the cap that holds is named in the error.
func TestSendCapError(t *testing.T) {
	t.Parallel()
	err := SendCap(Config{}, Sent{PhoneDay: 10})
	if err == nil || err.Error() != "verifier: too many codes sent to this user or phone (sends_phone_day)" || CapName(err) != "sends_phone_day" {
		t.Errorf("SendCap: %v", err)
	}
	if CapName(errors.New("x")) != "" || CapName(nil) != "" {
		t.Error("CapName of another error")
	}
}
