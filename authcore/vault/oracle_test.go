package vault

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"ibkey/authcore/ocra"
)

// An attacker holds a copy of the device's files and, worse, the secret
// store too (the vault key and the pepper: the file store case). These
// tests look for any stored field that lets the attacker tell the right
// PIN from a wrong one.

// storedFields returns every value a copy of the device holds: the file's
// bytes, the secret store's secrets and every leaf of the decrypted body
// (strings as they are and base64-decoded).
func storedFields(t *testing.T, fileData []byte, store *memStore, plain []byte) [][]byte {
	t.Helper()
	fields := [][]byte{fileData}
	for _, b := range store.m {
		fields = append(fields, b)
	}
	var tree any
	if err := json.Unmarshal(plain, &tree); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				fields = append(fields, []byte(k))
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		case string:
			fields = append(fields, []byte(x))
			if b, err := base64.StdEncoding.DecodeString(x); err == nil {
				fields = append(fields, b)
			}
		case float64:
			fields = append(fields, []byte(fmt.Sprint(x)))
		}
	}
	walk(tree)
	return append(fields, plain)
}

// oracles are the checks an attacker could run on a candidate secret (and
// the PIN key it came from) against the stored fields. Each returns the
// name of the check that matched, or "".
func oracle(candidate, pinKey []byte, suite ocra.Suite, fields [][]byte) string {
	contains := func(d []byte) bool {
		for _, f := range fields {
			if len(d) >= 4 && bytes.Contains(f, d) {
				return true
			}
		}
		return false
	}
	derived := map[string][]byte{"secret": candidate, "PIN key": pinKey}
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"sha1", sha1.New}, {"sha256", sha256.New}, {"sha512", sha512.New}} {
		for _, src := range []string{"secret", "PIN key"} {
			d := h.new()
			d.Write(derived[src])
			sum := d.Sum(nil)
			derived[h.name+"("+src+")"] = sum[:8] // a truncated check value too
			// HMACs keyed by the candidate over each other field.
			for i, f := range fields {
				if len(f) > 256 {
					continue
				}
				m := hmac.New(h.new, derived[src])
				m.Write(f)
				derived[fmt.Sprintf("hmac-%s(%s, field %d)", h.name, src, i)] = m.Sum(nil)[:8]
			}
		}
	}
	if len(candidate) == 32 {
		if k, err := ecdh.X25519().NewPrivateKey(candidate); err == nil {
			derived["x25519 public"] = k.PublicKey().Bytes()
		}
		derived["ed25519 public"] = ed25519.NewKeyFromSeed(candidate).Public().(ed25519.PublicKey)
	}
	for _, c := range []string{"0000", "00000000", "123456"} {
		if r, err := ocra.Generate(suite, candidate, ocra.Input{Challenge: c}); err == nil {
			derived["response to "+c] = []byte(r)
		}
	}
	for name, d := range derived {
		if contains(d) {
			return name
		}
	}
	// An AEAD under the candidate or the PIN key that opens any field with
	// any nonce-sized field.
	for _, key := range [][]byte{candidate, pinKey} {
		if len(key) != 32 {
			continue
		}
		for _, mk := range []func([]byte) (cipherAEAD, error){
			func(k []byte) (cipherAEAD, error) { return chacha20poly1305.New(k) },
			func(k []byte) (cipherAEAD, error) { return chacha20poly1305.NewX(k) },
		} {
			a, _ := mk(key)
			for _, n := range fields {
				if len(n) != a.NonceSize() {
					continue
				}
				for _, ct := range fields {
					if len(ct) >= a.Overhead() && len(ct) < 4096 {
						if _, err := a.Open(nil, n, ct, nil); err == nil {
							return "AEAD under a key from the PIN"
						}
					}
				}
			}
		}
	}
	return ""
}

type cipherAEAD interface {
	NonceSize() int
	Overhead() int
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
}

// attack tries PINs against the pin seal of every user in plain and
// returns the PINs for which some stored field matched.
func attack(t *testing.T, v *Vault, store *memStore, fileData, plain []byte, pins []string) map[string]string {
	t.Helper()
	b, err := decodeBody(plain)
	if err != nil {
		t.Fatal(err)
	}
	fields := storedFields(t, fileData, store, plain)
	hits := map[string]string{}
	for _, r := range b.Users {
		if r.PIN == nil {
			continue
		}
		suite := ocra.MustParseSuite(r.Suite)
		for _, pin := range pins {
			candidate := r.PIN.open(pin, v.pepper)
			// The PIN key itself: the keystream's first 32 bytes are not
			// it, so derive it as the vault does.
			m := hmac.New(sha256.New, v.pepper)
			m.Write([]byte("ibkey vault pin v1\x00"))
			m.Write([]byte(pin))
			pinKey := argonKey(m.Sum(nil), r.PIN)
			if name := oracle(candidate, pinKey, suite, fields); name != "" {
				hits[r.Name+"/"+pin] = name
			}
		}
	}
	return hits
}

