package device

import (
	"context"
	"fmt"

	"ibkey/app"
	"ibkey/authcore/protocol"
)

// enrollWithLink starts an enrollment from the Client Portal's QR link or
// Session ID (protocol.ParseEnrollLink): a Session ID alone goes to the
// default service. The enrollment needs no code: Activate sends the
// session in its place.
func enrollWithLink(ctx context.Context, a *Auth, link string) (app.Enrollment, error) {
	service, session, err := protocol.ParseEnrollLink(link)
	if err != nil {
		return app.Enrollment{}, fmt.Errorf("%w (%w)", app.ErrBadLink, err)
	}
	if service, err = a.serviceURL(service); err != nil {
		return app.Enrollment{}, err
	}
	e, err := a.core.EnrollSession(ctx, service, session)
	if err != nil {
		return app.Enrollment{}, mapErr(err)
	}
	out := toEnrollment(service, e.Username, e)
	out.NeedsCode = false
	a.mu.Lock()
	a.sessions[e.ID] = e.Session
	a.mu.Unlock()
	return out, nil
}
