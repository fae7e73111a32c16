package app

import "ibkey/app/auth"

// The names of package auth, the contract between the UI and an
// authenticator, as the UI and its callers use them.
type (
	Authenticator = auth.Authenticator
	User          = auth.User
	Gate          = auth.Gate
	Channel       = auth.Channel
	Enrollment    = auth.Enrollment
	Activation    = auth.Activation
	Protection    = auth.Protection
	Unlock        = auth.Unlock
	Event         = auth.Event
	LoginRequest  = auth.LoginRequest
	RequestKey    = auth.RequestKey
	DenyReason    = auth.DenyReason
	Delivery      = auth.Delivery
)

// The gates, channels and denial reasons.
const (
	GatePIN          = auth.GatePIN
	GateBiometric    = auth.GateBiometric
	GatePINBiometric = auth.GatePINBiometric
	GateCard         = auth.GateCard

	SMS   = auth.SMS
	Voice = auth.Voice

	DenyFraud   = auth.DenyFraud
	DenyMistake = auth.DenyMistake

	PlaceLocal = auth.PlaceLocal
)

// The outcomes the UI explains (see auth).
var (
	ErrOffline        = auth.ErrOffline
	ErrBadCredentials = auth.ErrBadCredentials
	ErrBadCode        = auth.ErrBadCode
	ErrBadLink        = auth.ErrBadLink
	ErrExpired        = auth.ErrExpired
	ErrRateLimited    = auth.ErrRateLimited
	ErrLocked         = auth.ErrLocked
	ErrWrongNumber    = auth.ErrWrongNumber
	ErrWrongPIN       = auth.ErrWrongPIN
	ErrBadPIN         = auth.ErrBadPIN
	ErrCancelled      = auth.ErrCancelled
	ErrNotFound       = auth.ErrNotFound
	ErrExists         = auth.ErrExists
)
