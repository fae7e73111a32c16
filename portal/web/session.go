package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"ibkey/portal/core"
)

// session is the portal's state for one browser. Sessions are values: a
// handler gets a copy, changes it and saves it.
type session struct {
	key     [sha256.Size]byte // SHA-256 of the cookie's id: the id itself is not kept
	csrf    string            // the synchronizer token of the session's forms
	created time.Time
	seen    time.Time

	user    string    // the logged-in username; empty before login
	loginAt time.Time // when user logged in

	pending *pendingLogin // a login or step-up waiting for its second factor
	forced  *forcedChange // an approved login that must choose a new password first
	stepUp  *stepUp       // a fresh step-up, for one task
	enroll  *Enrollment   // the device enrollment shown on the Add device page
	flash   *flash        // a message for the next page
}

// pendingLogin is a started login whose challenge or push is outstanding.
type pendingLogin struct {
	core.Login
	Purpose core.Purpose
}

// forcedChange is a login approved with a temporary password. Until the
// person chooses a new one the session is not logged in (user is empty):
// every page but the new password page and logging out leads there.
type forcedChange struct {
	LoginID  string
	Username string
	Until    time.Time // the service takes the new password until then
}

// stepUp is a re-verification that allows one task until a time.
type stepUp struct {
	Purpose core.Purpose
	Until   time.Time
}

// flash is a one-time message for the next page.
type flash struct {
	Error bool
	Text  string
}

// state is what a stored session holds besides its key and times.
type state struct {
	CSRF    string        `json:"csrf"`
	User    string        `json:"user,omitempty"`
	LoginAt time.Time     `json:"login_at,omitzero"`
	Pending *pendingLogin `json:"pending,omitempty"`
	Forced  *forcedChange `json:"forced,omitempty"`
	StepUp  *stepUp       `json:"step_up,omitempty"`
	Enroll  *Enrollment   `json:"enroll,omitempty"`
	Flash   *flash        `json:"flash,omitempty"`
}

func (v session) record() (core.PortalSession, error) {
	data, err := json.Marshal(state{CSRF: v.csrf, User: v.user, LoginAt: v.loginAt, Pending: v.pending, Forced: v.forced, StepUp: v.stepUp, Enroll: v.enroll, Flash: v.flash})
	if err != nil {
		return core.PortalSession{}, fmt.Errorf("web: session: %w", err)
	}
	return core.PortalSession{Key: v.key[:], Data: data, LoggedIn: v.loggedIn(), Created: v.created, Seen: v.seen}, nil
}

func fromRecord(r core.PortalSession) (session, error) {
	var st state
	if err := json.Unmarshal(r.Data, &st); err != nil {
		return session{}, fmt.Errorf("web: stored session: %w", err)
	}
	v := session{csrf: st.CSRF, created: r.Created, seen: r.Seen, user: st.User, loginAt: st.LoginAt,
		pending: st.Pending, forced: st.Forced, stepUp: st.StepUp, enroll: st.Enroll, flash: st.Flash}
	copy(v.key[:], r.Key)
	return v, nil
}

// loggedIn reports whether v is a logged-in session (or one choosing a new
// password after its login): the kind capped apart from sessions of a
// login under way.
func (v session) loggedIn() bool { return v.user != "" || v.forced != nil }

// sessions keeps the portal's sessions in a SessionStore, with an idle and
// an absolute expiry and a cap on the number of each kind (logged in, or
// a login under way). A visitor who has not passed a password has none.
type sessions struct {
	st        SessionStore
	rand      io.Reader
	idle, max time.Duration
	limit     int
}

// randomToken returns 32 random bytes in base64url.
func randomToken(rand io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("web: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (s *sessions) live(v session, now time.Time) bool {
	return now.Before(v.created.Add(s.max)) && now.Before(v.seen.Add(s.idle))
}

// get returns the live session with cookie id, marking it seen.
func (s *sessions) get(ctx context.Context, id string, now time.Time) (session, bool, error) {
	if id == "" || len(id) > 64 {
		return session{}, false, nil
	}
	k := sha256.Sum256([]byte(id))
	r, ok, err := s.st.Load(ctx, k[:])
	if err != nil || !ok {
		return session{}, false, err
	}
	v, err := fromRecord(r)
	if err != nil {
		return session{}, false, err
	}
	if !s.live(v, now) {
		return session{}, false, s.st.Delete(ctx, k[:])
	}
	v.seen = now
	return v, true, s.st.Touch(ctx, k[:], now)
}

// save stores v if its session still exists: a session that was rotated,
// logged out or expired meanwhile stays gone.
func (s *sessions) save(ctx context.Context, v session) error {
	r, err := v.record()
	if err != nil {
		return err
	}
	return s.st.Save(ctx, r)
}

// rotate moves v to a new id and a new CSRF token, dropping the old id, and
// returns the new session and cookie id. It is also how a session is made:
// v may be one the store does not hold yet.
func (s *sessions) rotate(ctx context.Context, v session, now time.Time) (session, string, error) {
	id, err := randomToken(s.rand)
	if err != nil {
		return session{}, "", err
	}
	csrf, err := randomToken(s.rand)
	if err != nil {
		return session{}, "", err
	}
	var old []byte
	if v.key != ([sha256.Size]byte{}) {
		old = v.key[:]
	}
	v.key, v.csrf, v.created, v.seen = sha256.Sum256([]byte(id)), csrf, now, now
	r, err := v.record()
	if err != nil {
		return session{}, "", err
	}
	if err := s.st.Rotate(ctx, old, r, s.limit, now.Add(-s.idle), now.Add(-s.max)); err != nil {
		return session{}, "", err
	}
	return v, id, nil
}

// remove deletes v.
func (s *sessions) remove(ctx context.Context, v session) error {
	return s.st.Delete(ctx, v.key[:])
}

// memSessions is the SessionStore in memory: the default, for one
// process.
type memSessions struct {
	mu sync.Mutex
	m  map[string]core.PortalSession
}

func newMemSessions() *memSessions { return &memSessions{m: map[string]core.PortalSession{}} }

func (m *memSessions) Load(_ context.Context, key []byte) (core.PortalSession, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[string(key)]
	return v, ok, nil
}

func (m *memSessions) Touch(_ context.Context, key []byte, seen time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[string(key)]; ok {
		v.Seen = seen
		m.m[string(key)] = v
	}
	return nil
}

func (m *memSessions) Save(_ context.Context, v core.PortalSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[string(v.Key)]; ok {
		m.m[string(v.Key)] = v
	}
	return nil
}

func (m *memSessions) Rotate(_ context.Context, old []byte, v core.PortalSession, limit int, idle, created time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, string(old))
	n := 0
	for k, s := range m.m {
		switch {
		case s.Seen.Before(idle) || s.Created.Before(created):
			delete(m.m, k)
		case s.LoggedIn == v.LoggedIn:
			n++
		}
	}
	for ; n >= limit; n-- {
		var oldest string
		var seen time.Time
		first := true
		for k, s := range m.m {
			if s.LoggedIn == v.LoggedIn && (first || s.Seen.Before(seen)) {
				oldest, seen, first = k, s.Seen, false
			}
		}
		delete(m.m, oldest)
	}
	m.m[string(v.Key)] = v
	return nil
}

func (m *memSessions) Delete(_ context.Context, key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, string(key))
	return nil
}

func (m *memSessions) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
