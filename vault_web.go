//go:build js

package main

import (
	"fyne.io/fyne/v2"

	"ibkey/authcore/vault"
	"ibkey/platform"
)

// webDatabase is the IndexedDB database of the web app's vault.
const webDatabase = "ibkey"

// openVault opens the web app's vault: its files in the browser's
// IndexedDB, its keys wrapped by a WebCrypto key that cannot be exported,
// and biometrics through WebAuthn's PRF where the browser has them. dir is
// not used: a browser has no folders.
func openVault(a fyne.App, dir string) (*vault.Vault, platform.Biometrics, error) {
	db, err := platform.OpenIndexedDB(webDatabase)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := platform.NewWebSecretStore(db)
	if err != nil {
		return nil, nil, err
	}
	bio := platform.NewWebBiometrics(db)
	var vb vault.Biometrics
	if bio.Kind() != platform.BiometricNone {
		vb = bio
	}
	v, err := vault.OpenStorage(db, secrets, vb)
	return v, bio, err
}
