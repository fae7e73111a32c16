package atrest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func testKey(t testing.TB, b byte) *Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVector pins the format: a change to the derivation, the associated
// data or the layout breaks every database already sealed.
func TestVector(t *testing.T) {
	master := make([]byte, KeySize)
	for i := range master {
		master[i] = byte(i)
	}
	k, err := NewKey(master)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{0xaa}, 24)
	got, err := k.Seal(bytes.NewReader(nonce), "device secret", "0123456789abcdef0123456789abcdef", []byte("12345678901234567890123456789012"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "01" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + wantBox
	if hex.EncodeToString(got) != want {
		t.Errorf("sealed = %x\nwant      %s", got, want)
	}
	if id := hex.EncodeToString(k.ID()); id != wantID {
		t.Errorf("key id = %s, want %s", id, wantID)
	}
}

// Recorded from this implementation (format version 1).
const (
	wantBox = "22f00541c3c5701f443eec54b597651cddac02f1b9733b9a9a52f6933b47602590e831edb6e540e615ac79e4a342d9cb"
	wantID  = "cb0d11f35c8cb40944a37357f17e0e59"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k := testKey(t, 1)
	for _, pt := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, MaxPlaintext)} {
		s, err := k.Seal(rand.Reader, "device secret", "d1", pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != len(pt)+Overhead {
			t.Errorf("sealed %d bytes into %d, want %d", len(pt), len(s), len(pt)+Overhead)
		}
		got, err := k.Open("device secret", "d1", s)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("open: %x, %v; want %x", got, err, pt)
		}
	}
	s1, _ := k.Seal(rand.Reader, "k", "r", []byte("same"))
	s2, _ := k.Seal(rand.Reader, "k", "r", []byte("same"))
	if bytes.Equal(s1, s2) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if _, err := k.Seal(rand.Reader, "k", "r", make([]byte, MaxPlaintext+1)); err == nil {
		t.Error("sealed a value over MaxPlaintext")
	}
}

// TestOpenRefuses is a table of sealed values that must not open, each
// with the error it must give.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	k := testKey(t, 1)
	good, err := k.Seal(rand.Reader, "device secret", "d1", bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	withVersion := func(v byte) []byte {
		b := bytes.Clone(good)
		b[0] = v
		return b
	}
	for _, c := range []struct {
		name      string
		kind, row string
		key       *Key
		sealed    []byte
		want      error
	}{
		{"empty", "device secret", "d1", k, nil, ErrFormat},
		{"short", "device secret", "d1", k, good[:Overhead-1], ErrFormat},
		{"overhead only, tag cut", "device secret", "d1", k, good[:Overhead], ErrOpen},
		{"too long", "device secret", "d1", k, make([]byte, Overhead+MaxPlaintext+1), ErrFormat},
		{"version 0", "device secret", "d1", k, withVersion(0), ErrFormat},
		{"version 2", "device secret", "d1", k, withVersion(2), ErrFormat},
		{"plaintext 32 bytes", "device secret", "d1", k, bytes.Repeat([]byte{1}, 32), ErrFormat},
		{"flipped nonce", "device secret", "d1", k, flip(1), ErrOpen},
		{"flipped body", "device secret", "d1", k, flip(Overhead - 16), ErrOpen},
		{"flipped tag", "device secret", "d1", k, flip(len(good) - 1), ErrOpen},
		{"truncated", "device secret", "d1", k, good[:len(good)-1], ErrOpen},
		{"other row", "device secret", "d2", k, good, ErrOpen},
		{"other kind", "service key", "d1", k, good, ErrOpen},
		{"kind and row shifted", "device secretd", "1", k, good, ErrOpen},
		{"other key", "device secret", "d1", testKey(t, 2), good, ErrOpen},
	} {
		t.Run(c.name, func(t *testing.T) {
			pt, err := c.key.Open(c.kind, c.row, c.sealed)
			if !errors.Is(err, c.want) || pt != nil {
				t.Fatalf("Open = %x, %v; want %v", pt, err, c.want)
			}
		})
	}
	if got, err := k.Open("device secret", "d1", good); err != nil || len(got) != 32 {
		t.Fatalf("the good value: %x, %v", got, err)
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKey(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte master key was taken", n)
		}
	}
	a, b := testKey(t, 1), testKey(t, 2)
	if bytes.Equal(a.ID(), b.ID()) {
		t.Error("two keys have one id")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", a, a, a, a); bytes.Contains([]byte(s), []byte{1, 1, 1, 1}) || s != "atrest.Key(redacted) atrest.Key(redacted) atrest.Key(redacted) atrest.Key(redacted)" {
		t.Errorf("a key prints as %q", s)
	}
}

// FuzzOpen feeds Open any bytes: it must not panic, and whatever opens
// must seal and open again to the same plaintext (parse, encode, parse).
func FuzzOpen(f *testing.F) {
	k := testKey(f, 3)
	for _, pt := range [][]byte{nil, []byte("seed"), bytes.Repeat([]byte{0x42}, 32)} {
		s, err := k.Seal(rand.Reader, "device secret", "d1", pt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("device secret", "d1", s)
	}
	f.Add("service key", "", []byte{Version})
	f.Add("", "", bytes.Repeat([]byte{Version}, Overhead))
	f.Fuzz(func(t *testing.T, kind, row string, sealed []byte) {
		pt, err := k.Open(kind, row, sealed)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrOpen) && len(kind) <= 0xffff && len(row) <= 0xffff {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := k.Seal(rand.Reader, kind, row, pt)
		if err != nil {
			t.Fatal(err)
		}
		pt2, err := k.Open(kind, row, again)
		if err != nil || !bytes.Equal(pt, pt2) {
			t.Fatalf("round trip: %x, %v; want %x", pt2, err, pt)
		}
	})
}
