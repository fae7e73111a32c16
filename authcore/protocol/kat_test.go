package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// The known answers below were computed once, apart from this package,
// from the constructions of docs/PROTOCOL.md with golang.org/x/crypto's
// curve25519, hkdf (RFC 5869), chacha20poly1305 (RFC 8439) and
// crypto/ed25519 (RFC 8032), and the keys of RFC 7748 section 6.1 and
// RFC 8032 section 7.1: both sides of the protocol run this package's
// code, so a derivation that is wrong in the same way on both sides
// agrees with itself and only fixed bytes catch it.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 7748 section 6.1: Alice is the device's activation key, Bob the
// service's ephemeral key.
const (
	rfc7748AlicePriv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
	rfc7748AlicePub  = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
	rfc7748BobPriv   = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
	rfc7748BobPub    = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
)

// TestDeriveSecretKAT: docs/PROTOCOL.md, "The OCRA secret":
//
//	shared = X25519(own, peer)   (RFC 7748 6.1: 4a5d9d5b...161742)
//	salt   = "ibkey-ocra-v1" || device_pub || service_pub
//	info   = lp(enrollment_id) || lp(suite) || lp(device_id)
//	secret = HKDF-SHA256(shared, salt, info, 32)
func TestDeriveSecretKAT(t *testing.T) {
	t.Parallel()
	const (
		enr  = "0123456789abcdef0123456789abcdef"
		dev  = "fedcba9876543210fedcba9876543210"
		want = "e355d750244535f6aba94ff3907fcb2200bf0a682de74555f33e262ca0f4ee24"
		// The same HKDF with info = enr || suite || dev, unprefixed: the
		// derivation must not be this one.
		noPrefix = "2d4ea5a5027bbe56b7f4ce7baa4a5585d312ad8f5a28d37d10791cee88d5e784"
	)
	alice, err := ecdh.X25519().NewPrivateKey(unhex(t, rfc7748AlicePriv))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := ecdh.X25519().NewPrivateKey(unhex(t, rfc7748BobPriv))
	if err != nil {
		t.Fatal(err)
	}
	ap, bp := unhex(t, rfc7748AlicePub), unhex(t, rfc7748BobPub)
	if !bytes.Equal(alice.PublicKey().Bytes(), ap) || !bytes.Equal(bob.PublicKey().Bytes(), bp) {
		t.Fatal("the RFC 7748 keys do not load")
	}
	for _, side := range []struct {
		name string
		own  *ecdh.PrivateKey
		peer []byte
	}{{"device", alice, bp}, {"service", bob, ap}} {
		got, err := DeriveSecret(side.own, side.peer, ap, bp, enr, SuiteIBKey, dev)
		if err != nil {
			t.Fatalf("%s: %v", side.name, err)
		}
		if h := hex.EncodeToString(got); h != want {
			if h == noPrefix {
				t.Errorf("%s: the secret is derived without the length prefixes of info", side.name)
			}
			t.Errorf("%s: secret %s, want %s", side.name, h, want)
		}
	}
}

// TestLengthPrefix: lp(x) is x after its length as 2 bytes big-endian
// (docs/PROTOCOL.md), so that ("ab", "c") and ("a", "bc") differ.
func TestLengthPrefix(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want string
	}{
		{"", "0000"},
		{"a", "000161"},
		{"abc", "0003616263"},
		{string(make([]byte, 300)), "012c" + hex.EncodeToString(make([]byte, 300))},
	} {
		if got := hex.EncodeToString(lp(nil, c.in)); got != c.want {
			t.Errorf("lp(%d bytes) = %s, want %s", len(c.in), got, c.want)
		}
	}
	if got := hex.EncodeToString(lp([]byte{0xee}, "x")); got != "ee000178" {
		t.Errorf("lp appends: %s", got)
	}
}

// countReader yields 0x01, 0x02, ...: the ephemeral key of a Seal.
type countReader struct{ n byte }

