package portal

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/internal/atrest"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
)

// secretForms are the ways a secret could sit in a file: raw, hex, base64.
func secretForms(b []byte) map[string][]byte {
	return map[string][]byte{
		"raw":       b,
		"hex":       []byte(hex.EncodeToString(b)),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString(b))),
		"base64":    []byte(base64.StdEncoding.EncodeToString(b)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(b)),
	}
}

// assertNoSecrets fails if any file holds any of the secrets in any form.
func assertNoSecrets(t *testing.T, files []string, secrets map[string][]byte) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			if len(s) == 0 {
				t.Fatalf("no %s to look for", what)
			}
			for form, v := range secretForms(s) {
				if bytes.Contains(data, v) {
					t.Errorf("%s holds the %s (%s)", filepath.Base(f), what, form)
				}
			}
		}
	}
}

func dbFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// TestCopyWithoutKeyRevealsNothing enrolls devices (one a card), stops the
// service, and reads the database's files byte by byte: no OCRA secret,
// card PIN hash or service key is in them in any form. A copy of the
// database alone does not open.
func TestCopyWithoutKeyRevealsNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.db")
	st := openFile(t, path)
	h := newHarnessStore(t, st)
	h.addUser("ann", "password1")
	h.addUser("bo", "password1")
	h.addUser("cy", "password1")
	secrets := map[string][]byte{"service key": h.svc.PrivateKeySeed()}
	for i, u := range []string{"ann", "bo", "cy", "ann"} { // ann twice: a retired device too
		pin := ""
		if u == "cy" {
			pin = "4826"
		}
		d, err := h.tryEnroll(u, "password1", pin)
		if err != nil {
			t.Fatal(err)
		}
		secrets["secret of device "+string(rune('0'+i))] = d.secret
		if pin != "" {
			secrets["card PIN hash"] = sha1Sum(pin)
		}
		l := h.login(u, "password1")
		if code, _ := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
			t.Fatalf("login of %s: %d", u, code)
		}
	}
	// While it runs (the write-ahead log holds the latest pages)...
	assertNoSecrets(t, dbFiles(path), secrets)
	h.ts.Close()
	st.Close()
	// ...and once stopped.
	assertNoSecrets(t, dbFiles(path), secrets)

	// A copy of the database file alone.
	cp := filepath.Join(t.TempDir(), "copy.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = sqlite.OpenKeyFile(cp, "")
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("copy without its key file: %v, want store.ErrWrongKey (missing)", err)
	}
	if _, err := os.Stat(sqlite.DefaultKeyFile(cp)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a key file was made for a sealed database")
	}
	other, _ := store.NewMasterKey(bytes.Repeat([]byte{7}, store.MasterKeySize))
	if _, err := sqlite.Open(cp, other); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("copy with another key: %v", err)
	}
	// With its key file, the copy opens and holds the secrets.
	if err := os.Link(sqlite.DefaultKeyFile(path), sqlite.DefaultKeyFile(cp)); err != nil {
		t.Fatal(err)
	}
	st2 := openFile(t, cp)
	defer st2.Close()
	ds, err := core.ListDevices(context.Background(), st2, "cy")
	if err != nil || len(ds) != 1 || !bytes.Equal(ds[0].PINHash, secrets["card PIN hash"]) {
		t.Fatalf("devices of cy in the copy: %+v, %v", ds, err)
	}
}

// TestWrongKeyFile opens a sealed database with a wrong, a missing and a
// damaged key file: each is a one-line error, and neither the database
// nor the key file changes.
func TestWrongKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.db")
	keyFile := sqlite.DefaultKeyFile(path)
	st := openFile(t, path)
	h := newHarnessStore(t, st)
	h.addUser("ann", "password1")
	d := h.enroll("ann", "password1")
	pub := h.svc.PublicKey()
	h.ts.Close()
	st.Close()
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != store.MasterKeySize {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	good, _ := os.ReadFile(keyFile)
	before := sha256File(t, path)

	wrongFile := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrongFile, bytes.Repeat([]byte{1}, store.MasterKeySize), 0o600)
	shortFile := filepath.Join(dir, "short.key")
	os.WriteFile(shortFile, good[:31], 0o600)
	longFile := filepath.Join(dir, "long.key")
	os.WriteFile(longFile, append(bytes.Clone(good), '\n'), 0o600)
	missing := filepath.Join(dir, "none.key")
	for _, c := range []struct {
		name, keyFile, want string
	}{
		{"wrong", wrongFile, "store: the key file does not open this database (" + wrongFile + ")"},
		{"missing", missing, "store: the key file does not open this database (" + missing + " is missing)"},
		{"short", shortFile, "store: key file " + shortFile + " is not 32 bytes"},
		{"long", longFile, "store: key file " + longFile + " is not 32 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _, err := sqlite.OpenKeyFile(path, c.keyFile)
			if err == nil {
				st.Close()
				t.Fatal("opened")
			}
			if err.Error() != c.want {
				t.Errorf("error %q, want %q", err, c.want)
			}
			if sha256File(t, path) != before {
				t.Error("the database changed")
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a key file was made over a sealed database")
	}
	if k, _ := os.ReadFile(keyFile); !bytes.Equal(k, good) {
		t.Error("the key file changed")
	}
	// The right key still opens it, and the device still answers.
	st, _, err := sqlite.OpenKeyFile(path, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarnessStore(t, st)
	if !h2.svc.PublicKey().Equal(pub) {
		t.Fatal("the service key changed")
	}
	l := h2.login("ann", "password1")
	if code, _ := h2.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("answer after reopening: %d", code)
	}
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// writeV2 writes a database of schema version 2 (before sealing) with the
// secrets in plain bytes: the service key seed, and per device its secret.
func writeV2(t *testing.T, path string, seed []byte, devs map[string]*device) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range []string{"schema/001_init.sql", "schema/002_link.sql"} {
		body, _ := fs.ReadFile(sqlite.Schema, f)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatal(err)
		}
	}
	pw, err := core.HashPassword(rand.Reader, "password1", fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC).UnixNano()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec("INSERT INTO meta(key, value) VALUES('service_key', ?)", seed)
	i := 0
	for user, d := range devs {
		i++
		exec("INSERT INTO accounts(username, account, phone, password, created) VALUES(?,?,?,?,?)", user, "U100000"+string(rune('0'+i)), "+15550001234", pw, now)
		var pinHash []byte
		if d.pin != "" {
			pinHash = sha1Sum(d.pin)
		}
		ch := sha256.Sum256(d.token)
		exec("INSERT INTO devices(id, username, enrollment, state, suite, secret, pin_hash, channel_hash, delivery_key, confirm_challenge, created, expires, activated) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
			d.id, user, "e"+d.id[1:], store.DeviceActive, d.suite.String(), d.secret, pinHash, ch[:], d.delivery.PublicKey().Bytes(), "123456", now, now, now)
	}
	exec("PRAGMA user_version = 2")
}

