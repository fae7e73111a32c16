package platform

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"syscall/js"
	"time"
)

// NewWebBiometrics returns the browser's Biometrics: WebAuthn with the PRF
// extension. The first Enroll makes one credential of the device's
// platform authenticator (Face ID, Touch ID, a fingerprint; user
// verification required); each name gets a random 32-byte salt, and its
// key is the credential's PRF output for that salt, which the
// authenticator releases only after user verification and which is the
// same at every call. The credential's id and the salts are kept in db.
//
// Kind is BiometricNone, and Enroll returns ErrUnsupported, where the
// browser has no platform authenticator or says it lacks PRF; then the app
// keeps to the PIN. A browser that does not say (no
// getClientCapabilities) is found out at Enroll: a credential made without
// PRF gives ErrUnsupported. The kind's words are a guess from the user
// agent ([WebBiometricKind]). The prompt is the browser's: it cannot show
// the reason that Authenticate is given.
//
// NewWebBiometrics asks the browser (and so waits for it): call it from a
// goroutine of the app, as the other browser backends.
func NewWebBiometrics(db *IndexedDB) Biometrics {
	return &webBiometrics{db: db, kind: webKind()}
}

type webBiometrics struct {
	db   *IndexedDB
	kind BiometricKind
}

// webKind finds out whether the browser has a platform authenticator that
// may do PRF, and guesses its kind.
func webKind() BiometricKind {
	pkc := js.Global().Get("PublicKeyCredential")
	if !defined(pkc) || !defined(js.Global().Get("navigator").Get("credentials")) {
		return BiometricNone
	}
	if ok, err := callAwait(pkc, "isUserVerifyingPlatformAuthenticatorAvailable"); err != nil || !ok.Truthy() {
		return BiometricNone
	}
	if pkc.Get("getClientCapabilities").Type() == js.TypeFunction {
		caps, err := callAwait(pkc, "getClientCapabilities")
		if err == nil && defined(caps) {
			if prf := caps.Get("extension:prf"); prf.Type() == js.TypeBoolean && !prf.Bool() {
				return BiometricNone
			}
		}
	}
	nav := js.Global().Get("navigator")
	platform := ""
	if uad := nav.Get("userAgentData"); defined(uad) && uad.Get("platform").Type() == js.TypeString {
		platform = uad.Get("platform").String()
	}
	return WebBiometricKind(nav.Get("userAgent").String(), platform)
}

func (b *webBiometrics) Kind() BiometricKind { return b.kind }

// The file that keeps the credential and the salts, and its lock.
const (
	bioFileName = "biometrics"
	bioLockName = "biometrics.lock"
	bioVersion  = 1
	prfSaltLen  = 32
)

// bioFile is the JSON of the biometrics file. It holds no secret: the
// keys come out of the authenticator.
type bioFile struct {
	Version int               `json:"version"`
	Keys    map[string]bioKey `json:"keys"`
}

type bioKey struct {
	Credential []byte `json:"credential"` // the WebAuthn credential's raw id
	Salt       []byte `json:"salt"`       // the PRF input
}

