package protocol

import (
	"errors"
	"net/url"
	"strings"
)

// Enrollment by link: the logged-in Client Portal starts an enrollment and
// shows it as a QR code of a link and as a typed Session ID. The device
// exchanges the session for an enrollment (Client.EnrollSession) and
// activates it with the session in place of an activation code.
//
//	ibkey://enroll?service=https%3A%2F%2Fibkey.example&session=K7QF2MZPXW3D9HJT
//	https://ibkey.example/enroll?session=K7QF2MZPXW3D9HJT   (accepted too)
//	K7QF-2MZP-XW3D-9HJT                                     (the Session ID alone)

// SessionIDLen is the length of a Session ID in characters of
// SessionAlphabet: 16 characters, 80 random bits.
const SessionIDLen = 16

// SessionAlphabet is Crockford's base32: digits and upper-case letters
// without I, L, O and U, so that a typed Session ID is hard to get wrong.
const SessionAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// LinkScheme is the scheme of enrollment links.
const LinkScheme = "ibkey"

// ErrBadLink: the text is neither an enrollment link nor a Session ID.
var ErrBadLink = errors.New("protocol: not an enrollment link or Session ID")

// maxLink caps the length of a link that ParseEnrollLink reads.
const maxLink = 2048

// NormalizeSessionID returns the canonical form of a typed Session ID: the
// 16 characters without spaces or dashes, in upper case, with the letters
// people confuse with digits read as the digits (O as 0, I and L as 1).
func NormalizeSessionID(s string) (string, error) {
	if len(s) > 4*SessionIDLen {
		return "", ErrBadLink
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 0x7f || strings.IndexByte(SessionAlphabet, byte(r)) < 0 {
			return "", ErrBadLink
		}
		b.WriteRune(r)
	}
	if b.Len() != SessionIDLen {
		return "", ErrBadLink
	}
	return b.String(), nil
}

// FormatSessionID groups a canonical Session ID by four for people:
// "K7QF-2MZP-XW3D-9HJT".
func FormatSessionID(session string) string {
	var b strings.Builder
	for i, r := range session {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// EnrollLink returns the link of the QR code for the service at base and a
// canonical Session ID: ibkey://enroll?service=BASE&session=SESSION.
func EnrollLink(service, session string) string {
	q := url.Values{}
	q.Set("service", service)
	q.Set("session", session)
	return LinkScheme + "://enroll?" + q.Encode()
}

// ParseEnrollLink reads what a person scanned, pasted or typed: an
// enrollment link (ibkey://enroll?service=URL&session=ID, or
// https://HOST[/PATH]/enroll?session=ID where the service is
// https://HOST[/PATH]) or a Session ID alone, in which case service is ""
// (the caller's configured service). session is canonical
// (NormalizeSessionID); service is an http or https URL without a query,
// fragment or user info, and without a trailing slash.
func ParseEnrollLink(s string) (service, session string, err error) {
	s = strings.TrimSpace(s)
	if len(s) > maxLink {
		return "", "", ErrBadLink
	}
	if !strings.Contains(s, ":") {
		session, err = NormalizeSessionID(s)
		return "", session, err
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", ErrBadLink
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q["session"]) != 1 || u.Fragment != "" || u.User != nil {
		return "", "", ErrBadLink
	}
	switch u.Scheme {
	case LinkScheme:
		// ibkey://enroll?... (host "enroll") or ibkey:enroll?... (opaque).
		if !(u.Host == "enroll" && (u.Path == "" || u.Path == "/")) && u.Opaque != "enroll" {
			return "", "", ErrBadLink
		}
		if len(q["service"]) != 1 || len(q) != 2 {
			return "", "", ErrBadLink
		}
		service = q.Get("service")
	case "https", "http":
		if len(q) != 1 || u.Host == "" || u.Opaque != "" {
			return "", "", ErrBadLink
		}
		base, ok := strings.CutSuffix(u.EscapedPath(), "/enroll")
		if !ok {
			return "", "", ErrBadLink
		}
		service = u.Scheme + "://" + u.Host + base
	default:
		return "", "", ErrBadLink
	}
	if service, err = checkService(service); err != nil {
		return "", "", err
	}
	if session, err = NormalizeSessionID(q.Get("session")); err != nil {
		return "", "", err
	}
	return service, session, nil
}

// checkService checks a service URL of a link and returns it without a
// trailing slash.
func checkService(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" || strings.ContainsAny(s, " \t\r\n\\#") {
		return "", ErrBadLink
	}
	return strings.TrimSuffix(s, "/"), nil
}