func (r *countReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

// TestSealKAT: docs/PROTOCOL.md, "Sealed deliveries", with the ephemeral
// key 0x01..0x20 and RFC 7748's Bob as the device's delivery key:
//
//	key    = HKDF-SHA256(X25519(e, to), "ibkey-seal-v1" || e.pub || to, lp(label), 32)
//	sealed = 0x01 || e.pub || ChaCha20-Poly1305(key, nonce 0, plaintext, aad label)
func TestSealKAT(t *testing.T) {
	t.Parallel()
	const (
		label = "temp_password/00112233445566778899aabbccddeeff/fedcba9876543210fedcba9876543210"
		pt    = "Xq7mPz4KwR9t"
		want  = "0107a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c614ceb3bba81a5a75e606cfdbcf5397497008ef394af84fd7d46979c"
	)
	got, err := Seal(&countReader{}, unhex(t, rfc7748BobPub), label, []byte(pt))
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("Seal = %s, want %s", h, want)
	}
	open, err := Open(unhex(t, rfc7748BobPriv), label, unhex(t, want))
	if err != nil || string(open) != pt {
		t.Errorf("Open of the known answer: %q, %v", open, err)
	}
	// Each part of the message is checked: version, key, body, length.
	w := unhex(t, want)
	for _, bad := range [][]byte{
		append([]byte{2}, w[1:]...),
		w[:1+32+16-1],
		append([]byte(nil), w[:1+32+16]...), // an empty plaintext's length, wrong tag
	} {
		if _, err := Open(unhex(t, rfc7748BobPriv), label, bad); !errors.Is(err, ErrSealed) {
			t.Errorf("Open(%x): %v, want ErrSealed", bad, err)
		}
	}
	if _, err := Seal(&countReader{}, make([]byte, 31), label, nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("Seal to a 31-byte key: %v", err)
	}
	if _, err := Open(make([]byte, 31), label, w); !errors.Is(err, ErrBadKey) {
		t.Errorf("Open with a 31-byte key: %v", err)
	}
	// A low-order ephemeral key gives an all-zero shared secret: refused.
	low := append([]byte{1}, make([]byte, 32+16)...)
	if _, err := Open(unhex(t, rfc7748BobPriv), label, low); !errors.Is(err, ErrSealed) {
		t.Errorf("Open of a low-order key: %v", err)
	}
	if _, err := Seal(&countReader{}, make([]byte, 32), label, nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("Seal to the all-zero point: %v", err)
	}
	if _, err := Seal(bytes.NewReader(make([]byte, 5)), unhex(t, rfc7748BobPub), label, nil); err == nil {
		t.Error("Seal with a short random source")
	}
}

// The signed payload of a login request (docs/PROTOCOL.md, "Seamless
// approval"), as the service writes it.
const katPayload = `{"type":"login","id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","device_id":"fedcba9876543210fedcba9876543210","username":"alice","challenge":"00112233445566778899aabbccddeeff00112233","numbers":[57,12,89],"context":{"app":"Client Portal","ip":"192.0.2.7","browser":"Firefox on Linux","time":"2026-03-01T12:00:00Z"},"issued_at":"2026-03-01T12:00:00Z","expires_at":"2026-03-01T12:02:00Z"}`

var katEvent = Event{
	Type: EventLogin, ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", DeviceID: "fedcba9876543210fedcba9876543210",
	Username: "alice", Challenge: "00112233445566778899aabbccddeeff00112233", Numbers: []int{57, 12, 89},
	Context: LoginContext{
		App: "Client Portal", IP: "192.0.2.7", Browser: "Firefox on Linux",
		Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	},
	IssuedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	ExpiresAt: time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC),
}

// TestApprovalSessionKAT: S = SHA-256("ibkey-approve-v1" || lp(payload) ||
// uint32_be(number)) (docs/PROTOCOL.md, "Seamless approval"); a payload
// over 65,535 bytes has the length 0xffff.
func TestApprovalSessionKAT(t *testing.T) {
	t.Parallel()
	if got := hex.EncodeToString(ApprovalSession([]byte(katPayload), 57)); got != "187bf5b4d3920e6abc2a404417e96781097f7cd9beba57c2e44e21a9146951c6" {
		t.Errorf("S = %s", got)
	}
	big := bytes.Repeat([]byte("a"), 70000)
	if got := hex.EncodeToString(ApprovalSession(big, 12)); got != "a2f97a2cea6dd8daa53470626e8b4cd368a585ee8380dee2e0c398a1b34cdfd4" {
		t.Errorf("S of a 70,000-byte payload = %s", got)
	}
	in := ApprovalInput(katEvent, []byte(katPayload), 57)
	if in.Challenge != katEvent.Challenge || hex.EncodeToString(in.Session) != "187bf5b4d3920e6abc2a404417e96781097f7cd9beba57c2e44e21a9146951c6" {
		t.Errorf("ApprovalInput = %+v", in)
	}
}

