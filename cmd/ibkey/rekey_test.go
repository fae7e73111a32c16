package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminRekeyAndBackup: `ibkey admin rekey` seals the database under a
// new key file, after which only that one opens it; `ibkey admin backup`
// copies it, and the copy opens with the same key file.
func TestAdminRekeyAndBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "svc.db")
	newKey := filepath.Join(dir, "new.key")
	if r := runIbkey(t, "password1\n", nil, "admin", "useradd", "--db", db, "--username", "bob", "--phone", "+15550001234"); r.code != 0 {
		t.Fatalf("useradd: %+v", r)
	}
	old, _ := os.ReadFile(db + ".key")
	args := []string{"admin", "rekey", "--db", db}
	wantFailure(t, runIbkey(t, "", nil, args...), args)
	r := runIbkey(t, "", nil, "admin", "rekey", "--db", db, "--new-key-file", newKey)
	if r.code != 0 || r.stdout != newKey+"\n" || !strings.Contains(r.stderr, "sealed under "+newKey) {
		t.Fatalf("rekey: %+v", r)
	}
	if k, _ := os.ReadFile(newKey); len(k) != 32 || string(k) == string(old) {
		t.Fatal("no new key")
	}
	args = []string{"admin", "unlock", "--db", db, "--username", "bob"}
	r = runIbkey(t, "", nil, args...)
	wantFailure(t, r, args)
	if !strings.Contains(r.stderr, "does not open this database") {
		t.Fatalf("the old key after the rekey: %q", r.stderr)
	}
	if r := runIbkey(t, "", nil, "admin", "unlock", "--db", db, "--username", "bob", "--key-file", newKey); r.code != 0 {
		t.Fatalf("the new key: %+v", r)
	}
	copyDB := filepath.Join(dir, "copy.db")
	if r := runIbkey(t, "", nil, "admin", "backup", "--db", db, "--key-file", newKey, "--to", copyDB); r.code != 0 || r.stdout != copyDB+"\n" {
		t.Fatalf("backup: %+v", r)
	}
	if r := runIbkey(t, "", nil, "admin", "devices", "--db", copyDB, "--key-file", newKey, "--username", "bob"); r.code != 0 {
		t.Fatalf("the copy: %+v", r)
	}
	args = []string{"admin", "backup", "--db", db, "--key-file", newKey, "--to", copyDB}
	wantFailure(t, runIbkey(t, "", nil, args...), args)
}
