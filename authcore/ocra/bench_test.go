package ocra

import (
	"crypto/hmac"
	"crypto/sha1"
	"testing"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

var benchKey = []byte("12345678901234567890") // 20 bytes, RFC 4226

// BenchmarkGenerate: one OCRA-1:HOTP-SHA1-6:QN08 response with a reused
// Generator. Compare with BenchmarkHMACFloor.
func BenchmarkGenerate(b *testing.B) {
	g, err := NewGenerator(MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08"), benchKey)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Challenge: "12345678"}
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Append(buf[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateString is BenchmarkGenerate returning a string: one
// small allocation for the result.
func BenchmarkGenerateString(b *testing.B) {
	g, _ := NewGenerator(MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08"), benchKey)
	in := Input{Challenge: "12345678"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Generate(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACFloor: the HMAC-SHA1 of a message as long as the QN08
// suite's, with a keyed crypto/hmac reused through Reset. No OCRA can be
// faster than this.
func BenchmarkHMACFloor(b *testing.B) {
	msg := make([]byte, len("OCRA-1:HOTP-SHA1-6:QN08")+1+questionBytes)
	m := hmac.New(sha1.New, benchKey)
	var sum [sha1.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		m.Write(msg)
		m.Sum(sum[:0])
	}
}

// BenchmarkHOTP compares HOTP with github.com/pquerna/otp, same key and
// counter, 6 digits, SHA1.
func BenchmarkHOTP(b *testing.B) {
	b.Run("ibkey", func(b *testing.B) {
		o, err := NewOTP(SHA1, benchKey, 6)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 10)
		b.ReportAllocs()
		for b.Loop() {
			o.AppendHOTP(buf[:0], 1)
		}
	})
	b.Run("pquerna", func(b *testing.B) {
		// pquerna/otp takes the key as base32 text.
		secret := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
		opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
		if code, err := hotp.GenerateCodeCustom(secret, 1, opts); err != nil || code != "287082" {
			b.Fatalf("pquerna: %s, %v", code, err)
		}
		b.ReportAllocs()
		for b.Loop() {
			hotp.GenerateCodeCustom(secret, 1, opts)
		}
	})
}
