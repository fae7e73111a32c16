package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDeriveSecretAgrees(t *testing.T) {
	dev, _ := NewActivationKey(rand.Reader)
	svc, _ := NewActivationKey(rand.Reader)
	dp, sp := dev.PublicKey().Bytes(), svc.PublicKey().Bytes()
	a, err := DeriveSecret(dev, sp, dp, sp, "enr", SuiteIBKey, "dev")
	if err != nil {
		t.Fatal(err)
	}
	b, err := DeriveSecret(svc, dp, dp, sp, "enr", SuiteIBKey, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SecretSize || !bytes.Equal(a, b) {
		t.Fatal("the two sides derive different secrets")
	}
	for _, c := range [][3]string{{"enr2", SuiteIBKey, "dev"}, {"enr", SuiteDSC, "dev"}, {"enr", SuiteIBKey, "dev2"}, {"en", SuiteIBKey, "rdev"}} {
		x, _ := DeriveSecret(dev, sp, dp, sp, c[0], c[1], c[2])
		if bytes.Equal(a, x) {
			t.Errorf("%v gives the same secret", c)
		}
	}
	if _, err := DeriveSecret(dev, make([]byte, 31), dp, sp, "e", SuiteIBKey, "d"); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
	// The all-zero point gives an all-zero shared secret: refused.
	if _, err := DeriveSecret(dev, make([]byte, 32), dp, sp, "e", SuiteIBKey, "d"); !errors.Is(err, ErrBadKey) {
		t.Fatalf("low-order key: %v", err)
	}
}

func TestSealOpen(t *testing.T) {
	k, _ := NewActivationKey(rand.Reader)
	sealed, err := Seal(rand.Reader, k.PublicKey().Bytes(), "temp_password/1/dev", []byte("hunter22"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := Open(k.Bytes(), "temp_password/1/dev", sealed)
	if err != nil || string(pt) != "hunter22" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := Open(k.Bytes(), "temp_password/2/dev", sealed); !errors.Is(err, ErrSealed) {
		t.Fatalf("other label: %v", err)
	}
	other, _ := NewActivationKey(rand.Reader)
	if _, err := Open(other.Bytes(), "temp_password/1/dev", sealed); !errors.Is(err, ErrSealed) {
		t.Fatalf("other key: %v", err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x40
		if _, err := Open(k.Bytes(), "temp_password/1/dev", bad); err == nil {
			t.Fatalf("flipped byte %d opened", i)
		}
	}
}

func TestApprovalSessionBindsNumber(t *testing.T) {
	p := []byte(`{"id":"x"}`)
	if bytes.Equal(ApprovalSession(p, 12), ApprovalSession(p, 13)) || bytes.Equal(ApprovalSession(p, 12), ApprovalSession([]byte(`{"id":"y"}`), 12)) {
		t.Fatal("the session does not bind number and payload")
	}
	if len(ApprovalSession(p, 1)) != 32 {
		t.Fatal("S must be 32 bytes for S032")
	}
}

func TestEventSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	ev := Event{Type: EventLogin, ID: "l1", DeviceID: "d1", Numbers: []int{11, 22, 33}, ExpiresAt: time.Unix(100, 0).UTC()}
	se, err := SignEvent(priv, 7, ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenEvent(pub, "d1", se)
	if err != nil || got.ID != "l1" || len(got.Numbers) != 3 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := OpenEvent(pub, "d2", se); err == nil {
		t.Fatal("event for another device accepted")
	}
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := OpenEvent(pub2, "d1", se); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
	if !got.Expired(time.Unix(100, 0)) || got.Expired(time.Unix(99, 0)) {
		t.Fatal("Expired")
	}
}

func TestErrorUnwrap(t *testing.T) {
	e := &Error{Status: 423, Code: CodeLocked, AttemptsLeft: -1}
	if !errors.Is(e, ErrLocked) {
		t.Fatal("no unwrap")
	}
	var eb ErrorBody
	json.Unmarshal([]byte(`{"error":"invalid_response","message":"m","attempts_left":2}`), &eb)
	if eb.AttemptsLeft == nil || *eb.AttemptsLeft != 2 {
		t.Fatal("attempts_left")
	}
}

// FuzzOpen checks that no sealed input panics Open.
func FuzzOpen(f *testing.F) {
	k, _ := NewActivationKey(rand.Reader)
	sealed, _ := Seal(rand.Reader, k.PublicKey().Bytes(), "l", []byte("x"))
	f.Add(sealed, "l")
	f.Add([]byte{1}, "")
	f.Fuzz(func(t *testing.T, b []byte, label string) {
		pt, err := Open(k.Bytes(), label, b)
		if err == nil && (label != "l" || string(pt) != "x") {
			t.Fatalf("opened %q under %q", pt, label)
		}
	})
}

// FuzzOpenEvent decodes signed events: only the service's signature opens.
func FuzzOpenEvent(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	se, _ := SignEvent(priv, 1, Event{Type: EventLogin, ID: "a", DeviceID: "d"})
	f.Add(se.Payload, se.Signature)
	f.Fuzz(func(t *testing.T, payload, sig []byte) {
		ev, err := OpenEvent(pub, "d", SignedEvent{Payload: payload, Signature: sig})
		if err != nil {
			return
		}
		// Round trip: what opened re-encodes and re-signs to an event that opens the same.
		se2, err := SignEvent(priv, 1, ev)
		if err != nil {
			t.Fatal(err)
		}
		ev2, err := OpenEvent(pub, "d", se2)
		if err != nil || ev2.ID != ev.ID || ev2.Type != ev.Type {
			t.Fatalf("round trip: %+v %+v %v", ev, ev2, err)
		}
	})
}

func TestCanonicalUsername(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                          "alice",
		"Alice":                          "alice",
		"ALICE@Example.COM":              "alice@example.com",
		"a.b_c+d-e":                      "a.b_c+d-e",
		"U1234567":                       "u1234567",
		strings.Repeat("X", MaxUsername): strings.Repeat("x", MaxUsername),
	} {
		if got, ok := CanonicalUsername(in); !ok || got != want {
			t.Errorf("CanonicalUsername(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", " alice", "alice ", "al ice", "alïce", "ALİCE", "alice\x00", "a/b", "a#b", strings.Repeat("x", MaxUsername+1), "ＡＬＩＣＥ"} {
		if got, ok := CanonicalUsername(in); ok {
			t.Errorf("CanonicalUsername(%q) = %q, want none", in, got)
		}
	}
}

func FuzzCanonicalUsername(f *testing.F) {
	for _, s := range []string{"alice", "Alice", "a.b@c", "ALİCE", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := CanonicalUsername(s)
		if !ok {
			return
		}
		if c2, ok2 := CanonicalUsername(c); !ok2 || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, c, c2)
		}
		if strings.ToLower(s) != c || len(c) != len(s) {
			t.Fatalf("%q -> %q is not its lower case", s, c)
		}
	})
}

func TestPendingDigest(t *testing.T) {
	a := PendingDigest([]string{"b", "a"})
	if a != PendingDigest([]string{"a", "b"}) {
		t.Error("the digest depends on the order")
	}
	for _, other := range [][]string{nil, {"a"}, {"ab"}, {"a", "b", "c"}, {"a\nb"}} {
		if PendingDigest(other) == a {
			t.Errorf("%q has the digest of [a b]", other)
		}
	}
	if !ValidDigest(a) || !ValidDigest(PendingDigest(nil)) {
		t.Errorf("digests %q, %q are not valid", a, PendingDigest(nil))
	}
	for _, bad := range []string{"", "abc", a[:31], a + "0", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdeg"} {
		if ValidDigest(bad) {
			t.Errorf("ValidDigest(%q) = true", bad)
		}
	}
	// An answer from a service that does not say has no list; one that
	// does has it, possibly empty.
	var old, now Events
	json.Unmarshal([]byte(`{"events":[],"next":3}`), &old)
	json.Unmarshal([]byte(`{"events":[],"next":3,"pending":[]}`), &now)
	if old.Pending != nil || now.Pending == nil {
		t.Errorf("pending: old %#v, new %#v", old.Pending, now.Pending)
	}
}