// TestSignEventKAT: the service signs the JSON of the event with Ed25519;
// the key is RFC 8032 section 7.1 TEST 1's.
func TestSignEventKAT(t *testing.T) {
	t.Parallel()
	priv := ed25519.NewKeyFromSeed(unhex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
	pub := priv.Public().(ed25519.PublicKey)
	if hex.EncodeToString(pub) != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Fatal("the RFC 8032 key does not load")
	}
	se, err := SignEvent(priv, 42, katEvent)
	if err != nil {
		t.Fatal(err)
	}
	const sig = "ec791dccb821faa51c75361ff2fc3d960989db1af4782b7853f440970c2d2967e87e8e6f51180bd622539e837c9cff09154b67404d55096f16b9245c707a8d03"
	if se.Seq != 42 || string(se.Payload) != katPayload || hex.EncodeToString(se.Signature) != sig {
		t.Errorf("SignEvent = seq %d\n%s\n%x", se.Seq, se.Payload, se.Signature)
	}
	ev, err := OpenEvent(pub, katEvent.DeviceID, SignedEvent{Payload: []byte(katPayload), Signature: unhex(t, sig)})
	if err != nil || ev.ID != katEvent.ID || !ev.ExpiresAt.Equal(katEvent.ExpiresAt) {
		t.Errorf("OpenEvent of the known answer: %+v, %v", ev, err)
	}
	if _, err := OpenEvent(pub, katEvent.DeviceID, SignedEvent{Payload: []byte("{"), Signature: ed25519.Sign(priv, []byte("{"))}); err == nil || errors.Is(err, ErrSignature) {
		t.Errorf("a signed payload that is not JSON: %v", err)
	}
}

// TestOpenEventKeyLength: a pinned key of the wrong length (none pinned,
// or damaged) is a failed check, not a panic.
func TestOpenEventKeyLength(t *testing.T) {
	t.Parallel()
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	se, _ := SignEvent(priv, 1, katEvent)
	pub := priv.Public().(ed25519.PublicKey)
	for _, key := range []ed25519.PublicKey{nil, {}, pub[:31], append(bytes.Clone(pub), 0)} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("OpenEvent with a %d-byte key panics: %v", len(key), r)
				}
			}()
			if _, err := OpenEvent(key, katEvent.DeviceID, se); !errors.Is(err, ErrSignature) {
				t.Errorf("OpenEvent with a %d-byte key: %v, want ErrSignature", len(key), err)
			}
		}()
	}
}

// TestEventExpiryInstant: an event expires at ExpiresAt exactly.
func TestEventExpiryInstant(t *testing.T) {
	t.Parallel()
	end := katEvent.ExpiresAt
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{end.Add(-time.Nanosecond), false}, {end, true}, {end.Add(time.Nanosecond), true}} {
		if got := katEvent.Expired(c.at); got != c.want {
			t.Errorf("Expired(ExpiresAt%+v) = %v", c.at.Sub(end), got)
		}
	}
}

// TestPendingDigestKAT: the first 16 bytes of SHA-256 over lp(id) of the
// ids in sorted order, in hex (computed apart with Python's hashlib).
func TestPendingDigestKAT(t *testing.T) {
	t.Parallel()
	if got := PendingDigest([]string{"b", "a"}); got != "e168af95ee8e070a78b202450c429f92" {
		t.Errorf("PendingDigest([b a]) = %s", got)
	}
	if got := PendingDigest(nil); got != "e3b0c44298fc1c149afbf4c8996fb924" {
		t.Errorf("PendingDigest(nil) = %s", got)
	}
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"/123456789abcdef0123456789abcdef", false},
		{":123456789abcdef0123456789abcdef", false},
		{"`123456789abcdef0123456789abcdef", false},
		{"g123456789abcdef0123456789abcdef", false},
		{"9fa0000000000000000000000000000f", true},
	} {
		if got := ValidDigest(c.s); got != c.ok {
			t.Errorf("ValidDigest(%q) = %v", c.s, got)
		}
	}
}

// TestSealEmpty: a sealed empty message is exactly 1+32+16 bytes and
// opens; anything shorter is refused without a panic.
func TestSealEmpty(t *testing.T) {
	t.Parallel()
	s, err := Seal(&countReader{}, unhex(t, rfc7748BobPub), "l", nil)
	if err != nil || len(s) != 49 {
		t.Fatalf("Seal(empty): %d bytes, %v", len(s), err)
	}
	if pt, err := Open(unhex(t, rfc7748BobPriv), "l", s); err != nil || len(pt) != 0 {
		t.Errorf("Open of a sealed empty message: %q, %v", pt, err)
	}
	for n := range 49 {
		if _, err := Open(unhex(t, rfc7748BobPriv), "l", s[:n]); !errors.Is(err, ErrSealed) {
			t.Errorf("Open of %d bytes: %v", n, err)
		}
	}
}
