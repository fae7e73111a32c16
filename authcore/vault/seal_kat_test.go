package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// The known answers of the PIN seal were computed once, apart from this
// package, from the construction of docs/SECURITY.md (the keystream of
// ChaCha20 under Argon2id(HMAC-SHA256(pepper, PIN), salt), no MAC) with
// golang.org/x/crypto's argon2.IDKey (RFC 9106, Argon2id, version 0x13)
// and chacha20 (RFC 8439), with:
//
//	pepper = a0 a1 ... bf (32 bytes)    salt = 00 01 ... 0f (16 bytes)
//	secret = 40 41 ... 5f (32 bytes)    PIN  = "2468"
//	HMAC-SHA256(pepper, "ibkey vault pin v1" 0x00 "2468")
//	       = 2039e0f3da2f4923d1e62be41031a73d6be1e6c274a4a235b582da3aba5c8e37
//
// A seal is computed by one program and opened by the same program, so a
// wrong derivation (the pepper left out, Argon2id's arguments swapped)
// would agree with itself; these bytes do not.
func TestPINSealKAT(t *testing.T) {
	t.Parallel()
	pepper, salt, secret := make([]byte, 32), make([]byte, 16), make([]byte, 32)
	for i := range pepper {
		pepper[i] = 0xa0 + byte(i)
		secret[i] = 0x40 + byte(i)
	}
	for i := range salt {
		salt[i] = byte(i)
	}
	for _, c := range []struct {
		kdf         KDF
		key, sealed string
	}{
		// Time and memory differ, so that swapping them shows: Argon2id
		// with m=3 would be m=8 (its minimum), t=32.
		{KDF{MemoryKiB: 32, Time: 3, Threads: 1},
			"8af6232cebb588916351f74ba0dc964e96f3a289039fd98ff06903981374e6f3",
			"9cca0dc724081f9e2d1b072b30d511d87cf6d79c29d0609a315a65f60ddcecfe"},
		// Two lanes: the thread count is an input.
		{KDF{MemoryKiB: 64, Time: 1, Threads: 2},
			"e4cff1d88cf28e469e7f8085b4beb9405d4b7bcd939a0aa2d515fae4d4b469a9",
			"d1043d9e6c7593181d6869cb6b1cd4e947ba86c565cfb2941881e46693156c02"},
	} {
		pw, _ := hex.DecodeString("2039e0f3da2f4923d1e62be41031a73d6be1e6c274a4a235b582da3aba5c8e37")
		if got := hex.EncodeToString(argonKey(pw, &pinSlot{KDF: c.kdf, Salt: salt})); got != c.key {
			t.Errorf("%+v: Argon2id key %s, want %s", c.kdf, got, c.key)
		}
		s, err := sealPIN(secret, "2468", pepper, c.kdf, bytes.NewReader(salt))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Salt, salt) || s.KDF != c.kdf {
			t.Fatalf("%+v: slot %+v", c.kdf, s)
		}
		if got := hex.EncodeToString(s.Sealed); got != c.sealed {
			t.Errorf("%+v: sealed %s, want %s", c.kdf, got, c.sealed)
		}
		if got := s.open("2468", pepper); !bytes.Equal(got, secret) {
			t.Errorf("%+v: the PIN opens %x", c.kdf, got)
		}
		// Without the pepper (a copy of the file alone), the right PIN
		// opens something else.
		if got := s.open("2468", nil); bytes.Equal(got, secret) {
			t.Errorf("%+v: the seal opens without the pepper", c.kdf)
		}
		other := bytes.Clone(pepper)
		other[0] ^= 1
		if got := s.open("2468", other); bytes.Equal(got, secret) {
			t.Errorf("%+v: the seal opens under another pepper", c.kdf)
		}
	}
	if _, err := sealPIN(secret, "2468", pepper, testKDF, bytes.NewReader(salt[:15])); err == nil {
		t.Error("sealPIN with a short random source")
	}
}

// TestDefaultKDF: new seals cost what OWASP's Password Storage Cheat Sheet
// gives as the Argon2id minimum ("a minimum configuration of 19 MiB of
// memory, an iteration count of 2, and 1 degree of parallelism": m=19456
// KiB, t=2, p=1), as docs/SECURITY.md says.
func TestDefaultKDF(t *testing.T) {
	t.Parallel()
	if want := (KDF{MemoryKiB: 19456, Time: 2, Threads: 1}); DefaultKDF != want {
		t.Errorf("DefaultKDF = %+v, want OWASP's %+v", DefaultKDF, want)
	}
	v, _, _ := newTest(t)
	v2, err := Open(v.dir, v.secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v2.kdf != (KDF{MemoryKiB: 19456, Time: 2, Threads: 1}) {
		t.Errorf("a vault seals new PINs at %+v", v2.kdf)
	}
}

// TestKDFBounds: the cost a file may ask for is capped at the numbers of
// docs/SECURITY.md ("m ≤ 256 MiB, t ≤ 10, p ≤ 4"), and at least 1 each.
func TestKDFBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k  KDF
		ok bool
	}{
		{KDF{262144, 10, 4}, true},
		{KDF{1, 1, 1}, true},
		{KDF{19456, 2, 1}, true},
		{KDF{262145, 1, 1}, false},
		{KDF{1 << 20, 1, 1}, false},
		{KDF{8, 11, 1}, false},
		{KDF{8, 1, 5}, false},
		{KDF{0, 1, 1}, false},
		{KDF{8, 0, 1}, false},
		{KDF{8, 1, 0}, false},
	} {
		err := c.k.check()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrDamaged)) {
			t.Errorf("KDF %+v: %v, want ok=%v", c.k, err, c.ok)
		}
	}
}
