package ocra_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"ibkey/authcore/ocra"
)

// The device answers a 6-digit challenge with an 8-digit response; the
// service verifies it. Key and challenge from RFC 6287 Appendix C.1.
func Example() {
	suite, err := ocra.ParseSuite("OCRA-1:HOTP-SHA1-6:QN08")
	if err != nil {
		panic(err)
	}
	key, _ := hex.DecodeString("3132333435363738393031323334353637383930")
	g, err := ocra.NewGenerator(suite, key)
	if err != nil {
		panic(err)
	}
	response, err := g.Generate(ocra.Input{Challenge: "11111111"})
	if err != nil {
		panic(err)
	}
	fmt.Println(response)

	_, err = g.Verify(response, ocra.Input{Challenge: "11111111"}, ocra.Window{})
	fmt.Println(err == nil)
	// Output:
	// 243178
	// true
}

// A counter-based suite: Verify looks ahead and says which counter matched,
// so that the service can move its counter past it and refuse a replay.
func ExampleGenerator_Verify() {
	suite := ocra.MustParseSuite("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1")
	key := []byte("12345678901234567890123456789012")
	g, _ := ocra.NewGenerator(suite, key)
	r, _ := g.Generate(ocra.Input{Challenge: "12345678", Counter: 5, HasCounter: true, PIN: "1234"})
	fmt.Println(r)
	m, err := g.Verify(r, ocra.Input{Challenge: "12345678", Counter: 3, HasCounter: true, PIN: "1234"}, ocra.Window{Counter: 10})
	fmt.Println(m.Counter, err)
	// Output:
	// 65983500
	// 5 <nil>
}

func ExampleTOTP() {
	code, _ := ocra.TOTP(ocra.SHA1, []byte("12345678901234567890"), time.Unix(59, 0), 30*time.Second, 8)
	fmt.Println(code)
	// Output: 94287082
}

func ExampleParseSuite() {
	s, err := ocra.ParseSuite("OCRA-1:HOTP-SHA512-8:QN08-T1M")
	if err != nil {
		panic(err)
	}
	f, max := s.Challenge()
	fmt.Println(s.Hash(), s.Digits(), string(f), max, s.TimeStep())
	_, err = ocra.ParseSuite("OCRA-1:HOTP-SHA1-6:QN65")
	fmt.Println(err)
	// Output:
	// SHA512 8 N 8 1m0s
	// ocra: invalid suite "OCRA-1:HOTP-SHA1-6:QN65": challenge length must be 04 to 64
}
