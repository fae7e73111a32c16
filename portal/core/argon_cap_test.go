package core_test

import (
	"encoding/base64"
	"testing"

	"golang.org/x/crypto/argon2"

	"ibkey/portal/core"
)

// TestCheckPasswordMemoryCap: a stored hash of exactly 256 MiB, the most
// a hash may ask (docs/PROTOCOL.md, "passwords"), is checked; one KiB more
// is refused (TestPassword). The hash is made here with x/crypto's
// Argon2id, in PHC form, apart from HashPassword.
func TestCheckPasswordMemoryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes with 256 MiB twice")
	}
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte("password1"), salt, 1, 256*1024, 1, 32)
	enc := base64.RawStdEncoding
	h := "$argon2id$v=19$m=262144,t=1,p=1$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(sum)
	if ok, err := core.CheckPassword(h, "password1"); !ok || err != nil {
		t.Fatalf("a hash of 256 MiB: %v %v, want it checked", ok, err)
	}
}
