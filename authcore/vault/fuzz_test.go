package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// seedFiles returns a vault key and a few valid files sealed under it.
func seedFiles(f *testing.F) ([]byte, [][]byte) {
	v, _, _ := newTest(f)
	files := [][]byte{}
	add := func() {
		data, err := os.ReadFile(v.path)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, data)
	}
	add()
	u := pinUser("alice", "2468", secret32(1))
	u.Biometric, u.ChannelKey, u.DeliveryKey = true, []byte("ch"), secret32(3)
	mustAdd(f, v, u)
	add()
	mustAdd(f, v, NewUser{Name: "card", Suite: suiteCard, Secret: secret32(2), Card: true})
	add()
	return v.key, files
}

// FuzzDecode feeds the container decoder arbitrary files under a fixed key:
// it never panics, refuses with ErrDamaged or ErrTooNew, and what it accepts
// re-encodes to a file that decodes to the same body.
func FuzzDecode(f *testing.F) {
	key, files := seedFiles(f)
	for _, s := range files {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeFile(data, key)
		if err != nil {
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrTooNew) {
				t.Fatalf("error %v is neither ErrDamaged nor ErrTooNew", err)
			}
			return
		}
		roundTrip(t, b, key)
	})
}

// FuzzDecodeBody feeds the body decoder arbitrary JSON (the AEAD keeps
// such bodies out of real files; this checks the decoder itself).
func FuzzDecodeBody(f *testing.F) {
	key, files := seedFiles(f)
	for _, s := range files {
		b, err := decodeFile(s, key)
		if err != nil {
			f.Fatal(err)
		}
		plain, _ := json.Marshal(b)
		f.Add(plain)
	}
	f.Add([]byte(`{"pepper_id":"AAAAAAAAAAA=","users":[]}`))
	f.Add([]byte(`{"users":[{}]}`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		b, err := decodeBody(plain)
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("error %v is not ErrDamaged", err)
			}
			return
		}
		for i := range b.Users {
			b.Users[i].user() // must not panic
		}
		roundTrip(t, b, key)
	})
}

func roundTrip(t *testing.T, b *body, key []byte) {
	t.Helper()
	want, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeFile(b, key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := decodeFile(data, key)
	if err != nil {
		t.Fatalf("re-encoded file does not decode: %v", err)
	}
	got, _ := json.Marshal(b2)
	if !bytes.Equal(got, want) {
		t.Fatalf("round trip changed the body:\n%s\n%s", want, got)
	}
}
