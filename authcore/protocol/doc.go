// Package protocol holds the wire types of the IB Key device API, the key
// derivations that the device and the service share, and [Client], the
// device's client of the service.
//
// # Which to use
//
// A device enrolls with [Client.Enroll], [Client.Activate] (after
// [NewActivationKey] and, on the answer, [DeriveSecret]) and
// [Client.Confirm]. It then listens with [Client.Events], checks each event
// with [OpenEvent] against the pinned service key, answers a login request
// with [ApprovalSession] and [Client.Approve], and reads sealed deliveries
// with [Client.InboxChallenge], [Client.Inbox] and [Open]. To prove the PIN
// alone (before changing it) it uses [Client.PINChallenge] and
// [Client.ProvePIN].
//
// The service uses the same derivations: [DeriveSecret], [Seal] and
// [ApprovalSession]. docs/PROTOCOL.md describes every endpoint.
//
// # Errors
//
// An answer of the service that is not a success is an [*Error] carrying
// its stable code; it unwraps to one of the sentinel errors when the code
// is one the device acts on ([ErrLocked], [ErrInvalidResponse], ...).
package protocol
