// Package web is the Client Portal: the web pages where people log in to
// the IB Key service, by challenge/response or by approving a notification
// on their phone, and where they change their password and add a device.
//
// # Which to use
//
// The pages are a transport over the service's core (package core): they
// call its operations through [Backend], which *core.Service implements as
// it is, and match its domain errors (core.ErrLocked, ...). The service
// mounts [New] at the root of its mux, next to its /api/ routes
// (portal.Server.MountWeb):
//
//	mux.Handle("/", web.New(svc, web.Options{Secure: tlsOn, Sessions: svc.PortalSessions(), ...}))
//
// Templates, stylesheet and script are embedded. Sessions live in a
// [SessionStore]: the service's store (so that every instance serves every
// session) or, by default, memory.
//
// # Pages
//
// After the username and password, one page offers both ways at once: the
// number to match for the notification sent to the phone (a small script,
// /static/poll.js, polls /login/status and moves on by itself) and the
// challenge code with a field for the response string (a plain form, which
// works without script). A wrong response or an expired challenge says so
// and starts over; a locked account says what to do.
//
// Changing the password and adding a device ask for a step-up first:
// username, password and challenge/response again. A step-up allows one
// task for a few minutes ([Options].StepUp). Adding a device shows a QR code
// of the enrollment link and the same as a typed Session ID.
//
// A login approved while the password is a temporary one (an administrator
// issued it, sealed to the device) leads to "Choose a new password" and
// nowhere else until it is set: the session is logged in only then.
//
// "Didn't receive a security code?" sends the activation code of a pending
// enrollment again, by SMS or by voice; it asks for the password, since the
// person has no device to log in with yet. The developer outbox page
// ([Options].DevOutbox) shows the messages the service sent, to loopback
// clients only.
//
// # Security
//
// Every form carries a synchronizer token tied to the session, and POSTs
// from another origin are refused. The session cookie is HttpOnly and
// SameSite=Strict, and Secure with the __Host- prefix under TLS; the session
// id and token change at login and at each step-up. Responses carry a
// Content-Security-Policy that allows no inline script or style and no
// framing, X-Content-Type-Options: nosniff, and HSTS under TLS. Request
// bodies are capped at 16 KiB. Faults are logged and never shown.
package web
