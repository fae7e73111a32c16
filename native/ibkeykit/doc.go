// Package ibkeykit is the door of native iOS and Android apps to
// authcore: the same OCRA engine, vault and flows with the service as the
// Fyne app and the command line, with an API in the types that gobind
// (golang.org/x/mobile, `gomobile bind`) carries to Java, Kotlin,
// Objective-C and Swift: strings, bools, int64s, byte arrays, errors,
// structs of those and interfaces. docs/MOBILE.md says how to build it and
// use it from Swift and Kotlin.
//
// It holds no logic of its own: every step is a call of authcore/device,
// authcore/vault or authcore/ocra, so it keeps their guarantees. A wrong
// PIN gives a wrong response, never an error (only the service can tell,
// and it counts toward its lockout); the vault file is replaced
// atomically under a lock; login requests and deliveries are taken only
// when they verify under the service key pinned at enrollment.
//
// # Which to use
//
// [OCRA], [HOTP] and [TOTP] compute one code from a key. Everything else
// goes through a [Vault]: [OpenVault] over a folder of the app's storage
// and the two seams the native app implements, [SecretStore] (the
// Keychain, the Keystore) and [Biometrics] (may be nil). Then:
//
//   - users: [Vault.Users], [Vault.User], [Vault.Rename], [Vault.Remove],
//     [Vault.ChangePIN];
//   - a challenge: [Vault.Respond] with [WithPIN] or [WithBiometric];
//   - adding a user: [Vault.StartEnrollment], [Vault.Resend] (a voice
//     call), [Vault.Activate] with the code, then [Activation.Confirm];
//   - seamless login: [Vault.Poll], then [Vault.Approve] with the number
//     the browser shows, or [Vault.Deny] with a reason;
//   - the inbox (temporary passwords): [Vault.Inbox].
//
// # Errors
//
// Every error of this package has a stable code, one of the Code
// constants, that a native app switches on: [Code] returns it, from the
// Go error or from the exception a native app got (its message starts
// "ibkeykit: CODE:"). The rest of the message is for logs, and holds no
// secret.
//
// # Objects made by their constructors
//
// gobind gives every exported struct a public constructor. Those whose
// values only this package makes ([Vault], [Activation], [Request]) are
// empty when made so, and refuse every call with [CodeInvalid].
package ibkeykit