func (b *webBiometrics) load() (*bioFile, error) {
	data, _, err := b.db.Read(bioFileName, 1<<20, time.Now())
	if errors.Is(err, fs.ErrNotExist) {
		return &bioFile{Version: bioVersion, Keys: map[string]bioKey{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var f bioFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != bioVersion {
		return nil, fmt.Errorf("%w: the biometric key list", ErrDamaged)
	}
	if f.Keys == nil {
		f.Keys = map[string]bioKey{}
	}
	return &f, nil
}

// update is a read-modify-write of the biometrics file under its lock.
func (b *webBiometrics) update(fn func(f *bioFile)) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		unlock, ok, err := b.db.TryLock(bioLockName)
		if err != nil {
			return err
		}
		if ok {
			defer unlock()
			break
		}
		if time.Now().After(deadline) {
			return errors.New("platform: the biometric key list is locked by another tab")
		}
		time.Sleep(wait)
	}
	f, err := b.load()
	if err != nil {
		return err
	}
	fn(f)
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return b.db.Replace(bioFileName, data)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Enroll makes a new salt for name (and, the first time, the credential)
// and returns the PRF output for it. It shows the browser's prompt once or
// twice (making the credential, then using it, where the authenticator
// gives no PRF output at creation).
func (b *webBiometrics) Enroll(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if b.kind == BiometricNone {
		return nil, ErrUnsupported
	}
	f, err := b.load()
	if err != nil {
		return nil, err
	}
	salt := random(prfSaltLen)
	var cred, key []byte
	for _, k := range f.Keys {
		cred = k.Credential
		break
	}
	if cred == nil {
		if cred, key, err = createCredential(salt); err != nil {
			return nil, err
		}
	}
	if key == nil {
		if key, err = evaluate(cred, salt); err != nil {
			return nil, err
		}
	}
	if err := b.update(func(f *bioFile) { f.Keys[name] = bioKey{Credential: cred, Salt: salt} }); err != nil {
		clear(key)
		return nil, fmt.Errorf("platform: keep the biometric key: %w", err)
	}
	return key, nil
}

// Authenticate shows the browser's prompt and returns the PRF output of
// name's salt. reason is not shown: WebAuthn has no place for it.
func (b *webBiometrics) Authenticate(name, reason string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if b.kind == BiometricNone {
		return nil, ErrUnsupported
	}
	f, err := b.load()
	if err != nil {
		return nil, err
	}
	k, ok := f.Keys[name]
	if !ok {
		return nil, ErrNotFound
	}
	return evaluate(k.Credential, k.Salt)
}

// Remove forgets name's salt, so that its key cannot be had again. When no
// name uses the credential any more, the browser is told that it is gone
// (signalUnknownCredential, where there is one), so that the passkey
// manager may drop it.
func (b *webBiometrics) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	var orphan []byte
	err := b.update(func(f *bioFile) {
		k, ok := f.Keys[name]
		if !ok {
			return
		}
		delete(f.Keys, name)
		orphan = k.Credential
		for _, o := range f.Keys {
			if bytes.Equal(o.Credential, k.Credential) {
				orphan = nil
			}
		}
	})
	if err != nil {
		return err
	}
	if pkc := js.Global().Get("PublicKeyCredential"); orphan != nil && defined(pkc) && pkc.Get("signalUnknownCredential").Type() == js.TypeFunction {
		callAwait(pkc, "signalUnknownCredential", map[string]any{
			"rpId":         js.Global().Get("location").Get("hostname"),
			"credentialId": base64.RawURLEncoding.EncodeToString(orphan),
		})
	}
	return nil
}

// prfExtension asks for the PRF output of salt.
func prfExtension(salt []byte) map[string]any {
	return map[string]any{"prf": map[string]any{"eval": map[string]any{"first": toJS(salt)}}}
}

// createCredential makes the platform credential, with user verification,
// and returns its raw id and, where the authenticator gives it at
// creation, the PRF output of salt.
func createCredential(salt []byte) (cred, key []byte, err error) {
	opts := map[string]any{"publicKey": map[string]any{
		"rp":   map[string]any{"name": "IB Key"},
		"user": map[string]any{"id": toJS(random(16)), "name": "IB Key", "displayName": "IB Key on this device"},
		// Nothing verifies the attestation or the signature: only the PRF
		// output counts, so the challenge is random and dropped.
		"challenge": toJS(random(32)),
		"pubKeyCredParams": []any{
			map[string]any{"type": "public-key", "alg": -7},   // ES256
			map[string]any{"type": "public-key", "alg": -8},   // EdDSA
			map[string]any{"type": "public-key", "alg": -257}, // RS256
		},
		"authenticatorSelection": map[string]any{
			"authenticatorAttachment": "platform",
			"userVerification":        "required",
			"residentKey":             "discouraged",
		},
		"hints":       []any{"client-device"},
		"attestation": "none",
		"timeout":     120000,
		"extensions":  prfExtension(salt),
	}}
	c, err := callAwait(js.Global().Get("navigator").Get("credentials"), "create", opts)
	if err != nil {
		return nil, nil, promptError(err)
	}
	if !defined(c) {
		return nil, nil, ErrBiometricCancelled
	}
	if cred, err = fromJS(c.Get("rawId"), -1); err != nil {
		return nil, nil, err
	}
	prf := c.Call("getClientExtensionResults").Get("prf")
	if !defined(prf) || !prf.Get("enabled").Truthy() {
		return nil, nil, fmt.Errorf("%w: the authenticator has no PRF", ErrUnsupported)
	}
	if first := prf.Get("results"); defined(first) && defined(first.Get("first")) {
		if key, err = prfKey(first.Get("first")); err != nil {
			return nil, nil, err
		}
	}
	return cred, key, nil
}

// evaluate asks the authenticator, with user verification, for the PRF
// output of salt under the credential cred.
func evaluate(cred, salt []byte) ([]byte, error) {
	opts := map[string]any{"publicKey": map[string]any{
		"challenge":        toJS(random(32)),
		"allowCredentials": []any{map[string]any{"type": "public-key", "id": toJS(cred)}},
		"userVerification": "required",
		"hints":            []any{"client-device"},
		"timeout":          120000,
		"extensions":       prfExtension(salt),
	}}
	a, err := callAwait(js.Global().Get("navigator").Get("credentials"), "get", opts)
	if err != nil {
		return nil, promptError(err)
	}
	if !defined(a) {
		return nil, ErrBiometricCancelled
	}
	// The user-verified flag (bit 2 of the flags byte, after the 32-byte
	// RP id hash). (CTAP 2.1's hmac-secret also gives another output
	// without user verification, which would not open the seal.)
	ad, err := fromJS(a.Get("response").Get("authenticatorData"), -1)
	if err != nil || len(ad) < 33 {
		return nil, fmt.Errorf("platform: biometric check: no authenticator data")
	}
	if ad[32]&0x04 == 0 {
		return nil, ErrBiometricFailed
	}
	prf := a.Call("getClientExtensionResults").Get("prf")
	if !defined(prf) || !defined(prf.Get("results")) || !defined(prf.Get("results").Get("first")) {
		return nil, fmt.Errorf("%w: the authenticator gave no PRF output", ErrUnsupported)
	}
	return prfKey(prf.Get("results").Get("first"))
}

func prfKey(v js.Value) ([]byte, error) {
	key, err := fromJS(v, -1)
	if err != nil || len(key) != biometricKeyLen {
		return nil, fmt.Errorf("platform: biometric check: a PRF output of %d bytes, want %d", len(key), biometricKeyLen)
	}
	return key, nil
}

// promptError maps the browser's refusals: NotAllowedError is what a
// cancelled prompt, a timeout and a failed check all give (the browser
// does not tell them apart, on purpose).
func promptError(err error) error {
	switch {
	case errName(err, "NotAllowedError"), errName(err, "AbortError"):
		return fmt.Errorf("%w (%w)", ErrBiometricCancelled, err)
	case errName(err, "NotSupportedError"):
		return fmt.Errorf("%w (%w)", ErrUnsupported, err)
	}
	return fmt.Errorf("platform: biometric check: %w", err)
}
