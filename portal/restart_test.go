package portal

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/sqlite"
)

// TestRestartConsistent stops the service without a shutdown at points of
// enrollment and login and reopens the database: nothing half-done is
// usable, nothing done is lost, no challenge works twice.
func TestRestartConsistent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	st := openFile(t, path)
	h := newHarnessStore(t, st)
	h.addUser("max", "password1")
	d := h.enroll("max", "password1")
	key := h.svc.PublicKey()
	ctx := context.Background()

	// An activation that was answered but never confirmed, and a login.
	enr, _ := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "max", Password: "password1"})
	act, _ := protocol.NewActivationKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	a, err := h.client.Activate(ctx, enr.ID, protocol.ActivateRequest{Code: h.gw.last(t).Code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	l1 := h.login("max", "password1")
	l2 := h.login("max", "password1")
	if code, _ := h.answer(l1.ID, d.respond(t, l1.Challenge)); code != 200 {
		t.Fatal(code)
	}
	// "Kill": drop the server and the database handle.
	h.ts.CloseClientConnections()
	h.ts.Close()
	st.Close()

	st2 := openFile(t, path)
	h2 := newHarnessStore(t, st2)
	h2.clock.t = h.clock.Now()
	if string(h2.svc.PublicKey()) != string(key) {
		t.Fatal("the service identity changed across a restart")
	}
	if code, _ := h2.answer(l1.ID, d.respond(t, l1.Challenge)); code != http.StatusGone {
		t.Fatalf("challenge used twice across a restart: %d", code)
	}
	if code, _ := h2.answer(l2.ID, d.respond(t, l2.Challenge)); code != 200 {
		t.Fatalf("pending challenge lost: %d", code)
	}
	// The unconfirmed device is not usable; the old one still is.
	if _, err := h2.client.Events(ctx, a.DeviceID, tok, 0, 0); apiCode(err) != protocol.CodeUnauthorized {
		t.Fatalf("half-enrolled device: %v", err)
	}
	ds, _ := core.ListDevices(ctx, st2, "max")
	active := 0
	for _, x := range ds {
		if x.State == store.DeviceActive {
			active++
			if x.ID != d.id {
				t.Fatal("the wrong device is active")
			}
		}
	}
	if active != 1 {
		t.Fatalf("%d active devices", active)
	}
	// Reopening migrates nothing twice.
	st2.Close()
	st3 := openFile(t, path)
	st3.Close()
}

func TestDatabaseFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	st := openFile(t, path)
	defer st.Close()
	if _, err := core.ServiceKey(context.Background(), st, rand.Reader); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", sqlite.DefaultKeyFile(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
