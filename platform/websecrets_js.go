package platform

import (
	"crypto/rand"
	"fmt"
	"syscall/js"
)

// wrapKeyName is the name of the SecretStore's wrapping key in the
// database's keys store.
const wrapKeyName = "secret-store-wrap-key"

// NewWebSecretStore returns the browser's SecretStore: the file store's
// format, kept in db, with every secret sealed (AES-256-GCM, a fresh IV,
// the secret's name as associated data) under a WebCrypto key that is
// generated in the browser with extractable false and kept in db as a
// CryptoKey: no script, this one included, can read its bytes, only ask
// the browser to use it. The first call in an origin generates the key; a
// second tab racing it keeps the first key stored.
func NewWebSecretStore(db *IndexedDB) (SecretStore, error) {
	key, err := db.wrapKey()
	if err != nil {
		return nil, err
	}
	return &fileStore{st: db, path: db.String() + "/" + secretFileName, sealr: webSealer{key}}, nil
}

// wrapKey returns the wrapping key, generating and storing it the first
// time. add, not put: when another tab stored one first, its key is kept
// and used.
func (d *IndexedDB) wrapKey() (js.Value, error) {
	get := func() (js.Value, error) {
		res, err := d.tx("readonly", []any{idbKeys}, func(tx js.Value) ([]js.Value, error) {
			s, err := store(tx, idbKeys)
			if err != nil {
				return nil, err
			}
			r, err := call(s, "get", wrapKeyName)
			return []js.Value{r}, err
		})
		if err != nil {
			return js.Value{}, fmt.Errorf("platform: read the wrapping key: %w", err)
		}
		return res[0], nil
	}
	key, err := get()
	if err != nil || defined(key) {
		return key, err
	}
	subtle := js.Global().Get("crypto").Get("subtle")
	if !defined(subtle) {
		return js.Value{}, fmt.Errorf("%w: this browser has no WebCrypto (the app needs HTTPS)", ErrUnsupported)
	}
	key, err = callAwait(subtle, "generateKey",
		map[string]any{"name": "AES-GCM", "length": 256}, false, []any{"encrypt", "decrypt"})
	if err != nil {
		return js.Value{}, fmt.Errorf("platform: make the wrapping key: %w", err)
	}
	_, err = d.tx("readwrite", []any{idbKeys}, func(tx js.Value) ([]js.Value, error) {
		s, err := store(tx, idbKeys)
		if err != nil {
			return nil, err
		}
		_, err = call(s, "add", key, wrapKeyName)
		return nil, err
	})
	if errName(err, "ConstraintError") {
		return get()
	}
	if err != nil {
		return js.Value{}, fmt.Errorf("platform: keep the wrapping key: %w", err)
	}
	return key, nil
}

// webSealer seals with the non-extractable AES-GCM key.
type webSealer struct{ key js.Value }

const gcmIV = 12

func sealAD(name string) []byte { return append([]byte("ibkey web secret v1\x00"), name...) }

func (w webSealer) seal(name string, secret []byte) ([]byte, error) {
	iv := make([]byte, gcmIV)
	rand.Read(iv)
	ct, err := callAwait(js.Global().Get("crypto").Get("subtle"), "encrypt",
		map[string]any{"name": "AES-GCM", "iv": toJS(iv), "additionalData": toJS(sealAD(name))}, w.key, toJS(secret))
	if err != nil {
		return nil, fmt.Errorf("platform: seal %q: %w", name, err)
	}
	b, err := fromJS(ct, -1)
	if err != nil {
		return nil, fmt.Errorf("platform: seal %q: %w", name, err)
	}
	return append(iv, b...), nil
}

func (w webSealer) open(name string, sealed []byte) ([]byte, error) {
	if len(sealed) < gcmIV+16 {
		return nil, fmt.Errorf("%w: secret %q is too short", ErrDamaged, name)
	}
	pt, err := callAwait(js.Global().Get("crypto").Get("subtle"), "decrypt",
		map[string]any{"name": "AES-GCM", "iv": toJS(sealed[:gcmIV]), "additionalData": toJS(sealAD(name))}, w.key, toJS(sealed[gcmIV:]))
	if err != nil {
		// OperationError: changed, or sealed under another key.
		return nil, fmt.Errorf("%w: secret %q does not open under this browser's key", ErrDamaged, name)
	}
	return fromJS(pt, -1)
}
