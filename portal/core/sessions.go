package core

import (
	"context"
	"errors"
	"time"

	"ibkey/portal/store"
)

// The Client Portal's sessions live in the store, so that every instance
// of the service serves every session and a restart logs nobody out. The
// pages (package web) decide what a session holds and when it is live;
// the store keeps its state sealed under the master key, keyed by the
// SHA-256 of its id (the id itself is only in the browser's cookie).

// PortalSession is one stored session of the Client Portal.
type PortalSession = store.Session

// PortalSessions keeps the portal's sessions in the service's store.
type PortalSessions struct{ st store.Store }

// PortalSessions returns the store of the portal's sessions.
func (s *Service) PortalSessions() PortalSessions { return PortalSessions{s.st} }

// Load returns the session stored under key; ok is false when there is
// none.
func (p PortalSessions) Load(ctx context.Context, key []byte) (v PortalSession, ok bool, err error) {
	err = p.st.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = tx.Session(key)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return PortalSession{}, false, nil
	}
	return v, err == nil, err
}

// Touch records that the session under key was seen at seen.
func (p PortalSessions) Touch(ctx context.Context, key []byte, seen time.Time) error {
	return p.st.Update(ctx, func(tx store.Tx) error { return tx.TouchSession(key, seen) })
}

// Save writes v if its session is still stored: one that was rotated,
// logged out or dropped meanwhile stays gone.
func (p PortalSessions) Save(ctx context.Context, v PortalSession) error {
	err := p.st.Update(ctx, func(tx store.Tx) error { return tx.UpdateSession(v) })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Rotate stores v (under its new key) in place of the session under old
// (nil for none). It drops first the sessions seen before idle or created
// before created, and, when v's kind has limit sessions, the least
// recently seen of that kind: a flood of one kind never evicts the other.
func (p PortalSessions) Rotate(ctx context.Context, old []byte, v PortalSession, limit int, idle, created time.Time) error {
	return p.st.Update(ctx, func(tx store.Tx) error {
		if old != nil {
			if err := tx.DeleteSession(old); err != nil {
				return err
			}
		}
		if err := tx.PruneSessions(idle, created); err != nil {
			return err
		}
		n, err := tx.CountSessions(v.LoggedIn)
		if err != nil {
			return err
		}
		if n >= limit {
			if err := tx.DropSessions(v.LoggedIn, n-limit+1); err != nil {
				return err
			}
		}
		return tx.InsertSession(v)
	})
}

// Delete deletes the session under key.
func (p PortalSessions) Delete(ctx context.Context, key []byte) error {
	return p.st.Update(ctx, func(tx store.Tx) error { return tx.DeleteSession(key) })
}

// metaPortalKey is the meta key of the portal's own secret (sealed).
const metaPortalKey = "portal_key"

// PortalKey is a random 32-byte secret of the portal, kept sealed in the
// store and the same on every instance: it signs the CSRF tokens of
// visitors who have no session yet, so that a form served by one instance
// is taken by another.
func (s *Service) PortalKey(ctx context.Context) ([]byte, error) {
	return secret(ctx, s.st, s.rand, metaPortalKey, 32)
}
