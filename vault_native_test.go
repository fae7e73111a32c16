//go:build !js

package main

import (
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"

	"ibkey/app/device"
)

// TestVaultDir: on a phone (go test -tags mobile) the vault lives in the
// app's own storage, which needs no $HOME; on a desktop in the command
// line's folder.
func TestVaultDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the test app's storage root
	a := test.NewTempApp(t)
	t.Setenv("IBKEY_VAULT", filepath.Join(t.TempDir(), "cli-vault"))
	got, err := vaultDir(a)
	if err != nil {
		t.Fatal(err)
	}
	if a.Driver().Device().IsMobile() {
		t.Setenv("HOME", "") // as in an Android app
		root := a.Storage().RootURI().Path()
		if want := filepath.Join(root, "vault"); got != want || root != os.Getenv("TMPDIR") {
			t.Fatalf("on a phone: %q, want %q", got, want)
		}
		t.Setenv(device.SecretStoreEnv, "file") // not the desktop's keyring
		v, _, err := openVault(a, "")
		if err != nil {
			t.Fatalf("open the vault on a phone: %v", err)
		}
		if len(v.Users()) != 0 {
			t.Fatal("a new vault has users")
		}
		return
	}
	if want, _ := device.DefaultVaultDir(); got != want {
		t.Fatalf("on a desktop: %q, want the command line's %q", got, want)
	}
}
