package web

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"time"
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
	Login
	Purpose Purpose
}

// forcedChange is a login approved with a temporary password. Until the
// person chooses a new one the session is not logged in (user is empty):
// every page but the new password page and logging out leads there.
type forcedChange struct {
	loginID  string
	username string
	until    time.Time // the service takes the new password until then
}

// stepUp is a re-verification that allows one sensitive task until a time.
type stepUp struct {
	purpose Purpose
	until   time.Time
}

// flash is a one-time message for the next page.
type flash struct {
	Error bool
	Text  string
}

// sessionStore keeps sessions in memory, keyed by the SHA-256 of their ids,
// with an idle and an absolute expiry and a cap on the number of each kind
// (logged in, or a login under way). A visitor who has not passed a
// password has none.
type sessionStore struct {
	mu        sync.Mutex
	m         map[[sha256.Size]byte]session
	rand      io.Reader
	idle, max time.Duration
	limit     int
	lastSweep time.Time
}

func newSessionStore(rand io.Reader, idle, max time.Duration, limit int) *sessionStore {
	return &sessionStore{m: make(map[[sha256.Size]byte]session), rand: rand, idle: idle, max: max, limit: limit}
}

// randomToken returns 32 random bytes in base64url.
func randomToken(rand io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("web: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (s *sessionStore) live(v session, now time.Time) bool {
	return now.Before(v.created.Add(s.max)) && now.Before(v.seen.Add(s.idle))
}

// get returns the live session with cookie id, marking it seen.
func (s *sessionStore) get(id string, now time.Time) (session, bool) {
	if id == "" || len(id) > 64 {
		return session{}, false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	if !s.live(v, now) {
		delete(s.m, k)
		return session{}, false
	}
	v.seen = now
	s.m[k] = v
	return v, true
}

// loggedIn reports whether v is a logged-in session (or one choosing a new
// password after its login): the kind the store caps apart from sessions
// of a login under way.
func (v session) loggedIn() bool { return v.user != "" || v.forced != nil }

// makeRoom drops expired sessions now and then, and the least recently
// seen one of v's kind when that kind is at its cap: a flood of logins
// under way never evicts a logged-in session, nor the other way round.
func (s *sessionStore) makeRoom(now time.Time, loggedIn bool) {
	count := func() int {
		n := 0
		for _, v := range s.m {
			if v.loggedIn() == loggedIn {
				n++
			}
		}
		return n
	}
	n := count()
	if n >= s.limit || now.Sub(s.lastSweep) > time.Minute {
		s.lastSweep = now
		for k, v := range s.m {
			if !s.live(v, now) {
				delete(s.m, k)
			}
		}
		n = count()
	}
	for ; n >= s.limit; n-- {
		var oldest [sha256.Size]byte
		first := true
		var seen time.Time
		for k, v := range s.m {
			if v.loggedIn() == loggedIn && (first || v.seen.Before(seen)) {
				oldest, seen, first = k, v.seen, false
			}
		}
		delete(s.m, oldest)
	}
}

// save stores v if its session still exists: a session that was rotated,
// logged out or expired meanwhile stays gone.
func (s *sessionStore) save(v session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[v.key]; ok {
		s.m[v.key] = v
	}
}

// rotate moves v to a new id and a new CSRF token, dropping the old id, and
// returns the new session and cookie id. It is also how a session is made:
// v may be one the store does not hold yet.
func (s *sessionStore) rotate(v session, now time.Time) (session, string, error) {
	id, err := randomToken(s.rand)
	if err != nil {
		return session{}, "", err
	}
	csrf, err := randomToken(s.rand)
	if err != nil {
		return session{}, "", err
	}
	old := v.key
	v.key, v.csrf, v.created, v.seen = sha256.Sum256([]byte(id)), csrf, now, now
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, old)
	s.makeRoom(now, v.loggedIn())
	s.m[v.key] = v
	return v, id, nil
}

// remove deletes v.
func (s *sessionStore) remove(v session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, v.key)
}

func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
