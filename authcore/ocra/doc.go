// Package ocra computes and verifies one-time passwords: OCRA challenge/
// response ([RFC 6287]), HOTP ([RFC 4226]) and TOTP ([RFC 6238]), on one
// HMAC and truncation core.
//
// # Which to use
//
// Parse the suite once with [ParseSuite], make a [Generator] for the suite
// and key, and call [Generator.Generate] on the device or [Generator.Verify]
// on the service. Verify takes a [Window] of counters and time steps and
// returns the [Match] it found, so that the caller can refuse replays. For
// HOTP and TOTP codes use [NewOTP].
//
// # Errors
//
// Every input that comes from outside is checked: a malformed suite gives a
// [*SuiteError] (unwrapping to [ErrSuite]); a challenge, counter, PIN,
// session or time that the suite refuses or needs gives one of the
// sentinel errors, wrapped in an [*InputError] where it names a field.
// Responses are compared in constant time.
//
// [RFC 6287]: https://www.rfc-editor.org/rfc/rfc6287
// [RFC 4226]: https://www.rfc-editor.org/rfc/rfc4226
// [RFC 6238]: https://www.rfc-editor.org/rfc/rfc6238
package ocra