func newV2Device(t *testing.T, suite, pin string) *device {
	t.Helper()
	id, secret, token := make([]byte, 16), make([]byte, 32), make([]byte, 32)
	rand.Read(id)
	rand.Read(secret)
	rand.Read(token)
	del, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &device{id: hex.EncodeToString(id), token: token, secret: secret, suite: ocra.MustParseSuite(suite), pin: pin, delivery: del}
}

// TestMigratePlaintext opens a database of version 2, whose secrets are in
// plain bytes: the first open with a key seals them in one transaction,
// and the service and its devices work as before.
func TestMigratePlaintext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	devs := map[string]*device{
		"ann": newV2Device(t, protocol.SuiteIBKey, ""),
		"cy":  newV2Device(t, protocol.SuiteDSC, "4826"),
	}
	writeV2(t, path, seed, devs)
	secrets := map[string][]byte{"service key": seed, "card PIN hash": sha1Sum("4826")}
	for u, d := range devs {
		secrets["secret of "+u] = d.secret
	}

	st := openFile(t, path)
	h := newHarnessStore(t, st)
	if !bytes.Equal(h.svc.PrivateKeySeed(), seed) {
		t.Fatal("the service key changed in the migration")
	}
	for u, d := range devs {
		l := h.login(u, "password1")
		if code, eb := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
			t.Fatalf("%s after the migration: %d %+v", u, code, eb)
		}
		if _, err := h.client.Events(context.Background(), d.id, d.token, 0, 0); err != nil {
			t.Fatalf("channel of %s: %v", u, err)
		}
	}
	var version int
	st.DB().QueryRow("PRAGMA user_version").Scan(&version)
	if files, _ := fs.Glob(sqlite.Schema, "schema/*.sql"); version != len(files) {
		t.Fatalf("schema version %d, want %d", version, len(files))
	}
	// The plaintext is gone from the files, free pages and old log
	// frames included.
	assertNoSecrets(t, dbFiles(path), secrets)
	h.ts.Close()
	st.Close()
	assertNoSecrets(t, dbFiles(path), secrets)

	// Reopening seals nothing twice.
	st2 := openFile(t, path)
	defer st2.Close()
	ds, err := core.ListDevices(context.Background(), st2, "")
	if err != nil || len(ds) != 2 {
		t.Fatalf("devices: %v, %v", ds, err)
	}
	for _, d := range ds {
		if !bytes.Equal(d.Secret, devs[d.Username].secret) {
			t.Errorf("secret of %s changed", d.Username)
		}
	}
}

// TestSealedValueBoundToRow swaps the sealed secrets of two devices in the
// database: neither opens, and the service answers 500 (a login too),
// never a response checked against the other device's secret.
func TestSealedValueBoundToRow(t *testing.T) {
	h := newHarness(t)
	h.addUser("ann", "password1")
	h.addUser("bo", "password1")
	da := h.enroll("ann", "password1")
	db := h.enroll("bo", "password1")
	l := h.login("ann", "password1")
	sa := rawBytes(t, h.store, "SELECT secret FROM devices WHERE id = ?", da.id)
	sb := rawBytes(t, h.store, "SELECT secret FROM devices WHERE id = ?", db.id)
	if len(sa) != 32+atrest.Overhead {
		t.Fatalf("stored secret is %d bytes", len(sa))
	}
	rawExec(t, h.store, "UPDATE devices SET secret = ? WHERE id = ?", sb, da.id)
	rawExec(t, h.store, "UPDATE devices SET secret = ? WHERE id = ?", sa, db.id)
	_, err := core.ListDevices(context.Background(), h.store, "ann")
	if !errors.Is(err, atrest.ErrOpen) {
		t.Fatalf("swapped secret: %v, want atrest.ErrOpen", err)
	}
	if code, eb := h.answer(l.ID, db.respond(t, l.Challenge)); code != 500 || eb.Error != protocol.CodeInternal {
		t.Fatalf("answer with a swapped secret: %d %+v", code, eb)
	}
	if code, _ := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: "bo", Password: "password1"}, nil); code != 500 {
		t.Fatalf("login with a swapped secret: %d", code)
	}
}
