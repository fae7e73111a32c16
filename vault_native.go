//go:build !js

package main

import (
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"

	"ibkey/app/device"
	"ibkey/authcore/vault"
	"ibkey/platform"
)

// openVault opens the vault in dir (see vaultDir when it is "") with the
// platform's SecretStore and Biometrics.
func openVault(a fyne.App, dir string) (*vault.Vault, platform.Biometrics, error) {
	if dir == "" {
		var err error
		if dir, err = vaultDir(a); err != nil {
			return nil, nil, err
		}
	}
	bio := platform.NewBiometrics()
	v, err := device.OpenVault(dir, bio, os.Stderr)
	return v, bio, err
}

// vaultDir is the vault's folder when none is given. On a phone it is the
// folder "vault" in the app's own storage (Fyne's storage root: Android's
// files folder, iOS's Documents), since os.UserConfigDir needs $HOME,
// which Android apps do not have. On a desktop it is the command line's
// folder ($IBKEY_VAULT, else the config folder's ibkey), so that the two
// share the vault.
func vaultDir(a fyne.App) (string, error) {
	if a.Driver().Device().IsMobile() {
		return filepath.Join(a.Storage().RootURI().Path(), "vault"), nil
	}
	return device.DefaultVaultDir()
}
