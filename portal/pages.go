package portal

import (
	"context"

	"ibkey/portal/web"
)

// MountWeb mounts the Client Portal pages (package web) at "/" on the
// service's mux (the API keeps /api/ and /healthz): the pages call the
// core directly. Unless opt says otherwise, they take the service's clock,
// log and client addresses, keep their sessions and their per-address
// page limit in the service's store (shared by every instance), and sign
// anonymous visitors' CSRF tokens with the portal's key from the store.
// publicURL is the service's URL in enrollment links ("" takes the
// browser's). Call it before serving.
func (s *Server) MountWeb(opt web.Options, publicURL string) error {
	if opt.Clock == nil {
		opt.Clock = s.svc.Now
	}
	if opt.Log == nil {
		opt.Log = s.log
	}
	if opt.ClientIP == nil {
		opt.ClientIP = s.ClientIP
	}
	if opt.PublicURL == "" {
		opt.PublicURL = publicURL
	}
	if opt.Sessions == nil {
		opt.Sessions = s.svc.PortalSessions()
	}
	if opt.AllowPage == nil && opt.OnRateLimit == nil {
		opt.AllowPage = s.svc.AllowPage
	}
	if opt.CSRFKey == nil {
		k, err := s.svc.PortalKey(context.Background())
		if err != nil {
			return err
		}
		opt.CSRFKey = k
	}
	s.mux.Handle("/", web.New(s.svc, opt))
	return nil
}