func decrypt(t *testing.T, v *Vault, data []byte) []byte {
	t.Helper()
	a, _ := chacha20poly1305.NewX(v.key)
	plain, err := a.Open(nil, data[headerSize:headerSize+a.NonceSize()], data[headerSize+a.NonceSize():], data[:headerSize])
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

var oraclePINs = []string{"2468", "2469", "0000", "1357", "9999", "abcd", "24680", "Zz9_-+"}

func TestNoPINOracle(t *testing.T) {
	t.Parallel()
	v, store, _ := newTest(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	// Every kind of user and every stored key.
	u := pinUser("alice", "2468", secret32(1))
	u.ServiceKey, u.ChannelKey, u.DeliveryKey = pub, []byte("channel key of alice"), x.Bytes()
	mustAdd(t, v, u)
	u = pinUser("bob", "2468", secret32(50))
	u.Biometric = true
	mustAdd(t, v, u)
	mustAdd(t, v, NewUser{Name: "card", Suite: suiteCard, Secret: secret32(90), Card: true})
	u = pinUser("imported", "Zz9_-+", []byte("12345678901234567890"))
	u.Suite = ocra.MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08")
	mustAdd(t, v, u)
	if _, err := v.Unlock("alice", Unlock{PIN: "2468"}, testNow); err != nil { // LastUsed too
		t.Fatal(err)
	}

	data, err := os.ReadFile(v.path)
	if err != nil {
		t.Fatal(err)
	}
	plain := decrypt(t, v, data)
	if hits := attack(t, v, store, data, plain, oraclePINs); len(hits) > 0 {
		t.Fatalf("stored fields check PIN guesses: %v", hits)
	}
}

// The oracle search finds an oracle when there is one: a check value or an
// AEAD slot (as Aegis has) planted in the body.
func TestNoPINOracleDetects(t *testing.T) {
	t.Parallel()
	for _, plant := range []string{"hash", "aead"} {
		t.Run(plant, func(t *testing.T) {
			t.Parallel()
			v, store, _ := newTest(t)
			secret := secret32(1)
			mustAdd(t, v, pinUser("alice", "2468", secret))
			data, _ := os.ReadFile(v.path)
			var tree map[string]any
			json.Unmarshal(decrypt(t, v, data), &tree)
			user := tree["users"].([]any)[0].(map[string]any)
			switch plant {
			case "hash":
				sum := sha256.Sum256(secret)
				user["check"] = base64.StdEncoding.EncodeToString(sum[:8])
			case "aead":
				b, _ := decodeBody(decrypt(t, v, data))
				m := hmac.New(sha256.New, v.pepper)
				m.Write([]byte("ibkey vault pin v1\x00"))
				m.Write([]byte("2468"))
				a, _ := chacha20poly1305.NewX(argonKey(m.Sum(nil), b.Users[0].PIN))
				nonce := make([]byte, a.NonceSize())
				user["aegis_nonce"] = base64.StdEncoding.EncodeToString(nonce)
				user["aegis_slot"] = base64.StdEncoding.EncodeToString(a.Seal(nil, nonce, secret, nil))
			}
			plain, _ := json.Marshal(tree)
			// decodeBody refuses unknown fields; attack reads the tree,
			// so strip them for the typed view and keep them as fields.
			hits := attackPlanted(t, v, store, data, plain)
			if len(hits) != 1 || hits["alice/2468"] == "" {
				t.Fatalf("planted %s oracle: hits %v, want exactly the right PIN", plant, hits)
			}
		})
	}
}

func attackPlanted(t *testing.T, v *Vault, store *memStore, data, plain []byte) map[string]string {
	t.Helper()
	var tree map[string]any
	json.Unmarshal(plain, &tree)
	for _, u := range tree["users"].([]any) {
		m := u.(map[string]any)
		delete(m, "check")
		delete(m, "aegis_nonce")
		delete(m, "aegis_slot")
	}
	typed, _ := json.Marshal(tree)
	b, err := decodeBody(typed)
	if err != nil {
		t.Fatal(err)
	}
	fields := storedFields(t, data, store, plain)
	hits := map[string]string{}
	for _, r := range b.Users {
		suite := ocra.MustParseSuite(r.Suite)
		for _, pin := range oraclePINs {
			m := hmac.New(sha256.New, v.pepper)
			m.Write([]byte("ibkey vault pin v1\x00"))
			m.Write([]byte(pin))
			if name := oracle(r.PIN.open(pin, v.pepper), argonKey(m.Sum(nil), r.PIN), suite, fields); name != "" {
				hits[r.Name+"/"+pin] = name
			}
		}
	}
	return hits
}
