// Package vault keeps the users of one device: who they are (name, account,
// service, pinned service identity, OCRA suite, device id), their OCRA
// secrets sealed behind a PIN or a biometric check, and the keys that must
// work before unlock.
//
// # Which to use
//
// [Open] a folder with the platform's SecretStore (and Biometrics, when the
// device has them); in a browser, [OpenStorage] the IndexedDB [Storage]. [Vault.Add] enrolls a user, [Vault.Users] lists them,
// [Vault.Unlock] opens one user's secret and [Secret.Respond] answers a
// challenge with it. Close the Secret when done.
//
// # No PIN oracle
//
// The PIN gate seals the secret with a keystream and no MAC: the key is
// Argon2id over the PIN, a per-seal salt and a device pepper kept in the
// SecretStore. Every PIN opens something; a wrong PIN opens a wrong secret,
// whose responses only the service can tell from the right ones. Nothing
// stored depends on the PIN through a check that a copy of the files could
// run: not a MAC, a tag, a hash or a public key. The Argon2id parameters are
// stored with each seal and capped when read ([MaxMemoryKiB], [MaxTime],
// [MaxThreads]).
//
// The biometric gate seals the secret with an AEAD under a random key that
// the platform releases only after a successful biometric check. A user can
// have both gates.
//
// A soft DSC+ card ([GateCard]) has a suite with a PIN input (P): the PIN is
// part of the OCRA computation and the service verifies it. The secret is
// sealed under the vault key only.
//
// # The file
//
// All users live in one file, vault.ibk: a magic, a version and an AEAD
// (XChaCha20-Poly1305) over a JSON body under the vault key from the
// SecretStore. Writes are atomic (temporary file, fsync, rename, fsync of
// the folder) and made under a lock file, so that two processes do not lose
// each other's users. The file and the lock are reached through [Storage],
// a seam with a second backend in the browser: one IndexedDB record per
// file, replaced in one transaction, and a Web Lock. A damaged, truncated
// or newer file gives an error ([ErrDamaged], [ErrTooNew]) and is never
// overwritten. The keys that must work before unlock (the device-channel
// key and the delivery key) are sealed under the vault key only, never the
// PIN.
//
// A Vault keeps the file decoded in memory, its PIN and biometric seals
// still sealed, and reads it again only when it changed: when the file's
// stamp (device, inode, size, modification and change times; a generation
// in the browser) is not the one it had when read, or, for a few seconds
// after any write (while the file's times cannot yet tell a second change
// in the same tick), when its bytes differ. So a change made by another
// process (the command line while the app runs) is seen at the next call,
// and a file that did not change is not decrypted again.
package vault
